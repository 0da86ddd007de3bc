"""Channels deliver a rendered message. Each classifies its failures as retryable or permanent.

- ``log``: appends the message as a JSON line to an outbox file (the embedded default).
- ``webhook``: HTTP POST of JSON to a configured URL, with an Idempotency-Key header (credentials in
  the URL go as Basic auth); the timeout caps the whole request (send_deadline.py), and a 3xx answer is
  a permanent failure, never followed.
- ``null``: sends nothing and counts what it was given (benchmarks).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from executor_service.automations import RenderedMessage
from executor_service.send_deadline import WATCHDOG, DeadlineRequest, channel_opener
from shared.errors import ChannelError
from shared.pii import mask_email, mask_phone

log = logging.getLogger(__name__)


class Channel(Protocol):
    name: str

    def send(self, message: RenderedMessage, *, job_id: str, idempotency_key: str) -> dict[str, Any]:
        """Deliver ``message``; return what the channel answered (stored in the EventLog outputs)."""


def classify_http_status(status: int) -> tuple[bool, str]:
    """``(retryable, error_class)`` for a non-2xx HTTP status."""
    if status == 429:
        return True, "http_429"
    if status >= 500:
        return True, "http_5xx"
    if status >= 400:
        return False, "http_4xx"
    return False, "http_3xx"  # a redirect: the base URL is wrong; credentials are not sent elsewhere


# What a request that got no HTTP answer raises (urllib.error.HTTPError, an answer, is caught before).
NO_HTTP_ANSWER = (http.client.HTTPException, urllib.error.URLError, TimeoutError, OSError)


def no_http_answer(service: str, exc: BaseException) -> ChannelError:
    """The retryable error for one of ``NO_HTTP_ANSWER``: an answer that is not HTTP (``protocol``), a
    timeout, or no connection."""
    if isinstance(exc, http.client.HTTPException):
        return ChannelError(
            f"{service} answered garbage: {type(exc).__name__}", retryable=True, error_class="protocol"
        )
    reason = getattr(exc, "reason", exc)
    error_class = "timeout" if isinstance(reason, TimeoutError) else "connection"
    return ChannelError(
        f"{service} unreachable: {type(reason).__name__}: {reason}", retryable=True, error_class=error_class
    )


def send_timed_out(service: str, timeout_s: float) -> ChannelError:
    """The retryable error of a send cut at its deadline (executor_service/send_deadline.py)."""
    return ChannelError(
        f"{service} did not finish within {timeout_s:g} s", retryable=True, error_class="timeout"
    )


class LogChannel:
    name = "log"

    def __init__(self, outbox: Path) -> None:
        self._outbox = outbox
        self._lock = threading.Lock()

    def send(self, message: RenderedMessage, *, job_id: str, idempotency_key: str) -> dict[str, Any]:
        line = json.dumps({"job_id": job_id, "idempotency_key": idempotency_key, **asdict(message)})
        try:
            with self._lock:
                self._outbox.parent.mkdir(parents=True, exist_ok=True)
                with self._outbox.open("a", encoding="utf-8") as f:
                    f.write(line + "\n")
        except OSError as exc:
            raise ChannelError(
                f"outbox write failed: {exc.strerror}", retryable=True, error_class="io"
            ) from exc
        log.info(
            "message sent",
            extra={
                "channel": self.name,
                "job_id": job_id,
                "to_phone": mask_phone(message.to.phone),
                "to_email": mask_email(message.to.email) if message.to.email else "",
            },
        )
        return {"channel": self.name, "outbox": str(self._outbox)}


class NullChannel:
    """Delivers nothing; counts messages so benchmarks measure the pipeline, not a receiver."""

    name = "null"

    def __init__(self) -> None:
        self.sent = 0
        self._lock = threading.Lock()

    def send(self, message: RenderedMessage, *, job_id: str, idempotency_key: str) -> dict[str, Any]:
        with self._lock:
            self.sent += 1
        return {"channel": self.name}


class WebhookChannel:
    name = "webhook"

    def __init__(self, url: str, timeout_s: float) -> None:
        # Credentials in the URL (http://user:password@host/...) go as Basic auth, as curl sends them:
        # urllib would take them for part of the host name and never reach the receiver.
        parts = urllib.parse.urlsplit(url)
        self._headers = {"Content-Type": "application/json"}
        if "@" in parts.netloc:
            user, password = (
                urllib.parse.unquote(parts.username or ""),
                urllib.parse.unquote(parts.password or ""),
            )
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {token}"
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        self._url = parts.geturl()
        self._timeout_s = timeout_s
        self._opener = channel_opener()

    def send(self, message: RenderedMessage, *, job_id: str, idempotency_key: str) -> dict[str, Any]:
        # One object with fixed keys; booking text only ever inside string values, and ASCII-only on the
        # wire (controls, U+2028/U+2029 escaped), so no value can end the payload or a line of it.
        payload = {"job_id": job_id, "idempotency_key": idempotency_key, **asdict(message)}
        body = json.dumps(payload, ensure_ascii=True).encode("ascii")
        with WATCHDOG.deadline(self._timeout_s) as deadline:
            request = DeadlineRequest(
                self._url,
                deadline=deadline,
                data=body,
                method="POST",
                headers={**self._headers, "Idempotency-Key": idempotency_key},
            )
            try:
                with self._opener.open(request, timeout=self._timeout_s) as response:
                    status = response.status
                    with contextlib.suppress(http.client.HTTPException, OSError):
                        response.read(4096)  # the status is the answer: a body cut short changes nothing
            except urllib.error.HTTPError as exc:
                exc.close()
                retryable, error_class = classify_http_status(exc.code)
                raise ChannelError(
                    f"webhook answered HTTP {exc.code}", retryable=retryable, error_class=error_class
                ) from exc
            except NO_HTTP_ANSWER as exc:
                if deadline.fired:
                    raise send_timed_out("webhook", self._timeout_s) from exc
                raise no_http_answer("webhook", exc) from exc
        return {"channel": self.name, "http_status": status}
