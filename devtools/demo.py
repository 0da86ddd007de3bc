"""``make demo``: send sample bookings to the running pipeline and print the EventLog rows they produced.

The bookings are ``automationctl/demo_bookings.py``'s: three automations that send at once and a
night-before reminder, which is scheduled (its row says when).
"""

from __future__ import annotations

import sys
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from automationctl.demo_bookings import REQUESTS, daytime_zone, demo_request
from shared.client import AutomationClient, AutomationClientError
from shared.config import Settings
from shared.db.engine import make_engine, make_session_factory
from shared.db.models import EventLog


def main() -> int:
    settings = Settings()
    booking_id = f"demo-{uuid.uuid4().hex[:8]}"
    job_ids = []
    target = f"127.0.0.1:{settings.grpc_port}"
    zone = daytime_zone(datetime.now(UTC))
    # the project's client: a deadline per call, UNAVAILABLE retried under the same idempotency key
    with AutomationClient(target, timeout_s=10, retries=5, backoff_s=0.5) as client:
        try:
            for automation_type, recipient in REQUESTS:
                response = client.enqueue(demo_request(booking_id, automation_type, recipient, timezone=zone))
                job_ids.append(response.job_id)
                when = (
                    response.due_at.ToDatetime(tzinfo=UTC).isoformat()
                    if response.HasField("due_at")
                    else "now"
                )
                print(
                    f"enqueued {response.idempotency_key} -> job {response.job_id} "
                    f"({response.topic}[{response.partition}]@{response.offset}), sends {when}"
                )
            again = client.enqueue(demo_request(booking_id, *REQUESTS[0], timezone=zone))
        except AutomationClientError as exc:
            print(
                f"the trigger at {target} did not accept the demo: {exc} (is `make run` up and healthy?)",
                file=sys.stderr,
            )
            return 1
        print(f"enqueued the first one again -> duplicate={again.duplicate}, job {again.job_id}")

    sessions = make_session_factory(make_engine(settings.sqlalchemy_url))
    deadline = time.monotonic() + 30
    rows: list[EventLog] = []
    while time.monotonic() < deadline:
        with sessions() as session:
            rows = list(
                session.scalars(select(EventLog).where(EventLog.job_id.in_(job_ids)).order_by(EventLog.id))
            )
        if len(rows) >= len(job_ids):
            break
        time.sleep(0.2)
    print(f"\nEventLog rows for booking {booking_id}:")
    for row in rows:
        print(
            f"  #{row.id} {row.automation_type}/{row.recipient} {row.status} attempt={row.attempt} "
            f"{row.duration_ms:.1f} ms\n     {_summary(row)}"
        )
    if len(rows) < len(job_ids):
        print(f"only {len(rows)} of {len(job_ids)} rows appeared within 30 s", file=sys.stderr)
        return 1
    return 0


def _summary(row: EventLog) -> str:
    outputs = row.outputs or {}
    if "due_at" in outputs:
        return f"due {outputs['due_at']} (waits in {outputs['delay_topic']})"
    return outputs.get("body") or row.error or ""


if __name__ == "__main__":
    sys.exit(main())
