"""Safe by default (issue #14): the trigger binds loopback unless told otherwise, and refuses to serve an
unauthenticated API on any other address without the explicit opt-in. The real entry point runs as a
process; the other auth modes bind a wildcard address in-process."""

from __future__ import annotations

import json

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devtools.embedded import free_port
from shared.config import Settings
from tests.support.auth_tools import token_entry, with_settings
from tests.support.certs import CertAuthority
from tests.support.trigger_process import (
    TriggerProcess,
    connects,
    http_get,
    non_loopback_ipv4,
    trigger_env,
)
from trigger_service.exposure import InsecureExposureError, check_exposure, grpc_address, is_loopback
from trigger_service.server import create_server

HOST = non_loopback_ipv4()
needs_address = pytest.mark.skipif(HOST is None, reason="this machine has no non-loopback IPv4 address")


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


# --- pure ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("0.0.0.0", False),
        ("::", False),
        ("[::]", False),
        ("192.0.2.2", False),
        ("fd00::2", False),
        ("trigger.internal", False),
        ("localhost.example.com", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_grpc_address_brackets_ipv6() -> None:
    assert grpc_address("::", 50051) == "[::]:50051"
    assert grpc_address("[::1]", 1) == "[::1]:1"
    assert grpc_address("0.0.0.0", 50051) == "0.0.0.0:50051"


def test_defaults_are_loopback_and_closed() -> None:
    defaults = Settings()
    assert defaults.listen_host == "127.0.0.1" and defaults.metrics_listen_host == "127.0.0.1"
    assert defaults.auth_mode == "none" and defaults.insecure_allow_unauthenticated is False
    check_exposure(defaults, defaults.listen_host)  # does not raise


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.2", "trigger.internal"])
def test_unauthenticated_non_loopback_is_refused_before_anything_is_built(host: str) -> None:
    with pytest.raises(InsecureExposureError) as refused:
        create_server(Settings(listen_host=host))
    message = str(refused.value)
    assert "AUTOMATION_AUTH_MODE" in message and "AUTOMATION_INSECURE_ALLOW_UNAUTHENTICATED" in message
    assert "\n" not in message


def test_opt_in_allows_it_with_a_warning(caplog) -> None:
    allowed = Settings(listen_host="0.0.0.0", insecure_allow_unauthenticated=True)
    with caplog.at_level("WARNING", logger="trigger_service.exposure"):
        check_exposure(allowed, "0.0.0.0")
    [record] = caplog.records
    assert record.levelname == "WARNING" and "WITHOUT AUTHENTICATION" in record.getMessage()


# --- the real entry point --------------------------------------------------------------------------


@needs_address
def test_default_settings_bind_loopback_only(settings) -> None:
    env = trigger_env(settings, unset=("listen_host", "metrics_listen_host"))
    assert "AUTOMATION_LISTEN_HOST" not in env and "AUTOMATION_METRICS_LISTEN_HOST" not in env
    with TriggerProcess(env) as trigger:
        trigger.wait_listening()
        for port in (trigger.grpc_port, trigger.metrics_port):
            assert connects("127.0.0.1", port), port
            assert not connects(HOST, port), f"{HOST}:{port} is reachable"
        assert http_get(f"http://127.0.0.1:{trigger.metrics_port}/readyz")[0] == 200
        assert trigger.terminate() == 0


def test_entry_point_refuses_an_open_api_on_the_network(settings) -> None:
    env = trigger_env(settings, listen_host="0.0.0.0", metrics_listen_host="0.0.0.0")
    with TriggerProcess(env) as trigger:
        code = trigger.wait_exit(30)
        lines = trigger.log_lines()
    assert code == 2, lines
    [line] = lines  # one line, nothing else (no traceback)
    entry = json.loads(line)
    assert entry["level"] == "error"
    assert (
        "AUTOMATION_AUTH_MODE" in entry["msg"] and "AUTOMATION_INSECURE_ALLOW_UNAUTHENTICATED" in entry["msg"]
    )
    assert not connects("127.0.0.1", trigger.grpc_port) and not connects("127.0.0.1", trigger.metrics_port)


@needs_address
def test_entry_point_opt_in_serves_the_network_and_warns(settings) -> None:
    env = trigger_env(
        settings, listen_host="0.0.0.0", metrics_listen_host="0.0.0.0", insecure_allow_unauthenticated=True
    )
    with TriggerProcess(env) as trigger:
        trigger.wait_listening()
        with grpc.insecure_channel(f"{HOST}:{trigger.grpc_port}") as channel:
            answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        assert http_get(f"http://{HOST}:{trigger.metrics_port}/healthz")[0] == 200
        assert trigger.terminate() == 0
        warnings = [json.loads(line) for line in trigger.log_lines() if '"warning"' in line]
    assert any("WITHOUT AUTHENTICATION" in w["msg"] for w in warnings), warnings


def test_a_second_trigger_on_a_port_in_use_refuses_to_start(settings) -> None:
    """gRPC binds with SO_REUSEPORT unless told not to: a second trigger (another `make run`, an orphan
    of a killed one) would share the port and the kernel would split the calls between the two."""
    env = trigger_env(settings)
    with TriggerProcess(env) as first:
        first.wait_listening()
        with TriggerProcess({**env, "AUTOMATION_TRIGGER_METRICS_PORT": str(free_port())}) as second:
            code = second.wait_exit(30)
            lines = second.log_lines()
        assert code == 2, lines
        assert not any("Traceback" in line for line in lines), lines
        entry = json.loads(lines[-1])  # gRPC's own "Failed to add port" line may come first
        assert entry["level"] == "error" and f"127.0.0.1:{first.grpc_port}" in entry["msg"], lines
        assert first.terminate() == 0


# --- other auth modes need no opt-in ---------------------------------------------------------------


@pytest.fixture(scope="module")
def server_tls(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls")
    ca = CertAuthority("exposure test CA")
    cert, key = ca.issue("trigger", dns=("trigger.test",), server=True).write(directory, "server")
    client_cert, client_key = ca.issue("client", dns=("client.test",)).write(directory, "client")
    return ca, ca.write(directory), cert, key, client_cert, client_key


@needs_address
@pytest.mark.parametrize("mode", ["token", "mtls", "mtls+token"])
def test_authenticated_modes_bind_any_host_without_the_opt_in(settings, server_tls, mode) -> None:
    ca, ca_file, cert, key, client_cert, client_key = server_tls
    changes: dict = {"auth_mode": mode, "listen_host": "0.0.0.0", "grpc_port": 0}
    if mode.endswith("token"):
        changes["auth_tokens"] = {"ops": token_entry("t0ken", "read")}
    credentials = None
    if mode.startswith("mtls"):
        changes.update(tls_cert_file=cert, tls_key_file=key, tls_client_ca_file=ca_file)
        credentials = grpc.ssl_channel_credentials(
            ca.cert_pem, client_key.read_bytes(), client_cert.read_bytes()
        )
    trigger = create_server(with_settings(settings, **changes))
    trigger.start()
    try:
        target = f"{HOST}:{trigger.port}"
        options = [("grpc.ssl_target_name_override", "trigger.test")]
        channel = (
            grpc.insecure_channel(target)
            if credentials is None
            else grpc.secure_channel(target, credentials, options=options)
        )
        with channel:
            answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        trigger.stop(grace_s=0.5)
