"""PySpark jobs. Each module has pure transform functions and a thin ``main(argv) -> int``."""
