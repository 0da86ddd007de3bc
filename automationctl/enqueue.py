"""``automationctl enqueue``: one request or many, from a JSON/YAML file or from flags."""

from __future__ import annotations

import argparse
from typing import Any

from automationctl import request_input
from automationctl.context import Context
from automationctl.output import OK, PARTIAL, USAGE, InputError, as_dict, iso, short
from shared.client import ItemError, with_idempotency_key
from shared.proto.automation.v1 import automation_pb2 as pb

SHOWN_ROWS = 50  # humans see the first rows of a large batch; --json has them all


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "enqueue",
        parents=parents,
        help="enqueue automations from a file or from flags",
        description="Enqueue one request (EnqueueAutomation) or many (EnqueueAutomations, 500 per call).",
    )
    parser.add_argument(
        "--file",
        "-f",
        metavar="PATH",
        help="JSON or YAML: one request, a list, or {requests: [...]}; - = stdin",
    )
    request_input.add_flag_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.file and (args.type or args.recipient or args.booking_id):
        raise InputError("give either --file or the request flags, not both")
    requests = (
        request_input.requests_from_file(args.file) if args.file else [request_input.request_from_flags(args)]
    )
    if len(requests) == 1:
        return _one(ctx, requests[0])
    return _many(ctx, requests)


def _one(ctx: Context, request: pb.EnqueueAutomationRequest) -> int:
    with ctx.client() as client:
        response = client.enqueue(request)
    ctx.out.document({"results": [{"accepted": as_dict(response)}]})
    ctx.out.table(["key", "result", "job", "sends"], [_accepted_row(response)])
    return OK


def _many(ctx: Context, requests: list[pb.EnqueueAutomationRequest]) -> int:
    with ctx.client() as client, ctx.out.bar(len(requests), "enqueue") as bar:
        results = client.enqueue_many(requests, on_progress=bar.advance)
    rows: list[list[str]] = []
    docs: list[dict[str, Any]] = []
    for request, result in zip(requests, results, strict=True):
        if result.accepted is not None:
            rows.append(_accepted_row(result.accepted))
            docs.append({"accepted": as_dict(result.accepted)})
        elif result.error is not None:
            key = with_idempotency_key(request).idempotency_key
            problems = _describe(result.error)  # every violation, one row each
            rows.append([key, _error_name(result.error.code), "", problems[0]])
            rows.extend(["", "", "", problem] for problem in problems[1:])
            docs.append({"idempotency_key": key, "error": _error_doc(result.error)})
    failed = [r.error for r in results if r.error is not None]
    ctx.out.document({"results": docs, "accepted": len(results) - len(failed), "failed": len(failed)})
    ctx.out.table(["key", "result", "job", "sends / error"], rows[:SHOWN_ROWS])
    if len(rows) > SHOWN_ROWS:
        ctx.out.line(f"... {len(rows) - SHOWN_ROWS} more row(s) (--json lists all)")
    ctx.out.line(f"{len(results) - len(failed)} accepted, {len(failed)} failed")
    if not failed:
        return OK
    all_invalid = len(failed) == len(results) and all(e.code == "INVALID_ARGUMENT" for e in failed)
    return USAGE if all_invalid else PARTIAL


def _accepted_row(response: pb.EnqueueAutomationResponse) -> list[str]:
    result = "duplicate" if response.duplicate else "accepted"
    return [response.idempotency_key, result, response.job_id, iso(response.due_at) or "now"]


def _error_name(code: str) -> str:
    return code.lower()


def _describe(error: ItemError) -> list[str]:
    if error.violations:
        return [short(f"{field}: {description}", 100) for field, description in error.violations]
    return [short(error.message, 100)]


def _error_doc(error: ItemError) -> dict[str, Any]:
    return {
        "code": error.code,
        "message": error.message,
        "violations": [{"field": f, "description": d} for f, d in error.violations],
    }
