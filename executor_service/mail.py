"""E-mail through SMTP with ``smtplib`` (optional STARTTLS and AUTH); plain-text body.

SMTP 4xx replies, disconnections, timeouts and refused connections are retryable; 5xx replies (recipient
refused, authentication failed, message rejected) and a server lacking STARTTLS/AUTH when configured are
permanent. The Message-ID is derived from the idempotency key, so a retried job sends the same Message-ID
and receivers can tell duplicates. Addresses never reach logs or exception messages unmasked.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import logging
import re
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

from pydantic import SecretStr

from executor_service.automations import Message
from shared.errors import ChannelError
from shared.pii import mask_email

log = logging.getLogger(__name__)

_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"'@]+@[^\s<>()\[\],;:\"'@]+")


def redact_emails(text: str) -> str:
    """Mask every e-mail address in ``text`` (servers often echo the refused address in their reply)."""
    return _ADDRESS.sub(lambda m: mask_email(m.group()), text)


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


def _one_line(text: str) -> str:
    return " ".join(text.splitlines()).strip()


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
        self._host = host
        self._port = port
        self._from_address = from_address
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout_s = timeout_s
        self._local_hostname = local_hostname  # EHLO name; None: socket.getfqdn()

    def __repr__(self) -> str:
        return f"EmailChannel(host={self._host!r}, port={self._port}, starttls={self._starttls})"

    def build(self, message: Message, *, job_id: str, idempotency_key: str) -> EmailMessage:
        """The e-mail sent for ``message`` (public for tests and previews)."""
        mail = EmailMessage()
        mail["Subject"] = _one_line(message.subject)
        mail["From"] = self._from_address
        mail["To"] = message.to.email.strip()
        mail["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = message_id_for(idempotency_key, self._from_address)
        mail["X-Idempotency-Key"] = _one_line(idempotency_key)
        mail["X-Job-Id"] = _one_line(job_id)
        mail.set_content(message.body)
        return mail

    def send(self, message: Message, *, job_id: str, idempotency_key: str) -> dict[str, Any]:
        to = message.to.email.strip()
        if not to:
            raise ChannelError(
                "the message has no recipient e-mail", retryable=False, error_class="no_recipient"
            )
        try:
            mail = self.build(message, job_id=job_id, idempotency_key=idempotency_key)
        except (ValueError, TypeError, IndexError) as exc:  # e.g. an address the header parser refuses
            raise ChannelError(
                f"cannot build the e-mail: {type(exc).__name__}",
                retryable=False,
                error_class="invalid_message",
            ) from exc
        try:
            self._deliver(mail, to)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (-1, b""))
            raise _reply_error("recipient refused", code, reply) from exc
        except smtplib.SMTPNotSupportedError as exc:  # STARTTLS or AUTH configured, server lacks it
            raise ChannelError(
                f"SMTP server lacks a required extension: {exc}",
                retryable=False,
                error_class="smtp_unsupported",
            ) from exc
        except smtplib.SMTPServerDisconnected as exc:
            timed_out = isinstance(exc.__context__, TimeoutError)  # smtplib wraps read timeouts
            raise ChannelError(
                "SMTP server timed out" if timed_out else "SMTP server closed the connection",
                retryable=True,
                error_class="timeout" if timed_out else "connection",
            ) from exc
        except smtplib.SMTPResponseException as exc:  # sender/data refused, auth failed, bad greeting, ...
            raise _reply_error(type(exc).__name__, exc.smtp_code, exc.smtp_error) from exc
        except smtplib.SMTPException as exc:  # e.g. no AUTH mechanism in common
            raise ChannelError(
                f"SMTP error: {type(exc).__name__}", retryable=False, error_class="smtp_unsupported"
            ) from exc
        except TimeoutError as exc:
            raise ChannelError("SMTP server timed out", retryable=True, error_class="timeout") from exc
        except OSError as exc:  # refused, reset, unreachable, TLS handshake failures
            raise ChannelError(
                f"SMTP server unreachable: {type(exc).__name__}: {exc}",
                retryable=True,
                error_class="connection",
            ) from exc
        message_id = mail["Message-ID"]
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

    def _deliver(self, mail: EmailMessage, to: str) -> None:
        smtp = smtplib.SMTP(
            self._host, self._port, local_hostname=self._local_hostname, timeout=self._timeout_s
        )
        try:
            smtp.ehlo()
            if self._starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self._username is not None:
                password = self._password.get_secret_value() if self._password is not None else ""
                smtp.login(self._username, password)
            smtp.send_message(mail, from_addr=self._from_address, to_addrs=[to])
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()  # the message was accepted; a failed goodbye does not undo that
        finally:
            smtp.close()


def _reply_error(what: str, code: int, reply: bytes | str) -> ChannelError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    retryable, error_class = classify_smtp_code(code)
    return ChannelError(
        f"SMTP {what}: {code} {redact_emails(_one_line(text))[:200]}",
        retryable=retryable,
        error_class=error_class,
    )
