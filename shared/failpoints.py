"""Named crash points for fault-injection tests (``AUTOMATION_FAILPOINT``), in the style of gofail.

Unset in every deployment. When set, the executor calls ``os._exit(FAILPOINT_EXIT_CODE)`` the first
time it reaches that point, which is as abrupt as a kill -9 at that line.

- ``after_send``: the channel delivered a message; nothing about it is recorded yet.
- ``after_sent_mark``: the delivery is recorded in Redis; the EventLog row is not committed yet.
- ``after_rows_written``: the batch's EventLog rows are committed, its keys not marked done yet. It is
  reached on the persist thread: with a backlog, the loop is running the next batch meanwhile (some of
  its sends out, some not recorded yet), so this is a crash in the middle of the pipelined overlap.
- ``after_done_mark``: row committed and key marked done; the offset is not committed yet.
"""

from __future__ import annotations

import logging
import os

POINTS = frozenset({"after_send", "after_sent_mark", "after_rows_written", "after_done_mark"})
FAILPOINT_EXIT_CODE = 86

_armed: str | None = None


def arm(point: str | None) -> None:
    """Arm ``point`` (from settings, at the entry point); None disarms."""
    global _armed
    if point is not None and point not in POINTS:
        raise ValueError(f"unknown failpoint {point!r}; known: {sorted(POINTS)}")
    _armed = point


def reached(point: str) -> None:
    if _armed == point:
        logging.getLogger(__name__).critical("failpoint reached; exiting", extra={"failpoint": point})
        logging.shutdown()
        os._exit(FAILPOINT_EXIT_CODE)
