"""The ingestion queue of the PostgreSQL backend: enqueue, claim (``FOR UPDATE SKIP LOCKED`` with a lease and a
claim token), complete (everything in one transaction), fail, and job lookups."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from ..errors import ConflictError
from ..scope import ReadChain
from ._pg_base import _PgBase
from ._pg_rows import _JOB_COLS, _aware, _job, _json, _now, _scope_key
from ._sql import scope_filter
from .base import JobRecord, ProcessedJob


class _QueueMixin(_PgBase):
    """The ``ingestions`` table as a work queue; claiming spans instances (admin role)."""

    # -- ingestion queue ------------------------------------------------------------------------------------------
    async def enqueue(self, job: JobRecord, *, content_hash: str) -> tuple[JobRecord, bool]:
        s = job.scope
        async with self._tx(job.instance_id) as conn:
            cur = await conn.execute(
                "INSERT INTO ingestions (ingestion_id, instance_id, customer_id, level, user_id, document_id, "
                "content_hash, kind, status, payload, queued_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
                "ON CONFLICT (instance_id, customer_id, level, user_id, document_id) DO NOTHING RETURNING 1",
                (
                    job.ingestion_id,
                    s.instance_id,
                    s.customer_id,
                    s.level.value,
                    s.user_id,
                    job.document_id,
                    content_hash,
                    job.kind,
                    job.status,
                    _json(job.payload),
                    _aware(job.queued_at),
                ),
            )
            if await cur.fetchone() is not None:
                return job, True
            cur = await conn.execute(
                f"SELECT {_JOB_COLS} FROM ingestions WHERE instance_id = %s AND customer_id = %s AND level = %s "
                "AND user_id = %s AND document_id = %s",
                (s.instance_id, s.customer_id, s.level.value, s.user_id, job.document_id),
            )
            row = await cur.fetchone()
        if row is None:  # pragma: no cover - the conflicting row was deleted in between
            raise ConflictError("the ingestion was deleted concurrently; retry")
        return _job(row), False

    async def claim_jobs(
        self, worker_id: str, *, limit: int, lease_seconds: float, max_attempts: int
    ) -> list[JobRecord]:
        claim = f"{worker_id}:{uuid.uuid4().hex[:12]}"
        async with self._tx(None) as conn:
            # Jobs whose worker died too often are given up on, with the reason.
            await conn.execute(
                "UPDATE ingestions i SET status = 'failed', completed_at = now(), claim = NULL, error_message = "
                "COALESCE(i.error_message, '') || 'gave up after ' || i.attempts || ' attempts (worker lost)' "
                "FROM (SELECT instance_id, ingestion_id FROM ingestions WHERE status = 'processing' "
                "AND lease_until < now() AND attempts >= %s FOR UPDATE SKIP LOCKED) x "
                "WHERE i.instance_id = x.instance_id AND i.ingestion_id = x.ingestion_id",
                (max_attempts,),
            )
            rows: list[tuple[Any, ...]] = []
            for ready, order in (
                ("status = 'processing' AND lease_until < now() AND attempts < %s", "lease_until"),
                ("status = 'queued'", "queued_at"),
            ):
                want = limit - len(rows)
                if want <= 0:
                    break
                params: list[Any] = [claim, lease_seconds]
                if "%s" in ready:
                    params.append(max_attempts)
                cur = await conn.execute(
                    "UPDATE ingestions i SET status = 'processing', claim = %s, "
                    "lease_until = now() + make_interval(secs => %s), attempts = i.attempts + 1, "
                    "started_at = COALESCE(i.started_at, now()) "
                    f"FROM (SELECT instance_id, ingestion_id FROM ingestions WHERE {ready} ORDER BY {order} "
                    "LIMIT %s FOR UPDATE SKIP LOCKED) x "
                    "WHERE i.instance_id = x.instance_id AND i.ingestion_id = x.ingestion_id "
                    f"RETURNING {', '.join('i.' + c for c in _JOB_COLS.split(', '))}",
                    [*params, want],
                )
                rows.extend(await cur.fetchall())
        return sorted((_job(r) for r in rows), key=lambda j: j.queued_at)

    async def complete_job(self, result: ProcessedJob) -> None:
        s = result.scope
        key = _scope_key(s)
        where, wparams = scope_filter(ReadChain.single(s), dialect="postgres")
        async with self._tx(s.instance_id) as conn:
            if result.claim is not None:
                cur = await conn.execute(
                    "SELECT 1 FROM ingestions WHERE instance_id = %s AND ingestion_id = %s "
                    "AND status = 'processing' AND claim = %s FOR UPDATE",
                    (s.instance_id, result.ingestion_id, result.claim),
                )
                if await cur.fetchone() is None:
                    return  # the lease expired and another worker took the job over: its result wins
            now = _now()
            if result.new:
                async with conn.cursor() as wcur:
                    await wcur.executemany(
                        "INSERT INTO memories (instance_id, customer_id, level, user_id, memory_id, memory_type, "
                        "content, content_hash, category, confidence, event_date, valid_until, temporal_category, "
                        "source_evidence, entities, subject, attribute, metadata, document_id, conversation_id, "
                        "ingestion_id, created_at, dims, embedding, fts_text) VALUES "
                        "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                        [
                            (
                                *key,
                                mem.memory_id,
                                mem.draft.memory_type,
                                mem.draft.content,
                                mem.content_hash,
                                mem.draft.category,
                                mem.draft.confidence,
                                _aware(mem.draft.event_date),
                                _aware(mem.draft.valid_until),
                                mem.draft.temporal_category,
                                _json(mem.draft.source_evidence),
                                _json(mem.draft.entities),
                                mem.draft.subject,
                                mem.draft.attribute,
                                _json(mem.draft.metadata),
                                result.document_id,
                                result.conversation_id,
                                result.ingestion_id,
                                now,
                                int(np.asarray(mem.vector).size),
                                np.asarray(mem.vector, dtype=np.float32).reshape(-1),
                                mem.fts_text or mem.draft.content,
                            )
                            for mem in result.new
                        ],
                    )
            if result.merged:
                cur = await conn.execute(
                    f"SELECT m.rowid, m.source_evidence FROM memories m WHERE m.instance_id = %s AND {where} "
                    "AND m.rowid = ANY(%s)",
                    [s.instance_id, *wparams, [r for r, _, _ in result.merged]],
                )
                evidence = {int(r[0]): list(r[1]) for r in await cur.fetchall()}
                for rowid, extra, confidence in result.merged:
                    if rowid not in evidence:
                        continue
                    merged = list(dict.fromkeys(evidence[rowid] + extra))
                    await conn.execute(
                        "UPDATE memories m SET source_evidence = %s, confidence = %s, "
                        f"mention_count = m.mention_count + 1, updated_at = %s WHERE m.instance_id = %s AND {where} "
                        "AND m.rowid = %s",
                        [_json(merged), confidence, now, s.instance_id, *wparams, rowid],
                    )
            for rowid, new_id in result.superseded:
                await conn.execute(
                    "UPDATE memories m SET superseded_by = %s, valid_until = COALESCE(m.valid_until, %s), "
                    f"updated_at = %s WHERE m.instance_id = %s AND {where} AND m.rowid = %s",
                    [new_id, now, now, s.instance_id, *wparams, rowid],
                )
            if result.document is not None:
                doc = result.document
                await conn.execute(
                    "INSERT INTO documents (instance_id, customer_id, level, user_id, document_id, document_type, "
                    "content, content_hash, document_created_at, conversation_id, created_at, metadata) "
                    "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
                    "ON CONFLICT (instance_id, customer_id, level, user_id, document_id) DO UPDATE SET "
                    "document_type = EXCLUDED.document_type, content = EXCLUDED.content, "
                    "content_hash = EXCLUDED.content_hash, document_created_at = EXCLUDED.document_created_at, "
                    "conversation_id = EXCLUDED.conversation_id, created_at = EXCLUDED.created_at, "
                    "metadata = EXCLUDED.metadata",
                    (
                        *key,
                        result.document_id,
                        doc.get("document_type", "document"),
                        doc.get("content", ""),
                        doc.get("content_hash", ""),
                        _aware(doc.get("document_created_at")),
                        result.conversation_id,
                        now,
                        _json(doc.get("metadata", {})),
                    ),
                )
            await self._bump(conn, [key], create=True)
            if result.claim is None:
                return  # a direct (operator) write: no job row to complete
            await conn.execute(
                "UPDATE ingestions SET status = %s, completed_at = %s, memory_ids = %s, error_message = %s, "
                "claim = NULL, lease_until = NULL WHERE instance_id = %s AND ingestion_id = %s",
                (
                    result.status,
                    now,
                    _json(result.memory_ids),
                    result.error_message,
                    s.instance_id,
                    result.ingestion_id,
                ),
            )

    async def fail_job(self, ingestion_id: str, error: str, *, final: bool, claim: str | None = None) -> None:
        async with self._tx(None) as conn:
            if final:
                await conn.execute(
                    "UPDATE ingestions SET status = 'failed', completed_at = now(), error_message = %s, claim = NULL, "
                    "lease_until = NULL WHERE ingestion_id = %s AND (claim = %s OR %s::text IS NULL)",
                    (error[:2000], ingestion_id, claim, claim),
                )
            else:
                await conn.execute(
                    "UPDATE ingestions SET status = 'queued', error_message = %s, claim = NULL, lease_until = NULL "
                    "WHERE ingestion_id = %s AND (claim = %s OR %s::text IS NULL)",
                    (error[:2000], ingestion_id, claim, claim),
                )

    async def get_job(self, instance_id: str, ingestion_id: str) -> JobRecord | None:
        async with self._tx(instance_id) as conn:
            cur = await conn.execute(
                f"SELECT {_JOB_COLS} FROM ingestions WHERE instance_id = %s AND ingestion_id = %s",
                (instance_id, ingestion_id),
            )
            row = await cur.fetchone()
        return _job(row) if row else None

    async def count_jobs(self, *, statuses: tuple[str, ...] = ("queued", "processing")) -> int:
        async with self._tx(None) as conn:
            cur = await conn.execute("SELECT count(*) FROM ingestions WHERE status = ANY(%s)", (list(statuses),))
            row = await cur.fetchone()
        return int(row[0]) if row else 0
