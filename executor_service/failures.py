"""Classifies why a job run failed: an error class for labels and headers, and whether to retry.

Transient (timeouts, connection errors, HTTP 5xx/429, unknown bugs) is retried; permanent (bad
template data, HTTP 4xx, an automation the executor cannot run, an undecodable payload) goes
straight to the dead-letter topic.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import ChannelError, NotImplementedAutomation, PoisonMessage, TemplateError


@dataclass(frozen=True)
class Failure:
    error_class: str  # closed set: safe as a metric label
    retryable: bool
    message: str


def classify(exc: BaseException) -> Failure:
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ChannelError):
        return Failure(exc.error_class, exc.retryable, message)
    if isinstance(exc, TemplateError):
        return Failure("template", False, message)
    if isinstance(exc, NotImplementedAutomation):
        return Failure("not_implemented", False, message)
    if isinstance(exc, PoisonMessage):
        return Failure("poison", False, message)
    # A bug or an unexpected backend error: retrying is the safe choice; attempts are bounded.
    return Failure("internal", True, message)
