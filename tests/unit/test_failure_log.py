"""FailureLog (shared/logs.py): a failure every call meets during an outage is one line each time, with
its traceback once per interval, and the lines stay redacted."""

from __future__ import annotations

import io
import json
import logging

from shared.logs import FailureLog, JsonFormatter


def test_one_traceback_per_interval_and_one_line_each_time() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.failure_log")
    logger.handlers[:] = [handler]
    logger.propagate = False
    failures = FailureLog(logger, traceback_every_s=3600)
    for _ in range(3):
        try:
            raise ConnectionError(
                "Error 111 connecting to 127.0.0.1:6380.\nConnection refused; call +14155550123"
            )
        except ConnectionError:
            failures.warning("idempotency store unavailable", attempt=1)
    try:
        raise TimeoutError("the database")
    except TimeoutError:
        failures.warning("EventLog database unavailable")  # another message: its own first traceback
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [("exc" in line, line["msg"]) for line in lines] == [
        (True, "idempotency store unavailable"),
        (False, "idempotency store unavailable"),
        (False, "idempotency store unavailable"),
        (True, "EventLog database unavailable"),
    ]
    assert {line["error"] for line in lines[:3]} == {
        "ConnectionError: Error 111 connecting to 127.0.0.1:6380."
    }
    assert lines[1]["attempt"] == 1 and lines[3]["error"] == "TimeoutError: the database"
    assert "+14155550123" not in stream.getvalue(), "the traceback is redacted as every line is"
