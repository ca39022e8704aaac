"""Bounded work: one request on the model at a time, a bounded queue, and no work for
requests nobody waits for any more.

* Admission: at most ``max_queue`` requests wait for the model; one more is refused at
  once (:class:`QueueFull`, answered 429 with ``Retry-After``) instead of joining a queue
  it would time out in. TGI answers an overloaded server the same way.
* Cancellation: while a request waits or runs, its client connection is watched. If the
  client goes, or ``timeout`` passes, the request leaves the queue, or its generation
  stops at the next decode step (the work function is handed a ``should_stop`` check).
* Nothing blocks the event loop: waiting happens on an ``asyncio.Lock``; the work runs in
  a thread, and the lock is held until that thread has really stopped, so the next
  request never competes with an abandoned one.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from llm_gitops.serve.metrics import ServeMetrics

T = TypeVar("T")


class QueueFull(Exception):
    """The queue is full; ``retry_after`` seconds is an estimate of when a place frees up."""

    def __init__(self, retry_after: int):
        super().__init__(f"the queue is full; retry in {retry_after}s")
        self.retry_after = retry_after


class RequestAbandoned(Exception):
    """The request was given up: ``reason`` is "client_gone" or "timeout"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ModelQueue:
    """Runs work functions one at a time, at most ``max_queue`` waiting behind the current one."""

    def __init__(self, max_queue: int, metrics: ServeMetrics):
        self.max_queue = max_queue
        self.metrics = metrics
        self._admitted = 0  # requests waiting or running
        self._running = False
        self._lock = asyncio.Lock()
        # Mean seconds per request (exponential moving average), for Retry-After.
        self._service_seconds = 1.0

    @property
    def waiting(self) -> int:
        return self._admitted - self._running

    def retry_after(self) -> int:
        """Whole seconds until the queue has probably moved by one place beyond the waiters."""
        return max(1, math.ceil((self.waiting + 1) * self._service_seconds))

    async def run(self, work: Callable[[Callable[[], bool]], T], *, disconnected: Callable[[], Awaitable[object]],
                  timeout: float) -> T:
        """``work(should_stop)`` in a thread once it is this request's turn; its result.

        ``disconnected()`` completes when the client goes away. Raises :class:`QueueFull`
        at once when the queue is full, and :class:`RequestAbandoned` when the client left
        or ``timeout`` seconds (queueing included) passed first.
        """
        if self._admitted > self.max_queue:  # one running and max_queue waiting already
            self.metrics.rejected.labels("queue_full").inc()
            raise QueueFull(self.retry_after())
        stop = threading.Event()
        self._admitted += 1
        self._publish()
        job = asyncio.ensure_future(self._turn(work, stop))
        watcher = asyncio.ensure_future(disconnected())
        try:
            done, _ = await asyncio.wait({job, watcher}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if job in done and not watcher.done():
                return job.result()
            reason = "client_gone" if watcher.done() else "timeout"
            await self._abandon(job, stop)
            self.metrics.cancelled.labels(reason).inc()
            raise RequestAbandoned(reason)
        except asyncio.CancelledError:  # the server itself gave up on this request (shutdown)
            await asyncio.shield(self._abandon(job, stop))
            raise
        finally:
            watcher.cancel()
            self._admitted -= 1  # the job has finished or never started: nothing runs for it now
            self._publish()

    def _publish(self) -> None:
        self.metrics.queue_depth.set(self.waiting)
        self.metrics.generating.set(int(self._running))

    @staticmethod
    async def _abandon(job: asyncio.Future, stop: threading.Event) -> None:
        """Stop ``job`` (leave the queue, or stop generating at the next step) and wait until it has."""
        stop.set()
        job.cancel()
        await asyncio.wait({job})
        if not job.cancelled():
            job.exception()  # retrieved: its outcome is of no use to anyone now

    async def _turn(self, work: Callable[[Callable[[], bool]], T], stop: threading.Event) -> T:
        await self._lock.acquire()
        try:
            if stop.is_set():
                raise asyncio.CancelledError()
            self._running = True
            self._publish()
            started = time.perf_counter()
            thread = asyncio.get_running_loop().run_in_executor(None, work, stop.is_set)
            try:
                result = await asyncio.shield(thread)
            except asyncio.CancelledError:
                # Abandoned mid-generation: ``work`` sees ``stop`` at its next decode step;
                # keep the model until it has actually stopped.
                stop.set()
                await asyncio.wait({thread})
                if not thread.cancelled():
                    thread.exception()  # retrieved, so asyncio does not log it as lost
                raise
            self._service_seconds = 0.8 * self._service_seconds + 0.2 * (time.perf_counter() - started)
            return result
        finally:
            self._running = False
            self._publish()
            self._lock.release()
