"""automationctl enqueue tells a person what is wrong with their input, in the vocabulary they typed."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from google.protobuf import json_format

from automationctl.main import build_parser, main
from automationctl.request_input import requests_from_file
from tests.support.pipeline import running_trigger
from tests.support.sample import sample_request


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_an_unknown_type_is_named_before_missing_flags(capsys) -> None:
    code, out, err = cli(capsys, "enqueue", "--type", "fooBar", "--target", "127.0.0.1:1")
    assert code == 2 and out == ""
    assert "unknown automation type 'fooBar'" in err and "bookingConfirmation" in err
    assert "--booking-id" not in err


def test_a_misspelled_field_lists_the_proto_field_names(tmp_path: Path, capsys) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("automation_type: bookingConfirmation\nbooking: {client: {frist_name: Ana}}\n")
    code, _, err = cli(capsys, "enqueue", "--file", str(path), "--target", "127.0.0.1:1")
    assert code == 2
    assert "unknown field 'booking.client.frist_name'" in err
    assert "first_name, last_name, phone, email" in err and "firstName" not in err


def test_a_file_item_and_the_flags_default_to_the_same_version(tmp_path: Path) -> None:
    """One default: a request without a version is version 0 from a file, from flags and from grpcurl."""
    path = tmp_path / "one.yaml"
    path.write_text("automation_type: bookingConfirmation\nrecipient: client\nbooking: {id: b-1}\n")
    (from_file,) = requests_from_file(str(path))
    args = build_parser().parse_args(["enqueue", "--type", "bookingConfirmation"])
    assert from_file.booking.version == 0 and args.version == 0


@pytest.mark.slow
def test_every_violation_of_a_bad_item_is_shown(settings, capsys, tmp_path: Path) -> None:
    booking = f"b-{uuid.uuid4().hex[:10]}"
    good = json_format.MessageToDict(sample_request(booking), preserving_proto_field_name=True)
    bad = json_format.MessageToDict(sample_request(f"{booking}-bad"), preserving_proto_field_name=True)
    bad["booking"]["client"]["phone"] = "555"
    bad["booking"]["client"]["email"] = "not-an-address"
    bad["booking"]["timezone"] = "Mars/Olympus"
    path = tmp_path / "two.json"
    path.write_text(json.dumps([good, bad]))
    with running_trigger(settings) as (_, trigger):
        code, out, _ = cli(capsys, "--target", f"127.0.0.1:{trigger.port}", "enqueue", "--file", str(path))
    assert code == 1  # partial: one accepted, one failed
    lines = out.splitlines()
    assert any("booking.client.phone" in line for line in lines)
    assert any("booking.client.email" in line for line in lines)
    assert any("booking.timezone" in line for line in lines)
    assert "1 accepted, 1 failed" in out
