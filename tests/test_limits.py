"""Limits on what callers send (trigger_service/limits.py): message size, the deadline cap, the
per-caller rate limit; on a real trigger over TCP, a real broker and Redis."""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from prometheus_client import REGISTRY

from devtools.embedded import free_port
from shared.config import Settings
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.proto.automation.v1 import automation_pb2_grpc as pb_grpc
from tests.support.sample import sample_request
from trigger_service import limits
from trigger_service.limits import CappedContext, LimitsInterceptor, TokenBuckets, peer_host
from trigger_service.server import create_server


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """The trigger writes no EventLog rows: one database is enough."""
    return sqlite_url


def request(booking_id: str | None = None) -> pb.EnqueueAutomationRequest:
    return sample_request(booking_id or f"b-{uuid.uuid4().hex[:12]}")


@contextmanager
def serving(settings: Settings, address: str = "127.0.0.1:0") -> Iterator[int]:
    """A started trigger bound to ``address``; yields its port."""
    trigger = create_server(settings, address)
    trigger.start()
    try:
        yield trigger.port
    finally:
        trigger.stop(grace_s=0.5)


@contextmanager
def stub_for(target: str) -> Iterator[pb_grpc.AutomationServiceStub]:
    with grpc.insecure_channel(target) as channel:
        yield pb_grpc.AutomationServiceStub(channel)


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    now = [100.0]
    buckets = TokenBuckets(rate_per_s=10, burst=3, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.1)  # empty: one token comes in 0.1 s
    assert buckets.take("b") == 0.0  # another key has its own bucket
    now[0] += 0.1
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    now[0] += 60  # idle long enough to be full again: forgotten at the next sweep
    buckets.take("c")
    assert len(buckets) == 1


def test_capped_context_never_reports_more_than_the_cap() -> None:
    class Context:
        def __init__(self, remaining: float | None) -> None:
            self.remaining = remaining

        def time_remaining(self) -> float | None:
            return self.remaining

        def peer(self) -> str:
            return "ipv4:10.0.0.1:1234"

    assert CappedContext(Context(None), 2.0).time_remaining() <= 2.0
    assert CappedContext(Context(10**9), 2.0).time_remaining() <= 2.0  # gRPC's "no deadline"
    assert CappedContext(Context(0.5), 2.0).time_remaining() <= 0.5
    assert CappedContext(Context(5.0), 2.0).peer() == "ipv4:10.0.0.1:1234"  # the rest is delegated


@pytest.mark.parametrize(
    ("peer", "key"),
    [
        ("ipv4:10.0.0.7:51234", "ipv4:10.0.0.7"),
        ("ipv6:%5B::1%5D:51234", "ipv6:[::1]"),
        ("ipv6:[2001:db8::1]:443", "ipv6:[2001:db8::1]"),
        ("unix:/run/trigger.sock", "unix:/run/trigger.sock"),
    ],
)
def test_peer_host_drops_the_port(peer: str, key: str) -> None:
    assert peer_host(peer) == key


def test_an_authenticated_caller_is_keyed_by_name() -> None:
    class Context:
        def peer(self) -> str:
            return "ipv4:10.0.0.7:51234"

    interceptor = LimitsInterceptor(max_call_deadline_s=30, rate_limit_per_s=1, burst=1)
    from trigger_service import auth

    assert limits._auth_current_caller() is auth.current_caller
    assert interceptor.caller_key(Context()) == "ipv4:10.0.0.7"  # outside an authenticated call
    interceptor._current_caller = lambda: "billing"
    assert interceptor.caller_key(Context()) == "caller:billing"


@pytest.mark.slow
def test_a_request_over_the_size_limit_is_resource_exhausted(settings: Settings) -> None:
    small = settings.model_copy(update={"grpc_max_message_bytes": 64 * 1024})
    with serving(small) as port, stub_for(f"127.0.0.1:{port}") as stub:
        big = request()
        big.booking.notes = "x" * (100 * 1024)
        with pytest.raises(grpc.RpcError) as exc:
            stub.EnqueueAutomation(big, timeout=10)
        assert exc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        under = request()
        under.booking.notes = "x" * (32 * 1024)  # passes the size limit, not validation
        with pytest.raises(grpc.RpcError) as exc:
            stub.EnqueueAutomation(under, timeout=10)
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.slow
def test_the_default_limit_is_4_mib_and_a_full_batch_fits(settings: Settings) -> None:
    assert Settings.model_fields["grpc_max_message_bytes"].default == 4 * 1024 * 1024
    with serving(settings) as port, stub_for(f"127.0.0.1:{port}") as stub:
        huge = request()
        huge.booking.notes = "x" * (4 * 1024 * 1024)
        with pytest.raises(grpc.RpcError) as exc:
            stub.EnqueueAutomation(huge, timeout=10)
        assert exc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        item = request()
        item.booking.notes = "x" * 2000  # the longest valid notes; other fields as usual
        batch = pb.EnqueueAutomationsRequest(requests=[item] * 500)
        assert batch.ByteSize() > 1024 * 1024
        response = stub.EnqueueAutomations(batch, timeout=30)
        assert len(response.results) == 500


