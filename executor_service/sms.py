"""SMS through a Twilio-compatible HTTP API (``POST .../Accounts/{sid}/Messages.json``), stdlib only.

Failures are classified like the webhook channel: 429 and 5xx, timeouts, refused connections and answers
that are not JSON are retryable; other 4xx are permanent. Phone numbers never reach logs or exception
messages unmasked (Twilio echoes the number in some error messages: they are redacted), nor does the token.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from pydantic import SecretStr

from executor_service.automations import RenderedMessage
from executor_service.channels import NO_HTTP_ANSWER, classify_http_status, no_http_answer, send_timed_out
from executor_service.send_deadline import WATCHDOG, DeadlineRequest, channel_opener
from shared.errors import ChannelError
from shared.pii import mask_phone, redact_phones

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
_MAX_ANSWER_BYTES = 64 * 1024


def twilio_error_detail(raw: bytes) -> str:
    """``" (code 21211: Invalid 'To' Phone Number)"`` from a Twilio error body; ``""`` if it has none."""
    try:
        answer = json.loads(raw)
    except ValueError:
        return ""
    if not isinstance(answer, dict) or ("code" not in answer and "message" not in answer):
        return ""
    code, text = answer.get("code"), redact_phones(str(answer.get("message") or "")[:200])
    return f" (code {code}: {text})" if code is not None else f" ({text})"


class SmsChannel:
    name = "sms"

    def __init__(
        self, base_url: str, account_sid: str, auth_token: SecretStr, from_number: str, timeout_s: float
    ) -> None:
        sid = urllib.parse.quote(account_sid, safe="")
        self._url = f"{base_url.rstrip('/')}/{API_VERSION}/Accounts/{sid}/Messages.json"
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._from_number = from_number
        self._timeout_s = timeout_s
        self._opener = channel_opener()

    def __repr__(self) -> str:
        return f"SmsChannel(url={self._url!r}, from={mask_phone(self._from_number)!r})"

    def _authorization(self) -> str:
        pair = f"{self._account_sid}:{self._auth_token.get_secret_value()}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def send(self, message: RenderedMessage, *, job_id: str, idempotency_key: str) -> dict[str, Any]:
        phone = message.to.phone.strip()
        if not phone:
            raise ChannelError(
                "the message has no recipient phone", retryable=False, error_class="no_recipient"
            )
        form = urllib.parse.urlencode({"To": phone, "From": self._from_number, "Body": message.body})
        with WATCHDOG.deadline(self._timeout_s) as deadline:
            request = DeadlineRequest(
                self._url,
                deadline=deadline,
                data=form.encode(),
                method="POST",
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                    "Authorization": self._authorization(),
                    "I-Twilio-Idempotency-Token": idempotency_key,
                },
            )
            raw = self._post(request)
        answer = _parse_answer(raw)
        log.info(
            "sms sent",
            extra={
                "channel": self.name,
                "job_id": job_id,
                "to_phone": mask_phone(phone),
                "sid": answer["sid"],
            },
        )
        return {"channel": self.name, "sid": answer["sid"], "status": answer.get("status", "")}

    def _post(self, request: DeadlineRequest) -> bytes:
        try:
            with self._opener.open(request, timeout=self._timeout_s) as response:
                return response.read(_MAX_ANSWER_BYTES)
        except urllib.error.HTTPError as exc:
            retryable, error_class = classify_http_status(exc.code)
            try:
                detail = twilio_error_detail(exc.read(_MAX_ANSWER_BYTES))
            except (OSError, http.client.HTTPException):
                detail = ""
            finally:
                exc.close()
            raise ChannelError(
                f"sms API answered HTTP {exc.code}{detail}", retryable=retryable, error_class=error_class
            ) from exc
        except NO_HTTP_ANSWER as exc:
            if request.deadline.fired:
                raise send_timed_out("sms API", self._timeout_s) from exc
            if isinstance(exc, http.client.RemoteDisconnected):  # closed without an answer
                raise ChannelError(
                    "sms API closed the connection without answering",
                    retryable=True,
                    error_class="connection",
                ) from exc
            raise no_http_answer("sms API", exc) from exc


def _parse_answer(raw: bytes) -> dict[str, Any]:
    """The JSON answer of a 2xx; a ChannelError("protocol") when it is not a JSON object with a ``sid``."""
    try:
        answer = json.loads(raw)
    except ValueError as exc:
        raise ChannelError(
            "sms API answered 2xx with a non-JSON body", retryable=True, error_class="protocol"
        ) from exc
    if not isinstance(answer, dict) or not isinstance(answer.get("sid"), str) or not answer["sid"]:
        raise ChannelError(
            "sms API answered 2xx without a message sid", retryable=True, error_class="protocol"
        )
    return answer
