"""What one caller may cost the trigger: a cap on call deadlines, a per-caller rate limit, and a clean
answer to requests that are not the message they claim to be.

``LimitsInterceptor`` wraps the unary methods of AutomationService (the health and reflection services
pass through untouched):

- **Deadline cap**: the servicer sees a context whose ``time_remaining()`` is at most
  ``max_call_deadline_s`` from the call's start, so a call without a deadline (or a longer one) waits for
  the broker, Redis or a pending key no longer than the cap.
- **Rate limit**: a token bucket per caller (``rate_limit_per_s`` calls per second, ``rate_limit_burst``
  at once; 0 disables). The caller is ``trigger_service.auth.current_caller()`` when that module exists
  and names one, else the peer address without its port. Over the limit the call ends at once with
  RESOURCE_EXHAUSTED carrying a ``google.rpc.RetryInfo`` (when a token will be there), and
  ``automation_rate_limited_total`` counts it (no caller label: peers are unbounded).
- **Undecodable requests** (bytes that do not parse as the method's request message) answer
  INVALID_ARGUMENT with a ``BadRequest`` violation instead of gRPC's INTERNAL.

The maximum message size (``grpc_max_message_bytes``) is a server option (server.py): gRPC itself
answers RESOURCE_EXHAUSTED for bigger requests, before any handler runs.
"""

from __future__ import annotations

import importlib
import logging
import math
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any, cast

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from prometheus_client import Counter

from shared.config import Settings
from shared.proto.automation.v1 import automation_pb2 as pb
from trigger_service.interceptors import Behavior, UnaryInterceptor
from trigger_service.validation import Violation, bad_request_status

log = logging.getLogger(__name__)

LIMITED_PREFIX = "/" + pb.DESCRIPTOR.services_by_name["AutomationService"].full_name + "/"
RATE_LIMITED = Counter("automation_rate_limited_total", "Calls refused by the per-caller rate limit")


class TokenBuckets:
    """One token bucket per key, thread-safe. Buckets idle long enough to be full again are forgotten."""

    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self._rate = rate_per_s
        self._burst = float(burst)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when counted)
        self._next_sweep = 0.0

    def take(self, key: str) -> float:
        """Take one token of ``key``'s bucket: 0.0 if there was one, else the seconds until there is."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self._burst, now))
            tokens = min(self._burst, tokens + (now - at) * self._rate)
            wait_s = 0.0 if tokens >= 1.0 - 1e-9 else (1.0 - tokens) / self._rate  # 1e-9: float rounding
            self._buckets[key] = (max(tokens - 1.0, 0.0) if wait_s == 0.0 else tokens, now)
            if now >= self._next_sweep:
                self._sweep(now)
        return wait_s

    def __len__(self) -> int:
        return len(self._buckets)

    def _sweep(self, now: float) -> None:
        refill_s = self._burst / self._rate  # an idle bucket is full (as good as new) after this
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < refill_s}
        self._next_sweep = now + max(refill_s, 1.0)


class CappedContext:
    """A ``grpc.ServicerContext`` whose ``time_remaining()`` never exceeds ``cap_s`` from its creation;
    everything else is the wrapped context's."""

    def __init__(self, context: grpc.ServicerContext, cap_s: float) -> None:
        self._context = context
        self._ends_at = time.monotonic() + cap_s

    def time_remaining(self) -> float:
        remaining = self._context.time_remaining()
        capped = self._ends_at - time.monotonic()
        return max(capped if remaining is None else min(remaining, capped), 0.0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def peer_host(peer: str) -> str:
    """``ipv4:10.0.0.7:5123`` -> ``ipv4:10.0.0.7``; ``ipv6:%5B::1%5D:5123`` -> ``ipv6:[::1]``; others kept."""
    peer = urllib.parse.unquote(peer or "")
    kind, _, address = peer.partition(":")
    if kind not in ("ipv4", "ipv6"):
        return peer
    host, sep, port = address.rpartition(":")
    return f"{kind}:{host}" if sep and port.isdigit() else peer


def rate_limited_status(wait_s: float) -> grpc.Status:
    """RESOURCE_EXHAUSTED with a ``google.rpc.RetryInfo`` asking to wait ``wait_s`` (rounded up to 1 ms)."""
    delay_ms = max(math.ceil(wait_s * 1000), 1)
    info = error_details_pb2.RetryInfo()
    info.retry_delay.FromMilliseconds(delay_ms)
    status = status_pb2.Status(
        code=code_pb2.RESOURCE_EXHAUSTED,
        message=f"rate limit exceeded for this caller; retry in {delay_ms} ms",
    )
    status.details.add().Pack(info)
    return rpc_status.to_status(status)


class _Undecodable:
    """Stands for a request whose bytes did not parse (answered INVALID_ARGUMENT by the interceptor)."""

    def __init__(self, message_name: str) -> None:
        self.message_name = message_name


def _lenient(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserialize is None:
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception:  # DecodeError, or anything a hostile payload makes the parser raise
            return _Undecodable(_message_name(deserialize))

    return parse


class LimitsInterceptor(UnaryInterceptor):
    """Deadline cap, per-caller rate limit and undecodable requests; see the module docstring."""

    def __init__(self, *, max_call_deadline_s: float, rate_limit_per_s: float = 0.0, burst: int = 1) -> None:
        self._cap_s = max_call_deadline_s
        self._buckets = TokenBuckets(rate_limit_per_s, burst) if rate_limit_per_s > 0 else None
        self._current_caller = _auth_current_caller()

    @classmethod
    def from_settings(cls, settings: Settings) -> LimitsInterceptor:
        return cls(
            max_call_deadline_s=settings.max_call_deadline_s,
            rate_limit_per_s=settings.rate_limit_per_s,
            burst=settings.rate_limit_burst,
        )

    def caller_key(self, context: grpc.ServicerContext) -> str:
        """The authenticated caller's name (``caller:<name>``), else the peer address without its port."""
        if self._current_caller is not None and (name := self._current_caller()):
            return f"caller:{name}"
        return peer_host(context.peer())

    def wrap(self, details: grpc.HandlerCallDetails, inner: Behavior) -> Behavior | None:
        if not details.method.startswith(LIMITED_PREFIX):
            return None

        def limited(request: Any, context: grpc.ServicerContext) -> Any:
            if self._buckets is not None:
                wait_s = self._buckets.take(self.caller_key(context))
                if wait_s > 0:
                    RATE_LIMITED.inc()
                    log.debug("call rate limited", extra={"retry_in_s": round(wait_s, 3)})
                    context.abort_with_status(rate_limited_status(wait_s))
            if isinstance(request, _Undecodable):
                violation = Violation("", f"the request is not a valid {request.message_name} message")
                context.abort_with_status(bad_request_status([violation]))
            # CappedContext is a ServicerContext by delegation (it cannot subclass the ABC)
            return inner(request, cast(grpc.ServicerContext, CappedContext(context, self._cap_s)))

        return limited

    def deserializer(self, deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
        return _lenient(deserialize)


def _message_name(deserialize: Callable[[bytes], Any]) -> str:
    descriptor = getattr(getattr(deserialize, "__self__", None), "DESCRIPTOR", None)
    return descriptor.full_name if descriptor is not None else "request"


def _auth_current_caller() -> Callable[[], str | None] | None:
    """``trigger_service.auth.current_caller`` when that module exists (imported late: no import cycle)."""
    try:
        auth = importlib.import_module("trigger_service.auth")
    except ModuleNotFoundError as exc:
        if exc.name != "trigger_service.auth":
            raise
        return None
    return getattr(auth, "current_caller", None)
