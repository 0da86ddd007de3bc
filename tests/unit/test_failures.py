"""Which failures are retried and which go straight to the dead-letter topic; bounded error headers."""

from __future__ import annotations

import pytest

from executor_service.failures import classify
from shared.codec import ErrorNote
from shared.errors import ChannelError, NotImplementedAutomation, PoisonMessage, TemplateError


@pytest.mark.parametrize(
    ("exc", "error_class", "retryable"),
    [
        (ChannelError("HTTP 503", retryable=True, error_class="http_5xx"), "http_5xx", True),
        (ChannelError("HTTP 429", retryable=True, error_class="http_429"), "http_429", True),
        (ChannelError("HTTP 400", retryable=False, error_class="http_4xx"), "http_4xx", False),
        (ChannelError("timed out", retryable=True, error_class="timeout"), "timeout", True),
        (TemplateError("unknown variable"), "template", False),
        (NotImplementedAutomation("postVisitThankYou"), "not_implemented", False),
        (PoisonMessage("garbage"), "poison", False),
        (RuntimeError("a bug"), "internal", True),
    ],
)
def test_classify(exc, error_class, retryable):
    failure = classify(exc)
    assert (failure.error_class, failure.retryable) == (error_class, retryable)
    assert failure.message == f"{type(exc).__name__}: {exc}"


def test_error_message_header_is_truncated_to_valid_utf8():
    headers = dict(ErrorNote(3, "internal", "é" * 1000).headers())  # 2 bytes each
    assert len(headers["error-message"]) <= 512
    assert headers["error-message"].decode() == "é" * 256
    assert headers["attempts"] == b"3" and headers["error-class"] == b"internal"