@pytest.mark.slow
@pytest.mark.parametrize("timeout_s", [None, 60.0])
def test_calls_without_or_with_long_deadlines_end_within_the_cap(settings: Settings, timeout_s) -> None:
    """A broker that never acknowledges, a produce timeout of 60 s: the 2 s cap bounds the call."""
    capped = settings.model_copy(
        update={
            "kafka_bootstrap_servers": f"127.0.0.1:{free_port()}",  # nothing listens: never acks
            "produce_timeout_s": 60.0,
            "max_call_deadline_s": 2.0,
        }
    )
    with serving(capped) as port, stub_for(f"127.0.0.1:{port}") as stub:
        started = time.monotonic()
        response = stub.EnqueueAutomations(
            pb.EnqueueAutomationsRequest(requests=[request()]), timeout=timeout_s
        )
        elapsed = time.monotonic() - started
    [result] = response.results
    assert result.error.code == code_pb2.UNAVAILABLE
    assert 1.0 < elapsed < 4.0, f"the call took {elapsed:.2f}s with a 2 s cap"


def _retry_delay_s(error: grpc.RpcError) -> float | None:
    """The RetryInfo delay of a failed call's status details, if any."""
    info, status = error_details_pb2.RetryInfo(), rpc_status.from_call(error)
    found = [d for d in (status.details if status else ()) if d.Unpack(info)]
    return info.retry_delay.ToMilliseconds() / 1000 if found else None


def _calls(stub: pb_grpc.AutomationServiceStub, n: int, interval_s: float) -> tuple[list[float], list[Any]]:
    """``n`` EnqueueAutomation calls ``interval_s`` apart: latencies and errors."""
    latencies, errors = [], []
    for _ in range(n):
        started = time.perf_counter()
        try:
            stub.EnqueueAutomation(request(), timeout=10)
        except grpc.RpcError as exc:
            errors.append(exc.code())
        latencies.append(time.perf_counter() - started)
        time.sleep(interval_s)
    return latencies, errors


@pytest.mark.slow
def test_a_flooding_caller_is_throttled_while_another_is_not(settings: Settings) -> None:
    # "[::]" (both loopbacks) is a wildcard: without auth it needs the explicit opt-in (exposure.py).
    limited = settings.model_copy(
        update={"rate_limit_per_s": 20.0, "rate_limit_burst": 10, "insecure_allow_unauthenticated": True}
    )
    try:  # two callers from one machine: IPv4 and IPv6 loopback are different peer addresses
        with serving(limited, "[::]:0") as port, stub_for(f"[::1]:{port}") as probe:
            probe.EnqueueAutomation(request(), timeout=5)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no dual-stack loopback here: {exc}")
    refused_before = REGISTRY.get_sample_value("automation_rate_limited_total") or 0.0
    with (
        serving(limited, "[::]:0") as port,
        stub_for(f"127.0.0.1:{port}") as flooder,
        stub_for(f"[::1]:{port}") as other,
    ):
        baseline, errors = _calls(other, 30, interval_s=0.1)  # 10/s: under the limit
        assert errors == []

        stop, codes, delays = threading.Event(), [], []

        def flood() -> None:
            while not stop.is_set():
                try:
                    flooder.EnqueueAutomation(request(), timeout=5)
                    codes.append(grpc.StatusCode.OK)
                except grpc.RpcError as exc:
                    codes.append(exc.code())
                    delays.append(_retry_delay_s(exc))

        threads = [threading.Thread(target=flood, daemon=True) for _ in range(3)]
        flood_started = time.monotonic()
        for thread in threads:
            thread.start()
        try:
            time.sleep(0.5)
            flooded, errors = _calls(other, 30, interval_s=0.1)
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:  # health is never limited
                health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        finally:
            stop.set()
            flood_s = time.monotonic() - flood_started
            for thread in threads:
                thread.join(timeout=10)

    assert errors == [], "the other caller was throttled"
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    refused = [c for c in codes if c == grpc.StatusCode.RESOURCE_EXHAUSTED]
    assert set(codes) == {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert len(refused) > 10 * codes.count(grpc.StatusCode.OK), "the flood was not throttled"
    # At most the burst, the rate times the flood's measured duration (a loaded machine stretches it) and
    # the one call per thread still in flight when it was told to stop.
    assert codes.count(grpc.StatusCode.OK) <= 10 + 20 * flood_s + len(threads), flood_s
    assert all(d is not None and 0 < d <= 1 / 20 + 0.01 for d in delays), "RetryInfo missing or wrong"
    refused_after = REGISTRY.get_sample_value("automation_rate_limited_total") or 0.0
    assert refused_after - refused_before == len(refused)
    p50_base, p50_flood = statistics.median(baseline), statistics.median(flooded)
    print(f"flood: {len(codes)} calls, {len(refused)} refused; other caller p50 ", end="")
    print(f"{p50_base * 1000:.1f} ms alone, {p50_flood * 1000:.1f} ms during the flood")
    assert p50_flood < max(5 * p50_base, p50_base + 0.25), "the flood slowed the other caller down"
