"""``automationctl``: operate the automation pipeline from a shell (the ``[project.scripts]`` entry point).

Global flags (before or after the command): ``--target``, ``--timeout``, ``--json``, ``--progress``, and
the credentials of connection.py (``--token-file``, ``--tls``, ``--ca-file``, ``--cert-file``, ``--key-file``,
``--server-name``, or their ``AUTOMATIONCTL_*`` variables).
Each command lives in its own module with a ``register(subparsers, parents)``; this one wires them,
reads the environment (the only place the CLI does) and maps failures to exit codes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from automationctl import admin, cancel, demo, dlq, enqueue, pauses, runs
from automationctl.connection import add_connection_options, credentials_from
from automationctl.context import Context
from automationctl.output import (
    DENIED,
    EXIT_CODES_HELP,
    SERVER_ERROR,
    UNREACHABLE,
    USAGE,
    InputError,
    Output,
    short,
)
from shared.client import AccessDenied, AutomationClientError, InvalidRequest, Unavailable

if TYPE_CHECKING:
    from shared.config import Settings

COMMANDS = (enqueue, runs, dlq, cancel, pauses, demo, admin)


def default_target(environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    """``AUTOMATION_TRIGGER_TARGET``, else ``127.0.0.1:<AUTOMATION_GRPC_PORT or 50051>``."""
    return (
        environ.get("AUTOMATION_TRIGGER_TARGET")
        or f"127.0.0.1:{environ.get('AUTOMATION_GRPC_PORT') or 50051}"
    )


def _global_options(parser: argparse.ArgumentParser, *, in_command: bool) -> None:
    """The global flags; in a command's parser they default to SUPPRESS so they never undo the main ones."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if in_command else value

    group = parser.add_argument_group("global options")
    group.add_argument(
        "--target",
        default=default(default_target()),
        metavar="HOST:PORT",
        help="trigger service (default: $AUTOMATION_TRIGGER_TARGET or 127.0.0.1:$AUTOMATION_GRPC_PORT|50051)",
    )
    group.add_argument(
        "--timeout", type=float, default=default(5.0), metavar="S", help="deadline per call (5)"
    )
    group.add_argument(
        "--json", action="store_true", default=default(False), help="one JSON document on stdout"
    )
    group.add_argument(
        "--progress",
        action="store_true",
        default=default(False),
        help="progress bar even when stderr is no TTY",
    )
    add_connection_options(group, default)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="automationctl",
        description="Enqueue, inspect, cancel and replay automations of the pet-sitting pipeline.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_options(parser, in_command=False)
    parser.set_defaults(needs_settings=False)  # commands that read AUTOMATION_* settings set it to True
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, in_command=True)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(subparsers, [common])
    return parser


def main(argv: Sequence[str] | None = None, *, settings: Settings | None = None) -> int:
    """Run one command; returns the exit code (see ``EXIT_CODES_HELP``). ``settings`` is for tests."""
    args = build_parser().parse_args(argv)
    out = Output(json_mode=args.json, progress=args.progress or sys.stderr.isatty())
    ctx = Context(target=args.target, timeout_s=args.timeout, out=out, settings=settings)
    try:
        ctx.credentials = credentials_from(args)
        if args.needs_settings and ctx.settings is None:
            ctx.settings = _read_settings()
        return args.func(args, ctx)
    except InputError as exc:
        return _fail(out, USAGE, "input", str(exc))
    except InvalidRequest as exc:
        lines = [f"  {field}: {description}" for field, description in exc.violations]
        doc = {"violations": [{"field": f, "description": d} for f, d in exc.violations]}
        return _fail(
            out, USAGE, "INVALID_ARGUMENT", "\n".join([f"invalid request: {exc.details}", *lines]), doc
        )
    except Unavailable as exc:
        if exc.details.rstrip().endswith("; retry"):  # the trigger's own answer: a backend of it is down
            message = f"the trigger service at {exc.target} cannot serve this now: {short(exc.details, 160)}"
        else:
            reason = f"{exc.code.name}: {short(exc.details, 160)}"
            message = f"cannot reach the trigger service at {exc.target} ({reason})"
        return _fail(out, UNREACHABLE, exc.code.name, _with_tls_hint(message, exc.details))
    except BrokenPipeError:  # whoever read the output stopped (`| head`): nothing of ours failed
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit's flush would fail too
        return 0
    except AccessDenied as exc:
        return _fail(out, DENIED, exc.code.name, _denied_message(exc))
    except AutomationClientError as exc:
        return _fail(
            out, SERVER_ERROR, exc.code.name, f"server error {exc.code.name}: {short(exc.details, 200)}"
        )
    except KeyboardInterrupt:
        out.error("interrupted")
        return 130


def _denied_message(exc: AccessDenied) -> str:
    if exc.code.name == "PERMISSION_DENIED":
        hint = "the token is valid but lacks the scope this command needs"
    else:
        hint = "give a valid token (--token-file or $AUTOMATIONCTL_TOKEN) or client certificate (--cert-file)"
    return (
        f"the trigger at {exc.target} refused the call: {exc.code.name} ({short(exc.details, 120)}); {hint}"
    )


def _with_tls_hint(message: str, details: str) -> str:
    """A failed TLS handshake looks like any unreachable server: say which flags to check. A trigger in
    an mtls mode closes a connection without a client certificate of its CA ("Socket closed")."""
    lowered = details.lower()
    if any(word in lowered for word in ("handshake", "ssl", "certificate", "hostname", "socket closed")):
        return (
            f"{message}; TLS set-up failed or the trigger closed the connection (it does without a client "
            "certificate of its CA): check --tls, --ca-file, --cert-file, --key-file, --server-name"
        )
    return message


def _read_settings() -> Settings:
    from pydantic import ValidationError

    from shared.config import Settings

    try:
        return Settings.from_environment()
    except ValidationError as exc:
        raise InputError(f"bad AUTOMATION_* settings: {exc}") from None


def _fail(out: Output, code: int, kind: str, message: str, extra: dict[str, Any] | None = None) -> int:
    out.error(message)
    out.document({"error": {"kind": kind, "message": message, "exit_code": code, **(extra or {})}})
    return code


if __name__ == "__main__":
    sys.exit(main())
