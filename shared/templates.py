"""Message templates with named variables only: ``"Hi {client_first_name}"``.

A template is checked when it is built: every ``{name}`` must be a known variable, and
attribute access, indexing, conversions and format specs are refused, so rendering can
run no code and cannot fail at send time for a name the template got wrong.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping

from shared.errors import TemplateError

VARIABLES = frozenset(
    {
        "business_name",
        "client_first_name",
        "client_name",
        "pet_names",
        "service_name",
        "start",
        "end",
        "sitter_name",
        "amount_due",
        "booking_id",
    }
)

_FORMATTER = string.Formatter()
# Cc controls (CR, LF, VT, FF, NEL, ...) and U+2028/U+2029: whatever breaks a line somewhere.
_LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def single_line(text: str) -> str:
    """``text`` with every run of control and line/paragraph separator characters made one space, for
    values that must stay one line (a subject). Rendering applies it to every subject."""
    return _LINE_BREAKING.sub(" ", text).strip()


class Template:
    """A validated template; ``render(values)`` substitutes the variables and nothing else."""

    def __init__(self, text: str, *, origin: str = "<template>") -> None:
        self.text = text
        self.origin = origin
        self.names = self._check(text, origin)

    @staticmethod
    def _check(text: str, origin: str) -> frozenset[str]:
        names = set()
        try:
            parsed = list(_FORMATTER.parse(text))
        except ValueError as exc:
            raise TemplateError(f"{origin}: {exc}") from exc
        for _literal, field, spec, conversion in parsed:
            if field is None:
                continue
            if spec or conversion:
                raise TemplateError(f"{origin}: '{{{field}}}' may not use a format spec or conversion")
            if field not in VARIABLES:
                raise TemplateError(
                    f"{origin}: unknown variable '{{{field}}}'; known: {', '.join(sorted(VARIABLES))}"
                )
            names.add(field)
        return frozenset(names)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Template):
            return NotImplemented
        return (self.text, self.origin) == (other.text, other.origin)

    def __hash__(self) -> int:
        return hash((self.text, self.origin))

    def __repr__(self) -> str:
        return f"Template({self.text!r}, origin={self.origin!r})"

    def render(self, values: Mapping[str, str]) -> str:
        missing = self.names - values.keys()
        if missing:
            raise TemplateError(f"{self.origin}: no value for {', '.join(sorted(missing))}")
        return self.text.format_map({name: str(values[name]) for name in self.names})
