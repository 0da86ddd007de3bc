"""Bearer tokens of the trigger's callers: which scope each RPC needs, and who a token belongs to.

Config holds only the SHA-256 of each token. Tokens must be long random strings (this module's
``main`` makes one): an unsalted hash is safe only for secrets nobody can guess.

``python -m trigger_service.tokens``          prints a new token and its hash
``python -m trigger_service.tokens --hash``   reads a token on stdin, prints its hash
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from shared.auth_settings import AuthScope, CallerToken
from shared.config import Settings
from shared.proto.automation.v1 import automation_pb2 as pb

SCOPES: tuple[AuthScope, ...] = ("enqueue", "cancel", "read", "replay", "pause")
_SERVICE = pb.DESCRIPTOR.services_by_name["AutomationService"].full_name
# Every AutomationService method and the scope it needs; a method missing here is refused to everyone.
METHOD_SCOPES: dict[str, AuthScope] = {
    f"/{_SERVICE}/EnqueueAutomation": "enqueue",
    f"/{_SERVICE}/EnqueueAutomations": "enqueue",
    f"/{_SERVICE}/CancelAutomations": "cancel",
    f"/{_SERVICE}/GetAutomationRuns": "read",
    f"/{_SERVICE}/ListDeadLetters": "read",
    f"/{_SERVICE}/ReplayDeadLetters": "replay",
    f"/{_SERVICE}/PauseAutomations": "pause",
    f"/{_SERVICE}/ResumeAutomations": "pause",
    f"/{_SERVICE}/ListPauses": "read",
}
_TABLE = TypeAdapter(dict[str, CallerToken])


class TokenConfigError(ValueError):
    """The callers' token table is unreadable or invalid (raised at start, before anything is served)."""


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: its configured name and what it may do."""

    name: str
    scopes: frozenset[AuthScope]


def hash_token(token: str) -> str:
    """The lowercase hex SHA-256 of ``token`` (UTF-8), as configured in ``token_sha256``."""
    return hashlib.sha256(token.encode()).hexdigest()


class CallerTokens:
    """Finds the caller a bearer token belongs to, comparing hashes in constant time."""

    def __init__(self, callers: dict[str, CallerToken]) -> None:
        seen: dict[str, str] = {}
        for name, entry in callers.items():
            if entry.token_sha256 in seen:
                raise TokenConfigError(f"callers {seen[entry.token_sha256]!r} and {name!r} share a token")
            seen[entry.token_sha256] = name
        self._entries = [
            (entry.token_sha256.encode(), Caller(name, entry.scopes)) for name, entry in callers.items()
        ]

    def __len__(self) -> int:
        return len(self._entries)

    def identify(self, token: str) -> Caller | None:
        """The caller whose hash matches ``token``'s, else None. Every entry is compared."""
        digest = hash_token(token).encode()
        found: Caller | None = None
        for expected, caller in self._entries:
            if hmac.compare_digest(digest, expected):
                found = caller
        return found

    @classmethod
    def from_settings(cls, settings: Settings) -> CallerTokens:
        """``AUTOMATION_AUTH_TOKENS``, or the JSON file ``AUTOMATION_AUTH_TOKENS_FILE`` (read once, now)."""
        if settings.auth_tokens_file is None:
            return cls(settings.auth_tokens)
        return cls(load_token_file(settings.auth_tokens_file))


def load_token_file(path: Path) -> dict[str, CallerToken]:
    """Parse a token file: ``{"<caller>": {"token_sha256": "<hex>", "scopes": [...]}}``."""
    try:
        callers = _TABLE.validate_json(path.read_bytes())
    except OSError as exc:
        raise TokenConfigError(f"AUTOMATION_AUTH_TOKENS_FILE {path}: {exc.strerror}") from exc
    except ValidationError as exc:
        raise TokenConfigError(f"AUTOMATION_AUTH_TOKENS_FILE {path}: {exc}") from exc
    if not callers:
        raise TokenConfigError(f"AUTOMATION_AUTH_TOKENS_FILE {path} names no caller")
    return callers


def main(argv: list[str] | None = None) -> int:
    """Print a new random token and its hash, or (``--hash``) the hash of the token on stdin."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--hash"]:
        print(hash_token(sys.stdin.readline().strip()))
        return 0
    if args:
        print(__doc__, file=sys.stderr)
        return 2
    token = secrets.token_urlsafe(32)
    print(json.dumps({"token": token, "token_sha256": hash_token(token)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
