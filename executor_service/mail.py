"""E-mail through SMTP with ``smtplib`` (optional STARTTLS and AUTH); plain-text body.

The recipient is ``shared.contacts.email_address`` of the message's address (the rule the trigger
validated with), and exactly that string is the envelope's only RCPT TO and the ``To:`` header; the
sender is the settings' ``email_from``, checked by the same rule. The message bytes come from
``mail_format.py``, whose header block no booking text can add to (see there). SMTP 4xx replies,
disconnections, timeouts and refused connections are retryable; 5xx replies (recipient refused,
authentication failed, message rejected), an address that is not one and a server lacking STARTTLS/AUTH
when configured are permanent. The Message-ID is derived from the idempotency key, so a retried job sends
the same Message-ID and receivers can tell duplicates. Addresses never reach logs or exception messages
unmasked.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import logging
import smtplib
import ssl
from typing import Any

from pydantic import SecretStr

from executor_service import mail_format as fmt
from executor_service.automations import RenderedMessage
from executor_service.channels import send_timed_out
from executor_service.send_deadline import WATCHDOG, SendDeadline
from shared.contacts import InvalidAddress, email_address, mailbox
from shared.errors import ChannelError, SettingsError
from shared.pii import mask_email, redact_text
from shared.templates import single_line

log = logging.getLogger(__name__)


def classify_smtp_code(code: int) -> tuple[bool, str]:
    """``(retryable, error_class)`` for an SMTP reply code; a code that is not 4xx/5xx: a protocol error."""
    if 400 <= code <= 499:
        return True, "smtp_4xx"
    if 500 <= code <= 599:
        return False, "smtp_5xx"
    return True, "protocol"


def message_id_for(idempotency_key: str, from_address: str) -> str:
    """A Message-ID that is the same for every attempt of one job: ``<sha256-prefix@sender-domain>``."""
    _, at, domain = from_address.strip().rstrip(">").rpartition("@")
    domain = domain if at and domain else "localhost"
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]}@{domain}>"


class EmailChannel:
    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        from_address: str,
        *,
        username: str | None = None,
        password: SecretStr | None = None,
        starttls: bool = False,
        timeout_s: float = 10.0,
        local_hostname: str | None = None,
    ) -> None:
        try:
            self._from_name, self._from_address = mailbox(from_address)
        except InvalidAddress as exc:
            raise SettingsError(f"senders.email_from is not a sender address: {exc}") from exc
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout_s = timeout_s
        self._local_hostname = local_hostname  # EHLO name; None: socket.getfqdn()

    def __repr__(self) -> str:
        return f"EmailChannel(host={self._host!r}, port={self._port}, starttls={self._starttls})"

    def recipient(self, message: RenderedMessage) -> str:
        """The envelope recipient of ``message``: its address checked and put in ASCII form by the rule
        the trigger validated it with; a ChannelError (permanent) when it has none or it is not one."""
        if not message.to.email:
            raise ChannelError(
                "the message has no recipient e-mail", retryable=False, error_class="no_recipient"
            )
        try:
            return email_address(message.to.email)
        except InvalidAddress as exc:
            raise ChannelError(
                f"the recipient e-mail is not an address: {exc}",
                retryable=False,
                error_class="invalid_recipient",
            ) from exc

    def build(self, message: RenderedMessage, *, to: str, job_id: str, idempotency_key: str) -> bytes:
        """The bytes sent for ``message`` to ``to`` (an address :meth:`recipient` returned); public for
        tests and previews. Every header is written by ``mail_format``: see there why none can be added."""
        headers = [
            fmt.header("From", fmt.mailbox_tokens(self._from_name, self._from_address)),
            fmt.header("To", [to]),
            fmt.header("Subject", fmt.text_value(message.subject)),
            fmt.header("Date", [email.utils.formatdate(localtime=False, usegmt=True)]),
            fmt.header("Message-ID", [message_id_for(idempotency_key, self._from_address)]),
            fmt.header("X-Idempotency-Key", fmt.token_value(idempotency_key)),
            fmt.header("X-Job-Id", fmt.token_value(job_id)),
        ]
        return fmt.message_bytes(headers, message.body)

    def send(self, message: RenderedMessage, *, job_id: str, idempotency_key: str) -> dict[str, Any]:
        to = self.recipient(message)
        try:
            data = self.build(message, to=to, job_id=job_id, idempotency_key=idempotency_key)
        except (ValueError, TypeError) as exc:  # e.g. a body the MIME encoder refuses
            raise ChannelError(
                f"cannot build the e-mail: {type(exc).__name__}",
                retryable=False,
                error_class="invalid_message",
            ) from exc
        with WATCHDOG.deadline(self._timeout_s) as deadline:
            try:
                self._deliver(data, to, deadline)
            except (smtplib.SMTPException, OSError) as exc:
                if deadline.fired:
                    raise send_timed_out("SMTP server", self._timeout_s) from exc
                raise _delivery_error(exc) from exc
        message_id = message_id_for(idempotency_key, self._from_address)
        log.info(
            "email sent",
            extra={
                "channel": self.name,
                "job_id": job_id,
                "to_email": mask_email(to),
                "message_id": message_id,
            },
        )
        return {"channel": self.name, "message_id": message_id}

    def _deliver(self, data: bytes, to: str, deadline: SendDeadline) -> None:
        smtp = _WatchedSMTP(
            self._host,
            self._port,
            deadline=deadline,
            local_hostname=self._local_hostname,
            timeout=self._timeout_s,
        )
        try:
            smtp.ehlo()
            if self._starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self._username is not None:
                password = self._password.get_secret_value() if self._password is not None else ""
                smtp.login(self._username, password)
            # sendmail, not send_message: the envelope is exactly these two addresses, never a header's
            smtp.sendmail(self._from_address, [to], data)
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()  # the message was accepted; a failed goodbye does not undo that
        finally:
            smtp.close()


class _WatchedSMTP(smtplib.SMTP):
    """smtplib's client whose socket ``deadline`` cuts, from the connection's greeting on."""

    def __init__(self, host: str, port: int, *, deadline: SendDeadline, **kwargs: Any) -> None:
        deadline.watch(lambda: self.sock)  # TLS replaces the socket: read at the deadline
        super().__init__(host, port, **kwargs)  # connects and reads the greeting


def _delivery_error(exc: smtplib.SMTPException | OSError) -> ChannelError:
    """The ChannelError for what ``_deliver`` raised."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()), (-1, b""))
        return _reply_error("recipient refused", code, reply)
    if isinstance(exc, smtplib.SMTPNotSupportedError):  # STARTTLS or AUTH configured, server lacks it
        return ChannelError(
            f"SMTP server lacks a required extension: {exc}", retryable=False, error_class="smtp_unsupported"
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        timed_out = isinstance(exc.__context__, TimeoutError)  # smtplib wraps read timeouts
        return ChannelError(
            "SMTP server timed out" if timed_out else "SMTP server closed the connection",
            retryable=True,
            error_class="timeout" if timed_out else "connection",
        )
    if isinstance(exc, smtplib.SMTPResponseException):  # sender/data refused, auth failed, bad greeting
        return _reply_error(type(exc).__name__, exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPException):  # e.g. no AUTH mechanism in common
        return ChannelError(
            f"SMTP error: {type(exc).__name__}", retryable=False, error_class="smtp_unsupported"
        )
    if isinstance(exc, TimeoutError):
        return ChannelError("SMTP server timed out", retryable=True, error_class="timeout")
    return ChannelError(  # refused, reset, unreachable, TLS handshake failures
        f"SMTP server unreachable: {type(exc).__name__}: {exc}", retryable=True, error_class="connection"
    )


def _reply_error(what: str, code: int, reply: bytes | str) -> ChannelError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    retryable, error_class = classify_smtp_code(code)
    return ChannelError(
        f"SMTP {what}: {code} {redact_text(single_line(text))[:200]}",
        retryable=retryable,
        error_class=error_class,
    )
