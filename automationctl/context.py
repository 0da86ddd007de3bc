"""What every command gets: where the trigger is, how to print, and (for some) the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from automationctl.output import Output
from shared.client import AutomationClient
from shared.client_credentials import ClientCredentials

if TYPE_CHECKING:
    from shared.config import Settings


@dataclass
class Context:
    target: str
    timeout_s: float
    out: Output
    settings: Settings | None = None  # read by main() for the commands that need it
    credentials: ClientCredentials = field(default_factory=ClientCredentials)  # token, TLS files

    def client(self) -> AutomationClient:
        """A client of the trigger at ``target`` (use it in a ``with`` block)."""
        return AutomationClient(self.target, timeout_s=self.timeout_s, credentials=self.credentials)

    def require_settings(self) -> Settings:
        if self.settings is None:
            raise RuntimeError("this command needs the settings; main() reads them")
        return self.settings
