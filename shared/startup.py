"""Start-up of a service entry point: a configuration that cannot work ends the process at once with
exit code 2 and ONE log line naming every setting to fix (no traceback, no setting values: they may be
secrets). Used by executor_service/main.py (and usable by any entry point)."""

from __future__ import annotations

import logging
import sys
from typing import NoReturn

from pydantic import ValidationError

from shared.config import Settings
from shared.logs import configure_logging

CONFIG_ERROR_EXIT_CODE = 2
log = logging.getLogger(__name__)


def settings_or_exit(service: str) -> Settings:
    """``Settings.from_environment()``, or exit 2 with one line naming each invalid setting."""
    try:
        return Settings.from_environment()
    except ValidationError as exc:
        configure_logging("INFO")
        exit_config_error(service, describe_validation_error(exc))


def exit_config_error(service: str, problem: str) -> NoReturn:
    """Log ``<service> cannot start: <problem>`` as one line and exit with CONFIG_ERROR_EXIT_CODE."""
    logging.getLogger(service.replace(" ", "_")).error("%s cannot start: %s", service, problem)
    logging.shutdown()
    sys.exit(CONFIG_ERROR_EXIT_CODE)


def missing_backend_settings(settings: Settings) -> list[str]:
    """Credentials the chosen Kafka security needs and lacks: SASL needs a user name and a password; a
    client certificate needs its key (and the other way round)."""
    missing = []
    if settings.kafka_security_protocol.startswith("SASL"):
        if not settings.kafka_sasl_username:
            missing.append("AUTOMATION_KAFKA_SASL_USERNAME")
        if not (settings.kafka_sasl_password and settings.kafka_sasl_password.get_secret_value()):
            missing.append("AUTOMATION_KAFKA_SASL_PASSWORD")
    if settings.kafka_ssl_cert_file and not settings.kafka_ssl_key_file:
        missing.append("AUTOMATION_KAFKA_SSL_KEY_FILE")
    if settings.kafka_ssl_key_file and not settings.kafka_ssl_cert_file:
        missing.append("AUTOMATION_KAFKA_SSL_CERT_FILE")
    if missing:
        return [f"{', '.join(missing)} (Kafka {settings.kafka_security_protocol})"]
    return []


def describe_validation_error(exc: ValidationError) -> str:
    """``invalid settings: AUTOMATION_X: <why>; ...`` without the values given (they may be secrets)."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = error["loc"]
        why = " ".join(str(error["msg"]).split())
        parts.append(f"AUTOMATION_{str(loc[0]).upper()}: {why}" if loc else why)
    return "invalid settings: " + "; ".join(parts)
