"""Claiming ingestion jobs on PostgreSQL: ``FOR UPDATE SKIP LOCKED`` with a lease (database clock) and a claim
token, across instances. The rest of the queue (enqueue, complete, fail, lookups) is shared: ``_queue``.

The claim reads and writes the ``ingestions`` table only (tested): on Citus the queue stays a local table of the
coordinator, where ``SKIP LOCKED`` works across instances (on a distributed table it needs a one-shard filter)."""

from __future__ import annotations

import uuid
from typing import Any

from ._pg_base import _PgBase
from ._rows import JOB_COLS
from ._rows import job
from .base import JobRecord


class _ClaimMixin(_PgBase):
    """Claiming spans instances (admin role)."""

    async def claim_jobs(self, worker_id: str, *, limit: int, lease_seconds: float) -> list[JobRecord]:
        claim = f"{worker_id}:{uuid.uuid4().hex[:12]}"
        async with self._tx(None) as conn:
            # A job whose worker died (its lease ran out) is claimed again, however often that happened: only the
            # attempts that raised (``failures``, counted by ``fail_job``) count against ``max_attempts``.
            rows: list[tuple[Any, ...]] = []
            for ready, order in (
                ("status = 'processing' AND lease_until < now()", "lease_until"),
                ("status = 'queued'", "queued_at"),
            ):
                want = limit - len(rows)
                if want <= 0:
                    break
                cur = await conn.execute(
                    "UPDATE ingestions i SET status = 'processing', claim = %s, "
                    "lease_until = now() + make_interval(secs => %s), attempts = i.attempts + 1, "
                    "started_at = LEAST(i.started_at, now()) "  # the first start (Citus: no now() in COALESCE)
                    f"FROM (SELECT instance_id, ingestion_id FROM ingestions WHERE {ready} ORDER BY {order} "
                    "LIMIT %s FOR UPDATE SKIP LOCKED) x "
                    "WHERE i.instance_id = x.instance_id AND i.ingestion_id = x.ingestion_id "
                    f"RETURNING {', '.join('i.' + c for c in JOB_COLS.split(', '))}",
                    [claim, lease_seconds, want],
                )
                rows.extend(await cur.fetchall())
        return sorted((job(r) for r in rows), key=lambda j: j.queued_at)
