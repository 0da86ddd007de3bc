"""A cap on a whole send: a channel's timeout bounds a send from its start to its end.

A socket timeout bounds each operation only: a receiver that sends one byte within every timeout (a
tarpit, a proxy trickling a response) would hold a send, and with it its batch and the other bookings
waiting behind it, for minutes, until liveness restarted the executor. Here one watchdog thread shuts
down the socket of a send still running at its deadline; the blocked read or write fails at once, and the
channel reports a retryable ``timeout``. The thread is started by the first send that needs it, sleeps
while no send runs, and checks every ``CHECK_EVERY_S`` while some do (a send ends at most that much past
its deadline; name resolution is not covered).
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import logging
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger(__name__)

CHECK_EVERY_S = 0.1


class SendDeadline:
    """One send's deadline; ``fired`` once the watchdog cut its socket."""

    def __init__(self, at: float) -> None:
        self.at = at
        self.fired = False
        self._socket_of: Callable[[], socket.socket | None] = lambda: None
        self._finished = False
        self._lock = threading.Lock()

    def watch(self, socket_of: Callable[[], socket.socket | None]) -> None:
        """Cut the socket ``socket_of()`` returns at the deadline (read then: TLS may replace it)."""
        self._socket_of = socket_of

    def expire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.fired = True
            sock = self._socket_of()
        if sock is not None:
            with contextlib.suppress(OSError):
                # socket.socket's own shutdown even for an SSLSocket: its override drops the TLS object,
                # which the sending thread may be about to use
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def finish(self) -> None:
        with self._lock:
            self._finished = True


class Watchdog:
    def __init__(self) -> None:
        self._running: set[SendDeadline] = set()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def deadline(self, timeout_s: float) -> Iterator[SendDeadline]:
        """The deadline of a send that must end within ``timeout_s`` from now."""
        send = SendDeadline(time.monotonic() + timeout_s)
        with self._cond:
            self._running.add(send)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="send-deadline", daemon=True)
                self._thread.start()
            elif len(self._running) == 1:
                self._cond.notify()
        try:
            yield send
        finally:
            send.finish()
            with self._cond:
                self._running.discard(send)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._running:
                    self._cond.wait()
                now = time.monotonic()
                due = [send for send in self._running if send.at <= now]
                self._running.difference_update(due)
            for send in due:
                try:
                    send.expire()
                except Exception:  # never let one send end the watchdog of all the others
                    log.exception("could not cut a send at its deadline")
            time.sleep(CHECK_EVERY_S)


WATCHDOG = Watchdog()


class DeadlineRequest(urllib.request.Request):
    """A request whose connection is cut at ``deadline`` (opened with :func:`channel_opener`)."""

    def __init__(self, url: str, *, deadline: SendDeadline, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.deadline = deadline


class _WatchedConnection(http.client.HTTPConnection):
    """An HTTP connection whose socket ``deadline`` cuts, from the TCP connect on."""

    def __init__(self, *args: Any, deadline: SendDeadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline
        deadline.watch(lambda: self.sock)  # during connect (the TLS handshake included)

    def connect(self) -> None:
        super().connect()
        sock = self.sock  # kept: once the answer's head is read, the connection lets go of its socket
        self._deadline.watch(lambda: sock)


class _WatchedTLSConnection(_WatchedConnection, http.client.HTTPSConnection):
    pass


_WATCHED = {
    http.client.HTTPConnection: _WatchedConnection,
    http.client.HTTPSConnection: _WatchedTLSConnection,
}


class _WatchedConnections(urllib.request.AbstractHTTPHandler):
    def do_open(self, http_class: Any, req: urllib.request.Request, **http_conn_args: Any) -> Any:
        deadline = getattr(req, "deadline", None)
        if deadline is not None:
            http_class = functools.partial(_WATCHED[http_class], deadline=deadline)
        return super().do_open(http_class, req, **http_conn_args)


class _HTTPHandler(_WatchedConnections, urllib.request.HTTPHandler):
    pass


class _HTTPSHandler(_WatchedConnections, urllib.request.HTTPSHandler):
    pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # a 3xx becomes an HTTPError
        return None


def channel_opener() -> urllib.request.OpenerDirector:
    """urllib's opener for the HTTP channels: a :class:`DeadlineRequest` is cut at its deadline, and a
    3xx is an answer (an HTTPError), never followed: urllib would turn the POST into a GET without its
    body, send it wherever ``Location`` says with the Authorization header, and report success."""
    return urllib.request.build_opener(_HTTPHandler, _HTTPSHandler, _NoRedirect)
