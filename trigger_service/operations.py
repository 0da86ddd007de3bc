"""The operator RPCs of AutomationService: GetAutomationRuns, ListDeadLetters, ReplayDeadLetters
(mixed into the servicer; requests are checked by operator_validation.py before anything touches the
database, and the work is in runs.py and replay.py)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import NoReturn, TypeVar

import grpc
from sqlalchemy.exc import DataError, DBAPIError, SQLAlchemyError, StatementError

from shared.db.schema import is_missing_schema
from shared.logs import FailureLog
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.tracing import current_traceparent
from trigger_service.operator_validation import (
    BadQuery,
    parse_list_request,
    parse_replay_request,
    parse_runs_request,
)
from trigger_service.replay import Replayer
from trigger_service.runs import RunsReader, to_runs
from trigger_service.validation import bad_request_status

log = logging.getLogger(__name__)
_failures = FailureLog(log)
Req = TypeVar("Req")
T = TypeVar("T")
SCHEMA_NOT_MIGRATED = "schema not migrated: the EventLog tables are missing (run automation-migrate); retry"

# A replay call without a deadline still returns within this; call again while `remaining` > 0.
_MAX_REPLAY_CALL_S = 60.0


class OperationsMixin:
    _runs: RunsReader
    _replayer: Replayer

    def GetAutomationRuns(  # noqa: N802
        self, request: pb.GetAutomationRunsRequest, context: grpc.ServicerContext
    ) -> pb.GetAutomationRunsResponse:
        query = parse_or_abort(context, parse_runs_request, request)
        runs, token = to_runs(guard_eventlog(context, lambda: self._runs.runs(query)))
        return pb.GetAutomationRunsResponse(runs=runs, next_page_token=token)

    def ListDeadLetters(  # noqa: N802
        self, request: pb.ListDeadLettersRequest, context: grpc.ServicerContext
    ) -> pb.ListDeadLettersResponse:
        query, page_request = parse_or_abort(context, parse_list_request, request)
        page, replayed_as = guard_eventlog(context, lambda: self._runs.dead_letters(query, page_request))
        runs, token = to_runs(page)
        letters = [pb.DeadLetter(run=r, replayed_as_job_id=replayed_as.get(r.job_id, "")) for r in runs]
        return pb.ListDeadLettersResponse(dead_letters=letters, next_page_token=token)

    def ReplayDeadLetters(  # noqa: N802
        self, request: pb.ReplayDeadLettersRequest, context: grpc.ServicerContext
    ) -> pb.ReplayDeadLettersResponse:
        query = parse_or_abort(context, parse_replay_request, request)
        remaining = context.time_remaining()
        budget = min(remaining - 0.1 if remaining is not None else _MAX_REPLAY_CALL_S, _MAX_REPLAY_CALL_S)
        deadline, traceparent = time.monotonic() + budget, current_traceparent()
        outcome = guard_eventlog(context, lambda: self._replayer.replay(query, deadline, traceparent))
        return pb.ReplayDeadLettersResponse(
            replayed=outcome.replayed, remaining=outcome.remaining, dry_run=request.dry_run
        )


def parse_or_abort(context: grpc.ServicerContext, parse: Callable[[Req], T], request: Req) -> T:
    """``parse(request)``; a request no retry can fix is INVALID_ARGUMENT with its field violations."""
    try:
        return parse(request)
    except BadQuery as exc:
        context.abort_with_status(bad_request_status(exc.violations))


def guard_eventlog(context: grpc.ServicerContext, work: Callable[[], T]) -> T:
    """Run ``work``: an unreachable (or failing) database is UNAVAILABLE; a query the database refuses
    for its values is INTERNAL (validation let through what it should not have: a bug, so logged)."""
    try:
        return work()
    except DataError:  # SQLSTATE class 22: a value the column or operator cannot take
        _refused(context)
    except DBAPIError as exc:  # connection, timeout, locks, shutdown, missing tables...
        _unavailable(context, schema_missing=is_missing_schema(exc))
    except (StatementError, OverflowError):  # a parameter the driver could not bind (sqlite3: > 64 bits)
        _refused(context)
    except SQLAlchemyError:  # the pool's timeout, a lost connection
        _unavailable(context)


def _refused(context: grpc.ServicerContext) -> NoReturn:
    log.error("EventLog query refused for its values", exc_info=True)
    context.abort(grpc.StatusCode.INTERNAL, "the EventLog database refused the query")


def _unavailable(context: grpc.ServicerContext, *, schema_missing: bool = False) -> NoReturn:
    if schema_missing:  # automation-migrate has not run (the trigger's schema-watch line says which revision)
        log.warning("EventLog schema not migrated; operator call answered UNAVAILABLE")
        context.abort(grpc.StatusCode.UNAVAILABLE, SCHEMA_NOT_MIGRATED)
    _failures.warning("EventLog database unavailable")
    context.abort(grpc.StatusCode.UNAVAILABLE, "the EventLog database is unavailable; retry")


_guard = guard_eventlog  # the name tests/test_operator_input.py imports
