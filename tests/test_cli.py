"""automationctl: input parsing, exit codes; enqueue, runs, cancel, demo on the real trigger and executor.

Dead letters, prune and topics: tests/test_cli_dlq.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from automationctl import convert
from automationctl.main import main
from automationctl.output import InputError, format_table
from automationctl.request_input import requests_from_file
from devtools.embedded import free_port
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.proto.automation.v1 import automation_pb2_grpc as pb_grpc
from tests.support.pipeline import running_executor, running_trigger, wait_until
from tests.support.sample import sample_request

ENTRY_POINT = Path(sys.executable).parent / "automationctl"
YAML_BOOKINGS = """
- automation_type: bookingConfirmation      # stable names work too
  recipient: client
  booking: &booking
    id: {id}-a
    version: 2
    status: BOOKING_STATUS_CONFIRMED
    client: {{first_name: Ana, last_name: Lopez, phone: "+14155550123", email: ana@example.com}}
    service_name: Drop-in visit
    start_at: 2099-03-01T17:00:00Z          # YAML reads these as timestamps
    end_at: 2099-03-01T18:00:00Z
    timezone: America/Los_Angeles
    pets: [{{name: Rex, species: dog}}]
    total_price: {{currency_code: USD, amount_minor: 4500}}
- automation_type: AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT
  recipient: RECIPIENT_OWNER
  booking: {{<<: *booking, id: {id}-b}}
