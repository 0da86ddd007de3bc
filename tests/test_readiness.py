"""Trigger readiness and dependency health (issue #14; ARCHITECTURE.md, "Readiness"): /readyz follows the
process, not Redis; a stopped Redis shows within seconds in automation_dependency_up and the gRPC health
service, from a background check (probes cost no Redis round trip); HTTP probes answer with mTLS on the
gRPC port. The trigger runs as a real process; Redis is a valkey-server the test stops and restarts."""

from __future__ import annotations

import re
import threading
import time
import uuid

import grpc
import pytest
import redis
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from devtools.embedded import start_valkey
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.proto.automation.v1 import automation_pb2_grpc as pb_grpc
from tests.support.certs import CertAuthority
from tests.support.pipeline import wait_until
from tests.support.sample import sample_request
from tests.support.trigger_process import TriggerProcess, connects, http_get, trigger_env
from trigger_service import metrics
from trigger_service.dependencies import DependencyMonitor, health_name

SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE = pb.DESCRIPTOR.services_by_name["AutomationService"].full_name


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


def dependency_up(metrics_port: int) -> dict[str, float]:
    _, text = http_get(f"http://127.0.0.1:{metrics_port}/metrics")
    return {
        m[0]: float(m[1]) for m in re.findall(r'automation_dependency_up\{dependency="(\w+)"\} (\S+)', text)
    }


def health_of(channel: grpc.Channel, service: str) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status


def ping_calls(url: str) -> int:
    with redis.Redis.from_url(url) as client:
        return int(client.info("commandstats").get("cmdstat_ping", {}).get("calls", 0))


@pytest.mark.slow
def test_redis_down_shows_in_metrics_and_health_while_readiness_stays(settings) -> None:
    valkey = start_valkey()
    port = int(valkey.address.rsplit(":", 1)[1].split("/")[0])
    env = trigger_env(settings, redis_url=valkey.address, dependency_check_interval_s=0.5)
    try:
        with TriggerProcess(env) as trigger, grpc.insecure_channel(f"127.0.0.1:{trigger.grpc_port}") as ch:
            trigger.wait_listening()
            everything_up = {"redis": 1.0, "kafka": 1.0, "database": 1.0}
            wait_until(lambda: dependency_up(trigger.metrics_port) == everything_up, 15, what="all up")
            assert health_of(ch, health_name("redis")) == SERVING

            # Probes are answered from memory: 100 of them cost no Redis round trip each.
            before = ping_calls(valkey.address)
            for _ in range(100):
                assert http_get(f"http://127.0.0.1:{trigger.metrics_port}/readyz")[0] == 200
            assert ping_calls(valkey.address) - before < 10  # the background check's own PINGs

            valkey.stop()
            stopped = time.monotonic()
            wait_until(lambda: dependency_up(trigger.metrics_port).get("redis") == 0.0, 10, what="redis 0")
            noticed_s = time.monotonic() - stopped
            print(f"redis down noticed after {noticed_s:.2f} s")  # reported in ARCHITECTURE.md
            assert noticed_s < 5, noticed_s
            assert dependency_up(trigger.metrics_port) == {**everything_up, "redis": 0.0}
            assert health_of(ch, health_name("redis")) == NOT_SERVING
            assert health_of(ch, "") == SERVING and health_of(ch, SERVICE) == SERVING
            assert http_get(f"http://127.0.0.1:{trigger.metrics_port}/readyz")[0] == 200
            assert http_get(f"http://127.0.0.1:{trigger.metrics_port}/healthz")[0] == 200
            stub = pb_grpc.AutomationServiceStub(ch)
            with pytest.raises(grpc.RpcError) as refused:
                stub.EnqueueAutomation(sample_request(f"b-{uuid.uuid4().hex[:8]}"), timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE  # a clear answer, not a lost pod
            assert stub.ListDeadLetters(pb.ListDeadLettersRequest(), timeout=10).dead_letters == []

            valkey = start_valkey(port=port)
            wait_until(lambda: dependency_up(trigger.metrics_port) == everything_up, 10, what="redis back")
            assert health_of(ch, health_name("redis")) == SERVING
            assert not stub.EnqueueAutomation(
                sample_request(f"b-{uuid.uuid4().hex[:8]}"), timeout=10
            ).duplicate
            assert trigger.terminate() == 0
            log = trigger.log_text()
        assert '"dependency down"' in log and '"dependency": "redis"' in log
        assert log.count('"dependency down"') == 1, "one line per change, not per check"
    finally:
        valkey.stop()


@pytest.mark.slow
def test_http_probes_answer_with_mtls_on_the_grpc_port(settings, tmp_path) -> None:
    ca = CertAuthority("probe test CA")
    cert, key = ca.issue("trigger", dns=("trigger.test",), server=True).write(tmp_path, "server")
    env = trigger_env(
        settings,
        auth_mode="mtls",
        tls_cert_file=str(cert),
        tls_key_file=str(key),
        tls_client_ca_file=str(ca.write(tmp_path)),
    )
    with TriggerProcess(env) as trigger:
        trigger.wait_listening()
        base = f"http://127.0.0.1:{trigger.metrics_port}"
        assert http_get(f"{base}/healthz") == (200, "ok\n")
        assert http_get(f"{base}/readyz") == (200, "ready\n")
        status, text = http_get(f"{base}/metrics")
        assert status == 200 and "automation_trigger_ready 1.0" in text
        assert connects("127.0.0.1", trigger.grpc_port)
        with (
            grpc.insecure_channel(f"127.0.0.1:{trigger.grpc_port}") as plaintext,
            pytest.raises(grpc.RpcError) as no,
        ):
            health_of(plaintext, "")  # the kubelet's plaintext gRPC probe could not pass the handshake
        assert no.value.code() == grpc.StatusCode.UNAVAILABLE
        assert trigger.terminate() == 0


# --- the monitor on its own ------------------------------------------------------------------------


def test_monitor_verdicts_hangs_and_health_entries() -> None:
    flaky_up = threading.Event()
    hang = threading.Event()
    started = {"hung": 0}

    def flaky() -> None:
        if not flaky_up.is_set():
            raise ConnectionError("refused")

    def hung() -> None:
        started["hung"] += 1
        hang.wait(10)

    servicer = health.HealthServicer()
    monitor = DependencyMonitor(
        {"flaky": flaky, "hung": hung, "fine": lambda: None},
        interval_s=0.05,
        timeout_s=0.2,
        health_servicer=servicer,
    )

    def status(name: str) -> int:
        return servicer.Check(health_pb2.HealthCheckRequest(service=health_name(name)), None).status

    assert status("fine") == health_pb2.HealthCheckResponse.UNKNOWN and monitor.up("fine") is None
    monitor.start()
    try:
        wait_until(
            lambda: monitor.up("hung") is False and monitor.up("flaky") is False and monitor.up("fine"), 5
        )
        assert status("flaky") == NOT_SERVING and status("hung") == NOT_SERVING and status("fine") == SERVING
        sample = metrics.DEPENDENCY_UP.labels(dependency="fine")._value.get()
        assert sample == 1.0 and metrics.DEPENDENCY_UP.labels(dependency="flaky")._value.get() == 0.0
        time.sleep(0.6)  # several rounds while the hung check is still running
        assert started["hung"] == 1, "a hung check is not started again until it returns"
        flaky_up.set()
        hang.set()
        wait_until(lambda: monitor.up("flaky") and monitor.up("hung"), 5)
        assert status("flaky") == SERVING and status("hung") == SERVING
    finally:
        hang.set()
        monitor.stop()
