"""The ingestion queue, written once for both SQL backends: enqueue, complete (everything a worker produced, in
one transaction with the job's completion), fail, and job lookups. Claiming is the backends' own (SQLite: one
``UPDATE ... RETURNING`` on the single writer; PostgreSQL: ``FOR UPDATE SKIP LOCKED`` across instances)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from ..errors import ConflictError
from ..scope import ReadChain
from . import _rows
from ._plan import Dialect
from ._plan import Op
from ._plan import Plan
from ._plan import PlanStore
from ._plan import audit
from ._plan import bump
from ._plan import scope_key
from ._sql import loads
from ._sql import parse_ts
from .base import Audit
from .base import JobRecord
from .base import ProcessedJob

__all__ = ["complete_plan", "enqueue_plan"]


def enqueue_plan(d: Dialect, job: JobRecord, content_hash: str) -> Plan[tuple[JobRecord, bool]]:
    """Insert ``job``, or return the job already queued for the same (scope, document_id); bool = inserted."""
    s = job.scope
    inserted = yield Op(
        "INSERT INTO ingestions (ingestion_id, instance_id, customer_id, level, user_id, document_id, content_hash, "
        f"kind, status, payload, queued_at) VALUES ({d.marks(11)}) "
        "ON CONFLICT (instance_id, customer_id, level, user_id, document_id) DO NOTHING RETURNING 1",
        (
            *(job.ingestion_id, *scope_key(s), job.document_id, content_hash),
            *(job.kind, job.status, d.js(job.payload), d.ts(job.queued_at)),
        ),
    )
    if inserted.rows:
        yield from audit(
            d, s.instance_id, "memory.create", {"ingestion_id": job.ingestion_id, "scope": s.path, "new": True}
        )
        return job, True
    p = d.p
    existing = yield Op(
        f"SELECT {_rows.JOB_COLS} FROM ingestions WHERE instance_id = {p} AND customer_id = {p} AND level = {p} "
        f"AND user_id = {p} AND document_id = {p}",
        (*scope_key(s), job.document_id),
    )
    if existing.first is None:  # pragma: no cover - the conflicting row was deleted in between
        raise ConflictError("the ingestion was deleted concurrently; retry")
    found = _rows.job(existing.first)
    yield from audit(
        d, s.instance_id, "memory.create", {"ingestion_id": found.ingestion_id, "scope": s.path, "new": False}
    )
    return found, False


def complete_plan(d: Dialect, result: ProcessedJob, record: Audit | None = None) -> Plan[None]:
    """Store what a worker produced for one job and mark the job done, if ``result.claim`` still owns it.

    ``claim=None`` is a direct write with no job row (operator writes to WORLD), audited with ``record``."""
    s, p = result.scope, d.p
    now = datetime.now(UTC)
    if result.claim is not None:
        owned = yield Op(
            f"SELECT 1 FROM ingestions WHERE instance_id = {p} AND ingestion_id = {p} AND status = 'processing' "
            f"AND claim = {p}{d.for_update}",
            (s.instance_id, result.ingestion_id, result.claim),
        )
        if not owned.rows:
            return  # the lease expired and another worker took the job over: its result wins
    handle = yield from d.open_scope(s)
    if result.new:
        rows = [
            _rows.memory_values(
                d,
                s,
                m,
                document_id=result.document_id,
                conversation_id=result.conversation_id,
                ingestion_id=result.ingestion_id,
                created_at=now,
            )
            for m in result.new
        ]
        yield from d.insert_memories(handle, rows, result.new)
    where, params = d.scoped(ReadChain.single(s))
    if result.merged:
        among, rowids = d.any_of("m.rowid", [rowid for rowid, _, _ in result.merged])
        found = yield Op(
            f"SELECT m.rowid, m.source_evidence FROM memories m WHERE {where} AND {among}", [*params, *rowids]
        )
        evidence = {int(r[0]): list(loads(r[1])) for r in found.rows}
        for rowid, extra, confidence in result.merged:
            if rowid in evidence:  # a row merged twice in one job keeps the evidence of both merges
                evidence[rowid] = list(dict.fromkeys(evidence[rowid] + extra))
                yield Op(
                    f"UPDATE memories AS m SET source_evidence = {p}, confidence = {p}, "
                    f"mention_count = m.mention_count + 1, updated_at = {p} WHERE {where} AND m.rowid = {p}",
                    [d.js(evidence[rowid]), confidence, d.ts(now), *params, rowid],
                )
    for rowid, new_id in result.superseded:
        yield Op(
            f"UPDATE memories AS m SET superseded_by = {p}, valid_until = COALESCE(m.valid_until, {p}), "
            f"updated_at = {p} WHERE {where} AND m.rowid = {p}",
            [new_id, d.ts(now), d.ts(now), *params, rowid],
        )
    if result.document is not None:
        doc = result.document
        yield Op(
            "INSERT INTO documents (instance_id, customer_id, level, user_id, document_id, document_type, content, "
            f"content_hash, document_created_at, conversation_id, created_at, metadata) VALUES ({d.marks(12)}) "
            "ON CONFLICT (instance_id, customer_id, level, user_id, document_id) DO UPDATE SET "
            "document_type = excluded.document_type, content = excluded.content, "
            "content_hash = excluded.content_hash, document_created_at = excluded.document_created_at, "
            "conversation_id = excluded.conversation_id, created_at = excluded.created_at, "
            "metadata = excluded.metadata",
            (
                *(*scope_key(s), result.document_id, doc.get("document_type", "document"), doc.get("content", "")),
                *(doc.get("content_hash", ""), d.ts(parse_ts(doc.get("document_created_at")))),
                *(result.conversation_id, d.ts(now), d.js(doc.get("metadata", {}))),
            ),
        )
    yield from bump(d, [scope_key(s)], create=True)
    if record is not None:
        yield from audit(d, s.instance_id, record.action, record.detail)
    if result.claim is None:
        return  # a direct (operator) write: no job row to complete
    yield Op(
        f"UPDATE ingestions SET status = {p}, completed_at = {p}, memory_ids = {p}, error_message = {p}, "
        f"claim = NULL, lease_until = NULL WHERE instance_id = {p} AND ingestion_id = {p}",
        (result.status, d.ts(now), d.js(result.memory_ids), result.error_message, s.instance_id, result.ingestion_id),
    )


def _fail_plan(d: Dialect, ingestion_id: str, error: str, *, final: bool, claim: str | None) -> Plan[None]:
    p = d.p
    done = f"status = 'failed', completed_at = {p}" if final else "status = 'queued'"
    yield Op(  # an attempt that raised: the one thing that counts against ``max_attempts``
        f"UPDATE ingestions SET {done}, failures = failures + 1, error_message = {p}, claim = NULL, lease_until = NULL "
        f"WHERE ingestion_id = {p} AND (claim = {p} OR CAST({p} AS TEXT) IS NULL)",
        (*((d.ts(datetime.now(UTC)),) if final else ()), error[:2000], ingestion_id, claim, claim),
    )


def _job_plan(d: Dialect, instance_id: str, ingestion_id: str) -> Plan[JobRecord | None]:
    found = yield Op(
        f"SELECT {_rows.JOB_COLS} FROM ingestions WHERE instance_id = {d.p} AND ingestion_id = {d.p}",
        (instance_id, ingestion_id),
    )
    return _rows.job(found.first) if found.first else None


def _count_plan(d: Dialect, statuses: tuple[str, ...]) -> Plan[int]:
    among, params = d.any_of("status", statuses)
    found = yield Op(f"SELECT count(*) FROM ingestions WHERE {among}", params)
    return int(found.rows[0][0])


class _QueueMixin(PlanStore):
    """The queue methods every SQL backend shares (``claim_jobs`` is each backend's own)."""

    async def enqueue(self, job: JobRecord, *, content_hash: str) -> tuple[JobRecord, bool]:
        return await self._run(enqueue_plan(self.dialect, job, content_hash), instance_id=job.instance_id)

    async def complete_job(self, result: ProcessedJob, *, audit: Audit | None = None) -> None:
        await self._run(complete_plan(self.dialect, result, audit), instance_id=result.scope.instance_id)

    async def fail_job(self, ingestion_id: str, error: str, *, final: bool, claim: str | None = None) -> None:
        await self._run(_fail_plan(self.dialect, ingestion_id, error, final=final, claim=claim), instance_id=None)

    async def get_job(self, instance_id: str, ingestion_id: str) -> JobRecord | None:
        return await self._run(_job_plan(self.dialect, instance_id, ingestion_id), instance_id=instance_id, write=False)

    async def count_jobs(self, *, statuses: tuple[str, ...] = ("queued", "processing")) -> int:
        return await self._run(_count_plan(self.dialect, statuses), instance_id=None, write=False)
