"""A real local SMTP server (aiosmtpd, in its own thread) recording what it receives, for the e-mail channel.

It can be told to reply with an error to the next RCPT or DATA commands (:meth:`SmtpServer.reply_next`),
to drop the connection there (:meth:`SmtpServer.disconnect_next`), to answer DATA late (``delay_s``) and to
require AUTH (PLAIN/LOGIN, without TLS) with given credentials.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from devtools.embedded import free_port

Stage = Literal["RCPT", "DATA"]
REPLIES = {
    421: "421 4.4.2 Closing connection",
    450: "450 4.2.1 Mailbox busy, try later",
    451: "451 4.3.0 Temporary local problem, try later",
    452: "452 4.3.1 Insufficient system storage",
    550: "550 5.1.1 Mailbox unavailable",
    552: "552 5.3.4 Message too big",
    554: "554 5.7.1 Message rejected",
}
_DISCONNECT = "disconnect"


@dataclass(frozen=True)
class ReceivedMail:
    """One accepted message: the envelope, the parsed e-mail and who authenticated (if anyone)."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes
    auth_login: str | None
    received_at: float

    @property
    def headers(self) -> dict[str, str]:
        """Header name (as sent) -> value; the last one wins if a header repeats."""
        return {name: str(value) for name, value in self.message.items()}

    @property
    def body(self) -> str:
        """The plain-text body, decoded."""
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


class SmtpServer:
    """aiosmtpd ``Controller`` on 127.0.0.1:<free port>; ``host``/``port`` to connect to."""

    def __init__(self, *, username: str | None = None, password: str | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = free_port(self.host)
        self.delay_s = 0.0  # DATA is answered this much later
        self._credentials = (username, password) if username is not None else None
        self._lock = threading.Condition()
        self._messages: list[ReceivedMail] = []
        self._script: dict[Stage, deque[str]] = {"RCPT": deque(), "DATA": deque()}
        auth: dict[str, Any] = {}
        if self._credentials is not None:
            # AUTH is enforced in handle_MAIL: aiosmtpd's auth_required without TLS warns on every connection
            auth = {"authenticator": self._authenticate, "auth_require_tls": False}
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, **auth)
        self._controller.start()

    def reply_next(self, stage: Stage, code: int, n: int = 1, *, text: str | None = None) -> None:
        """Reply ``code`` (with ``text`` or a standard text) to the next ``n`` ``stage`` commands."""
        reply = f"{code} {text}" if text is not None else REPLIES.get(code, f"{code} Error")
        with self._lock:
            self._script[stage].extend([reply] * n)

    def disconnect_next(self, stage: Stage, n: int = 1) -> None:
        """Drop the connection, without a reply, at the next ``n`` ``stage`` commands."""
        with self._lock:
            self._script[stage].extend([_DISCONNECT] * n)

    def _next(self, stage: Stage) -> str | None:
        with self._lock:
            return self._script[stage].popleft() if self._script[stage] else None

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and self._credentials == (
            data.login.decode(),
            data.password.decode(),
        )
        # handled=False: aiosmtpd replies 535 on failure (handled=True would leave the client waiting)
        return AuthResult(success=ok, handled=False, auth_data=data.login.decode() if ok else None)

    def _store(self, mail: ReceivedMail) -> None:
        with self._lock:
            self._messages.append(mail)
            self._lock.notify_all()

    @property
    def messages(self) -> list[ReceivedMail]:
        """A copy of the accepted messages, oldest first."""
        with self._lock:
            return list(self._messages)

    def wait_for(self, n: int, timeout_s: float = 10.0) -> list[ReceivedMail]:
        """Block until at least ``n`` messages were accepted; return them all (AssertionError on timeout)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._messages) >= n, timeout=timeout_s):
                raise AssertionError(
                    f"expected {n} message(s) within {timeout_s}s, got {len(self._messages)}"
                )
            return list(self._messages)

    def close(self) -> None:
        """Stop serving and release the port."""
        self._controller.stop()


class _Handler:
    """aiosmtpd hooks; they run on the controller's event loop."""

    def __init__(self, owner: SmtpServer) -> None:
        self._owner = owner

    async def handle_MAIL(  # noqa: N802 - aiosmtpd naming
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if self._owner._credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd naming
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        scripted = self._owner._next("RCPT")
        if scripted == _DISCONNECT:
            return _drop(server)
        if scripted is not None:
            return scripted
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        scripted = self._owner._next("DATA")
        if scripted == _DISCONNECT:
            return _drop(server)
        if self._owner.delay_s:
            await asyncio.sleep(self._owner.delay_s)
        if scripted is not None:
            return scripted
        raw = envelope.original_content or b""
        message = BytesParser(policy=default_policy).parsebytes(raw.replace(b"\r\n", b"\n"))
        login = session.auth_data if isinstance(session.auth_data, str) else None
        self._owner._store(
            ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message, raw, login, time.time())  # type: ignore[arg-type]
        )
        return "250 2.0.0 OK: queued"


def _drop(server: Any) -> str:
    server.transport.abort()  # close at once, without a reply
    return "421 4.4.2 (not sent: the connection is closed)"
