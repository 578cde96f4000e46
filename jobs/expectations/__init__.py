"""Expectation suites as code, one module per job, named for the job it checks.

Each module returns Great Expectations suites built afresh on every call. An expectation with
GX's default severity (``critical``) blocks publishing when it fails; ``severity="warning"``
only warns (see ``jobs/quality/gate.py``).
"""
