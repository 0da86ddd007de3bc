"""Caller authentication with client certificates (mTLS, alone and with tokens), on a real trigger over
TCP, with CAs and certificates made in the test (tests/support/certs.py)."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from shared.proto.automation.v1 import automation_pb2_grpc as pb_grpc
from tests.support.auth_tools import HandlerSpy, auth_failures, bearer, call, failures_since, token_entry
from tests.support.auth_tools import with_settings as changed
from tests.support.certs import CertAuthority, Issued
from tests.support.pipeline import running_trigger
from tests.support.sample import sample_request
from trigger_service.tls import TlsConfigError, server_credentials

API_SAN = "spiffe://petsit.internal/ns/booking/sa/booking-api"
OPS_SAN = "ops.petsit.internal"
# Each channel its own connection: no reuse of another channel's (failed) subchannel.
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


@dataclass(frozen=True)
class Pki:
    ca: CertAuthority
    ca_file: Path
    cert_file: Path
    key_file: Path
    api: Issued  # URI SAN, allowed
    ops: Issued  # DNS SAN, allowed
    stranger: Issued  # same CA, SAN not allowed
    cn_only: Issued  # same CA, no SAN; its CN equals an allowed SAN (CNs are not matched)
    foreign: Issued  # another CA, allowed SAN
    expired: Issued  # same CA, allowed SAN, expired yesterday
    other_ca: CertAuthority


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca, other = CertAuthority("petsit internal CA"), CertAuthority("someone else's CA")
    server = ca.issue("trigger", dns=("localhost",), ips=("127.0.0.1",), server=True)
    cert_file, key_file = server.write(directory, "trigger")
    return Pki(
        ca=ca,
        ca_file=ca.write(directory),
        cert_file=cert_file,
        key_file=key_file,
        api=ca.issue("booking-api", uris=(API_SAN,)),
        ops=ca.issue("ops", dns=(OPS_SAN,)),
        stranger=ca.issue("stranger", uris=("spiffe://petsit.internal/ns/other/sa/stranger",)),
        cn_only=ca.issue(OPS_SAN),
        foreign=other.issue("booking-api", uris=(API_SAN,)),
        expired=ca.expired("booking-api", uris=(API_SAN,)),
        other_ca=other,
    )


@pytest.fixture
def mtls_settings(settings, pki):
    return changed(
        settings,
        auth_mode="mtls",
        tls_cert_file=pki.cert_file,
        tls_key_file=pki.key_file,
        tls_client_ca_file=pki.ca_file,
        tls_allowed_client_sans=[API_SAN, OPS_SAN],
    )


def creds(pki: Pki, client: Issued | None) -> grpc.ChannelCredentials:
    if client is None:
        return grpc.ssl_channel_credentials(pki.ca.cert_pem)
    return grpc.ssl_channel_credentials(pki.ca.cert_pem, client.key_pem, client.cert_pem)


@contextmanager
def stub_for(port: int, credentials: grpc.ChannelCredentials | None):
    target = f"127.0.0.1:{port}"
    if credentials is None:
        channel = grpc.insecure_channel(target, options=OWN_CONNECTION)
    else:
        channel = grpc.secure_channel(target, credentials, options=OWN_CONNECTION)
    with channel:
        yield pb_grpc.AutomationServiceStub(channel), health_pb2_grpc.HealthStub(channel)


def booking_id() -> str:
    return f"b-{uuid.uuid4().hex[:12]}"


def test_certificates_with_an_allowed_san_pass(mtls_settings, pki, monkeypatch, topic_size):
    spy = HandlerSpy().install(monkeypatch)
    with running_trigger(mtls_settings, creds(pki, pki.api)) as (stub, trigger):
        answer = stub.EnqueueAutomation(sample_request(booking_id()), timeout=10)
        with stub_for(trigger.port, creds(pki, pki.ops)) as (ops, _):
            assert call(ops, "GetAutomationRuns", booking_id()) == grpc.StatusCode.OK
    assert not answer.duplicate and topic_size(mtls_settings.jobs_topic) == 1
    assert spy.calls == [("EnqueueAutomation", API_SAN), ("GetAutomationRuns", OPS_SAN)]


@pytest.mark.parametrize("client", ["plaintext", "no client certificate", "another CA", "expired"])
def test_refused_in_the_tls_handshake_before_any_handler(mtls_settings, pki, monkeypatch, topic_size, client):
    credentials = {
        "plaintext": None,
        "no client certificate": creds(pki, None),
        "another CA": creds(pki, pki.foreign),
        "expired": creds(pki, pki.expired),
    }[client]
    spy = HandlerSpy().install(monkeypatch)
    before = auth_failures()
    with (
        running_trigger(mtls_settings, creds(pki, pki.api)) as (_, trigger),
        stub_for(trigger.port, credentials) as (stub, health),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            stub.EnqueueAutomation(sample_request(booking_id()), timeout=10)
        with pytest.raises(grpc.RpcError) as health_refused:
            health.Check(health_pb2.HealthCheckRequest(), timeout=10)
    # The server closes the connection during the handshake: the client sees no gRPC status from it.
    for error in (refused.value, health_refused.value):
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert error.details().startswith("failed to connect to all addresses"), error.details()
    assert spy.calls == [] and topic_size(mtls_settings.jobs_topic) == 0
    assert failures_since(before) == {}  # never reached the interceptor


@pytest.mark.parametrize("client", ["stranger", "cn_only"])
def test_certificate_outside_the_allow_list_is_unauthenticated(
    mtls_settings, pki, monkeypatch, topic_size, client
):
    spy = HandlerSpy().install(monkeypatch)
    before = auth_failures()
    with running_trigger(mtls_settings, creds(pki, getattr(pki, client))) as (stub, trigger):
        with pytest.raises(grpc.RpcError) as refused:
            stub.EnqueueAutomation(sample_request(booking_id()), timeout=10)
        with stub_for(trigger.port, creds(pki, getattr(pki, client))) as (_, health):
            assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == 1  # SERVING: open
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "allow-list" in refused.value.details()
    assert failures_since(before) == {"san": 1}
    assert spy.calls == [] and topic_size(mtls_settings.jobs_topic) == 0


def test_empty_allow_list_admits_any_certificate_of_the_ca(mtls_settings, pki, monkeypatch):
    spy = HandlerSpy().install(monkeypatch)
    with running_trigger(changed(mtls_settings, tls_allowed_client_sans=[])) as (_, trigger):
        for client in (pki.stranger, pki.cn_only):
            with stub_for(trigger.port, creds(pki, client)) as (stub, _):
                assert call(stub, "ListDeadLetters", booking_id()) == grpc.StatusCode.OK
    assert spy.calls == [
        ("ListDeadLetters", "spiffe://petsit.internal/ns/other/sa/stranger"),
        ("ListDeadLetters", OPS_SAN),  # no SAN: its common name
    ]


def test_mtls_and_token_need_both(mtls_settings, pki, monkeypatch):
    both = changed(
        mtls_settings,
        auth_mode="mtls+token",
        auth_tokens={"booking-api": token_entry("api-token", "enqueue")},
    )
    spy = HandlerSpy().install(monkeypatch)
    before = auth_failures()
    with running_trigger(both, creds(pki, pki.api)) as (stub, trigger):
        codes = [
            call(stub, "EnqueueAutomation", booking_id(), bearer("api-token")),
            call(stub, "EnqueueAutomation", booking_id()),
            call(stub, "EnqueueAutomation", booking_id(), bearer("other-token")),
            call(stub, "CancelAutomations", booking_id(), bearer("api-token")),
        ]
        with stub_for(trigger.port, creds(pki, pki.stranger)) as (stranger, _):
            codes.append(call(stranger, "EnqueueAutomation", booking_id(), bearer("api-token")))
    ok, unauthenticated, denied = (
        grpc.StatusCode.OK,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert codes == [ok, unauthenticated, unauthenticated, denied, unauthenticated]
    assert failures_since(before) == {"missing": 1, "invalid": 1, "scope": 1, "san": 1}
    assert spy.calls == [("EnqueueAutomation", "booking-api")]


def test_token_mode_over_tls_without_client_certificates(settings, pki, monkeypatch):
    over_tls = changed(
        settings,
        auth_mode="token",
        tls_cert_file=pki.cert_file,
        tls_key_file=pki.key_file,
        auth_tokens={"ops": token_entry("ops-token", "read")},
    )
    with running_trigger(over_tls, creds(pki, None)) as (stub, trigger):
        assert call(stub, "ListDeadLetters", booking_id(), bearer("ops-token")) == grpc.StatusCode.OK
        with stub_for(trigger.port, None) as (plaintext, _):
            assert (
                call(plaintext, "ListDeadLetters", booking_id(), bearer("ops-token"))
                == grpc.StatusCode.UNAVAILABLE
            )


def test_a_rotated_client_ca_bundle_applies_to_new_connections(mtls_settings, pki, tmp_path):
    bundle = tmp_path / "client-ca.crt"
    bundle.write_bytes(pki.ca.cert_pem)
    with running_trigger(changed(mtls_settings, tls_client_ca_file=bundle), creds(pki, pki.api)) as (
        stub,
        trigger,
    ):
        with stub_for(trigger.port, creds(pki, pki.foreign)) as (foreign, _):
            assert call(foreign, "ListDeadLetters", booking_id()) == grpc.StatusCode.UNAVAILABLE
        bundle.write_bytes(pki.ca.cert_pem + pki.other_ca.cert_pem)
        with stub_for(trigger.port, creds(pki, pki.foreign)) as (foreign, _):
            assert call(foreign, "ListDeadLetters", booking_id()) == grpc.StatusCode.OK
        assert call(stub, "ListDeadLetters", booking_id()) == grpc.StatusCode.OK  # open connection unaffected


def test_unusable_tls_files_stop_the_start(mtls_settings, pki, tmp_path):
    wrong_key = tmp_path / "wrong.key"
    wrong_key.write_bytes(pki.api.key_pem)
    with pytest.raises(TlsConfigError, match="cannot be used"):
        server_credentials(changed(mtls_settings, tls_key_file=wrong_key))
    with pytest.raises(TlsConfigError, match="No such file"):
        server_credentials(changed(mtls_settings, tls_client_ca_file=tmp_path / "missing.crt"))
    tls_only = changed(mtls_settings, auth_mode="none", tls_client_ca_file=None, tls_allowed_client_sans=[])
    assert server_credentials(tls_only) is not None