"""


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run automationctl in this process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code, out, _ = cli(capsys, "--json", *argv)
    return code, json.loads(out)


# --- without a server ----------------------------------------------------------------------------


def test_table_columns_are_aligned() -> None:
    assert format_table(["id", "status"], [[1, "succeeded"], [1234, None]]).splitlines() == [
        "id    status",
        "1     succeeded",
        "1234",
    ]


def test_names_times_and_money() -> None:
    for text in ("bookingConfirmation", "BOOKING_CONFIRMATION", "AUTOMATION_TYPE_BOOKING_CONFIRMATION", "2"):
        assert convert.automation_type(text) == pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION
    assert convert.recipient("sitter") == pb.RECIPIENT_SITTER
    assert convert.money("45.00", "usd") == pb.Money(currency_code="USD", amount_minor=4500)
    assert convert.money("1200", "JPY").amount_minor == 1200
    assert convert.parse_time("2027-03-01T17:00").isoformat() == "2027-03-01T17:00:00+00:00"
    for bad in (lambda: convert.automation_type("nope"), lambda: convert.money("45.001", "USD")):
        with pytest.raises(InputError):
            bad()


def test_yaml_file_with_stable_names_anchors_and_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "bookings.yaml"
    path.write_text(YAML_BOOKINGS.format(id="b-1"))
    first, second = requests_from_file(str(path))
    assert first.automation_type == pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION
    assert second.recipient == pb.RECIPIENT_OWNER and second.booking.id == "b-1-b"
    assert first.booking.start_at.ToJsonString() == "2099-03-01T17:00:00Z"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("broken.yaml", "- automation_type: [unclosed", "not valid YAML"),
        ("broken.json", "{", "not valid JSON"),
        ("unknown.json", '{"automation_type": "bookingConfirmation", "colour": "red"}', "colour"),
        ("scalar.yaml", "- 42", "request 1"),
        ("missing.yaml", None, "cannot read"),
    ],
)
def test_a_bad_file_exits_2(tmp_path: Path, capsys, name: str, text: str | None, message: str) -> None:
    if text is not None:
        (tmp_path / name).write_text(text)
    code, out, err = cli(capsys, "enqueue", "--file", str(tmp_path / name), "--target", "127.0.0.1:1")
    assert code == 2 and message in err and out == ""
    assert "Traceback" not in err


def test_missing_flags_exit_2_and_json_errors_are_documents(capsys) -> None:
    code, doc = cli_json(capsys, "enqueue", "--type", "bookingConfirmation")
    assert code == 2 and doc["error"]["exit_code"] == 2 and "--booking-id" in doc["error"]["message"]
    code, doc = cli_json(capsys, "enqueue", "--file", "x.yaml", "--type", "bookingConfirmation")
    assert code == 2 and "not both" in doc["error"]["message"]


def test_service_unreachable_exits_3_in_process(capsys) -> None:
    target = f"127.0.0.1:{free_port()}"
    code, out, err = cli(capsys, "--timeout", "1", "cancel", "--booking-id", "b-1", "--target", target)
    assert code == 3 and out == ""
    assert (
        err.startswith(f"automationctl: cannot reach the trigger service at {target}")
        and err.count("\n") == 1
    )


def test_other_server_errors_exit_4(capsys) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    pb_grpc.add_AutomationServiceServicer_to_server(
        pb_grpc.AutomationServiceServicer(), server
    )  # UNIMPLEMENTED
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        code, _, err = cli(capsys, "--target", f"127.0.0.1:{port}", "cancel", "--booking-id", "b-1")
    finally:
        server.stop(0)
    assert code == 4 and "UNIMPLEMENTED" in err


class _StubTrigger(pb_grpc.AutomationServiceServicer):
    """Answers as the trigger does with a backend down (cancel), and with many runs (runs)."""

    def CancelAutomations(self, request, context):  # noqa: N802 - gRPC naming
        context.abort(grpc.StatusCode.UNAVAILABLE, "booking state store unavailable; retry")

    def GetAutomationRuns(self, request, context):  # noqa: N802
        run = pb.AutomationRun(job_id="j" * 32, status="succeeded", booking_id="b-1", error="x" * 200)
        return pb.GetAutomationRunsResponse(runs=[run] * 2000)


@pytest.fixture
def stub_trigger() -> Iterator[str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    pb_grpc.add_AutomationServiceServicer_to_server(_StubTrigger(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(0)


def test_a_trigger_answering_unavailable_is_not_called_unreachable(capsys, stub_trigger: str) -> None:
    code, out, err = cli(capsys, "--target", stub_trigger, "cancel", "--booking-id", "b-1")
    assert code == 3 and out == ""
    assert err.strip() == (
        f"automationctl: the trigger service at {stub_trigger} cannot serve this now: "
        "booking state store unavailable; retry"
    )


@pytest.mark.skipif(not ENTRY_POINT.exists(), reason="no editable install (pip install -e .)")
def test_output_read_only_in_part_ends_quietly(stub_trigger: str) -> None:
    """`automationctl ... | head`: the reader goes away; no BrokenPipeError traceback, exit 0."""
    cli_run = subprocess.Popen(
        [str(ENTRY_POINT), "--target", stub_trigger, "--json", "runs", "--booking-id", "b-1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert cli_run.stdout is not None and cli_run.stderr is not None
    assert cli_run.stdout.read(100)
    cli_run.stdout.close()
    err = cli_run.stderr.read().decode()
    assert cli_run.wait(timeout=60) == 0 and err == "", err


@pytest.mark.skipif(not ENTRY_POINT.exists(), reason="no editable install (pip install -e .)")
def test_entry_point_exit_codes_and_help() -> None:
    down = f"127.0.0.1:{free_port()}"
    run = subprocess.run(
        [str(ENTRY_POINT), "--target", down, "--timeout", "1", "runs", "--job-id", "j-1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 3, run.stderr
    assert run.stderr.strip().startswith(f"automationctl: cannot reach the trigger service at {down}")
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1
    helped = subprocess.run([str(ENTRY_POINT), "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "3  service unreachable" in helped.stdout


# --- the real trigger and executor ---------------------------------------------------------------


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """GetAutomationRuns on both databases is covered by tests/test_cli_dlq.py."""
    return sqlite_url


def runs_of(capsys, target: str, *selector: str, n: int = 1) -> list[dict[str, Any]]:
    """``runs --json`` until it lists at least ``n`` runs."""

    def probe() -> list[dict[str, Any]] | None:
        code, doc = cli_json(capsys, "--target", target, "runs", *selector)
        assert code == 0, doc
        return doc["runs"] if len(doc["runs"]) >= n else None

    return wait_until(probe, timeout_s=30, what=f"{n} runs of {selector}")


@pytest.mark.slow
def test_enqueue_from_json_yaml_and_flags_then_runs_and_cancel(settings, capsys, tmp_path: Path) -> None:
    booking = f"b-{uuid.uuid4().hex[:10]}"
    one = tmp_path / "one.json"
    one.write_text(
        json.dumps(json_format.MessageToDict(sample_request(booking), preserving_proto_field_name=True))
    )
    many = tmp_path / "many.yaml"
    many.write_text(YAML_BOOKINGS.format(id=booking))
    with running_trigger(settings) as (_, trigger), running_executor(settings):
        target = f"127.0.0.1:{trigger.port}"
        code, out, _ = cli(capsys, "--target", target, "enqueue", "--file", str(one))
        assert code == 0 and f"ownerNewBookingAlert:client:{booking}:1" in out and "accepted" in out

        code, out, err = cli(capsys, "--target", target, "--json", "--progress", "enqueue", "-f", str(many))
        doc = json.loads(out)  # the progress bar goes to stderr only
        assert code == 0 and doc["accepted"] == 2 and doc["failed"] == 0 and "enqueue [" in err

        flags = ["--type", "bookingConfirmation", "--recipient", "client", "--booking-id", f"{booking}-f"]
        flags += ["--client-first-name", "Ana", "--client-phone", "+14155550123", "--service", "Walk"]
        flags += ["--start", "2099-03-01T17:00:00Z", "--end", "2099-03-01T18:00:00Z"]
        flags += ["--timezone", "Europe/Paris", "--pet", "Rex", "--pet", "Milo:cat", "--amount", "45.00"]
        code, doc = cli_json(capsys, "--target", target, "enqueue", *flags)
        assert code == 0 and doc["results"][0]["accepted"]["idempotency_key"].endswith(f"{booking}-f:0")

        code, out, err = cli(capsys, "--target", target, "enqueue", *flags[:-2], "--client-phone", "555")
        assert code == 2 and "booking.client.phone" in err

        [run] = runs_of(capsys, target, "--key", f"ownerNewBookingAlert:client:{booking}:1")
        assert run["status"] == "succeeded" and run["booking_id"] == booking
        code, out, _ = cli(capsys, "--target", target, "runs", "--booking-id", booking)
        header, row = out.splitlines()
        assert header.split() == [
            "id",
            "status",
            "type",
            "recipient",
            "attempt",
            "finished_at",
            "error",
            "/",
            "reason",
        ]
        assert "succeeded" in row and "ownerNewBookingAlert" in row and "+1415" not in out

        code, out, _ = cli(
            capsys, "--target", target, "cancel", "--booking-id", booking, "--type", "paymentReminder"
        )
        assert code == 0 and f"nothing pending to cancel for booking {booking} (paymentReminder)" in out
        assert "accepted before" in out  # the instant still cancels jobs accepted and not yet run
        code, doc = cli_json(capsys, "--target", target, "cancel", "--booking-id", booking)
        assert code == 0 and doc["automation_types"] == [] and doc["cancelled_at"].endswith("Z")
        assert doc["pending_jobs"] == 0 and doc["cancelled_runs"] == []


@pytest.mark.slow
def test_demo_enqueues_samples_and_shows_their_runs(settings, capsys) -> None:
    with running_trigger(settings) as (_, trigger), running_executor(settings):
        code, doc = cli_json(capsys, "--target", f"127.0.0.1:{trigger.port}", "demo", "--wait", "30")
    assert code == 0, doc
    jobs = {r["accepted"]["job_id"] for r in doc["results"]}
    assert len(jobs) == 4 and jobs <= {run["job_id"] for run in doc["runs"]}
    assert {run["status"] for run in doc["runs"]} <= {"succeeded", "scheduled"}
