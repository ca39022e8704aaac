"""The bounded queue's rules on plain work functions (no model, no HTTP)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from llm_gitops.serve.metrics import ServeMetrics
from llm_gitops.serve.scheduler import ModelQueue, QueueFull, RequestAbandoned


def _never() -> asyncio.Future:
    return asyncio.get_running_loop().create_future()  # a client that never disconnects


def _gated(gate: threading.Event, steps: list[int]):
    def work(should_stop):
        while not gate.wait(0.01):
            steps.append(1)
            if should_stop():
                return "stopped"
        return "done"
    return work


@pytest.mark.parametrize("max_queue", [0, 2])
def test_max_queue_requests_wait_behind_the_running_one_and_the_next_is_refused(max_queue):
    async def scenario():
        metrics = ServeMetrics()
        queue = ModelQueue(max_queue, metrics)
        gate = threading.Event()
        jobs = [asyncio.ensure_future(queue.run(_gated(gate, []), disconnected=_never, timeout=30))
                for _ in range(max_queue + 1)]
        while queue.waiting != max_queue or not metrics.generating._value.get():
            await asyncio.sleep(0.01)
        with pytest.raises(QueueFull) as refused:
            await queue.run(_gated(gate, []), disconnected=_never, timeout=30)
        assert refused.value.retry_after >= 1
        gate.set()
        assert await asyncio.gather(*jobs) == ["done"] * (max_queue + 1)
        # Idle again: a request is admitted even with max_queue=0.
        assert await queue.run(lambda should_stop: "alone", disconnected=_never, timeout=30) == "alone"

    asyncio.run(scenario())


def test_a_client_that_leaves_stops_the_work_and_frees_the_model():
    async def scenario():
        metrics = ServeMetrics()
        queue = ModelQueue(4, metrics)
        gone = asyncio.Event()
        steps: list[int] = []
        job = asyncio.ensure_future(queue.run(_gated(threading.Event(), steps), disconnected=gone.wait, timeout=30))
        while not steps:
            await asyncio.sleep(0.01)
        gone.set()
        with pytest.raises(RequestAbandoned) as abandoned:
            await job
        assert abandoned.value.reason == "client_gone"
        done_steps = len(steps)
        await asyncio.sleep(0.1)
        assert len(steps) == done_steps  # the work had stopped before run() returned
        assert await queue.run(lambda should_stop: "next", disconnected=_never, timeout=30) == "next"
        assert metrics.cancelled.labels("client_gone")._value.get() == 1

    asyncio.run(scenario())
