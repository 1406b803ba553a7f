"""PostgreSQL backend: psycopg 3 (async) + psycopg_pool + pgvector; the same semantics as ``sqlite.py``.

Design (details and the Citus plan in ``docs/postgres.md``):

* **Vectors**: one untyped ``vector`` column plus ``dims``; the dimension is the instance's (known only when its
  first memory is stored), so one schema serves instances with different embedders. Search is exact inside the
  chain's partitions (``ORDER BY embedding <#> q``, negative inner product: embeddings are L2-normalised by the
  Embedder contract, so this is cosine similarity and equals the SQLite backend's dot product, without NaN for a
  zero vector); the btree ``(instance_id, customer_id, level, user_id, ...)`` prunes to the tenant first.
* **Lexical**: ``fts`` = generated ``to_tsvector('english', fts_text)`` + GIN; an OR query of ``fts_terms``,
  ranked with ``ts_rank_cd``.
* **Tenancy**: every memory query is built by ``_sql.scope_filter(dialect="postgres")`` plus an explicit
  ``instance_id`` predicate (routes the query to one shard on Citus). Row-level security is the second guard:
  each transaction runs ``SET LOCAL ROLE memstrata_app`` and ``set_config('memstrata.instance_id', <id>, true)``;
  the policies show that role only the rows of that instance (and WORLD for reads). Admin paths (instances, keys,
  queue claiming across instances) run as ``memstrata_admin``, which cannot read memories.
* **Queue**: ``FOR UPDATE SKIP LOCKED`` claiming with a lease (database clock) and a claim token; completion checks
  the token under a row lock and writes everything in one transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
from psycopg import AsyncConnection, sql
from psycopg.rows import DictRow, dict_row
from psycopg.types import TypeInfo
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ..errors import ConfigurationError, ConflictError, StoreUnavailableError
from ..pipeline.base import Vectors
from ..scope import ReadChain, Relationship, Scope, ScopeLevel
from . import migrations
from ._sql import dumps, fts_terms, parse_ts, scope_filter, search_filter
from .base import (
    AsyncStore,
    ConversationRecord,
    InstanceRecord,
    JobRecord,
    KeyRecord,
    MemoryRecord,
    MessageRecord,
    NewMemory,
    ProcessedJob,
    SearchFilters,
)

__all__ = ["PostgresStore", "apply_migrations", "migration_status"]

log = logging.getLogger("memstrata")
Conn = AsyncConnection[tuple[Any, ...]]
_MIGRATION_LOCK = 0x6D656D73  # "mems": pg_advisory_xact_lock key serialising migrations
_MEMORY_COLS = (
    "m.rowid, m.memory_id, m.instance_id, m.customer_id, m.level, m.user_id, m.memory_type, m.content, m.category, "
    "m.confidence, m.event_date, m.valid_until, m.temporal_category, m.source_evidence, m.entities, m.subject, "
    "m.attribute, m.metadata, m.document_id, m.conversation_id, m.created_at, m.updated_at, m.superseded_by, "
    "m.mention_count"
)
_JOB_COLS = (
    "ingestion_id, instance_id, customer_id, level, user_id, document_id, kind, status, payload, attempts, "
    "queued_at, started_at, completed_at, memory_ids, error_message, claim"
)
_MIN_SERVER = 140000
# For a search through a partition's HNSW index (transaction-local): the planner's cost model for HNSW is
# pessimistic next to a bitmap scan + top-N sort of the same rows, so the sort is switched off (the exact path needs
# one; the index returns rows in order); a custom plan (parameter values known) lets it match the partial index.
_HNSW_SETTINGS = (
    "SELECT set_config('hnsw.ef_search', %s, true), set_config('hnsw.iterative_scan', 'relaxed_order', true), "
    "set_config('plan_cache_mode', 'force_custom_plan', true), set_config('enable_sort', 'off', true)"
)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | str | None) -> datetime | None:
    dt = parse_ts(value)
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _json(value: Any) -> Jsonb:
    return Jsonb(value, dumps=dumps)


def _scope_of(row: Sequence[Any], offset: int = 0) -> Scope:
    return Scope(row[offset], ScopeLevel(row[offset + 2]), row[offset + 1], row[offset + 3])


def _memory(row: Sequence[Any]) -> MemoryRecord:
    return MemoryRecord(
        rowid=int(row[0]),
        memory_id=row[1],
        scope=_scope_of(row, 2),
        memory_type=row[6],
        content=row[7],
        category=row[8],
        confidence=float(row[9]),
        event_date=row[10],
        valid_until=row[11],
        temporal_category=row[12],
        source_evidence=list(row[13]),
        entities=list(row[14]),
        subject=row[15],
        attribute=row[16],
        metadata=dict(row[17]),
        document_id=row[18],
        conversation_id=row[19],
        created_at=row[20],
        updated_at=row[21],
        superseded_by=row[22],
        mention_count=int(row[23]),
    )


def _job(row: Sequence[Any]) -> JobRecord:
    return JobRecord(
        ingestion_id=row[0],
        instance_id=row[1],
        scope=Scope(row[1], ScopeLevel(row[3]), row[2], row[4]),
        document_id=row[5],
        kind=row[6],
        status=row[7],
        payload=dict(row[8]),
        attempts=int(row[9]),
        queued_at=row[10],
        started_at=row[11],
        completed_at=row[12],
        memory_ids=list(row[13]),
        error_message=row[14],
        claim=row[15],
    )


def _instance(row: DictRow) -> InstanceRecord:
    return InstanceRecord(
        instance_id=row["instance_id"],
        name=row["name"],
        relationship=Relationship(row["relationship"]),
        client_id=row["client_id"],
        created_at=row["created_at"],
        archived=bool(row["archived"]),
        embedder=row["embedder"],
        dimensions=row["dimensions"],
    )


def _key(row: DictRow) -> KeyRecord:
    return KeyRecord(
        key_id=row["key_id"],
        instance_id=row["instance_id"],
        name=row["name"],
        prefix=row["prefix"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )


def _route(chain: ReadChain) -> tuple[str, list[Any]]:
    """Explicit top-level instance predicate: lets the planner (and Citus) prune to the chain's instance(s)."""
    ids = sorted({chain.instance_id, *(s.instance_id for s in chain.scopes)})
    if len(ids) == 1:
        return "m.instance_id = %s", ids
    return "m.instance_id = ANY(%s)", [ids]


def _scope_key(s: Scope) -> tuple[str, str, str, str]:
    return (s.instance_id, s.customer_id, s.level.value, s.user_id)


@dataclass(slots=True)
class _Cached:
    version: int
    rowids: list[int]
    matrix: Vectors


