"""PauseAutomations / ResumeAutomations / ListPauses on a real trigger (SQLite and PostgreSQL), with
bearer tokens: the pauses in force, the audit rows (who, when, why), bad input and missing scopes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import grpc
import pytest
from sqlalchemy import select

from shared.client import AccessDenied, AutomationClient, InvalidRequest
from shared.db.engine import make_engine, make_session_factory
from shared.db.models import PauseAudit, PauseRecord
from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.auth_tools import token_entry, with_settings
from tests.support.pipeline import running_trigger

OPERATOR = f"pause-token-{uuid.uuid4().hex}"
READER = f"read-token-{uuid.uuid4().hex}"


@pytest.fixture
def token_settings(settings, tmp_path):
    path = tmp_path / "callers.json"
    table = {"oncall": token_entry(OPERATOR, "pause", "read"), "dashboard": token_entry(READER, "read")}
    path.write_text(json.dumps(table))
    return with_settings(settings, auth_mode="token", auth_tokens_file=path)


def _db_rows(settings, model):
    sessions = make_session_factory(make_engine(settings.sqlalchemy_url))
    with sessions() as session:
        return list(session.scalars(select(model).order_by(*model.__table__.primary_key.columns)))


def test_pause_list_resume_are_kept_and_audited(token_settings) -> None:
    before = datetime.now(UTC)
    with running_trigger(token_settings) as (_, trigger):
        target = f"127.0.0.1:{trigger.port}"
        with AutomationClient(target, token=OPERATOR) as client:
            first = client.pause(
                reason="SMS provider failing", channels=["sms"], automation_types=["paymentReminder"]
            )
            assert sorted((p.scope, p.value) for p in first.changed) == [
                ("channel", "sms"),
                ("type", "paymentReminder"),
            ]
            again = client.pause(reason="second try", channels=["sms"])  # already paused: kept as it was
            assert again.changed == []
            [sms] = [p for p in again.pauses if p.scope == "channel"]
            assert (sms.reason, sms.paused_by) == ("SMS provider failing", "oncall")
            assert before <= sms.paused_at <= datetime.now(UTC)
            assert {(p.scope, p.value) for p in client.pauses()} == {
                ("channel", "sms"),
                ("type", "paymentReminder"),
            }

            lifted = client.resume(reason="provider back", channels=["sms", "email"])
            assert [(p.scope, p.value) for p in lifted.changed] == [("channel", "sms")]
            assert [(p.scope, p.value) for p in lifted.pauses] == [("type", "paymentReminder")]
            client.pause(reason="maintenance", everything=True)
            everything = client.resume(reason="done", everything=True)  # lifts every pause in force
            assert {(p.scope, p.value) for p in everything.changed} == {
                ("all", ""),
                ("type", "paymentReminder"),
            }
            assert client.pauses() == []
        with AutomationClient(target, token=READER) as reader:
            assert reader.pauses() == []  # the read scope lists them

    assert _db_rows(token_settings, PauseRecord) == []
    audit = [
        (a.action, a.scope, a.value, a.changed, a.reason, a.actor)
        for a in _db_rows(token_settings, PauseAudit)
    ]
    assert (
        audit
        == [
            ("pause", "channel", "sms", True, "SMS provider failing", "oncall"),
            ("pause", "type", "paymentReminder", True, "SMS provider failing", "oncall"),
            ("pause", "channel", "sms", False, "second try", "oncall"),
            ("resume", "channel", "email", False, "provider back", "oncall"),
            ("resume", "channel", "sms", True, "provider back", "oncall"),
            ("pause", "all", "", True, "maintenance", "oncall"),
            ("resume", "type", "paymentReminder", True, "done", "oncall"),
            ("resume", "all", "", True, "done", "oncall"),
        ]
        or audit
    )
    assert all(
        before <= (a.at if a.at.tzinfo else a.at.replace(tzinfo=UTC))
        for a in _db_rows(token_settings, PauseAudit)
    )


def test_without_the_pause_scope_the_calls_are_denied_and_nothing_changes(token_settings) -> None:
    with (
        running_trigger(token_settings) as (_, trigger),
        AutomationClient(f"127.0.0.1:{trigger.port}", token=READER, retries=0) as reader,
    ):
        for call in (reader.pause, reader.resume):
            with pytest.raises(AccessDenied) as denied:
                call(reason="not mine", everything=True)
            assert denied.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert _db_rows(token_settings, PauseRecord) == [] and _db_rows(token_settings, PauseAudit) == []


@pytest.mark.parametrize(
    ("request_fields", "violations"),
    [
        ({"reason": "x"}, {"scope"}),
        ({"scope": pb.PauseScope(everything=True)}, {"reason"}),
        ({"scope": pb.PauseScope(everything=True), "reason": "   "}, {"reason"}),
        ({"scope": pb.PauseScope(everything=True), "reason": "x" * 501}, {"reason"}),
        ({"scope": pb.PauseScope(everything=True), "reason": "bad\x00byte"}, {"reason"}),
        ({"scope": pb.PauseScope(everything=True, channels=["sms"]), "reason": "x"}, {"scope.everything"}),
        (
            {"scope": pb.PauseScope(channels=["fax", "default"]), "reason": "x"},
            {"scope.channels[0]", "scope.channels[1]"},
        ),
        ({"scope": pb.PauseScope(channels=["sms"] * 6), "reason": "x"}, {"scope.channels"}),
        (
            {"scope": pb.PauseScope(automation_types=[0, 99]), "reason": "x"},
            {"scope.automation_types[0]", "scope.automation_types[1]"},
        ),
    ],
    ids=[
        "no-scope",
        "no-reason",
        "blank-reason",
        "long-reason",
        "nul",
        "everything-and-more",
        "channels",
        "many",
        "types",
    ],
)
def test_bad_requests_are_invalid_argument_with_field_violations(
    token_settings, request_fields, violations
) -> None:
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    with running_trigger(token_settings) as (stub, _):
        metadata = (("authorization", f"Bearer {OPERATOR}"),)
        for method, message in (
            (stub.PauseAutomations, pb.PauseAutomationsRequest),
            (stub.ResumeAutomations, pb.ResumeAutomationsRequest),
        ):
            with pytest.raises(grpc.RpcError) as error:
                method(message(**request_fields), metadata=metadata, timeout=10)
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            bad = error_details_pb2.BadRequest()
            assert rpc_status.from_call(error.value).details[0].Unpack(bad)
            assert {v.field for v in bad.field_violations} == violations
    assert _db_rows(token_settings, PauseAudit) == []


def test_client_refuses_an_unknown_type_before_calling() -> None:
    with AutomationClient("127.0.0.1:1", retries=0) as client, pytest.raises(InvalidRequest) as error:
        client.pause(reason="x", automation_types=["fooBar"])
    assert error.value.violations[0][0] == "scope.automation_types[0]"


def test_automationctl_pause_paused_resume(token_settings, tmp_path, capsys) -> None:
    from automationctl.main import main

    token_file = tmp_path / "oncall.token"
    token_file.write_text(OPERATOR)
    reader_file = tmp_path / "reader.token"
    reader_file.write_text(READER)
    with running_trigger(token_settings) as (_, trigger):
        base = ["--target", f"127.0.0.1:{trigger.port}", "--token-file"]
        assert (
            main(
                [
                    *base,
                    str(token_file),
                    "pause",
                    "--channel",
                    "sms",
                    "--type",
                    "paymentReminder",
                    "--reason",
                    "provider down, call +14155550123",
                ]
            )
            == 0
        )
        out = capsys.readouterr().out
        assert "paused channel sms, type paymentReminder" in out and "2 pause(s) in force" in out, out
        assert "+14155550123" not in out, "tables never show phone numbers"
        assert main([*base, str(reader_file), "paused"]) == 0
        out = capsys.readouterr().out
        assert "oncall" in out and "paymentReminder" in out, out
        assert main([*base, str(reader_file), "resume", "--all", "--reason", "x"]) == 5  # no pause scope
        assert main([*base, str(token_file), "resume", "--reason", "nothing named"]) == 2  # INVALID_ARGUMENT
        capsys.readouterr()
        assert main([*base, str(token_file), "--json", "resume", "--all", "--reason", "provider back"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert (
            sorted(p["value"] for p in doc["resumed"]) == ["paymentReminder", "sms"] and doc["pauses"] == []
        )
        assert main([*base, str(token_file), "paused"]) == 0
        assert "nothing is paused" in capsys.readouterr().out
