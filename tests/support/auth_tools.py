"""Helpers of the caller-authentication tests: a spy on the servicer, the refusal counter, settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from prometheus_client import REGISTRY

from shared.config import Settings
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.proto.automation.v1 import automation_pb2_grpc as pb_grpc
from tests.support.sample import sample_request
from trigger_service.auth import REASONS, current_caller
from trigger_service.servicer import AutomationServicer
from trigger_service.tokens import METHOD_SCOPES, hash_token

METHODS = [name.rsplit("/", 1)[-1] for name in METHOD_SCOPES]
_NULL_CHANNEL = pb.PauseScope(channels=["null"])


@dataclass
class HandlerSpy:
    """Records every servicer method that ran, with ``current_caller()`` at that moment."""

    calls: list[tuple[str, str | None]] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> HandlerSpy:
        """Wrap AutomationServicer's RPC methods (before the trigger is built)."""
        for method in METHODS:
            monkeypatch.setattr(
                AutomationServicer, method, self._wrap(method, getattr(AutomationServicer, method))
            )
        return self

    def _wrap(self, name: str, inner: Callable[..., Any]) -> Callable[..., Any]:
        def spied(servicer: AutomationServicer, request: Any, context: grpc.ServicerContext) -> Any:
            self.calls.append((name, current_caller()))
            return inner(servicer, request, context)

        return spied


def auth_failures() -> dict[str, float]:
    """``automation_auth_failures_total`` by reason, now."""
    return {
        r: REGISTRY.get_sample_value("automation_auth_failures_total", {"reason": r}) or 0.0 for r in REASONS
    }


def failures_since(before: dict[str, float]) -> dict[str, float]:
    """The refusals counted since ``before``, by reason (reasons without any left out)."""
    return {r: n - before[r] for r, n in auth_failures().items() if n != before[r]}


def with_settings(settings: Settings, **changes: Any) -> Settings:
    """``settings`` with ``changes``, validated like the environment would be."""
    return Settings.model_validate({**settings.model_dump(), **changes})


def token_entry(token: str, *scopes: str) -> dict[str, Any]:
    return {"token_sha256": hash_token(token), "scopes": list(scopes)}


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def call(stub: pb_grpc.AutomationServiceStub, method: str, booking_id: str, metadata=()) -> grpc.StatusCode:
    """Call ``method`` with a valid request; the status code it ended with."""
    requests = {
        "EnqueueAutomation": lambda: sample_request(booking_id),
        "EnqueueAutomations": lambda: pb.EnqueueAutomationsRequest(requests=[sample_request(booking_id)]),
        "CancelAutomations": lambda: pb.CancelAutomationsRequest(booking_id=booking_id),
        "GetAutomationRuns": lambda: pb.GetAutomationRunsRequest(booking_id=booking_id),
        "ListDeadLetters": lambda: pb.ListDeadLettersRequest(),
        "ReplayDeadLetters": lambda: pb.ReplayDeadLettersRequest(dry_run=True),
        "PauseAutomations": lambda: pb.PauseAutomationsRequest(scope=_NULL_CHANNEL, reason="auth test"),
        "ResumeAutomations": lambda: pb.ResumeAutomationsRequest(scope=_NULL_CHANNEL, reason="auth test"),
        "ListPauses": lambda: pb.ListPausesRequest(),
    }
    try:
        getattr(stub, method)(requests[method](), metadata=metadata, timeout=10)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK
