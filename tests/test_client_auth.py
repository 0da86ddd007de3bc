"""AutomationClient and automationctl with credentials (issue #13), against a real trigger in every auth
mode: the right credentials succeed; none, or the wrong ones, fail with a clear error. The trigger's
certificate names only ``trigger.petsit.test`` (no IP), so every TLS connection to 127.0.0.1 also
exercises the server-name override."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from automationctl.main import main
from shared.client import AccessDenied, AutomationClient, Unavailable
from tests.support.auth_tools import token_entry, with_settings
from tests.support.certs import CertAuthority
from tests.support.pipeline import running_trigger

SERVER_NAME = "trigger.petsit.test"
OPS_SAN = "ops.petsit.test"
ENTRY_POINT = Path(sys.executable).parent / "automationctl"
OPS_TOKEN, READER_TOKEN = f"ops-{uuid.uuid4().hex}", f"reader-{uuid.uuid4().hex}"
MODES = ["none", "token", "token-over-tls", "mtls", "mtls+token"]


@dataclass(frozen=True)
class Files:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    token: Path  # OPS_TOKEN, with a trailing newline (as `echo` writes it)
    reader_token: Path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Files:
    directory = tmp_path_factory.mktemp("client-pki")
    ca = CertAuthority("petsit test CA")
    server_cert, server_key = ca.issue("trigger", dns=(SERVER_NAME,), server=True).write(directory, "server")
    client_cert, client_key = ca.issue("ops", dns=(OPS_SAN,)).write(directory, "client")
    token, reader = directory / "token", directory / "reader-token"
    token.write_text(OPS_TOKEN + "\n")
    reader.write_text(READER_TOKEN)
    return Files(ca.write(directory), server_cert, server_key, client_cert, client_key, token, reader)


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


def mode_settings(settings, files: Files, mode: str):
    tokens = {"ops": token_entry(OPS_TOKEN, "enqueue", "cancel", "read", "replay")}
    tokens["reader"] = token_entry(READER_TOKEN, "read")
    tls = {"tls_cert_file": files.server_cert, "tls_key_file": files.server_key}
    changes = {
        "none": {},
        "token": {"auth_mode": "token", "auth_tokens": tokens},
        "token-over-tls": {"auth_mode": "token", "auth_tokens": tokens, **tls},
        "mtls": {"auth_mode": "mtls", "tls_client_ca_file": files.ca, **tls},
        "mtls+token": {
            "auth_mode": "mtls+token",
            "tls_client_ca_file": files.ca,
            "auth_tokens": tokens,
            **tls,
        },
    }[mode]
    return with_settings(settings, **changes)


def client_args(files: Files, mode: str) -> dict:
    """AutomationClient arguments with the right credentials for ``mode``."""
    args: dict = {}
    if mode.endswith("token") or mode == "token-over-tls":
        args["token"] = OPS_TOKEN
    if mode in ("token-over-tls", "mtls", "mtls+token"):
        args.update(ca_file=files.ca, server_name=SERVER_NAME)
    if mode.startswith("mtls"):
        args.update(cert_file=files.client_cert, key_file=files.client_key)
    return args


def cli_flags(files: Files, mode: str) -> list[str]:
    """automationctl flags with the right credentials for ``mode`` (the token from a file)."""
    args = client_args(files, mode)
    flags = ["--token-file", str(files.token)] if "token" in args else []
    names = {"ca_file": "--ca-file", "cert_file": "--cert-file", "key_file": "--key-file"}
    names["server_name"] = "--server-name"
    for name, flag in names.items():
        if name in args:
            flags += [flag, str(args[name])]
    return flags


def booking() -> str:
    return f"b-{uuid.uuid4().hex[:12]}"


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("mode", MODES)
def test_client_and_cli_with_and_without_credentials(settings, files, capsys, monkeypatch, mode) -> None:
    for var in (
        "AUTOMATIONCTL_TOKEN",
        "AUTOMATIONCTL_TOKEN_FILE",
        "AUTOMATIONCTL_TLS",
        "AUTOMATION_TRIGGER_TARGET",
    ):
        monkeypatch.delenv(var, raising=False)
    with running_trigger(mode_settings(settings, files, mode)) as (_, trigger):
        target = f"127.0.0.1:{trigger.port}"
        # the right credentials: every scope's RPCs pass
        with AutomationClient(target, timeout_s=10, **client_args(files, mode)) as client:
            assert client.cancel(booking()) is not None
            assert list(client.dead_letters()) == []
        code, out, err = cli(
            capsys, "--target", target, *cli_flags(files, mode), "cancel", "--booking-id", booking()
        )
        assert (code, err) == (0, ""), err
        assert "cancelled" in out

        # no credentials at all
        bare = AutomationClient(target, timeout_s=5, retries=0)
        code, out, err = cli(
            capsys, "--target", target, "--timeout", "5", "cancel", "--booking-id", booking()
        )
        if mode == "none":
            with bare:
                assert bare.cancel(booking()) is not None and code == 0
        elif mode == "token":
            with bare, pytest.raises(AccessDenied) as denied:
                bare.cancel(booking())
            assert denied.value.code == grpc.StatusCode.UNAUTHENTICATED
            assert code == 5 and "refused the call: UNAUTHENTICATED" in err and "--token-file" in err
        else:  # a TLS trigger: plaintext does not even get a status from it
            with bare, pytest.raises(Unavailable):
                bare.cancel(booking())
            assert code == 3 and "TLS set-up failed" in err and "--ca-file" in err
        assert err.count("\n") <= 1 and "Traceback" not in err
        assert OPS_TOKEN not in out + err


@pytest.mark.parametrize("mode", ["token", "mtls+token"])
def test_wrong_or_missing_token_and_missing_scope(settings, files, capsys, monkeypatch, mode) -> None:
    monkeypatch.delenv("AUTOMATIONCTL_TOKEN", raising=False)
    args = client_args(files, mode)
    transport = {k: v for k, v in args.items() if k != "token"}
    flags = cli_flags(files, mode)
    cut = flags.index("--token-file")
    transport_flags = flags[:cut] + flags[cut + 2 :]
    with running_trigger(mode_settings(settings, files, mode)) as (_, trigger):
        target = f"127.0.0.1:{trigger.port}"
        unknown_token = AutomationClient(target, timeout_s=10, token="not-a-token", **transport)
        with unknown_token, pytest.raises(AccessDenied) as unknown:
            unknown_token.cancel(booking())
        with AutomationClient(target, timeout_s=10, token=READER_TOKEN, **transport) as reader:
            assert list(reader.dead_letters()) == []  # its scope
            with pytest.raises(AccessDenied) as denied:
                reader.cancel(booking())
        assert unknown.value.code == grpc.StatusCode.UNAUTHENTICATED
        assert denied.value.code == grpc.StatusCode.PERMISSION_DENIED

        code, _, err = cli(capsys, "--target", target, *transport_flags, "cancel", "--booking-id", booking())
        assert code == 5 and "UNAUTHENTICATED" in err
        code, _, err = cli(
            capsys,
            "--target",
            target,
            *transport_flags,
            "--token-file",
            str(files.reader_token),
            "cancel",
            "--booking-id",
            booking(),
        )
        assert code == 5 and "PERMISSION_DENIED" in err and "lacks the scope" in err
        assert READER_TOKEN not in err
        monkeypatch.setenv("AUTOMATIONCTL_TOKEN", OPS_TOKEN)  # the variable instead of a file
        code, _, err = cli(
            capsys, "--target", target, *transport_flags, "--json", "cancel", "--booking-id", booking()
        )
        assert code == 0, err


def test_mtls_client_without_its_certificate_or_the_server_name(settings, files, capsys) -> None:
    with running_trigger(mode_settings(settings, files, "mtls")) as (_, trigger):
        target = f"127.0.0.1:{trigger.port}"
        no_cert = AutomationClient(target, timeout_s=5, retries=0, ca_file=files.ca, server_name=SERVER_NAME)
        with no_cert, pytest.raises(Unavailable):
            no_cert.cancel(booking())
        wrong_name = AutomationClient(
            target,
            timeout_s=5,
            retries=0,
            ca_file=files.ca,
            cert_file=files.client_cert,
            key_file=files.client_key,
        )
        with wrong_name, pytest.raises(Unavailable) as mismatch:
            wrong_name.cancel(booking())
        assert "Hostname Verification" in mismatch.value.details
        flags = ["--timeout", "5", "--ca-file", str(files.ca), "--server-name", SERVER_NAME]
        code, _, err = cli(capsys, "--target", target, *flags, "cancel", "--booking-id", booking())
        assert code == 3 and "TLS set-up failed" in err


@pytest.mark.skipif(not ENTRY_POINT.exists(), reason="no editable install (pip install -e .)")
def test_entry_point_takes_credentials_from_the_environment(settings, files) -> None:
    with running_trigger(mode_settings(settings, files, "mtls+token")) as (_, trigger):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOMATIONCTL_")}
        env.update(
            AUTOMATION_TRIGGER_TARGET=f"127.0.0.1:{trigger.port}",
            AUTOMATIONCTL_TOKEN=OPS_TOKEN,
            AUTOMATIONCTL_CA_FILE=str(files.ca),
            AUTOMATIONCTL_CERT_FILE=str(files.client_cert),
            AUTOMATIONCTL_KEY_FILE=str(files.client_key),
            AUTOMATIONCTL_SERVER_NAME=SERVER_NAME,
        )
        argv = [str(ENTRY_POINT), "--json", "dlq", "list"]
        ok = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        del env["AUTOMATIONCTL_TOKEN"]
        refused = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["dead_letters"] == []
    assert refused.returncode == 5 and json.loads(refused.stdout)["error"]["kind"] == "UNAUTHENTICATED"
    assert OPS_TOKEN not in ok.stdout + ok.stderr + refused.stdout + refused.stderr
