"""A real local HTTP server implementing Twilio's message-create endpoint, for tests of the SMS channel.

``POST /2010-04-01/Accounts/{sid}/Messages.json`` with HTTP Basic auth and a form body (To, From, Body):
answers 201 with a Twilio-style JSON message, 401/404/400 with Twilio-style JSON errors, or whatever
:meth:`SmsServer.answer_next` scripted. Every request is recorded, accepted or not.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-6f1c2d"  # a fake credential of the fake server

TWILIO_ERRORS: dict[int, tuple[int, str]] = {  # status -> (Twilio error code, message)
    400: (21211, "Invalid 'To' Phone Number"),
    401: (20003, "Authenticate"),
    404: (20404, "The requested resource was not found"),
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


@dataclass(frozen=True)
class ReceivedSms:
    """One recorded request. ``headers`` keys are lower-cased; ``auth`` is the decoded Basic pair."""

    path: str
    headers: dict[str, str]
    auth: tuple[str, str] | None
    to: str
    from_: str
    body: str
    idempotency_token: str | None
    status: int  # what the server answered
    sid: str | None  # the message sid answered (201 only)
    received_at: float
    raw_form: bytes = b""  # the request body as sent (every parameter, repeated ones too)


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    content_type: str = "application/json"


def twilio_error(status: int, code: int | None = None, message: str | None = None) -> bytes:
    """A Twilio-style JSON error body."""
    default_code, default_message = TWILIO_ERRORS.get(status, (20000 + status, "Error"))
    code = default_code if code is None else code
    return json.dumps(
        {
            "code": code,
            "message": message or default_message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
    ).encode()


class SmsServer:
    """ThreadingHTTPServer on 127.0.0.1:<free port> in a daemon thread; ``base_url`` is its root."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.delay_s = 0.0  # answer each request this much later (a slow API)
        self._lock = threading.Condition()
        self._requests: list[ReceivedSms] = []
        self._script: deque[_Answer] = deque()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        self.path = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="sms-server", daemon=True
        )
        self._thread.start()

    def answer_next(
        self,
        status: int,
        n: int = 1,
        *,
        code: int | None = None,
        message: str | None = None,
        raw: bytes | None = None,
    ) -> None:
        """Answer the next ``n`` authenticated requests with ``status`` and a Twilio-style error body
        (``code``/``message`` override its fields), or with ``raw`` bytes as text/plain."""
        answer = (
            _Answer(status, raw, "text/plain")
            if raw is not None
            else _Answer(status, twilio_error(status, code, message))
        )
        with self._lock:
            self._script.extend([answer] * n)

    def _answer(
        self, path: str, auth: tuple[str, str] | None, form: dict[str, str]
    ) -> tuple[_Answer, str | None]:
        if path != self.path:
            return _Answer(404, twilio_error(404)), None
        if auth != (self.account_sid, self.auth_token):
            return _Answer(401, twilio_error(401)), None
        with self._lock:
            if self._script:
                return self._script.popleft(), None
        missing = [name for name in ("To", "From", "Body") if not form.get(name)]
        if missing:
            return _Answer(400, twilio_error(400, 21604, f"A '{missing[0]}' parameter is required.")), None
        sid = "SM" + uuid.uuid4().hex
        answer = {
            "sid": sid,
            "status": "queued",
            "to": form["To"],
            "from": form["From"],
            "body": form["Body"],
        }
        return _Answer(201, json.dumps({**answer, "account_sid": self.account_sid}).encode()), sid

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                auth = _basic_auth(headers.get("authorization", ""))
                answer, sid = server._answer(self.path, auth, form)
                server._record(
                    ReceivedSms(
                        path=self.path,
                        headers=headers,
                        auth=auth,
                        to=form.get("To", ""),
                        from_=form.get("From", ""),
                        body=form.get("Body", ""),
                        idempotency_token=headers.get("i-twilio-idempotency-token"),
                        status=answer.status,
                        sid=sid,
                        received_at=time.time(),
                        raw_form=raw,
                    )
                )
                time.sleep(server.delay_s)
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: Any) -> None:  # silence stderr logging
                pass

        return Handler

    def _record(self, request: ReceivedSms) -> None:
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()

    @property
    def requests(self) -> list[ReceivedSms]:
        """A copy of the requests recorded so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def messages(self) -> list[ReceivedSms]:
        """The requests that were accepted (answered 201)."""
        return [r for r in self.requests if r.status == 201]

    def wait_for(self, n: int, timeout_s: float = 10.0) -> list[ReceivedSms]:
        """Block until at least ``n`` requests were recorded; return them all (AssertionError on timeout)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._requests) >= n, timeout=timeout_s):
                got = [(r.path, r.status) for r in self._requests]
                raise AssertionError(f"expected {n} request(s) within {timeout_s}s, got {len(got)}: {got}")
            return list(self._requests)

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _basic_auth(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None
