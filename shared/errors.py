"""Error hierarchy of the pipeline."""

from __future__ import annotations


class AutomationError(Exception):
    """Base class of every error the pipeline raises on purpose."""


class PoisonMessage(AutomationError):
    """A Kafka message whose payload cannot be decoded into a job."""


class ProduceError(AutomationError):
    """The broker did not acknowledge a write."""


class IdempotencyStoreUnavailable(AutomationError):
    """Redis could not be asked whether a key was already accepted."""


class ChannelError(AutomationError):
    """A channel could not deliver a message; ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool, error_class: str = "channel") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.error_class = error_class  # low-cardinality: http_5xx, http_4xx, http_429, timeout, ...


class TemplateError(AutomationError):
    """A template names an unknown variable or uses syntax that is not allowed."""


class NotImplementedAutomation(AutomationError):
    """The executor has no implementation for this automation type and recipient."""


class SettingsError(AutomationError):
    """The automation settings file is missing, malformed or names something unknown."""
