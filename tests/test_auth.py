"""Caller authentication with bearer tokens, the open health service and reflection, on a real trigger
over TCP (mTLS: tests/test_auth_mtls.py)."""

from __future__ import annotations

import hashlib
import io
import json
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from pydantic import ValidationError

from shared.config import Settings
from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.auth_tools import (
    METHODS,
    HandlerSpy,
    auth_failures,
    bearer,
    call,
    failures_since,
    token_entry,
    with_settings,
)
from tests.support.pipeline import running_trigger
from trigger_service import tokens
from trigger_service.tokens import METHOD_SCOPES, SCOPES

SERVICE = pb.DESCRIPTOR.services_by_name["AutomationService"].full_name
CALLER_TOKENS = {scope: f"{scope}-token-{uuid.uuid4().hex}" for scope in SCOPES}
DENIED, UNAUTHENTICATED, OK = (
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.OK,
)


@pytest.fixture
def token_settings(settings, tmp_path):
    """Token mode, one caller per scope (named after it), from a token file."""
    table = {f"{scope}-caller": token_entry(token, scope) for scope, token in CALLER_TOKENS.items()}
    path = tmp_path / "callers.json"
    path.write_text(json.dumps(table))
    return with_settings(settings, auth_mode="token", auth_tokens_file=path)


def booking_id() -> str:
    return f"b-{uuid.uuid4().hex[:12]}"


def test_each_scope_allows_its_methods_and_only_them(token_settings, monkeypatch):
    spy = HandlerSpy().install(monkeypatch)
    before = auth_failures()
    with running_trigger(token_settings) as (stub, _):
        codes = {
            (scope, method): call(stub, method, booking_id(), bearer(token))
            for scope, token in CALLER_TOKENS.items()
            for method in METHODS
        }
    expected = {
        (scope, method): OK if METHOD_SCOPES[f"/{SERVICE}/{method}"] == scope else DENIED
        for scope, method in codes
    }
    assert codes == expected
    assert sorted(spy.calls) == sorted(
        (method, f"{scope}-caller") for (scope, method), c in codes.items() if c == OK
    )
    assert failures_since(before) == {"scope": len(METHODS) * (len(SCOPES) - 1)}


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ((), "missing"),
        ((("authorization", CALLER_TOKENS["enqueue"]),), "invalid"),  # no scheme
        ((("authorization", f"Basic {CALLER_TOKENS['enqueue']}"),), "invalid"),
        ((("authorization", "Bearer "),), "invalid"),
        (bearer(CALLER_TOKENS["enqueue"]) * 2, "invalid"),  # two authorization entries
        (bearer("not-a-configured-token"), "invalid"),
        (bearer(CALLER_TOKENS["enqueue"] + "x"), "invalid"),
    ],
    ids=["missing", "no-scheme", "basic", "empty-bearer", "twice", "unknown-token", "altered-token"],
)
def test_bad_credentials_are_unauthenticated_before_any_handler(
    token_settings, monkeypatch, topic_size, metadata, reason
):
    spy = HandlerSpy().install(monkeypatch)
    before = auth_failures()
    with running_trigger(token_settings) as (stub, _), pytest.raises(grpc.RpcError) as refused:
        stub.EnqueueAutomation(pb.EnqueueAutomationRequest(), metadata=metadata, timeout=10)
    assert refused.value.code() == UNAUTHENTICATED
    assert CALLER_TOKENS["enqueue"] not in refused.value.details()
    assert failures_since(before) == {reason: 1}
    assert spy.calls == [] and topic_size(token_settings.jobs_topic) == 0


def test_a_refused_request_is_not_even_parsed(token_settings):
    with (
        running_trigger(token_settings) as (_, trigger),
        grpc.insecure_channel(f"127.0.0.1:{trigger.port}") as ch,
    ):
        garbage = ch.unary_unary(f"/{SERVICE}/EnqueueAutomation")  # raw bytes in, raw bytes out
        with pytest.raises(grpc.RpcError) as anonymous:
            garbage(b"\xff\xff\xff not protobuf", timeout=10)
        with pytest.raises(grpc.RpcError) as known:
            garbage(b"\xff\xff\xff not protobuf", metadata=bearer(CALLER_TOKENS["enqueue"]), timeout=10)
    assert anonymous.value.code() == UNAUTHENTICATED
    assert known.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # parsed only once admitted


def test_scheme_is_case_insensitive_and_caller_is_known_to_the_handler(token_settings, monkeypatch):
    spy = HandlerSpy().install(monkeypatch)
    metadata = (("authorization", f"bearer {CALLER_TOKENS['read']}"),)
    with running_trigger(token_settings) as (stub, _):
        assert call(stub, "ListDeadLetters", booking_id(), metadata) == OK
    assert spy.calls == [("ListDeadLetters", "read-caller")]


