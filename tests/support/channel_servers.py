"""Pytest fixtures for the SMS and e-mail channel tests: a fake Twilio API and a real SMTP server.

Registered for every test by ``pytest_plugins`` in tests/conftest.py.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from tests.support.sms_server import SmsServer
from tests.support.smtp_server import SmtpServer


@pytest.fixture
def sms_server() -> Iterator[SmsServer]:
    """A real HTTP server speaking Twilio's message-create API; see ``tests.support.sms_server``."""
    server = SmsServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) without AUTH; see ``tests.support.smtp_server``."""
    server = SmtpServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def smtp_server_with_auth() -> Iterator[SmtpServer]:
    """A real SMTP server requiring AUTH as ``mailer`` / ``mail-secret-7d`` (PLAIN/LOGIN, no TLS)."""
    server = SmtpServer(username="mailer", password="mail-secret-7d")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def raw_tcp_server() -> Iterator[Callable[..., int]]:
    """``start(reply, speak_first=False) -> port``: a one-connection TCP server that reads the request
    (unless it speaks first, like an SMTP greeting), sends ``reply`` and hangs up (None: hangs up at once)."""
    sockets: list[socket.socket] = []

    def start(reply: bytes | None, *, speak_first: bool = False) -> int:
        server = socket.create_server(("127.0.0.1", 0))
        sockets.append(server)

        def serve() -> None:
            try:
                conn, _ = server.accept()
            except OSError:  # closed at teardown before anyone connected
                return
            with conn, contextlib.suppress(OSError):
                conn.settimeout(1)
                if reply is not None:
                    if not speak_first:
                        conn.recv(65536)
                    conn.sendall(reply)

        threading.Thread(target=serve, name="raw-server", daemon=True).start()
        return server.getsockname()[1]

    yield start
    for sock in sockets:
        sock.close()
