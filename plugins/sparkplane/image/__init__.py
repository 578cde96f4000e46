"""The platform's Spark image seen from the platform: what it contains (read from its labels in
the registry or the local engine), where things are inside it, and which modules a job imports."""
