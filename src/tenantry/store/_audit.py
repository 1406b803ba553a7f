"""The audit buffer of every backend: entries are written in batches by a background task, so a request never
waits for (or, on SQLite, queues behind the single writer for) its audit row."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from typing import Any

from ..errors import StoreUnavailableError

__all__ = ["AuditBuffer", "AuditEntry"]

log = logging.getLogger("tenantry")

AuditEntry = tuple[str, datetime, str, dict[str, Any]]  # (instance_id, at, action, detail)


class AuditBuffer:
    """Audit entries waiting to be written.

    :meth:`add` appends an entry and makes sure a flush is scheduled (after ``delay`` seconds, or at once when
    ``batch`` entries wait). :meth:`flush` writes what is buffered through ``write``; when that fails, the entries go
    back to the front of the buffer (the newest ``keep`` of them, so a store that stays down does not grow it
    without bound) and the error is raised: a scheduled flush logs it, and the next flush retries them.
    :meth:`aclose` lets a running flush finish, cancels a sleeping one and flushes what is left.
    """

    def __init__(
        self,
        write: Callable[[list[AuditEntry]], Awaitable[None]],
        *,
        delay: float = 1.0,
        batch: int = 500,
        keep: int = 10_000,
    ) -> None:
        self._write = write
        self._delay = delay
        self._batch = batch
        self._keep = keep
        self._entries: list[AuditEntry] = []
        self._task: asyncio.Task[None] | None = None
        self._flushing = False

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, instance_id: str, action: str, detail: dict[str, Any]) -> None:
        self._entries.append((instance_id, datetime.now(UTC), action, detail))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        try:
            await asyncio.sleep(self._delay if len(self._entries) < self._batch else 0)
        except asyncio.CancelledError:
            return  # aclose() flushes
        self._flushing = True
        try:
            await self.flush()
        except Exception:  # the entries were put back: the next flush retries them
            log.warning("audit: writing %d entries failed; kept for the next flush", len(self._entries), exc_info=True)
        finally:
            self._flushing = False

    async def flush(self) -> None:
        rows, self._entries = self._entries, []
        if not rows:
            return
        try:
            await self._write(rows)
        except BaseException:
            self._entries[:0] = rows[-self._keep :]
            raise

    async def aclose(self) -> None:
        task = self._task
        if task is not None and not task.done():
            if not self._flushing:
                task.cancel()
            await asyncio.wait([task])
        try:
            await self.flush()
        except StoreUnavailableError:  # pragma: no cover - closing a store whose database went away
            log.warning("audit: %d entries lost: the store is unavailable at close", len(self._entries))
