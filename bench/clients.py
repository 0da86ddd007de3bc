"""Load generators: asyncio gRPC clients (grpc.aio), each running in its own OS process.

A ``ClientGroup`` spawns the processes, waits until every one has connected, then releases them at
once; each returns a dict of what it measured, including its own CPU seconds, so the report can tell
whether the generator or the server was the bottleneck. Times are ``time.monotonic()`` (CLOCK_MONOTONIC,
the same clock in every process of the machine).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import Counter
from typing import Any

import grpc
from grpc_health.v1 import health_pb2

from bench.workload import RequestFactory
from shared.proto.automation.v1 import automation_pb2 as pb

ENQUEUE = "/automation.v1.AutomationService/EnqueueAutomation"
ENQUEUE_BATCH = "/automation.v1.AutomationService/EnqueueAutomations"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
CALL_TIMEOUT_S = 30.0
_CODE_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}
_CTX = multiprocessing.get_context("spawn")  # never fork a process that has gRPC threads


async def _connect(address: str) -> grpc.aio.Channel:
    channel = grpc.aio.insecure_channel(address)
    await asyncio.wait_for(channel.channel_ready(), 20)
    return channel


async def unary_closed_loop(
    go, address: str, concurrency: int, duration_s: float, prefix: str, noop: bool = False
) -> dict:
    """``concurrency`` callers, each sending its next EnqueueAutomation as soon as the last answered.

    ``noop``: call the standard Health.Check instead (no work behind it: the gRPC layer's own cost, the
    ceiling any unary RPC of this server and generator can reach on this machine)."""
    factory = RequestFactory(prefix)
    channel = await _connect(address)
    call = channel.unary_unary(ENQUEUE, response_deserializer=pb.EnqueueAutomationResponse.FromString)
    if noop:
        health_request = health_pb2.HealthCheckRequest().SerializeToString()
        call = channel.unary_unary(
            HEALTH_CHECK, response_deserializer=health_pb2.HealthCheckResponse.FromString
        )
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    await asyncio.to_thread(go.wait)
    cpu0, start = time.process_time(), time.monotonic()
    end = start + duration_s

    async def caller(worker: int) -> None:
        n = 0
        while time.monotonic() < end:
            request, n = (health_request if noop else factory.serialized(worker * 10_000_000 + n)), n + 1
            sent = time.monotonic()
            try:
                await call(request, timeout=CALL_TIMEOUT_S)
                latencies.append(time.monotonic() - sent)
            except grpc.aio.AioRpcError as exc:
                errors[exc.code().name] += 1

    await asyncio.gather(*(caller(w) for w in range(concurrency)))
    elapsed = time.monotonic() - start
    await channel.close()
    return {
        "latencies": latencies,
        "errors": dict(errors),
        "elapsed": elapsed,
        "cpu_s": time.process_time() - cpu0,
    }


async def batch_closed_loop(
    go, address: str, concurrency: int, duration_s: float, batch_size: int, prefix: str
) -> dict:
    """``concurrency`` callers sending EnqueueAutomations batches of ``batch_size`` back to back."""
    factory = RequestFactory(prefix)
    channel = await _connect(address)
    call = channel.unary_unary(ENQUEUE_BATCH, response_deserializer=pb.EnqueueAutomationsResponse.FromString)
    latencies: list[float] = []
    accepted, item_errors, call_errors = [0], Counter[str](), Counter[str]()
    await asyncio.to_thread(go.wait)
    cpu0, start = time.process_time(), time.monotonic()
    end = start + duration_s

    async def caller(worker: int) -> None:
        n = 0
        while time.monotonic() < end and not call_errors["UNIMPLEMENTED"]:
            request = factory.batch(worker * 10_000_000 + n, batch_size)
            n += batch_size
            sent = time.monotonic()
            try:
                response = await call(request, timeout=CALL_TIMEOUT_S)
            except grpc.aio.AioRpcError as exc:
                call_errors[exc.code().name] += 1
                continue
            latencies.append(time.monotonic() - sent)
            for result in response.results:
                if result.HasField("accepted"):
                    accepted[0] += 1
                else:
                    item_errors[_CODE_NAMES.get(result.error.code, str(result.error.code))] += 1

    await asyncio.gather(*(caller(w) for w in range(concurrency)))
    elapsed = time.monotonic() - start
    await channel.close()
    return {
        "accepted": accepted[0],
        "item_errors": dict(item_errors),
        "call_errors": dict(call_errors),
        "latencies": latencies,
        "elapsed": elapsed,
        "cpu_s": time.process_time() - cpu0,
    }


async def paced_open_loop(
    go, address: str, rate: float, duration_s: float, prefix: str, noop: bool = False
) -> dict:
    """Open loop: call ``n`` is due at ``start + n / rate`` whatever earlier calls are doing.

    Returns ``sends``: (job_id, scheduled, sent, answered) per accepted call, so latencies can be taken
    from the scheduled time (a stall of the sender or the server is not hidden). ``noop``: the standard
    Health.Check instead (job_id ""): what a unary call of this server costs at this rate with no work."""
    factory = RequestFactory(prefix)
    channel = await _connect(address)
    call = channel.unary_unary(ENQUEUE, response_deserializer=pb.EnqueueAutomationResponse.FromString)
    if noop:
        health_request = health_pb2.HealthCheckRequest().SerializeToString()
        call = channel.unary_unary(
            HEALTH_CHECK, response_deserializer=health_pb2.HealthCheckResponse.FromString
        )
    sends: list[tuple[str, float, float, float]] = []
    errors: Counter[str] = Counter()
    await asyncio.to_thread(go.wait)
    cpu0, start = time.process_time(), time.monotonic()

    async def send(n: int, scheduled: float) -> None:
        request, sent = (health_request if noop else factory.serialized(n)), time.monotonic()
        try:
            response = await call(request, timeout=CALL_TIMEOUT_S)
            sends.append((getattr(response, "job_id", ""), scheduled, sent, time.monotonic()))
        except grpc.aio.AioRpcError as exc:
            errors[exc.code().name] += 1

    tasks = []
    for n in range(int(rate * duration_s)):
        scheduled = start + n / rate
        if (delay := scheduled - time.monotonic()) > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(n, scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - start
    await channel.close()
    return {"sends": sends, "errors": dict(errors), "elapsed": elapsed, "cpu_s": time.process_time() - cpu0}


CLIENTS = {"unary": unary_closed_loop, "batch": batch_closed_loop, "paced": paced_open_loop}


def _client_main(kind: str, kwargs: dict[str, Any], go, results) -> None:
    try:
        results.put(asyncio.run(CLIENTS[kind](go, **kwargs)))
    except BaseException as exc:
        results.put({"crashed": repr(exc)})
        go.abort()
        raise


class ClientGroup:
    """Client processes of one ``kind``, one per kwargs dict, released together by ``go()``."""

    def __init__(self, kind: str, kwargs_list: list[dict[str, Any]]) -> None:
        self._go = _CTX.Barrier(len(kwargs_list) + 1)
        self._results = _CTX.Queue()
        self._procs = [
            _CTX.Process(target=_client_main, args=(kind, kw, self._go, self._results), daemon=True)
            for kw in kwargs_list
        ]
        for proc in self._procs:
            proc.start()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.pid]

    def go(self, timeout_s: float = 60.0) -> float:
        """Wait until every client is connected, release them; return the release time."""
        self._go.wait(timeout=timeout_s)
        return time.monotonic()

    def results(self, timeout_s: float) -> list[dict]:
        out = [self._results.get(timeout=timeout_s) for _ in self._procs]
        for proc in self._procs:
            proc.join(timeout=10)
        if crashed := [r["crashed"] for r in out if "crashed" in r]:
            raise RuntimeError(f"load generator crashed: {crashed[0]}")
        return out

    def close(self) -> None:
        for proc in self._procs:
            if proc.is_alive():
                proc.kill()
            proc.join(timeout=5)
