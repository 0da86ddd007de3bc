"""Ids made in bulk for a batch of jobs: the same kind of id as one at a time (shared/ids.py,
shared/tracing.children_of)."""

from __future__ import annotations

import uuid

from shared import tracing
from shared.ids import uuid4_hexes

CALLER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_uuid4_hexes_are_distinct_version_4_uuids() -> None:
    ids = uuid4_hexes(2000)
    assert len(set(ids)) == 2000
    for h in ids:
        u = uuid.UUID(hex=h)
        assert (u.version, u.variant, u.hex) == (4, uuid.RFC_4122, h)
    assert uuid4_hexes(0) == []


def test_children_of_keep_each_parents_trace_with_new_spans() -> None:
    other = "00-11111111111111111111111111111111-2222222222222222-00"
    parents: list[str | bytes | None] = [CALLER, other, CALLER, CALLER.encode(), None, "garbage", None]
    children = tracing.children_of(parents)
    assert len(children) == len(parents)
    parsed = [tracing.parse(c) for c in children]
    assert all(p is not None for p in parsed)
    spans = [p[1] for p in parsed if p is not None]
    assert len(set(spans)) == len(spans)  # a new span for every job
    for parent, child in zip(parents, parsed, strict=True):
        assert child is not None
        own = tracing.parse(parent)
        if own is None:  # a new trace, as child_of() starts one
            assert child[2] == "01"
            assert child[0] not in {tracing.trace_id(p) for p in parents}
        else:
            assert (child[0], child[2]) == (own[0], own[2])
            assert child[1] != own[1]
    assert parsed[4] is not None and parsed[6] is not None and parsed[4][0] != parsed[6][0]
    assert tracing.children_of([]) == []
