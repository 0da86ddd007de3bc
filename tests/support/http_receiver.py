"""A real HTTP server that records POST requests, for tests of webhook delivery."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ReceivedRequest:
    """One recorded POST. ``headers`` keys are lower-cased (clients differ in header capitalisation)."""

    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw bytes when the body is not JSON
    raw: bytes
    status: int  # the status the receiver answered with
    received_at: float = 0.0  # time.time() when the request arrived


class HttpReceiver:
    """ThreadingHTTPServer on 127.0.0.1:<free port> in a daemon thread.

    Every POST is recorded and answered with the next status of the script set by
    :meth:`respond_with`; the last status of the script repeats forever (default: always 200).
    """

    def __init__(self, path: str = "/hook") -> None:
        self._lock = threading.Condition()
        self._requests: list[ReceivedRequest] = []
        self._script: deque[int] = deque([200])
        self.delay_s = 0.0  # answer each request this much later (a slow receiver)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}{path}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="http-receiver",
            daemon=True,
        )
        self._thread.start()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                raw = self._read_body()
                status = receiver._record(self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
                time.sleep(receiver.delay_s)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _read_body(self) -> bytes:
                if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
                    return self.rfile.read(int(self.headers.get("Content-Length") or 0))
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()  # CRLF after the last (empty) chunk; trailers are not supported
                return b"".join(chunks)

            def log_message(self, format: str, *args: Any) -> None:  # silence stderr logging
                pass

        return Handler

    def _record(self, path: str, headers: dict[str, str], raw: bytes) -> int:
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw
        with self._lock:
            status = self._script.popleft() if len(self._script) > 1 else self._script[0]
            self._requests.append(ReceivedRequest(path, headers, body, raw, status, time.time()))
            self._lock.notify_all()
        return status

    def respond_with(self, statuses: list[int]) -> None:
        """Answer the next requests with ``statuses`` in order, then repeat the last one."""
        if not statuses:
            raise ValueError("respond_with needs at least one status")
        with self._lock:
            self._script = deque(statuses)

    @property
    def requests(self) -> list[ReceivedRequest]:
        """A copy of the requests recorded so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def wait_for(self, n: int, timeout_s: float = 10.0) -> list[ReceivedRequest]:
        """Block until at least ``n`` requests were recorded; return them all (AssertionError on timeout)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._requests) >= n, timeout=timeout_s):
                got = [(r.path, r.status) for r in self._requests]
                raise AssertionError(
                    f"expected at least {n} POST request(s) to {self.url} within {timeout_s}s, "
                    f"got {len(got)}: {got}"
                )
            return list(self._requests)

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
