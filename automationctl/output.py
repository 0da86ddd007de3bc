"""What the CLI prints: exit codes, aligned tables, the JSON document, and a tiny stderr progress bar."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, TextIO

from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

# Exit codes (also in `automationctl --help` and the README).
OK = 0
PARTIAL = 1  # some items failed, some replays failed
USAGE = 2  # usage or invalid input: INVALID_ARGUMENT, a bad file
UNREACHABLE = 3  # UNAVAILABLE / DEADLINE_EXCEEDED after retries
SERVER_ERROR = 4  # any other server error
DENIED = 5  # UNAUTHENTICATED / PERMISSION_DENIED: credentials missing, wrong, or without the scope

EXIT_CODES_HELP = """exit codes:
  0  success
  1  partial failure (some items failed, some replays failed)
  2  usage or invalid input (INVALID_ARGUMENT, a bad file)
  3  service unreachable (UNAVAILABLE / DEADLINE_EXCEEDED after retries)
  4  other server error
  5  refused: UNAUTHENTICATED (no or a wrong token or client certificate) or
     PERMISSION_DENIED (the token lacks the command's scope)"""


class InputError(Exception):
    """Bad input from the user (a file, a flag value): exit code 2."""


@dataclass
class Output:
    """Where a command writes: ``json_mode`` sends one JSON document to stdout instead of tables."""

    json_mode: bool = False
    progress: bool = False
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    def line(self, text: str = "") -> None:
        """A line for humans (stdout; nothing in JSON mode)."""
        if not self.json_mode:
            print(text, file=self.stdout)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Plain aligned columns for humans (nothing in JSON mode)."""
        if not self.json_mode:
            print(format_table(headers, rows), file=self.stdout)

    def document(self, doc: Any) -> None:
        """The one JSON document of a --json run."""
        if self.json_mode:
            json.dump(doc, self.stdout, indent=2, default=str)
            self.stdout.write("\n")

    def error(self, text: str) -> None:
        print(f"automationctl: {text}", file=self.stderr)

    def bar(self, total: int | None, label: str) -> Progress:
        return Progress(total, label, self.stderr if self.progress else None)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned columns separated by two spaces; ``None`` prints as empty."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells)


def short(text: str | None, width: int = 60) -> str:
    """One line of at most ``width`` characters, cut at a word boundary when there is one."""
    text = " ".join((text or "").split())
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > width // 2 else cut).rstrip(" ,;:") + "…"


def iso(ts: Timestamp | None) -> str:
    """A protobuf Timestamp as ``2027-03-01T17:00:00Z``; empty for an unset one."""
    if ts is None or (ts.seconds == 0 and ts.nanos == 0):
        return ""
    return ts.ToDatetime(tzinfo=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def as_dict(message: Message) -> dict[str, Any]:
    """A message in the proto JSON mapping, with the proto's field names."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


class Progress:
    """``label [#####-----] 120/500`` redrawn in place on ``stream`` (None: draws nothing)."""

    def __init__(self, total: int | None, label: str, stream: TextIO | None, width: int = 30) -> None:
        self.total = total
        self.done = 0
        self._label = label
        self._stream = stream
        self._width = width
        self._drawn_at = 0.0

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._drawn_at >= 0.1 or (self.total is not None and self.done >= self.total):
            self._drawn_at = now
            self._draw()

    def finish(self) -> None:
        if self._stream is not None:
            self._draw()
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self) -> None:
        if self._stream is None:
            return
        if self.total:
            filled = min(self._width, self._width * self.done // self.total)
            text = f"{self._label} [{'#' * filled}{'-' * (self._width - filled)}] {self.done}/{self.total}"
        else:
            text = f"{self._label} {self.done}"
        self._stream.write(f"\r{text}")
        self._stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()
