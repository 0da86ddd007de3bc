"""PartitionLedger: which offsets the executor stores, and which messages it holds aside for another try
(instead of rewinding a partition and running everything behind a blocked message again)."""

from __future__ import annotations

from executor_service.partition_ledger import PartitionLedger
from tests.support.fake_message import FakeMessage


def Msg(topic: str, partition: int, offset: int) -> FakeMessage:  # noqa: N802 (reads as a message)
    return FakeMessage(offset, t=topic, p=partition)


def msgs(topic: str, partition: int, offsets) -> list[FakeMessage]:
    return [Msg(topic, partition, o) for o in offsets]


def ledger(*tps, retry_s: float = 1.0, max_held: int = 100) -> PartitionLedger:
    book = PartitionLedger(retry_s=retry_s, max_held_per_partition=max_held)
    book.assign(tps or [("jobs", 0), ("jobs", 1), ("jobs.retry.2s", 0)])
    return book


def test_offsets_go_past_a_fully_durable_batch():
    batch = [*msgs("jobs", 0, [10, 11]), Msg("jobs", 1, 4), Msg("jobs.retry.2s", 0, 7)]
    assert ledger().settle(batch, [], now=0) == {("jobs", 0): 12, ("jobs", 1): 5, ("jobs.retry.2s", 0): 8}


def test_offsets_never_pass_the_lowest_unfinished_message():
    book = ledger()
    batch = [*msgs("jobs", 0, range(10, 20)), Msg("jobs", 1, 4)]
    unfinished = msgs("jobs", 0, [15, 12, 18])
    assert book.settle(batch, unfinished, now=0) == {("jobs", 0): 12, ("jobs", 1): 5}
    assert book.next_offset(("jobs", 0)) == 20, "consumption goes on after the batch: no rewind"
    assert book.held_count == 3


def test_held_messages_come_back_alone_once_due_and_the_offset_then_passes_them():
    book = ledger()
    book.settle(msgs("jobs", 0, range(10, 20)), msgs("jobs", 0, [15, 12]), now=100.0)
    assert book.retry_in_s(100.0) == 1.0
    assert book.take_due(100.5) == [], "not before retry_s"
    # later batches move on past the held ones, but what is stored stays at the lowest held
    assert book.settle(msgs("jobs", 0, range(20, 25)), [], now=100.6) == {("jobs", 0): 12}
    retried = book.take_due(101.0)
    assert retried == msgs("jobs", 0, [12, 15]), "only the held messages, in offset order"
    assert book.retry_in_s(101.0) is None and book.held_count == 0
    # 12 finishes now, 15 is blocked again: stored stops at 15; a batch of only retried messages does
    # not move the position back to 16
    assert book.settle(retried, [retried[1]], now=101.0) == {("jobs", 0): 15}
    assert book.retry_in_s(101.0) == 1.0
    assert book.settle(book.take_due(102.0), [], now=102.0) == {("jobs", 0): 25}


def test_a_revoked_partition_is_forgotten_and_a_reassigned_one_starts_afresh():
    book = ledger()
    book.settle([*msgs("jobs", 0, range(5)), Msg("jobs", 1, 9)], [Msg("jobs", 0, 2), Msg("jobs", 1, 9)], 0)
    book.revoke([("jobs", 0)])
    assert book.take_due(5.0) == [Msg("jobs", 1, 9)], "the revoked partition's held message is not retried"
    # a message of a partition no longer ours (returned by the same poll as the revoke) changes nothing
    assert book.settle([Msg("jobs", 0, 7)], [Msg("jobs", 0, 7)], 5.0) == {}
    assert book.held_count == 0
    book.assign([("jobs", 0)])
    assert book.settle([Msg("jobs", 0, 40)], [], 6.0) == {("jobs", 0): 41}, "no stale state from before"


def test_a_partition_holding_too_much_is_crowded_until_its_held_messages_are_through():
    book = ledger(max_held=3)
    book.settle(msgs("jobs", 0, range(10)), msgs("jobs", 0, [1, 2]), now=0)
    assert book.crowded() == []
    book.settle(msgs("jobs", 0, range(10, 12)), [Msg("jobs", 0, 11)], now=0.2)
    assert book.crowded() == [("jobs", 0)]
    assert book.next_offset(("jobs", 0)) == 12, "where it resumes after its pause"
    book.settle(book.take_due(1.0), [], now=1.0)
    assert book.crowded() == [] and book.position(("jobs", 0)) == 12
