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


def describe_validation_error(exc: ValidationError) -> str:
    """``invalid settings: AUTOMATION_X: <why>; ...`` without the values given (they may be secrets)."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = error["loc"]
        why = " ".join(str(error["msg"]).split())
        parts.append(f"AUTOMATION_{str(loc[0]).upper()}: {why}" if loc else why)
    return "invalid settings: " + "; ".join(parts)
