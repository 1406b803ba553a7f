"""Plain helpers of the storage conformance suite: a deterministic extractor and shortcuts to write memories.

``SentenceExtractor`` is a real implementation of the Extractor protocol (not a mock): one draft per sentence, with
a memory type chosen by keywords, a ``(subject, attribute)`` slot for "<Name> lives in <Place>" sentences (so
supersession is exercised), and the document's metadata copied onto every draft.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from typing import Any

from tenantry.pipeline.base import DocumentInput
from tenantry.pipeline.base import MemoryDraft
from tenantry.pipeline.base import MemoryType
from tenantry.pipeline.embedders.hashing import HashingEmbedder
from tenantry.pipeline.ingest import content_hash
from tenantry.scope import Scope
from tenantry.scope import ScopeLevel
from tenantry.store import migrations
from tenantry.store.base import AsyncStore
from tenantry.store.base import JobRecord
from tenantry.store.base import NewMemory
from tenantry.store.base import ProcessedJob

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_LIVES = re.compile(r"^(?P<who>[A-Z][a-z]+) lives in (?P<where>[A-Z][a-z]+)")
EMBEDDER = HashingEmbedder(64)


def U(inst: str, cust: str, user: str) -> Scope:
    return Scope(inst, ScopeLevel.USER, cust, user)


def C(inst: str, cust: str) -> Scope:
    return Scope(inst, ScopeLevel.CUSTOMER, cust)


def CL(inst: str) -> Scope:
    return Scope(inst, ScopeLevel.CLIENT)


def sentence_type(text: str) -> MemoryType:
    low = text.lower()
    if any(w in low for w in ("prefers", "likes", "loves")):
        return "preference"
    if any(w in low for w in ("felt", "feels", "angry", "happy")):
        return "emotion"
    return "fact"


class SentenceExtractor:
    """One memory per sentence; deterministic."""

    name = "sentences"

    def extract(self, document: DocumentInput) -> list[MemoryDraft]:
        drafts: list[MemoryDraft] = []
        for seg in document.segments:
            for sentence in _SENTENCE.split(seg.text.strip()):
                sentence = sentence.strip()
                if not sentence:
                    continue
                m = _LIVES.match(sentence)
                drafts.append(
                    MemoryDraft(
                        sentence_type(sentence),
                        sentence,
                        confidence=0.8,
                        source_evidence=[seg.id],
                        subject=m.group("who") if m else None,
                        attribute="lives_in" if m else None,
                        metadata=dict(document.metadata),
                    )
                )
        return drafts


def new_memory(
    text: str,
    *,
    memory_type: MemoryType | None = None,
    metadata: dict[str, Any] | None = None,
    valid_until: datetime | None = None,
    subject: str | None = None,
    attribute: str | None = None,
) -> NewMemory:
    draft = MemoryDraft(
        memory_type or sentence_type(text),
        text,
        confidence=0.7,
        source_evidence=["s1"],
        valid_until=valid_until,
        subject=subject,
        attribute=attribute,
        metadata=metadata or {},
    )
    return NewMemory(str(uuid.uuid4()), draft, EMBEDDER.embed([text])[0], content_hash(text))


def job_for(scope: Scope, document_id: str | None = None, *, payload: dict[str, Any] | None = None) -> JobRecord:
    return JobRecord(
        ingestion_id=str(uuid.uuid4()),
        instance_id=scope.instance_id,
        scope=scope,
        document_id=document_id or str(uuid.uuid4()),
        kind="memory",
        status="queued",
        payload=payload or {"document": "x"},
        attempts=0,
        queued_at=datetime.now(UTC),
    )


async def write(store: AsyncStore, batches: Sequence[tuple[Scope, Sequence[NewMemory]]]) -> list[JobRecord]:
    """Store each batch of memories through the real queue path: enqueue, claim, complete (one job per batch)."""
    jobs = [job_for(scope) for scope, _ in batches]
    for job in jobs:
        await store.enqueue(job, content_hash=job.document_id)
    claimed = {j.ingestion_id: j for j in await store.claim_jobs("t", limit=10_000, lease_seconds=60)}
    for job, (scope, mems) in zip(jobs, batches, strict=True):
        c = claimed[job.ingestion_id]
        await store.complete_job(ProcessedJob(c.ingestion_id, c.claim, scope, c.document_id, None, list(mems), [], []))
    return jobs


# Triggers that make every insert into audit_log fail (a real database error, not a patch of our code).
AUDIT_OFF = {
    "sqlite": [
        "CREATE TRIGGER audit_off BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is read-only'); END"
    ],
    # A constraint no new row meets (Citus has no triggers on distributed tables; it propagates constraints).
    "postgres": ["ALTER TABLE audit_log ADD CONSTRAINT audit_off CHECK (false) NOT VALID"],
}
AUDIT_ON = {"sqlite": ["DROP TRIGGER audit_off"], "postgres": ["ALTER TABLE audit_log DROP CONSTRAINT audit_off"]}


def dialect_of(dsn: str) -> str:
    return "sqlite" if dsn.startswith("sqlite:") else "postgres"


async def run_sql(dsn: str, statements: Sequence[str]) -> None:
    """Run DDL on the store's database over a connection of its own, as the DSN's role (the schema owner)."""
    if dialect_of(dsn) == "sqlite":
        with contextlib.closing(sqlite3.connect(dsn.removeprefix("sqlite:///"))) as conn:
            for statement in statements:
                conn.execute(statement)
            conn.commit()
        return
    import psycopg

    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as pg:
        for statement in statements:
            await pg.execute(statement.encode())


async def audit_actions(dsn: str, instance_id: str) -> list[str]:
    """The actions of ``instance_id``'s audit rows, oldest first, read over a connection of the test's own."""
    return [action for action, _ in await audit_rows(dsn, instance_id)]


async def audit_rows(dsn: str, instance_id: str) -> list[tuple[str, str]]:
    """(action, detail as JSON text) of ``instance_id``'s audit rows, oldest first, over a connection of the
    test's own."""
    query = "SELECT action, CAST(detail AS TEXT) FROM audit_log WHERE instance_id = {p} ORDER BY id"
    if dialect_of(dsn) == "sqlite":
        with contextlib.closing(sqlite3.connect(dsn.removeprefix("sqlite:///"))) as conn:
            return [(r[0], r[1]) for r in conn.execute(query.format(p="?"), (instance_id,))]
    import psycopg

    async with await psycopg.AsyncConnection.connect(dsn) as pg, pg.transaction():
        # Row-level security is forced on the owner too: read as the app role bound to the instance.
        from tenantry.store._pg_base import PROPAGATE
        from tenantry.store._pg_base import bind
        from tenantry.store._pg_base import run_settings

        await run_settings(pg, [PROPAGATE, *bind(migrations.POSTGRES_APP_ROLE, instance_id)])
        cur = await pg.execute(query.format(p="%s"), (instance_id,))
        return [(r[0], r[1]) for r in await cur.fetchall()]


async def unmatched_jobs(conn: Any) -> int:
    """Jobs whose recorded memory ids are not exactly the memories stored for their document, on a PostgreSQL
    transaction of the jobs' instance. Compared here rather than joined in SQL: on Citus the queue is a local table
    of the coordinator, which Citus does not join with the distributed ``memories``."""
    cur = await conn.execute("SELECT document_id, memory_ids FROM ingestions")
    recorded = {str(d): sorted(ids) for d, ids in await cur.fetchall()}
    stored: dict[str, list[str]] = {}
    cur = await conn.execute("SELECT document_id, memory_id FROM memories")
    for doc, memory_id in await cur.fetchall():
        stored.setdefault(str(doc), []).append(str(memory_id))
    return sum(1 for doc, ids in recorded.items() if sorted(stored.get(doc, [])) != ids)


def fresh_database(request: Any, server: Any, **options: Any) -> str:
    """A new database of ``server`` (``options`` as its ``create_database`` takes them: migrated from a template by
    default, ~0.1 s; on Citus created on every node and distributed, ~2 s), dropped after the test."""
    dsn: str = server.create_database(**options)
    request.addfinalizer(lambda: server.drop_database(dsn.rsplit("/", 1)[1].split("?", 1)[0]))
    return dsn
