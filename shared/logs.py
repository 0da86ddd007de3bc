"""JSON logging: one object per line, with any ``extra={...}`` fields and the log context (job_id,
attempt, trace_id: shared/tracing.py).

Every line is redacted at every level (shared/pii.py): phone-like and e-mail-like substrings and URL
passwords are masked in the message, in the fields (strings at any depth) and in the exception text."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

from shared.pii import redact_text, redact_value
from shared.tracing import install_log_context

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "log_context",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with contact details and URL passwords masked."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact_text(record.getMessage()),
        }
        fields = {**getattr(record, "log_context", {})}
        fields.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        entry.update(redact_value(fields))
        if record.exc_info:
            entry["exc"] = redact_text(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exc"] = redact_text(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact_text(self.formatStack(record.stack_info))
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Route the root logger to stderr as JSON lines, with the job/trace context of shared/tracing.py."""
    install_log_context()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class FailureLog:
    """A recurring failure (a backend down, seen by every call) logged as one warning line each time, with
    its traceback only once per ``traceback_every_s`` per message: an outage at a few calls a second
    stays a few KB of log, not megabytes of the same stack. Call it inside the ``except`` block."""

    def __init__(self, logger: logging.Logger, *, traceback_every_s: float = 60.0) -> None:
        self._logger = logger
        self._every_s = traceback_every_s
        self._last_traceback: dict[str, float] = {}

    def warning(self, msg: str, **extra: Any) -> None:
        exc = sys.exc_info()[1]
        now = time.monotonic()
        with_traceback = now - self._last_traceback.get(msg, -self._every_s) >= self._every_s
        if with_traceback:
            self._last_traceback[msg] = now
        if exc is not None:
            first_line = (str(exc).strip().splitlines() or [""])[0]
            extra["error"] = f"{type(exc).__name__}: {first_line}"[:300]
        self._logger.warning(msg, exc_info=with_traceback and exc is not None, extra=extra)