def test_health_is_open_without_credentials(token_settings):
    with (
        running_trigger(token_settings) as (_, trigger),
        grpc.insecure_channel(f"127.0.0.1:{trigger.port}") as ch,
    ):
        health = health_pb2_grpc.HealthStub(ch)
        for service in ("", SERVICE):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING


def _list_services(port: int, metadata=()) -> list[str]:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        [answer] = stub.ServerReflectionInfo(iter([request]), metadata=metadata, timeout=10)
        return [service.name for service in answer.list_services_response.service]


def test_reflection_is_off_by_default(settings):
    assert Settings.model_fields["grpc_reflection"].default is False
    with running_trigger(settings) as (_, trigger), pytest.raises(grpc.RpcError) as off:
        _list_services(trigger.port)
    assert off.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_reflection_when_enabled_lists_services_to_authenticated_callers(token_settings):
    enabled = with_settings(token_settings, grpc_reflection=True)
    before = auth_failures()
    with running_trigger(enabled) as (_, trigger):
        with pytest.raises(grpc.RpcError) as anonymous:
            _list_services(trigger.port)
        services = _list_services(trigger.port, bearer(CALLER_TOKENS["read"]))
    assert anonymous.value.code() == UNAUTHENTICATED and failures_since(before) == {"missing": 1}
    assert {SERVICE, "grpc.health.v1.Health"} <= set(services)


def test_reflection_when_enabled_without_auth(settings):
    with running_trigger(with_settings(settings, grpc_reflection=True)) as (_, trigger):
        assert SERVICE in _list_services(trigger.port)


# --- configuration ------------------------------------------------------------------------------


def test_every_method_of_the_service_needs_a_scope():
    methods = pb.DESCRIPTOR.services_by_name["AutomationService"].methods
    assert {f"/{SERVICE}/{m.name}" for m in methods} == set(METHOD_SCOPES)


def test_tokens_from_the_environment(monkeypatch):
    table = {"booking-api": token_entry("t0ken-value", "enqueue", "cancel")}
    monkeypatch.setenv("AUTOMATION_AUTH_MODE", "token")
    monkeypatch.setenv("AUTOMATION_AUTH_TOKENS", json.dumps(table))
    settings = Settings()
    found = tokens.CallerTokens.from_settings(settings).identify("t0ken-value")
    assert found == tokens.Caller("booking-api", frozenset({"enqueue", "cancel"}))
    assert tokens.CallerTokens.from_settings(settings).identify("t0ken-valu") is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"auth_mode": "token"}, "needs callers"),
        ({"auth_mode": "mtls"}, "needs AUTOMATION_TLS_CERT_FILE"),
        ({"auth_mode": "mtls+token", "auth_tokens": {"a": token_entry("x", "read")}}, "TLS_CLIENT_CA_FILE"),
        ({"auth_tokens": {"a": token_entry("x", "read")}}, "does not check them"),
        ({"tls_allowed_client_sans": ["spiffe://x"]}, "checked only when"),
        ({"tls_cert_file": "/tmp/c.pem"}, "both"),
        (
            {"auth_mode": "token", "auth_tokens": {"a": {"token_sha256": "ABC", "scopes": ["read"]}}},
            "pattern",
        ),
        ({"auth_mode": "token", "auth_tokens": {"a": token_entry("x", "write")}}, "scopes"),
        ({"auth_mode": "token", "auth_tokens": {"a": token_entry("x")}}, "scopes"),
    ],
)
def test_incomplete_auth_settings_are_refused(changes, message):
    with pytest.raises(ValidationError, match=message):
        Settings(**changes)


def test_token_file_errors_stop_the_start(tmp_path):
    path = tmp_path / "callers.json"
    path.write_text(json.dumps({"a": token_entry("same", "read"), "b": token_entry("same", "enqueue")}))
    settings = Settings(auth_mode="token", auth_tokens_file=path)
    with pytest.raises(tokens.TokenConfigError, match="share a token"):
        tokens.CallerTokens.from_settings(settings)
    path.write_text("{}")
    with pytest.raises(tokens.TokenConfigError, match="names no caller"):
        tokens.CallerTokens.from_settings(settings)
    with pytest.raises(tokens.TokenConfigError, match="No such file"):
        tokens.CallerTokens.from_settings(Settings(auth_mode="token", auth_tokens_file=tmp_path / "none"))


def test_token_tool_prints_a_token_and_its_hash(capsys, monkeypatch):
    assert tokens.main([]) == 0
    made = json.loads(capsys.readouterr().out)
    assert (
        len(made["token"]) >= 43
        and made["token_sha256"] == hashlib.sha256(made["token"].encode()).hexdigest()
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(made["token"] + "\n"))
    assert tokens.main(["--hash"]) == 0
    assert capsys.readouterr().out.strip() == made["token_sha256"]
