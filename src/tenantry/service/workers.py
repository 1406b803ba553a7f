"""The ingestion workers: tasks that claim queued jobs with a lease, run the pipeline on a batch, and store each
job's result in the same transaction as its completion. A job whose worker died is claimed again after its lease."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._core import AsyncMemoryService

__all__ = ["Workers"]

log = logging.getLogger("tenantry")


class Workers:
    def __init__(self, svc: AsyncMemoryService) -> None:
        self._svc = svc
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    def start(self, n: int | None = None) -> None:
        """Start ``n`` (default ``settings.workers``) worker tasks on the running loop."""
        n = self._svc.settings.workers if n is None else n
        self._stopping.clear()
        for i in range(n):
            self._tasks.append(asyncio.create_task(self._loop(f"{self._id}/{i}"), name=f"tenantry-worker-{i}"))

    async def stop(self, *, drain: bool = True, timeout: float = 30.0) -> None:
        """Stop the workers; with ``drain`` let them finish the jobs they hold (up to ``timeout`` seconds)."""
        if not self._tasks:
            return
        self._stopping.set()
        self._svc.queued.set()
        if drain:
            _done, pending = await asyncio.wait(self._tasks, timeout=timeout)
        else:
            pending = set(self._tasks)
        for t in pending:
            t.cancel()
        for t in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()

    async def run_pending(self, *, limit: int | None = None) -> int:
        """Process queued jobs in the calling task until none is left (tests, benchmarks); returns how many."""
        total = 0
        while True:
            n = await self._work_once(f"{self._id}/inline")
            total += n
            if n == 0 or (limit is not None and total >= limit):
                return total

    async def _work_once(self, worker_id: str) -> int:
        svc, settings = self._svc, self._svc.settings
        store = svc.store
        jobs = await store.claim_jobs(worker_id, limit=settings.worker_batch, lease_seconds=settings.lease_seconds)
        if not jobs:
            return 0
        try:
            results = await svc.pipeline.process(jobs)
        except Exception as exc:
            log.exception("ingestion batch failed")
            for job in jobs:
                final = job.failures + 1 >= settings.max_attempts  # a worker that died is not a failure
                await store.fail_job(job.ingestion_id, f"{type(exc).__name__}: {exc}", final=final, claim=job.claim)
            return len(jobs)
        for res in results:
            if res.status == "failed":
                await store.fail_job(res.ingestion_id, res.error_message or "failed", final=True, claim=res.claim)
        # The batch's results in one store call (one write transaction on SQLite); a job whose writes fail is
        # retried like a job whose processing failed, until its attempts run out.
        failures = {job.ingestion_id: job.failures + 1 for job in jobs}
        stored = await store.complete_jobs([res for res in results if res.status != "failed"])
        for res, error in stored:
            log.error("ingestion %s: storing its result failed: %s", res.ingestion_id, error)
            final = failures.get(res.ingestion_id, 1) >= settings.max_attempts
            await store.fail_job(res.ingestion_id, error, final=final, claim=res.claim)
        return len(jobs)

    async def _loop(self, worker_id: str) -> None:
        idle = self._svc.settings.poll_interval
        while not self._stopping.is_set():
            try:
                n = await self._work_once(worker_id)
            except Exception:  # a store hiccup must not kill the worker; the job lease makes retry safe
                log.exception("ingestion worker %s: error", worker_id)
                n = 0
                await asyncio.sleep(1.0)
            if n == 0:
                self._svc.queued.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._svc.queued.wait(), timeout=idle)
                idle = min(idle * 2, 1.0)
            else:
                idle = self._svc.settings.poll_interval
