"""A small typed client of the trigger service (``automation.v1.AutomationService``) for internal services.

Every call has a deadline (``timeout_s``). UNAVAILABLE and DEADLINE_EXCEEDED are retried with exponential
backoff and jitter, up to ``retries`` times; enqueue requests get their idempotency key *before* the first
attempt (the server's default key when the caller set none), so a retry can never enqueue twice.
INVALID_ARGUMENT raises :class:`InvalidRequest` with the field violations; retries exhausted raise
:class:`Unavailable`; UNAUTHENTICATED and PERMISSION_DENIED raise :class:`AccessDenied`; any other status
raises :class:`AutomationClientError`. One vocabulary (``shared/client_vocabulary.py``): automation types
are taken as stable names, proto names or ints (an unknown one raises InvalidRequest before any call);
runs carry stable names and statuses as strings; batch items' errors come decoded (:class:`ItemResult`).

Credentials (``shared/client_credentials.py``): ``token`` is sent as ``authorization: Bearer <token>`` on
every call; ``ca_file`` / ``tls=True`` make the channel TLS, ``cert_file`` + ``key_file`` add a client
certificate (mTLS), ``server_name`` overrides the name checked in the trigger's certificate.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC
from pathlib import Path
from typing import Any, TypeVar

import grpc
from grpc_status import rpc_status

from shared.client_credentials import ClientCredentials
from shared.client_pauses import PauseCalls
from shared.client_vocabulary import (
    CancelResult,
    ItemResult,
    TypeLike,
    dead_letter_filter,
    item_result,
    item_unavailable,
    type_values,
    violations_of,
)
from shared.client_vocabulary import (
    ItemError as ItemError,  # re-exported: ItemResult.error
)
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.proto.automation.v1 import automation_pb2_grpc as pb_grpc
from shared.vocabulary import default_idempotency_key, is_idempotency_key

MAX_BATCH_ITEMS = 500  # EnqueueAutomations and ReplayDeadLetters take at most this many per call
_RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
Resp = TypeVar("Resp")
Page = TypeVar("Page", pb.GetAutomationRunsResponse, pb.ListDeadLettersResponse)  # paged: next_page_token
FilterLike = pb.DeadLetterFilter | Mapping[str, Any] | None


class AutomationClientError(Exception):
    """A call failed with ``code``; ``details`` is the server's (or gRPC's) message."""

    def __init__(self, code: grpc.StatusCode, details: str, target: str = "") -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details
        self.target = target


class InvalidRequest(AutomationClientError):
    """INVALID_ARGUMENT; ``violations`` lists (field, description) from the ``google.rpc.BadRequest``."""

    def __init__(self, details: str, violations: list[tuple[str, str]], target: str = "") -> None:
        super().__init__(grpc.StatusCode.INVALID_ARGUMENT, details, target)
        self.violations = violations


class Unavailable(AutomationClientError):
    """UNAVAILABLE or DEADLINE_EXCEEDED, still after every retry."""


class AccessDenied(AutomationClientError):
    """UNAUTHENTICATED (no, a bad or an unknown credential) or PERMISSION_DENIED (a token without the
    RPC's scope)."""


def with_idempotency_key(req: pb.EnqueueAutomationRequest) -> pb.EnqueueAutomationRequest:
    """A copy of ``req`` with its idempotency key set (the default one if it had none). A default key the
    trigger would refuse (bad booking id: the request is refused anyway) is left unset, so that the caller
    sees the real violation, not one about a key it never set."""
    out = pb.EnqueueAutomationRequest()
    out.CopyFrom(req)
    if not out.HasField("idempotency_key"):
        key = default_idempotency_key(out)
        if is_idempotency_key(key):
            out.idempotency_key = key
    return out


class AutomationClient(PauseCalls):
    """Client of the trigger service at ``target`` (``host:port``). No network I/O until the first call
    (the credential files are read here: a missing one raises ValueError)."""

    def __init__(
        self,
        target: str,
        *,
        timeout_s: float = 5.0,
        retries: int = 3,
        backoff_s: float = 0.2,
        channel: grpc.Channel | None = None,
        token: str | None = None,
        tls: bool = False,
        ca_file: str | Path | None = None,
        cert_file: str | Path | None = None,
        key_file: str | Path | None = None,
        server_name: str | None = None,
        credentials: ClientCredentials | None = None,
    ) -> None:
        files = {"ca_file": ca_file, "cert_file": cert_file, "key_file": key_file}
        if credentials is None:
            credentials = ClientCredentials.from_files(token=token, tls=tls, server_name=server_name, **files)
        elif token is not None or tls or any(v is not None for v in (*files.values(), server_name)):
            raise ValueError("give credentials or token/tls/ca_file/cert_file/key_file/server_name, not both")
        if channel is not None and credentials.uses_tls:
            raise ValueError("TLS settings apply to the client's own channel, not to one passed in")
        self.target = target
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self._metadata = credentials.metadata()
        self._owns_channel = channel is None
        self._channel = channel if channel is not None else credentials.channel(target)
        self._stub = pb_grpc.AutomationServiceStub(self._channel)

    # --- enqueue ---------------------------------------------------------------------------------

    def enqueue(self, request: pb.EnqueueAutomationRequest) -> pb.EnqueueAutomationResponse:
        """Enqueue one automation; OK once the broker acknowledged it (or ``duplicate=True``)."""
        return self._call(self._stub.EnqueueAutomation, with_idempotency_key(request))

    def enqueue_many(
        self,
        requests: Sequence[pb.EnqueueAutomationRequest],
        *,
        on_progress: Callable[[int], None] | None = None,
    ) -> list[ItemResult]:
        """One :class:`ItemResult` per request, in order (``accepted``, or ``error`` with its status
        name, message and decoded violations), sent in chunks of 500. Items answered UNAVAILABLE are sent
        again (same keys) up to ``retries`` times; those still failing keep their error result.
        ``on_progress(n)`` is told how many items got their final result after each chunk."""
        keyed = [with_idempotency_key(r) for r in requests]
        results: list[ItemResult] = []
        for start in range(0, len(keyed), MAX_BATCH_ITEMS):
            chunk = keyed[start : start + MAX_BATCH_ITEMS]
            results.extend(item_result(r) for r in self._enqueue_chunk(chunk))
            if on_progress is not None:
                on_progress(len(chunk))
        return results

    def _enqueue_chunk(self, chunk: list[pb.EnqueueAutomationRequest]) -> list[pb.EnqueueItemResult]:
        results: list[pb.EnqueueItemResult | None] = [None] * len(chunk)
        pending = list(range(len(chunk)))
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep_before_retry(attempt)
            batch = pb.EnqueueAutomationsRequest(requests=[chunk[i] for i in pending])
            response = self._call(self._stub.EnqueueAutomations, batch)
            for i, result in zip(pending, response.results, strict=True):
                results[i] = result
            pending = [i for i in pending if item_unavailable(results[i])]
            if not pending:
                break
        return [r for r in results if r is not None]

    # --- cancel and reads ------------------------------------------------------------------------

    def cancel(self, booking_id: str, automation_types: Sequence[TypeLike] = ()) -> CancelResult:
        """Cancel the booking's jobs of ``automation_types`` (names, proto names or ints; none: all)
        enqueued before ``cancelled_at``; ``cancelled_runs`` are the pending jobs' new ``cancelled`` rows."""
        types, bad = type_values(automation_types, "automation_types")
        if bad:
            raise InvalidRequest("unknown automation type", bad, self.target)
        request = pb.CancelAutomationsRequest(booking_id=booking_id, automation_types=types)
        response = self._call(self._stub.CancelAutomations, request)
        return CancelResult(response.cancelled_at.ToDatetime(tzinfo=UTC), list(response.cancelled_runs))

    def runs(
        self,
        *,
        job_id: str | None = None,
        idempotency_key: str | None = None,
        booking_id: str | None = None,
        page_size: int = 50,
    ) -> Iterator[pb.AutomationRun]:
        """EventLog rows of exactly one of a job, a key or a booking, newest first, page after page."""
        selectors = {"job_id": job_id, "idempotency_key": idempotency_key, "booking_id": booking_id}
        chosen = {k: v for k, v in selectors.items() if v is not None}
        if len(chosen) != 1:
            raise ValueError("give exactly one of job_id, idempotency_key, booking_id")
        request = pb.GetAutomationRunsRequest(page_size=page_size, **chosen)
        for response in self._pages(self._stub.GetAutomationRuns, request):
            yield from response.runs

    def dead_letters(self, filter: FilterLike = None, page_size: int = 100) -> Iterator[pb.DeadLetter]:
        """Dead letters matching ``filter`` (None: every one not replayed yet), newest first; a filter is
        a ``pb.DeadLetterFilter`` or a dict (``client_vocabulary.dead_letter_filter``)."""
        request = pb.ListDeadLettersRequest(filter=self._filter(filter), page_size=page_size)  # raises now
        return (
            d for response in self._pages(self._stub.ListDeadLetters, request) for d in response.dead_letters
        )

    def replay(
        self,
        filter: FilterLike = None,
        *,
        dry_run: bool = False,
        max_per_second: float = 0.0,
        limit: int = MAX_BATCH_ITEMS,
    ) -> pb.ReplayDeadLettersResponse:
        """One ReplayDeadLetters call (at most ``limit`` jobs); call again while ``remaining`` > 0.

        When paced (``max_per_second`` > 0) the deadline grows by the time the pacing takes.
        """
        request = pb.ReplayDeadLettersRequest(
            filter=self._filter(filter),
            dry_run=dry_run,
            max_per_second=max_per_second,
            limit=limit,
        )
        extra_s = limit / max_per_second if max_per_second > 0 and not dry_run else 0.0
        return self._call(self._stub.ReplayDeadLetters, request, timeout_s=self.timeout_s + extra_s)

    # --- plumbing --------------------------------------------------------------------------------

    def _filter(self, filter: FilterLike) -> pb.DeadLetterFilter:
        out, bad = dead_letter_filter(filter)
        if bad:
            raise self._invalid("invalid dead-letter filter", bad)
        return out

    def _invalid(self, details: str, violations: list[tuple[str, str]]) -> InvalidRequest:
        return InvalidRequest(details, violations, self.target)

    def close(self) -> None:
        """Close the channel (unless it was passed in by the caller)."""
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> AutomationClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pages(self, method: Callable[..., Page], request: Any) -> Iterator[Page]:
        """``method``'s responses, following ``next_page_token`` until the last page."""
        while True:
            response = self._call(method, request)
            yield response
            if not response.next_page_token:
                return
            request.page_token = response.next_page_token

    def _call(self, method: Callable[..., Resp], request: Any, *, timeout_s: float | None = None) -> Resp:
        """``method(request)`` with a deadline, retrying UNAVAILABLE and DEADLINE_EXCEEDED."""
        attempt = 0
        while True:
            try:
                return method(request, timeout=timeout_s or self.timeout_s, metadata=self._metadata)
            except grpc.RpcError as err:
                code = err.code() if isinstance(err, grpc.Call) else grpc.StatusCode.UNKNOWN
                if code not in _RETRYABLE or attempt >= self.retries:
                    raise self._translate(err, code) from None
            attempt += 1
            self._sleep_before_retry(attempt)

    def _sleep_before_retry(self, attempt: int) -> None:
        """``backoff_s * 2**(attempt-1)``, plus up to 50 % jitter."""
        time.sleep(self.backoff_s * 2 ** (attempt - 1) * (1.0 + 0.5 * random.random()))

    def _translate(self, err: grpc.RpcError, code: grpc.StatusCode) -> AutomationClientError:
        details = (err.details() if isinstance(err, grpc.Call) else None) or str(err)
        if code in _RETRYABLE:
            return Unavailable(code, details, self.target)
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            return AccessDenied(code, details, self.target)
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            status = rpc_status.from_call(err) if isinstance(err, grpc.Call) else None
            return InvalidRequest(details, violations_of(status) if status else [], self.target)
        return AutomationClientError(code, details, self.target)
