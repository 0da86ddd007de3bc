"""The client's one vocabulary: stable names in, stable names out (``shared/client.py`` uses these).

Automation types are taken as stable names (``paymentReminder``), proto enum names
(``AUTOMATION_TYPE_PAYMENT_REMINDER``) or enum ints; an unknown one is reported as a field violation
(the client raises ``InvalidRequest`` before any call). Per-item errors of ``enqueue_many`` and
``google.rpc.BadRequest`` details are decoded into ``(field, description)`` pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from google.rpc import code_pb2, error_details_pb2, status_pb2

from shared.names import AUTOMATION_TYPE_NAMES
from shared.proto.automation.v1 import automation_pb2 as pb

_TYPE_BY_NAME = {name: value for value, name in AUTOMATION_TYPE_NAMES.items()}
_TYPE_BY_PROTO_NAME = dict(pb.AutomationType.items())
TypeLike = str | int


def violations_of(status: status_pb2.Status) -> list[tuple[str, str]]:
    """(field, description) of every ``google.rpc.BadRequest`` field violation in ``status.details``."""
    out: list[tuple[str, str]] = []
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            out.extend((v.field, v.description) for v in bad.field_violations)
    return out


def type_values(
    types: Iterable[TypeLike], field_name: str
) -> tuple[list[pb.AutomationType.ValueType], list[tuple[str, str]]]:
    """The enum values of ``types`` and a violation for each one that names no automation type."""
    values: list[pb.AutomationType.ValueType] = []
    bad: list[tuple[str, str]] = []
    for i, item in enumerate(types):
        value = _type_value(item)
        if value is None:
            known = ", ".join(sorted(_TYPE_BY_NAME))
            bad.append((f"{field_name}[{i}]", f"unknown automation type {item!r}; one of: {known}"))
        else:
            values.append(pb.AutomationType.ValueType(value))
    return values, bad


def _type_value(item: TypeLike) -> int | None:
    if isinstance(item, bool):
        return None
    if isinstance(item, int):
        return item if item in AUTOMATION_TYPE_NAMES else None
    if isinstance(item, str):
        if item in _TYPE_BY_NAME:
            return _TYPE_BY_NAME[item]
        value = _TYPE_BY_PROTO_NAME.get(item)
        if value in AUTOMATION_TYPE_NAMES:
            return value
    return None


@dataclass(frozen=True)
class ItemError:
    """A batch item's error: ``code`` is the gRPC status name (``INVALID_ARGUMENT``, ``UNAVAILABLE``)."""

    code: str
    message: str
    violations: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ItemResult:
    """One ``enqueue_many`` result: exactly one of ``accepted`` and ``error`` is set."""

    accepted: pb.EnqueueAutomationResponse | None = None
    error: ItemError | None = None

    @property
    def ok(self) -> bool:
        return self.accepted is not None


def item_result(result: pb.EnqueueItemResult) -> ItemResult:
    if result.HasField("accepted"):
        return ItemResult(accepted=result.accepted)
    code = result.error.code
    name = code_pb2.Code.Name(code) if code in code_pb2.Code.values() else str(code)
    return ItemResult(error=ItemError(name, result.error.message, violations_of(result.error)))


def item_unavailable(result: pb.EnqueueItemResult | None) -> bool:
    """A batch item answered UNAVAILABLE (worth sending again)."""
    return result is not None and result.HasField("error") and result.error.code == code_pb2.UNAVAILABLE


@dataclass(frozen=True)
class CancelResult:
    """What ``cancel`` did: the cancel instant, and the ``cancelled`` EventLog rows written for the jobs
    that were pending (``scheduled`` / ``retry_scheduled``)."""

    cancelled_at: datetime
    cancelled_runs: list[pb.AutomationRun]

    @property
    def pending_jobs(self) -> int:
        return len(self.cancelled_runs)


def dead_letter_filter(
    filter: pb.DeadLetterFilter | Mapping[str, Any] | None,
) -> tuple[pb.DeadLetterFilter, list[tuple[str, str]]]:
    """A ``DeadLetterFilter`` from one, or from a mapping with keys ``automation_types`` (names or ints),
    ``error_classes``, ``booking_id``, ``since`` / ``until`` (aware datetimes), ``include_replayed``."""
    if filter is None:
        return pb.DeadLetterFilter(), []
    if isinstance(filter, pb.DeadLetterFilter):
        return filter, []
    allowed = {"automation_types", "error_classes", "booking_id", "since", "until", "include_replayed"}
    bad = [(f"filter.{k}", "unknown filter key") for k in filter if k not in allowed]
    types, bad_types = type_values(filter.get("automation_types", ()), "filter.automation_types")
    out = pb.DeadLetterFilter(
        automation_types=types,
        error_classes=list(_strings(filter.get("error_classes", ()))),
        booking_id=filter.get("booking_id") or "",
        include_replayed=bool(filter.get("include_replayed", False)),
    )
    for key in ("since", "until"):
        value = filter.get(key)
        if isinstance(value, datetime) and value.tzinfo is not None:
            getattr(out, key).FromDatetime(value)
        elif value is not None:
            bad.append((f"filter.{key}", "must be a timezone-aware datetime"))
    return out, bad + bad_types


def _strings(values: str | Sequence[str]) -> Sequence[str]:
    return [values] if isinstance(values, str) else values
