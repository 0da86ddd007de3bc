"""The executor's channels by name, each built on first use from the env settings (credentials,
endpoints) and the automation settings' senders. ``default`` is AUTOMATION_DEFAULT_CHANNEL."""

from __future__ import annotations

import threading

from executor_service.channels import Channel, LogChannel, NullChannel, WebhookChannel
from executor_service.mail import EmailChannel
from executor_service.sms import SmsChannel
from shared.automation_settings import Senders
from shared.config import Settings
from shared.errors import SettingsError

NAMES = frozenset({"log", "webhook", "sms", "email", "null"})


class ChannelRegistry:
    def __init__(self, settings: Settings, senders: Senders) -> None:
        self._settings = settings
        self._senders = senders
        self._built: dict[str, Channel] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Channel:
        """The channel called ``name`` ("default" means AUTOMATION_DEFAULT_CHANNEL)."""
        if name == "default":
            name = self._settings.default_channel
        channel = self._built.get(name)
        if channel is None:
            with self._lock:
                channel = self._built.setdefault(name, self._build(name))
        return channel

    def check(self) -> None:
        """Build the default channel now, so a misconfiguration stops the executor at start."""
        self.get("default")

    def _build(self, name: str) -> Channel:
        s = self._settings
        if name == "log":
            return LogChannel(s.outbox_file)
        if name == "null":
            return NullChannel()
        if name == "webhook":
            if not s.webhook_url:
                raise SettingsError("the webhook channel needs AUTOMATION_WEBHOOK_URL")
            return WebhookChannel(s.webhook_url, s.webhook_timeout_s)
        if name == "sms":
            if not s.sms_account_sid or not self._senders.sms_from:
                raise SettingsError("the sms channel needs AUTOMATION_SMS_ACCOUNT_SID and senders.sms_from")
            return SmsChannel(
                s.sms_base_url, s.sms_account_sid, s.sms_auth_token, self._senders.sms_from, s.sms_timeout_s
            )
        if name == "email":
            if not self._senders.email_from:
                raise SettingsError("the email channel needs senders.email_from in the automation settings")
            return EmailChannel(
                s.smtp_host,
                s.smtp_port,
                self._senders.email_from,
                username=s.smtp_username,
                password=s.smtp_password,
                starttls=s.smtp_starttls,
                timeout_s=s.smtp_timeout_s,
            )
        raise SettingsError(f"unknown channel {name!r}; known: {', '.join(sorted(NAMES))}")
