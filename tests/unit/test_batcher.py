"""shared.batcher.Batcher: one thread hands everything queued to the handler as one batch."""

from __future__ import annotations

import threading

import pytest

from shared.batcher import Batcher


def test_items_put_while_a_batch_is_handled_form_the_next_batch_up_to_max_items() -> None:
    batches: list[list[int]] = []
    first_taken, release = threading.Event(), threading.Event()

    def handle(batch: list[int]) -> None:
        batches.append(batch)
        first_taken.set()
        assert release.wait(5)

    batcher: Batcher[int] = Batcher(handle, max_items=3, name="test-batcher")
    batcher.put(0)
    assert first_taken.wait(5)
    for i in range(1, 6):
        batcher.put(i)
    release.set()
    batcher.close(timeout_s=5)
    assert batches == [[0], [1, 2, 3], [4, 5]]


def test_close_handles_what_was_put_and_later_puts_are_refused() -> None:
    handled: list[str] = []
    batcher: Batcher[str] = Batcher(handled.extend, max_items=100, name="test-batcher")
    for item in "abc":
        batcher.put(item)
    batcher.close(timeout_s=5)
    assert handled == ["a", "b", "c"]
    with pytest.raises(RuntimeError):
        batcher.put("d")


def test_the_thread_starts_with_the_first_item_only() -> None:
    before = {t.name for t in threading.enumerate()}
    batcher: Batcher[int] = Batcher(lambda batch: None, max_items=10, name="lazy-batcher")
    assert "lazy-batcher" not in {t.name for t in threading.enumerate()} - before
    batcher.close()
    batcher2: Batcher[int] = Batcher(lambda batch: None, max_items=10, name="lazy-batcher-2")
    batcher2.put(1)
    assert "lazy-batcher-2" in {t.name for t in threading.enumerate()}
    batcher2.close(timeout_s=5)
    assert "lazy-batcher-2" not in {t.name for t in threading.enumerate()}
