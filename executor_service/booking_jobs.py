"""Runs one booking's jobs of a batch, in offset order, on one lane thread at a time (batch.py, lanes.py).

A job already delivered is skipped (or recorded as the success it was, if it was delivered before a crash),
one whose key another worker holds is *blocked* (no row; it is held aside and tried again), one that no
longer makes sense (cancelled, superseded, disabled, late: checks.py) ends without sending, and one over its
channel's rate limit parks the booking until its slot is due (lanes.py) or defers the booking's remaining
jobs (rate_limit.py). Each delivery is recorded in Redis right after it (sent_marks.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from confluent_kafka import Message

from executor_service.checks import PreSendChecks
from executor_service.dedup import Entry, Marker
from executor_service.lanes import Lanes
from executor_service.outcome import job_log_context
from executor_service.rate_limit import Slot, Throttle
from executor_service.runner import JobRun, JobRunner, RunOutcome
from executor_service.sent_marks import SentRecorder
from shared import failpoints
from shared.booking_state import BookingSnapshot
from shared.proto.automation.v1 import automation_pb2 as pb

Item = tuple[pb.AutomationJob, Message]


@dataclass
class BookingJobs:
    """One booking's jobs, run in order from ``next`` (``slot``: which already holds its send slot), and
    what they gave: their runs, and the messages of those blocked by another worker's lease."""

    items: list[Item]
    seen: set[str]
    next: int = 0
    slot: bool = False
    runs: list[JobRun] = field(default_factory=list)
    blocked: list[Message] = field(default_factory=list)


@dataclass(frozen=True)
class BatchState:
    """What a batch learnt before running its jobs: the dedup holder of each key (None: ours now), the
    bookings' state, and the batch's clock (epoch ms)."""

    holders: dict[str, Entry | None]
    snapshots: dict[str, BookingSnapshot]
    now_ms: int


class BookingRunner:
    def __init__(
        self, runner: JobRunner, checks: PreSendChecks, throttle: Throttle, sent: SentRecorder
    ) -> None:
        self._runner = runner
        self._checks = checks
        self._throttle = throttle
        self._sent = sent

    def run(self, group: BookingJobs, lanes: Lanes[BookingJobs], state: BatchState) -> None:
        """Run one booking's jobs in order: one already delivered is skipped (or recorded as the success it
        was), one whose key another worker holds blocked; a rate-limit wait parks the group (lanes.py)."""
        for k in range(group.next, len(group.items)):
            job, msg = group.items[k]
            with job_log_context(job, msg):
                slot = group.slot and k == group.next
                last = k == len(group.items) - 1 and lanes.last()  # the batch's last job
                run = self._run_one(job, msg, group.seen, state, slot, last)
            if isinstance(run, Slot) and run.reserved:
                group.next, group.slot = k, True
                return lanes.park(group, run.wait_s)
            if isinstance(run, Slot):
                group.runs.extend(self._runner.throttled(j, m, run.wait_s) for j, m in group.items[k:])
                break
            if run is None:
                group.blocked.append(msg)
            else:
                group.runs.append(run)
        lanes.finish()

    def _run_one(
        self, job: pb.AutomationJob, msg: Message, seen: set[str], state: BatchState, slot: bool, last: bool
    ) -> JobRun | Slot | None:
        """One job's run; None when another worker's lease holds its key (it may be running it); the
        rate limiter's answer when the job may not be sent yet (``slot``: it already holds its slot;
        ``last``: the batch's last job, which writes its own sent marker)."""
        key = job.idempotency_key
        holder = state.holders.get(key)
        if key in seen or (holder is not None and holder.state is Marker.DONE):
            return self._runner.duplicate(job, msg)
        if holder is not None and holder.state is Marker.SENT:
            seen.add(key)
            return self._runner.recovered(job, msg, holder.outputs)
        if holder is not None:
            return None
        found = self._checks.verdict(job, state.snapshots, state.now_ms)
        if found is not None:
            return self._runner.ended(job, msg, *found)
        if not slot and (wait := self._throttle.before_send(job)).wait_s > 0:
            return wait
        # a slot before the send bounds the deliveries not recorded yet (a crash may repeat them); a
        # failed send gives it back
        run = self._runner.run(job, msg, self._sent.reserve, self._sent.unreserve)
        if run.outcome is not RunOutcome.FAILED:
            seen.add(key)
            self._record_delivery(run, now=last)
        return run

    def _record_delivery(self, run: JobRun, *, now: bool) -> None:
        failpoints.reached("after_send")
        self._sent.record(run.job.idempotency_key, run.job.job_id, run.outputs or {}, now=now)
