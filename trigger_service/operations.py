"""The operator RPCs of AutomationService: GetAutomationRuns, ListDeadLetters, ReplayDeadLetters
(mixed into the servicer; the work is in runs.py and replay.py)."""

from __future__ import annotations

import logging
import time

import grpc
from sqlalchemy.exc import SQLAlchemyError

from shared.proto.automation.v1 import automation_pb2 as pb
from shared.tracing import current_traceparent
from trigger_service.replay import Replayer
from trigger_service.runs import BadQuery, RunsReader, to_run
from trigger_service.validation import bad_request_status

log = logging.getLogger(__name__)

# A replay call without a deadline still returns within this; call again while `remaining` > 0.
_MAX_REPLAY_CALL_S = 60.0


class OperationsMixin:
    _runs: RunsReader
    _replayer: Replayer

    def GetAutomationRuns(self, request: pb.GetAutomationRunsRequest, context: grpc.ServicerContext):  # noqa: N802
        page = _guard(context, lambda: self._runs.runs(request))
        return pb.GetAutomationRunsResponse(
            runs=[to_run(r) for r in page.rows], next_page_token=page.next_token
        )

    def ListDeadLetters(self, request: pb.ListDeadLettersRequest, context: grpc.ServicerContext):  # noqa: N802
        page, replayed_as = _guard(context, lambda: self._runs.dead_letters(request))
        letters = [
            pb.DeadLetter(run=to_run(r), replayed_as_job_id=replayed_as.get(r.job_id, "")) for r in page.rows
        ]
        return pb.ListDeadLettersResponse(dead_letters=letters, next_page_token=page.next_token)

    def ReplayDeadLetters(self, request: pb.ReplayDeadLettersRequest, context: grpc.ServicerContext):  # noqa: N802
        if request.limit < 0 or request.max_per_second < 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "limit and max_per_second must be >= 0")
        remaining = context.time_remaining()
        budget = min(remaining - 0.1 if remaining is not None else _MAX_REPLAY_CALL_S, _MAX_REPLAY_CALL_S)
        deadline, traceparent = time.monotonic() + budget, current_traceparent()
        outcome = _guard(context, lambda: self._replayer.replay(request, deadline, traceparent))
        return pb.ReplayDeadLettersResponse(
            replayed=outcome.replayed, remaining=outcome.remaining, dry_run=request.dry_run
        )


def _guard(context: grpc.ServicerContext, work):
    """Run ``work``: a bad query is INVALID_ARGUMENT, an unreachable database UNAVAILABLE."""
    try:
        return work()
    except BadQuery as exc:
        context.abort_with_status(bad_request_status(exc.violations))
    except SQLAlchemyError:
        log.warning("EventLog database unavailable", exc_info=True)
        context.abort(grpc.StatusCode.UNAVAILABLE, "the EventLog database is unavailable; retry")
