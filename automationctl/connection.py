"""How automationctl reaches a trigger with authentication on: the connection flags and their variables.

A token never goes on the command line (where ``ps`` and shell history show it): it comes from a file
(``--token-file`` / ``AUTOMATIONCTL_TOKEN_FILE``) or from ``AUTOMATIONCTL_TOKEN``. TLS: ``--tls`` (system
roots) or ``--ca-file``; a client certificate for mTLS: ``--cert-file`` and ``--key-file``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from automationctl.output import InputError
from shared.client_credentials import ClientCredentials

# flag -> variable that gives its default
ENV = {
    "token_file": "AUTOMATIONCTL_TOKEN_FILE",
    "ca_file": "AUTOMATIONCTL_CA_FILE",
    "cert_file": "AUTOMATIONCTL_CERT_FILE",
    "key_file": "AUTOMATIONCTL_KEY_FILE",
    "server_name": "AUTOMATIONCTL_SERVER_NAME",
}
TOKEN_ENV = "AUTOMATIONCTL_TOKEN"
TLS_ENV = "AUTOMATIONCTL_TLS"
_TRUE = {"1", "true", "yes", "on"}


class _RefuseToken(argparse.Action):
    """``--token VALUE`` is an error that never repeats the value (an exact ``--token`` also stops
    argparse from reading it as an abbreviation of ``--token-file``)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> NoReturn:
        raise argparse.ArgumentError(
            self,
            "a token on the command line is visible to other users (ps, shell history): "
            f"use --token-file PATH or ${TOKEN_ENV}",
        )


def add_connection_options(group: argparse._ArgumentGroup, default: Callable[[Any], Any]) -> None:
    """The credential flags (defaults are read from the environment in ``credentials_from``)."""
    group.add_argument(
        "--token", nargs="?", action=_RefuseToken, default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    group.add_argument(
        "--token-file",
        default=default(None),
        metavar="PATH",
        help=f"bearer token in a file (or ${ENV['token_file']}, or the token in ${TOKEN_ENV})",
    )
    group.add_argument(
        "--tls",
        action="store_true",
        default=default(False),
        help=f"TLS without a client certificate, system CAs unless --ca-file (or ${TLS_ENV}=true)",
    )
    group.add_argument(
        "--ca-file",
        default=default(None),
        metavar="PATH",
        help=f"CA of the trigger's certificate (${ENV['ca_file']}); implies TLS",
    )
    group.add_argument(
        "--cert-file",
        default=default(None),
        metavar="PATH",
        help=f"client certificate for mTLS (${ENV['cert_file']})",
    )
    group.add_argument(
        "--key-file", default=default(None), metavar="PATH", help=f"its private key (${ENV['key_file']})"
    )
    group.add_argument(
        "--server-name",
        default=default(None),
        metavar="NAME",
        help=f"name to check in the trigger's certificate, if not the target's host (${ENV['server_name']})",
    )


def credentials_from(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> ClientCredentials:
    """The flags, else their variables. InputError for a file that cannot be read or a bad combination."""
    values = {name: getattr(args, name, None) or environ.get(var) or None for name, var in ENV.items()}
    token = environ.get(TOKEN_ENV) or None
    if getattr(args, "token_file", None):
        token = None  # the flag wins over the variables
    elif token is not None and values["token_file"] is not None:
        raise InputError(f"set {TOKEN_ENV} or {ENV['token_file']}, not both")
    tls = bool(getattr(args, "tls", False)) or environ.get(TLS_ENV, "").strip().lower() in _TRUE
    try:
        return ClientCredentials.from_files(token=token, tls=tls, **values)
    except ValueError as exc:
        raise InputError(str(exc)) from None