async def apply_migrations(conn: Conn) -> list[int]:
    """Apply the pending ``migrations.POSTGRES`` entries on ``conn`` (autocommit); returns the versions applied.

    Each version runs in its own transaction under an advisory lock, so concurrent processes migrate once.
    """
    applied: list[int] = []
    for version, ddl in migrations.POSTGRES:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur = await conn.execute("SELECT 1 FROM schema_migrations WHERE version = %s", (version,))
            if await cur.fetchone() is not None:
                continue
            await conn.execute(ddl.encode())  # no params: sent with the simple query protocol (many statements)
            await conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied.append(version)
    return applied


async def migration_status(conn: Conn) -> tuple[list[int], list[int]]:
    """(applied, pending) migration versions of the database behind ``conn``."""
    cur = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
    row = await cur.fetchone()
    done: set[int] = set()
    if row and row[0]:
        cur = await conn.execute("SELECT version FROM schema_migrations")
        done = {int(r[0]) for r in await cur.fetchall()}
    return sorted(done), [v for v, _ in migrations.POSTGRES if v not in done]


class PostgresStore(AsyncStore):
    """Storage on PostgreSQL ≥ 14 with pgvector. ``dsn`` is a libpq URL or ``key=value`` string.

    Args:
        dsn: connection string; its role owns the schema (runs the migrations) and must be able to ``SET ROLE``
            to ``memstrata_app`` and ``memstrata_admin`` (granted by the first migration when it creates them).
        min_size: connections the pool keeps open.
        max_size: upper bound of the pool.
        cache_bytes: budget of the per-scope vector cache used by ingestion reconciliation.
    """

    app_role = migrations.POSTGRES_APP_ROLE
    admin_role = migrations.POSTGRES_ADMIN_ROLE

    def __init__(
        self, dsn: str, *, min_size: int = 1, max_size: int = 10, cache_bytes: int = 256 * 1024 * 1024
    ) -> None:
        self.dsn = dsn
        self._min_size = min_size
        self._max_size = max_size
        self._pool: AsyncConnectionPool[Conn] | None = None
        self._vector_info: TypeInfo | None = None
        self._cache: OrderedDict[tuple[str, str, str, str], _Cached] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._cache_bytes = cache_bytes
        self._cache_used = 0
        self._audit_buf: list[tuple[str, datetime, str, dict[str, Any]]] = []
        self._audit_task: asyncio.Task[None] | None = None
        self._audit_flushing = False
        self._index_cache: dict[str, tuple[float, set[tuple[str, str, str, str, int]]]] = {}

    # -- plumbing -------------------------------------------------------------------------------------------------
    async def open(self) -> None:
        if self._pool is not None:
            return
        try:
            conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
        except psycopg.OperationalError as exc:
            raise StoreUnavailableError(f"postgres: cannot connect: {exc}".strip()) from exc
        try:
            await self._check_server(conn)
            try:
                await apply_migrations(conn)
            except psycopg.errors.InsufficientPrivilege as exc:
                raise ConfigurationError(
                    f"postgres: the migration needs a privilege this role lacks ({exc}). Run `memstrata db check` "
                    "for what is missing; a superuser can run `memstrata db upgrade` once."
                ) from exc
            except (psycopg.errors.UndefinedFile, psycopg.errors.FeatureNotSupported) as exc:
                raise ConfigurationError(
                    f"postgres: the pgvector extension is not installed on the server: {exc}"
                ) from exc
            await self._check_roles(conn)
            self._vector_info = await TypeInfo.fetch(conn, "vector")
        finally:
            await conn.close()
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            self.dsn,
            min_size=self._min_size,
            max_size=self._max_size,
            kwargs={"autocommit": True},
            configure=self._configure,
            open=False,
            name="memstrata",
        )
        try:
            await pool.open(wait=True, timeout=30.0)
        except PoolTimeout as exc:
            await pool.close()
            raise StoreUnavailableError(f"postgres: the connection pool could not connect: {exc}") from exc
        self._pool = pool

    async def _check_server(self, conn: Conn) -> None:
        cur = await conn.execute("SELECT current_setting('server_version_num')::int")
        row = await cur.fetchone()
        if row is None or int(row[0]) < _MIN_SERVER:
            raise ConfigurationError(f"postgres: server version {row[0] if row else '?'} is too old; need ≥ 14")

    async def _check_roles(self, conn: Conn) -> None:
        for role in (self.app_role, self.admin_role):
            try:
                async with conn.transaction():
                    await conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
            except psycopg.Error as exc:
                raise ConfigurationError(
                    f"postgres: this login role cannot SET ROLE {role} ({exc}). As a superuser run: "
                    f"GRANT {role} TO <login role> WITH INHERIT FALSE, SET TRUE;"
                ) from exc

    async def _configure(self, conn: Conn) -> None:
        from pgvector.psycopg.vector import register_vector_info

        register_vector_info(conn, self._vector_info)
        await conn.execute("SET TIME ZONE 'UTC'")

    async def close(self) -> None:
        task = self._audit_task
        if task is not None and not task.done():
            if not self._audit_flushing:
                task.cancel()
            await asyncio.wait([task])
        if self._pool is not None:
            try:
                await self.flush_audit()
            except StoreUnavailableError:  # pragma: no cover - closing a store whose server went away
                pass
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
        with self._cache_lock:
            self._cache.clear()
            self._cache_used = 0

    @asynccontextmanager
    async def _tx(self, instance_id: str | None) -> AsyncIterator[Conn]:
        """One transaction as ``memstrata_app`` bound to ``instance_id``, or as ``memstrata_admin`` when ``None``."""
        if self._pool is None:
            raise StoreUnavailableError("the store is closed")
        try:
            async with self._pool.connection() as conn, conn.transaction():
                if instance_id is None:
                    await conn.execute("SELECT set_config('role', %s, true)", (self.admin_role,))
                else:
                    await conn.execute(
                        "SELECT set_config('role', %s, true), set_config('memstrata.instance_id', %s, true)",
                        (self.app_role, instance_id),
                    )
                yield conn
        except psycopg.errors.IntegrityError as exc:
            raise ConflictError(f"postgres integrity error: {exc.diag.message_primary or exc}") from exc
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StoreUnavailableError(f"postgres: {exc}") from exc

    # -- instances and keys (admin role) ------------------------------------------------------------------------------
    async def create_instance(self, name: str, relationship: Relationship) -> InstanceRecord:
        rec = InstanceRecord(
            instance_id=f"inst_{uuid.uuid4().hex[:16]}",
            name=name,
            relationship=relationship,
            client_id=f"cli_{hashlib.sha256(name.encode()).hexdigest()[:16]}",
            created_at=_now(),
        )
        try:
            async with self._tx(None) as conn:
                await conn.execute(
                    "INSERT INTO instances (instance_id, name, relationship, client_id, created_at) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (rec.instance_id, name, relationship.value, rec.client_id, rec.created_at),
                )
        except ConflictError as exc:
            raise ConflictError(f"an instance named {name!r} already exists", code="instance_exists") from exc
        return rec

    async def get_instance(self, ref: str) -> InstanceRecord | None:
        async with self._tx(None) as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT * FROM instances WHERE instance_id = %s OR name = %s ORDER BY (instance_id = %s) DESC LIMIT 1",
                (ref, ref, ref),
            )
            row = await cur.fetchone()
        return _instance(row) if row else None

    async def list_instances(self, *, include_archived: bool = False) -> list[InstanceRecord]:
        q = "SELECT * FROM instances" + ("" if include_archived else " WHERE NOT archived") + " ORDER BY created_at"
        async with self._tx(None) as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(q)
            rows = await cur.fetchall()
        return [_instance(r) for r in rows]

    async def archive_instance(self, instance_id: str) -> None:
        async with self._tx(None) as conn:
            await conn.execute("UPDATE instances SET archived = true WHERE instance_id = %s", (instance_id,))

    async def set_instance_embedder(self, instance_id: str, embedder: str, dimensions: int) -> None:
        async with self._tx(None) as conn:
            await conn.execute(
                "UPDATE instances SET embedder = %s, dimensions = %s WHERE instance_id = %s",
                (embedder, dimensions, instance_id),
            )

    async def create_key(self, instance_id: str, name: str, key_hash: str, prefix: str) -> KeyRecord:
        rec = KeyRecord(f"key_{uuid.uuid4().hex[:16]}", instance_id, name, prefix, _now())
        async with self._tx(None) as conn:
            await conn.execute(
                "INSERT INTO api_keys (key_id, instance_id, name, key_hash, prefix, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (rec.key_id, instance_id, name, key_hash, prefix, rec.created_at),
            )
        return rec

    async def find_key(self, key_hash: str) -> tuple[KeyRecord, InstanceRecord] | None:
        async with self._tx(None) as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute("SELECT * FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL", (key_hash,))
            key = await cur.fetchone()
            if key is None:
                return None
            await cur.execute("SELECT * FROM instances WHERE instance_id = %s", (key["instance_id"],))
            inst = await cur.fetchone()
        return (_key(key), _instance(inst)) if inst else None

    async def list_keys(self, instance_id: str) -> list[KeyRecord]:
        async with self._tx(None) as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute("SELECT * FROM api_keys WHERE instance_id = %s ORDER BY created_at", (instance_id,))
            rows = await cur.fetchall()
        return [_key(r) for r in rows]

    async def revoke_key(self, key_id: str) -> bool:
        async with self._tx(None) as conn:
            cur = await conn.execute(
                "UPDATE api_keys SET revoked_at = %s WHERE key_id = %s AND revoked_at IS NULL RETURNING 1",
                (_now(), key_id),
            )
            return len(await cur.fetchall()) == 1

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

    @staticmethod
    async def _bump(conn: Conn, keys: Sequence[tuple[str, str, str, str]], *, create: bool = False) -> None:
        """Increment the version of each scope (creating it with ``create``), in a fixed order (no deadlock)."""
        for k in sorted(set(keys)):
            if create:
                await conn.execute(
                    "INSERT INTO scopes (instance_id, customer_id, level, user_id, version) VALUES (%s,%s,%s,%s,1) "
                    "ON CONFLICT (instance_id, customer_id, level, user_id) DO UPDATE SET version = scopes.version + 1",
                    k,
                )
            else:
                await conn.execute(
                    "UPDATE scopes SET version = version + 1 WHERE instance_id = %s AND customer_id = %s "
                    "AND level = %s AND user_id = %s",
                    k,
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

    # -- memories -------------------------------------------------------------------------------------------------
    async def scope_vectors(self, scope: Scope) -> tuple[list[int], Vectors]:
        key = _scope_key(scope)
        where, params = scope_filter(ReadChain.single(scope), dialect="postgres")
        async with self._tx(scope.instance_id) as conn:
            # Version first: a concurrent commit between the two reads can only make the cache look older.
            cur = await conn.execute(
                "SELECT version FROM scopes "
                "WHERE instance_id = %s AND customer_id = %s AND level = %s AND user_id = %s",
                key,
            )
            row = await cur.fetchone()
            if row is None:
                return [], np.zeros((0, 1), dtype=np.float32)
            version = int(row[0])
            with self._cache_lock:
                hit = self._cache.get(key)
                if hit is not None and hit.version == version:
                    self._cache.move_to_end(key)
                    return list(hit.rowids), hit.matrix
            bcur = conn.cursor(binary=True)
            await bcur.execute(
                f"SELECT m.rowid, m.embedding FROM memories m WHERE m.instance_id = %s AND {where} "
                "AND m.superseded_by IS NULL ORDER BY m.rowid",
                [scope.instance_id, *params],
            )
            rows = await bcur.fetchall()
        rowids = [int(r[0]) for r in rows]
        if rows:
            matrix = np.stack([r[1].to_numpy() for r in rows]).astype(np.float32, copy=False)
        else:
            matrix = np.zeros((0, 1), dtype=np.float32)
        with self._cache_lock:
            old = self._cache.pop(key, None)
            if old is not None:
                self._cache_used -= old.matrix.nbytes
            self._cache[key] = _Cached(version, rowids, matrix)
            self._cache_used += matrix.nbytes
            while self._cache_used > self._cache_bytes and len(self._cache) > 1:
                _, evicted = self._cache.popitem(last=False)
                self._cache_used -= evicted.matrix.nbytes
        return list(rowids), matrix

    async def scope_memories_by_rowid(self, scope: Scope, rowids: list[int]) -> list[MemoryRecord]:
        found = await self.get_memories(ReadChain.single(scope), rowids)
        return [found[r] for r in rowids if r in found]

    async def find_by_attribute(self, scope: Scope, subject: str | None, attribute: str) -> list[MemoryRecord]:
        where, params = scope_filter(ReadChain.single(scope), dialect="postgres")
        async with self._tx(scope.instance_id) as conn:
            cur = await conn.execute(
                f"SELECT {_MEMORY_COLS} FROM memories m WHERE m.instance_id = %s AND {where} AND m.attribute = %s "
                "AND m.superseded_by IS NULL AND m.subject IS NOT DISTINCT FROM %s ORDER BY m.rowid",
                [scope.instance_id, *params, attribute, subject],
            )
            rows = await cur.fetchall()
        return [_memory(r) for r in rows]

    async def search_lexical(
        self, chain: ReadChain, query: str, *, limit: int, filters: SearchFilters
    ) -> list[tuple[int, float]]:
        terms = fts_terms(query)
        if not terms:
            return []
        route, rparams = _route(chain)
        where, params = scope_filter(chain, dialect="postgres")
        extra, extra_params = search_filter(filters, dialect="postgres")
        async with self._tx(chain.instance_id) as conn:
            cur = await conn.execute(
                "SELECT m.rowid, ts_rank_cd(m.fts, q.q) AS r FROM memories m, to_tsquery('english', %s) AS q(q) "
                f"WHERE {route} AND {where} AND m.fts @@ q.q{extra} ORDER BY r DESC, m.rowid LIMIT %s",
                [" | ".join(terms), *rparams, *params, *extra_params, limit],
            )
            rows = await cur.fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    async def search_vector(
        self, chain: ReadChain, vector: Vectors, *, limit: int, filters: SearchFilters
    ) -> list[tuple[int, float]]:
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        dims = int(q.size)
        # Same semantics as the SQLite backend: live (not superseded, valid at as_of/now) rows of the chain, of the
        # query's dimension; the other filters only when one of them is set.
        conds = ["m.superseded_by IS NULL", "(m.valid_until IS NULL OR m.valid_until > %s)", "m.dims = %s::integer"]
        cparams: list[Any] = [_aware(filters.as_of) or _now(), dims]
        if filters.types:
            conds.append("m.memory_type = ANY(%s)")
            cparams.append(list(filters.types))
        extra, extra_params = "", list[Any]()
        if filters.metadata or filters.conversation_id or filters.include_superseded or filters.as_of is not None:
            extra, extra_params = search_filter(filters, dialect="postgres")
        live = " AND ".join(conds) + extra
        live_params = [*cparams, *extra_params]
        indexed: list[Scope] = []
        if not chain.whole_instance:
            known = await self._indexed_partitions(chain.instance_id)
            indexed = [s for s in chain.scopes if (*_scope_key(s), dims) in known]
        exact_scopes = tuple(s for s in chain.scopes if s not in indexed)
        out: list[tuple[int, float]] = []
        async with self._tx(chain.instance_id) as conn:
            if exact_scopes or chain.whole_instance:
                sub = chain if chain.whole_instance else ReadChain(chain.instance_id, exact_scopes)
                route, rparams = _route(sub)
                where, params = scope_filter(sub, dialect="postgres")
                cur = await conn.execute(
                    "SELECT m.rowid, -(m.embedding <#> %s) AS s FROM memories m "
                    f"WHERE {route} AND {where} AND {live} ORDER BY s DESC, m.rowid LIMIT %s",
                    [q, *rparams, *params, *live_params, limit],
                )
                out.extend((int(r[0]), float(r[1])) for r in await cur.fetchall())
            for scope in indexed:
                out.extend(await self._hnsw(conn, scope, q, limit=limit, live=live, live_params=live_params))
        out.sort(key=lambda r: (-r[1], r[0]))
        return out[:limit]

    # -- large partitions: partial HNSW indexes -------------------------------------------------------------------
    async def _indexed_partitions(self, instance_id: str) -> set[tuple[str, str, str, str, int]]:
        """(scope key..., dims) of the instance's partitions that have an HNSW index; cached for 30 s."""
        now = time.monotonic()
        hit = self._index_cache.get(instance_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self._tx(instance_id) as conn:
            cur = await conn.execute(
                "SELECT instance_id, customer_id, level, user_id, dims FROM vector_indexes WHERE instance_id = %s",
                (instance_id,),
            )
            found = {(r[0], r[1], r[2], r[3], int(r[4])) for r in await cur.fetchall()}
        self._index_cache[instance_id] = (now + 30.0, found)
        return found

    @staticmethod
    async def _hnsw(
        conn: Conn, scope: Scope, q: Vectors, *, limit: int, live: str, live_params: list[Any], ef_search: int = 0
    ) -> list[tuple[int, float]]:
        """Top ``limit`` of one indexed partition through its HNSW index (iterative scan keeps filtered recall)."""
        dims = int(q.size)
        ef = ef_search or max(100, 2 * limit)
        where, params = scope_filter(ReadChain.single(scope), dialect="postgres")
        await conn.execute(_HNSW_SETTINGS, (str(ef),))
        cur = await conn.execute(
            f"SELECT m.rowid, -(m.embedding::vector({dims}) <#> %s::vector({dims})) FROM memories m "
            f"WHERE m.instance_id = %s AND {where} AND {live} "
            f"ORDER BY m.embedding::vector({dims}) <#> %s::vector({dims}) LIMIT %s",
            [q, scope.instance_id, *params, *live_params, q, limit],
        )
        return [(int(r[0]), float(r[1])) for r in await cur.fetchall()]

    async def search_partition_hnsw(
        self, scope: Scope, vector: Vectors, *, limit: int, ef_search: int = 0
    ) -> list[tuple[int, float]]:
        """HNSW search of one indexed partition (live rows, no other filter); for benchmarks and diagnostics."""
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        async with self._tx(scope.instance_id) as conn:
            return await self._hnsw(
                conn,
                scope,
                q,
                limit=limit,
                ef_search=ef_search,
                live="m.superseded_by IS NULL AND m.dims = %s::integer",
                live_params=[int(q.size)],
            )

    async def partition_plan_uses_index(self, scope: Scope, vector: Vectors) -> bool:
        """Whether the planner answers this partition's vector search with an HNSW index (EXPLAIN, no ANALYZE)."""
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        dims = int(q.size)
        where, params = scope_filter(ReadChain.single(scope), dialect="postgres")
        async with self._tx(scope.instance_id) as conn:
            await conn.execute(_HNSW_SETTINGS, ("100",))
            cur = await conn.execute(
                f"EXPLAIN SELECT m.rowid FROM memories m WHERE m.instance_id = %s AND {where} "
                f"AND m.superseded_by IS NULL AND m.dims = %s::integer "
                f"ORDER BY m.embedding::vector({dims}) <#> %s::vector({dims}) LIMIT 10",
                [scope.instance_id, *params, dims, q],
            )
            plan = "\n".join(str(r[0]) for r in await cur.fetchall())
        return "memories_hnsw_" in plan

    async def partition_sizes(self, instance_id: str) -> list[tuple[Scope, int]]:
        """Rows per scope of one instance (no content), largest first."""
        async with self._tx(instance_id) as conn:
            cur = await conn.execute(
                "SELECT customer_id, level, user_id, count(*) FROM memories WHERE instance_id = %s "
                "GROUP BY customer_id, level, user_id ORDER BY count(*) DESC",
                (instance_id,),
            )
            rows = await cur.fetchall()
        return [(Scope(instance_id, ScopeLevel(r[1]), r[0], r[2]), int(r[3])) for r in rows]

    async def create_partition_index(
        self, scope: Scope, *, dims: int, m: int = 16, ef_construction: int = 64, concurrently: bool = True
    ) -> float:
        """Give one partition (a scope of an instance) its own partial HNSW index; returns the build seconds.

        Runs as the login role (the table owner: only the owner may create indexes); ``CONCURRENTLY`` by default
        so writes continue. ``search_vector`` uses the index (within 30 s) for chains that include the scope.
        """
        if self._pool is None:
            raise StoreUnavailableError("the store is closed")
        key = _scope_key(scope)
        name = "memories_hnsw_" + hashlib.sha1("|".join([*key, str(dims)]).encode()).hexdigest()[:20]
        # Written as the search query states it (the columns ``scope_filter`` constrains for this level, then
        # ``dims = <int4>``), so the planner can prove that the query implies the predicate.
        cols = (
            ("instance_id", "customer_id", "level", "user_id")
            if scope.level is ScopeLevel.USER
            else ("instance_id", "customer_id", "level")
        )
        predicate = sql.SQL(" AND ").join(
            [
                *(
                    sql.SQL("{} = {}").format(sql.Identifier(col), sql.Literal(val))
                    for col, val in zip(cols, key, strict=False)
                ),
                sql.SQL("dims = {}::integer").format(sql.SQL(str(int(dims)))),
            ]
        )
        ddl = sql.SQL(
            "CREATE INDEX {conc} IF NOT EXISTS {name} ON memories USING hnsw ((embedding::vector({dims})) "
            "vector_ip_ops) WITH (m = {m}, ef_construction = {efc}) WHERE {pred}"
        ).format(
            conc=sql.SQL("CONCURRENTLY" if concurrently else ""),
            name=sql.Identifier(name),
            dims=sql.SQL(str(int(dims))),
            m=sql.Literal(m),
            efc=sql.Literal(ef_construction),
            pred=predicate,
        )
        t = time.perf_counter()
        async with self._pool.connection() as conn:
            await conn.execute("SET maintenance_work_mem = '1GB'")
            try:
                await conn.execute(ddl)
            finally:
                await conn.execute("RESET maintenance_work_mem")
        seconds = time.perf_counter() - t
        rows = next((n for s, n in await self.partition_sizes(scope.instance_id) if s == scope), 0)
        async with self._tx(None) as conn:
            await conn.execute(
                "INSERT INTO vector_indexes (instance_id, customer_id, level, user_id, dims, index_name, "
                "rows_at_build) VALUES (%s,%s,%s,%s,%s,%s,%s) "
                "ON CONFLICT (instance_id, customer_id, level, user_id, dims) "
                "DO UPDATE SET index_name = EXCLUDED.index_name, rows_at_build = EXCLUDED.rows_at_build",
                (*key, dims, name, rows),
            )
        self._index_cache.pop(scope.instance_id, None)
        return seconds

    async def index_large_partitions(self, *, min_rows: int, dims: int | None = None) -> list[tuple[Scope, int, float]]:
        """Create a partial HNSW index for every partition of every instance with at least ``min_rows`` rows that
        has none yet; returns (scope, rows, build seconds)."""
        done: list[tuple[Scope, int, float]] = []
        for inst in await self.list_instances(include_archived=False):
            d = dims or inst.dimensions
            if not d:
                continue
            have = await self._indexed_partitions(inst.instance_id)
            for scope, n in await self.partition_sizes(inst.instance_id):
                if n < min_rows:
                    break
                if (*_scope_key(scope), d) not in have:
                    done.append((scope, n, await self.create_partition_index(scope, dims=d)))
        return done

    async def analyze(self) -> None:
        """Refresh planner statistics of the big tables (after bulk loads)."""
        if self._pool is None:
            raise StoreUnavailableError("the store is closed")
        async with self._pool.connection() as conn:
            await conn.execute("ANALYZE memories")
            await conn.execute("ANALYZE scopes")

    async def server_info(self) -> dict[str, str]:
        """Server and pgvector versions and the memory settings that matter for search."""
        async with self._tx(None) as conn:
            cur = await conn.execute(
                "SELECT current_setting('server_version'), (SELECT extversion FROM pg_extension "
                "WHERE extname = 'vector'), current_setting('shared_buffers'), current_setting('work_mem'), "
                "current_setting('max_parallel_workers_per_gather')"
            )
            row = await cur.fetchone()
        assert row is not None
        keys = ("server_version", "pgvector", "shared_buffers", "work_mem", "max_parallel_workers_per_gather")
        return dict(zip(keys, (str(v) for v in row), strict=True))

    async def get_memories(self, chain: ReadChain, rowids: list[int]) -> dict[int, MemoryRecord]:
        if not rowids:
            return {}
        route, rparams = _route(chain)
        where, params = scope_filter(chain, dialect="postgres")
        async with self._tx(chain.instance_id) as conn:
            cur = await conn.execute(
                f"SELECT {_MEMORY_COLS} FROM memories m WHERE {route} AND m.rowid = ANY(%s) AND {where}",
                [*rparams, list(rowids), *params],
            )
            rows = await cur.fetchall()
        return {int(r[0]): _memory(r) for r in rows}

    async def get_memory(self, chain: ReadChain, memory_id: str) -> MemoryRecord | None:
        route, rparams = _route(chain)
        where, params = scope_filter(chain, dialect="postgres")
        async with self._tx(chain.instance_id) as conn:
            cur = await conn.execute(
                f"SELECT {_MEMORY_COLS} FROM memories m WHERE {route} AND m.memory_id = %s AND {where}",
                [*rparams, memory_id, *params],
            )
            row = await cur.fetchone()
        return _memory(row) if row else None

    async def list_memories(
        self, chain: ReadChain, *, offset: int, limit: int, filters: SearchFilters
    ) -> tuple[list[MemoryRecord], int]:
        route, rparams = _route(chain)
        where, params = scope_filter(chain, dialect="postgres")
        extra, extra_params = search_filter(filters, dialect="postgres")
        cond = f"{route} AND {where}{extra}"
        args = [*rparams, *params, *extra_params]
        async with self._tx(chain.instance_id) as conn:
            cur = await conn.execute(f"SELECT count(*) FROM memories m WHERE {cond}", args)
            total_row = await cur.fetchone()
            cur = await conn.execute(
                f"SELECT {_MEMORY_COLS} FROM memories m WHERE {cond} ORDER BY m.rowid DESC LIMIT %s OFFSET %s",
                [*args, limit, offset],
            )
            rows = await cur.fetchall()
        return [_memory(r) for r in rows], int(total_row[0]) if total_row else 0

    async def delete_memories(self, chain: ReadChain, memory_ids: list[str]) -> int:
        if not memory_ids:
            return 0
        route, rparams = _route(chain)
        where, params = scope_filter(chain, dialect="postgres")
        async with self._tx(chain.instance_id) as conn:
            cur = await conn.execute(
                f"DELETE FROM memories m WHERE {route} AND m.memory_id = ANY(%s) AND {where} "
                "RETURNING m.instance_id, m.customer_id, m.level, m.user_id",
                [*rparams, list(memory_ids), *params],
            )
            gone = await cur.fetchall()
            await self._bump(conn, [(r[0], r[1], r[2], r[3]) for r in gone])
        return len(gone)

    async def update_memory(
        self, chain: ReadChain, memory_id: str, *, content: str, vector: Vectors, metadata: dict[str, Any] | None
    ) -> MemoryRecord | None:
        route, rparams = _route(chain)
        where, params = scope_filter(chain, dialect="postgres")
        vec = np.asarray(vector, dtype=np.float32).reshape(-1)
        async with self._tx(chain.instance_id) as conn:
            cur = await conn.execute(
                f"SELECT m.rowid, m.instance_id, m.customer_id, m.level, m.user_id, m.metadata FROM memories m "
                f"WHERE {route} AND m.memory_id = %s AND {where} FOR UPDATE",
                [*rparams, memory_id, *params],
            )
            row = await cur.fetchone()
            if row is None:
                return None
            meta = dict(row[5])
            if metadata:
                meta.update(metadata)
            key = (row[1], row[2], row[3], row[4])
            one_where, one_params = scope_filter(
                ReadChain.single(Scope(row[1], ScopeLevel(row[3]), row[2], row[4])), dialect="postgres"
            )
            await conn.execute(
                "UPDATE memories m SET content = %s, content_hash = %s, metadata = %s, updated_at = %s, "
                f"fts_text = %s, embedding = %s, dims = %s WHERE m.instance_id = %s AND {one_where} AND m.rowid = %s",
                [
                    content,
                    hashlib.sha1(content.lower().encode()).hexdigest(),
                    _json(meta),
                    _now(),
                    content,
                    vec,
                    int(vec.size),
                    row[1],
                    *one_params,
                    int(row[0]),
                ],
            )
            await self._bump(conn, [key])
        return await self.get_memory(chain, memory_id)

    async def customer_exists(self, instance_id: str, customer_id: str) -> bool:
        async with self._tx(instance_id) as conn:
            cur = await conn.execute(
                "SELECT EXISTS (SELECT 1 FROM scopes WHERE instance_id = %s AND customer_id = %s) "
                "OR EXISTS (SELECT 1 FROM conversations WHERE instance_id = %s AND customer_id = %s)",
                (instance_id, customer_id, instance_id, customer_id),
            )
            row = await cur.fetchone()
        return bool(row and row[0])

    # -- conversations --------------------------------------------------------------------------------------------
    async def bind_conversation(
        self, instance_id: str, conversation_id: str, customer_id: str, user_id: str
    ) -> ConversationRecord:
        async with self._tx(instance_id) as conn:
            await conn.execute(
                "INSERT INTO conversations (instance_id, conversation_id, customer_id, user_id, created_at) "
                "VALUES (%s,%s,%s,%s,%s) ON CONFLICT (instance_id, conversation_id) DO NOTHING",
                (instance_id, conversation_id, customer_id, user_id, _now()),
            )
            cur = await conn.execute(
                "SELECT instance_id, conversation_id, customer_id, user_id, created_at FROM conversations "
                "WHERE instance_id = %s AND conversation_id = %s",
                (instance_id, conversation_id),
            )
            row = await cur.fetchone()
        assert row is not None
        return ConversationRecord(row[0], row[1], row[2], row[3], row[4])

    async def get_conversation(self, instance_id: str, conversation_id: str) -> ConversationRecord | None:
        async with self._tx(instance_id) as conn:
            cur = await conn.execute(
                "SELECT c.instance_id, c.conversation_id, c.customer_id, c.user_id, c.created_at, "
                "(SELECT count(*) FROM messages x WHERE x.instance_id = c.instance_id "
                "AND x.conversation_id = c.conversation_id), (SELECT max(recorded_at) FROM messages x "
                "WHERE x.instance_id = c.instance_id AND x.conversation_id = c.conversation_id) "
                "FROM conversations c WHERE c.instance_id = %s AND c.conversation_id = %s",
                (instance_id, conversation_id),
            )
            row = await cur.fetchone()
        if row is None:
            return None
        return ConversationRecord(
            row[0], row[1], row[2], row[3], row[4], message_count=int(row[5]), last_message_at=row[6]
        )

    async def add_messages(self, instance_id: str, messages: list[MessageRecord]) -> None:
        if not messages:
            return
        async with self._tx(instance_id) as conn, conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO messages (message_id, instance_id, conversation_id, role, content, session_id, metadata, "
                "recorded_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
                [
                    (
                        m.message_id,
                        instance_id,
                        m.conversation_id,
                        m.role,
                        m.content,
                        m.session_id,
                        _json(m.metadata),
                        _aware(m.recorded_at),
                    )
                    for m in messages
                ],
            )

    async def recent_messages(self, instance_id: str, conversation_id: str, *, limit: int) -> list[MessageRecord]:
        async with self._tx(instance_id) as conn:
            cur = await conn.execute(
                "SELECT message_id, conversation_id, role, content, recorded_at, session_id, metadata FROM messages "
                "WHERE instance_id = %s AND conversation_id = %s ORDER BY message_pk DESC LIMIT %s",
                (instance_id, conversation_id, limit),
            )
            rows = await cur.fetchall()
        return [MessageRecord(r[0], r[1], r[2], r[3], r[4], r[5], dict(r[6])) for r in reversed(rows)]

    async def transcript_ingestion(self, instance_id: str, conversation_id: str) -> tuple[str, str] | None:
        async with self._tx(instance_id) as conn:
            cur = await conn.execute(
                "SELECT digest, ingestion_id FROM transcripts WHERE instance_id = %s AND conversation_id = %s",
                (instance_id, conversation_id),
            )
            row = await cur.fetchone()
        return (row[0], row[1]) if row else None

    async def save_transcript(self, instance_id: str, conversation_id: str, digest: str, ingestion_id: str) -> None:
        async with self._tx(instance_id) as conn:
            await conn.execute(
                "INSERT INTO transcripts (instance_id, conversation_id, digest, ingestion_id, created_at) "
                "VALUES (%s,%s,%s,%s,%s)",
                (instance_id, conversation_id, digest, ingestion_id, _now()),
            )

    # -- deletion and audit ---------------------------------------------------------------------------------------
    async def delete_scope_data(
        self, instance_id: str, *, customer_id: str | None, user_id: str | None, conversation_id: str | None
    ) -> dict[str, int]:
        receipt: dict[str, int] = {}
        conds = ["m.instance_id = %s"]
        params: list[Any] = [instance_id]
        for col, val in (("customer_id", customer_id), ("user_id", user_id), ("conversation_id", conversation_id)):
            if val is not None:
                conds.append(f"m.{col} = %s")
                params.append(val)
        where = " AND ".join(conds)
        async with self._tx(instance_id) as conn:
            cur = await conn.execute(
                f"DELETE FROM memories m WHERE {where} RETURNING m.instance_id, m.customer_id, m.level, m.user_id",
                params,
            )
            gone = await cur.fetchall()
            await self._bump(conn, [(r[0], r[1], r[2], r[3]) for r in gone])
            receipt["memories"] = len(gone)
            cur = await conn.execute(f"DELETE FROM documents m WHERE {where} RETURNING 1", params)
            receipt["documents"] = len(await cur.fetchall())
            if conversation_id is None:
                cur = await conn.execute(f"DELETE FROM ingestions m WHERE {where} RETURNING 1", params)
                receipt["ingestions"] = len(await cur.fetchall())
            cur = await conn.execute(f"SELECT m.conversation_id FROM conversations m WHERE {where}", params)
            conv_ids = [r[0] for r in await cur.fetchall()]
            n_msgs = 0
            if conv_ids:
                cur = await conn.execute(
                    "DELETE FROM messages WHERE instance_id = %s AND conversation_id = ANY(%s) RETURNING 1",
                    (instance_id, conv_ids),
                )
                n_msgs = len(await cur.fetchall())
                await conn.execute(
                    "DELETE FROM transcripts WHERE instance_id = %s AND conversation_id = ANY(%s)",
                    (instance_id, conv_ids),
                )
            receipt["messages"] = n_msgs
            cur = await conn.execute(f"DELETE FROM conversations m WHERE {where} RETURNING 1", params)
            receipt["conversations"] = len(await cur.fetchall())
        return receipt

    async def audit(self, instance_id: str, action: str, *, detail: dict[str, Any]) -> None:
        """Record an audit entry (ids, counts, timings; never content). Entries are buffered and written in batches
        by a background task (at most ~1 s or 500 entries late), like the SQLite backend."""
        self._audit_buf.append((instance_id, _now(), action, detail))
        if self._audit_task is None or self._audit_task.done():
            self._audit_task = asyncio.get_running_loop().create_task(self._flush_audit_later())

    async def _flush_audit_later(self) -> None:
        try:
            await asyncio.sleep(1.0 if len(self._audit_buf) < 500 else 0)
        except asyncio.CancelledError:
            return  # close() flushes
        self._audit_flushing = True
        try:
            await self.flush_audit()
        except Exception:  # the entries were put back; the next flush retries them
            log.warning("postgres: audit flush failed", exc_info=True)
        finally:
            self._audit_flushing = False

    async def flush_audit(self) -> None:
        """Write the buffered audit entries now (one transaction; each instance's rows under its own setting)."""
        rows, self._audit_buf = self._audit_buf, []
        if not rows or self._pool is None:
            self._audit_buf[:0] = rows
            return
        try:
            await self._write_audit(rows)
        except BaseException:
            self._audit_buf[:0] = rows[-10_000:]
            raise

    async def _write_audit(self, rows: list[tuple[str, datetime, str, dict[str, Any]]]) -> None:
        by_instance: dict[str, list[tuple[str, datetime, str, dict[str, Any]]]] = {}
        for r in rows:
            by_instance.setdefault(r[0], []).append(r)
        async with self._tx(None) as conn:
            for instance_id, group in by_instance.items():
                await conn.execute(
                    "SELECT set_config('role', %s, true), set_config('memstrata.instance_id', %s, true)",
                    (self.app_role, instance_id),
                )
                async with conn.cursor() as cur:
                    await cur.executemany(
                        "INSERT INTO audit_log (instance_id, at, action, detail) VALUES (%s, %s, %s, %s)",
                        [(i, at, a, _json(d)) for i, at, a, d in group],
                    )

    # -- bulk import -----------------------------------------------------------------------------------------------
    async def bulk_insert_memories(self, instance_id: str, rows: Sequence[tuple[Scope, NewMemory]]) -> int:
        """Insert many memories of one instance at once (imports, benchmarks); returns the number inserted.

        ``COPY`` cannot write into a table with row-level security, so the rows are COPYed (binary) into a
        temporary table of this session, then moved with one ``INSERT ... SELECT`` under ``memstrata_app`` bound to
        ``instance_id`` — the policies still check every row. Scope versions are bumped as for a normal write.
        No reconciliation (deduplication, supersession) is done: the caller brings final memories.
        """
        if not rows:
            return 0
        if any(s.instance_id != instance_id for s, _ in rows):
            raise ValueError("bulk_insert_memories: every row must belong to instance_id")
        if self._pool is None:
            raise StoreUnavailableError("the store is closed")
        cols = (
            "instance_id, customer_id, level, user_id, memory_id, memory_type, content, content_hash, category, "
            "confidence, event_date, valid_until, temporal_category, source_evidence, entities, subject, attribute, "
            "metadata, document_id, created_at, dims, embedding, fts_text"
        )
        types = [
            "text",
            "text",
            "text",
            "text",
            "text",
            "text",
            "text",
            "text",
            "text",
            "float8",
            "timestamptz",
            "timestamptz",
            "text",
            "jsonb",
            "jsonb",
            "text",
            "text",
            "jsonb",
            "text",
            "timestamptz",
            "int2",
            "vector",
            "text",
        ]
        now = _now()
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(
                f"CREATE TEMP TABLE memstrata_bulk ON COMMIT DROP AS SELECT {cols} FROM memories WITH NO DATA"
            )
            await conn.execute(sql.SQL("GRANT SELECT ON memstrata_bulk TO {}").format(sql.Identifier(self.app_role)))
            cur = conn.cursor()
            async with cur.copy(f"COPY memstrata_bulk ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                for scope, mem in rows:
                    d = mem.draft
                    vec = np.asarray(mem.vector, dtype=np.float32).reshape(-1)
                    await copy.write_row(
                        (
                            *_scope_key(scope),
                            mem.memory_id,
                            d.memory_type,
                            d.content,
                            mem.content_hash,
                            d.category,
                            float(d.confidence),
                            _aware(d.event_date),
                            _aware(d.valid_until),
                            d.temporal_category,
                            _json(d.source_evidence),
                            _json(d.entities),
                            d.subject,
                            d.attribute,
                            _json(d.metadata),
                            None,
                            now,
                            int(vec.size),
                            vec,
                            mem.fts_text or d.content,
                        )
                    )
            await conn.execute(
                "SELECT set_config('role', %s, true), set_config('memstrata.instance_id', %s, true)",
                (self.app_role, instance_id),
            )
            cur = await conn.execute(f"INSERT INTO memories ({cols}) SELECT {cols} FROM memstrata_bulk")
            inserted = cur.rowcount
            await conn.execute(
                "INSERT INTO scopes (instance_id, customer_id, level, user_id, version) "
                "SELECT DISTINCT instance_id, customer_id, level, user_id, 1 FROM memstrata_bulk "
                "ON CONFLICT (instance_id, customer_id, level, user_id) DO UPDATE SET version = scopes.version + 1"
            )
        return inserted

    # -- retrieval helpers (memstrata.retrieval) ------------------------------------------------------------------
    async def memories_at_turns(self, chain: ReadChain, keys: list[tuple[str, int]]) -> list[MemoryRecord]:
        """Live memories of ``chain`` whose (document_id, ``metadata.turn``) is one of ``keys``."""
        if not keys:
            return []
        route, rparams = _route(chain)
        where, params = scope_filter(chain, dialect="postgres")
        wanted = set(keys)
        docs = sorted({d for d, _ in keys})
        turns = sorted({t for _, t in keys})
        async with self._tx(chain.instance_id) as conn:
            cur = await conn.execute(
                f"SELECT {_MEMORY_COLS} FROM memories m WHERE {route} AND {where} AND m.superseded_by IS NULL "
                "AND m.document_id = ANY(%s) AND jsonb_typeof(m.metadata -> 'turn') = 'number' "
                "AND (m.metadata ->> 'turn')::numeric = ANY(%s::numeric[]) ORDER BY m.rowid",
                [*rparams, *params, docs, turns],
            )
            rows = await cur.fetchall()
        out: list[MemoryRecord] = []
        for r in rows:
            rec = _memory(r)
            if (rec.document_id, rec.metadata.get("turn")) in wanted:
                out.append(rec)
        return out


# -- diagnostics (``memstrata db check``) -----------------------------------------------------------------------------
@dataclass(slots=True)
class Finding:
    """One line of ``memstrata db check``: ``status`` is ``ok``, ``warn`` or ``fail``."""

    status: str
    topic: str
    text: str


async def diagnose(dsn: str) -> list[Finding]:
    """Check, in plain words, what this DSN needs for memstrata: server version, pgvector, roles, privileges,
    migrations and row-level security. Never changes anything."""
    out: list[Finding] = []
    try:
        conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        return [Finding("fail", "connection", f"cannot connect: {str(exc).strip()}")]
    try:
        await _diagnose(conn, out)
    finally:
        await conn.close()
    return out


async def _one(conn: Conn, query: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    assert row is not None
    return row


async def _diagnose(conn: Conn, out: list[Finding]) -> None:
    version_num, version, db, user, schema = await _one(
        conn,
        "SELECT current_setting('server_version_num')::int, current_setting('server_version'), current_database(), "
        "current_user, current_schema()",
    )
    out.append(Finding("ok", "connection", f"connected to database {db!r} as role {user!r} (schema {schema!r})"))
    if version_num < _MIN_SERVER:
        out.append(Finding("fail", "server", f"PostgreSQL {version} is too old: memstrata needs 14 or newer"))
    elif version_num < 160000:
        out.append(
            Finding(
                "warn",
                "server",
                f"PostgreSQL {version}: works; 16+ is recommended (role grants "
                "WITH INHERIT FALSE keep the login role itself out of every policy)",
            )
        )
    else:
        out.append(Finding("ok", "server", f"PostgreSQL {version}"))
    is_super, can_create_role, can_bypass = await _one(
        conn, "SELECT rolsuper, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    )
    if is_super:
        out.append(
            Finding(
                "warn",
                "login role",
                f"{user!r} is a superuser. It works (every transaction switches to "
                "memstrata_app / memstrata_admin, so row-level security applies), "
                "but a dedicated non-superuser owner role is safer",
            )
        )
    elif can_bypass:
        out.append(Finding("warn", "login role", f"{user!r} has BYPASSRLS; memstrata does not need it"))
    else:
        out.append(Finding("ok", "login role", f"{user!r} is not a superuser"))
    ext = await (
        await conn.execute(
            "SELECT default_version, installed_version FROM pg_available_extensions WHERE name = 'vector'"
        )
    ).fetchone()
    if ext is None:
        out.append(
            Finding(
                "fail",
                "pgvector",
                "the 'vector' extension is not available on this server: install "
                "pgvector (e.g. the postgresql-<major>-pgvector package, or from "
                "https://github.com/pgvector/pgvector)",
            )
        )
    elif ext[1] is None:
        if is_super:
            out.append(
                Finding(
                    "ok",
                    "pgvector",
                    f"available ({ext[0]}), not yet installed in {db!r}: "
                    "`memstrata db upgrade` will run CREATE EXTENSION vector",
                )
            )
        else:
            out.append(
                Finding(
                    "fail",
                    "pgvector",
                    f"available ({ext[0]}) but not installed in {db!r}, and this "
                    "role cannot install it (it is not a trusted extension). As a "
                    f"superuser, in database {db!r}: CREATE EXTENSION vector;",
                )
            )
    else:
        installed = tuple(int(p) for p in str(ext[1]).split(".")[:2])
        status = "ok" if installed >= (0, 8) else "warn"
        note = "" if status == "ok" else " (0.8+ recommended: iterative index scans)"
        out.append(Finding(status, "pgvector", f"installed, version {ext[1]}{note}"))
    member = "SET" if version_num >= 160000 else "MEMBER"
    for role in (migrations.POSTGRES_APP_ROLE, migrations.POSTGRES_ADMIN_ROLE):
        exists = (await _one(conn, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s)", (role,)))[0]
        if not exists:
            if is_super or can_create_role:
                out.append(Finding("ok", "roles", f"role {role} does not exist yet; `memstrata db upgrade` creates it"))
            else:
                out.append(
                    Finding(
                        "fail",
                        "roles",
                        f"role {role} is missing and {user!r} cannot create roles. As a "
                        f"superuser: CREATE ROLE {role} NOLOGIN NOINHERIT; GRANT {role} "
                        f"TO {user} WITH INHERIT FALSE, SET TRUE;",
                    )
                )
            continue
        can_set = (await _one(conn, f"SELECT pg_has_role(current_user, %s, '{member}')", (role,)))[0]
        if can_set:
            out.append(Finding("ok", "roles", f"{user!r} can SET ROLE {role}"))
        else:
            out.append(
                Finding(
                    "fail",
                    "roles",
                    f"{user!r} cannot SET ROLE {role}. As a superuser: GRANT {role} TO "
                    f"{user} WITH INHERIT FALSE, SET TRUE;",
                )
            )
    applied, pending = await migration_status(conn)
    can_create = (await _one(conn, "SELECT has_schema_privilege(current_schema(), 'CREATE')"))[0]
    if pending:
        if can_create or is_super:
            out.append(
                Finding(
                    "warn",
                    "schema",
                    f"migrations pending: {pending} (applied: {applied or 'none'}); run "
                    "`memstrata db upgrade` (the store also applies them on open)",
                )
            )
        else:
            out.append(
                Finding(
                    "fail",
                    "schema",
                    f"migrations pending: {pending}, and {user!r} has no CREATE "
                    f"privilege on schema {schema!r}: GRANT CREATE ON SCHEMA {schema} "
                    f"TO {user};",
                )
            )
    else:
        out.append(Finding("ok", "schema", f"up to date (migrations {applied})"))
    if applied:
        tables = list(migrations.POSTGRES_RLS_TABLES)
        cur = await conn.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
            "WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(%s)",
            (tables,),
        )
        rls = {r[0]: (r[1], r[2]) for r in await cur.fetchall()}
        bad = [t for t in tables if rls.get(t, (True, True) if pending else (False, False)) != (True, True)]
        if bad:
            out.append(Finding("fail", "row-level security", f"not enabled and forced on: {', '.join(bad)}"))
        else:
            out.append(Finding("ok", "row-level security", f"enabled and forced on all {len(tables)} tables"))
