"""A logging handler that keeps every message, for tests that read what a follower logged."""

from __future__ import annotations

import logging


class CapturedLines(logging.Handler):
    """Every message logged to the loggers this handler is added to, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
