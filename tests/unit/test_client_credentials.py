"""Client credentials without a server: what they hold, what they refuse, and how automationctl's flags
and AUTOMATIONCTL_* variables resolve (flags first; a token never from the command line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from automationctl.connection import credentials_from
from automationctl.main import build_parser
from automationctl.output import InputError
from shared.client import AutomationClient
from shared.client_credentials import ClientCredentials


def parse(*argv: str):
    return build_parser().parse_args([*argv, "runs", "--job-id", "j-1"])


def test_token_is_sent_as_bearer_and_never_shown() -> None:
    creds = ClientCredentials(token="s3cret-token")
    assert creds.metadata() == (("authorization", "Bearer s3cret-token"),)
    assert "s3cret" not in repr(creds) and not creds.uses_tls
    assert ClientCredentials().metadata() == ()


@pytest.mark.parametrize("token", ["", "two words", "line\n"])
def test_bad_tokens_are_refused(token: str) -> None:
    with pytest.raises(ValueError, match="empty or contains whitespace"):
        ClientCredentials(token=token)


def test_files_are_read_once_and_errors_name_the_path(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("  tok-1\n")
    (tmp_path / "ca.crt").write_bytes(b"PEM")
    creds = ClientCredentials.from_files(token_file=tmp_path / "token", ca_file=tmp_path / "ca.crt")
    assert creds.token == "tok-1" and creds.ca_pem == b"PEM" and creds.uses_tls
    assert ClientCredentials.from_files(server_name="trigger.internal").uses_tls  # implies TLS
    with pytest.raises(ValueError, match=r"cannot read the CA file .*missing\.crt"):
        ClientCredentials.from_files(ca_file=tmp_path / "missing.crt")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        ClientCredentials.from_files(token_file=tmp_path / "empty")
    with pytest.raises(ValueError, match="needs its key"):
        ClientCredentials.from_files(cert_file=tmp_path / "ca.crt")
    with pytest.raises(ValueError, match="not both"):
        ClientCredentials.from_files(token="a", token_file=tmp_path / "token")


def test_client_refuses_mixed_or_misplaced_credentials(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        AutomationClient("127.0.0.1:1", credentials=ClientCredentials(), token="t")
    with pytest.raises(ValueError, match="cannot read"):
        AutomationClient("127.0.0.1:1", ca_file=tmp_path / "none.crt")


@pytest.mark.parametrize("where", ["global", "command"])
def test_cli_refuses_a_token_on_the_command_line_without_repeating_it(capsys, where: str) -> None:
    argv = ["--token", "visible-in-ps", "runs", "--job-id", "j-1"]
    if where == "command":
        argv = ["runs", "--job-id", "j-1", "--token", "visible-in-ps"]
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "--token-file" in err and "visible-in-ps" not in err


def test_cli_flags_win_over_variables(tmp_path: Path) -> None:
    (tmp_path / "flag-token").write_text("from-flag")
    (tmp_path / "env-token").write_text("from-env-file")
    (tmp_path / "ca.crt").write_bytes(b"CA")
    environ = {
        "AUTOMATIONCTL_TOKEN": "from-env",
        "AUTOMATIONCTL_SERVER_NAME": "env.name",
        "AUTOMATIONCTL_CA_FILE": str(tmp_path / "ca.crt"),
    }
    creds = credentials_from(
        parse("--token-file", str(tmp_path / "flag-token"), "--server-name", "x"), environ
    )
    assert (creds.token, creds.server_name, creds.ca_pem) == ("from-flag", "x", b"CA")
    assert credentials_from(parse(), environ).token == "from-env"
    both = {**environ, "AUTOMATIONCTL_TOKEN_FILE": str(tmp_path / "env-token")}
    with pytest.raises(InputError, match="not both"):
        credentials_from(parse(), both)
    only_file = {"AUTOMATIONCTL_TOKEN_FILE": str(tmp_path / "env-token")}
    assert credentials_from(parse(), only_file).token == "from-env-file"


def test_cli_tls_switch_and_plain_default() -> None:
    assert not credentials_from(parse(), {}).uses_tls and credentials_from(parse(), {}).token is None
    assert credentials_from(parse("--tls"), {}).uses_tls
    assert credentials_from(parse(), {"AUTOMATIONCTL_TLS": "true"}).uses_tls
    with pytest.raises(InputError, match="cannot read the client certificate file"):
        credentials_from(parse("--cert-file", "/nonexistent/c", "--key-file", "/nonexistent/k"), {})
