"""coalescer.Answer: the one-shot hand-back from the batcher thread to a waiting unary call."""

from __future__ import annotations

import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout

import pytest

from shared.proto.automation.v1 import automation_pb2 as pb
from trigger_service.coalescer import Answer


def test_result_waits_for_the_answer_set_from_another_thread() -> None:
    answer = Answer()
    value = pb.EnqueueItemResult(accepted=pb.EnqueueAutomationResponse(job_id="j"))
    threading.Timer(0.05, answer.set_result, args=(value,)).start()
    started = time.perf_counter()
    assert answer.result(5) is value
    assert time.perf_counter() - started >= 0.04
    assert answer.result(0) is value  # read again: at once


def test_result_times_out_while_unanswered_and_an_exception_is_raised_to_every_reader() -> None:
    answer = Answer()
    started = time.perf_counter()
    with pytest.raises(FutureTimeout):
        answer.result(0.05)
    assert time.perf_counter() - started >= 0.04
    with pytest.raises(FutureTimeout):
        answer.result(0)
    answer.set_exception(RuntimeError("store down"))
    for _ in range(2):
        with pytest.raises(RuntimeError, match="store down"):
            answer.result(None)
