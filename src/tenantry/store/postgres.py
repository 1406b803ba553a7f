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
  each transaction runs ``SET LOCAL ROLE tenantry_app`` and ``set_config('tenantry.instance_id', <id>, true)``;
  the policies show that role only the rows of that instance (and WORLD for reads). Admin paths (instances, keys,
  queue claiming across instances) run as ``tenantry_admin``, which cannot read memories.
* **Queue**: ``FOR UPDATE SKIP LOCKED`` claiming with a lease (database clock) and a claim token; completion checks
  the token under a row lock and writes everything in one transaction.

Layout: this module holds ``PostgresStore`` itself (connection pool, transactions, memories, search, conversations,
deletion and audit); its mixins hold the admin paths (``_pg_admin``), the queue (``_pg_queue``) and the partition
indexes (``_pg_partitions``); ``_pg_rows`` maps rows, ``_pg_schema`` migrates and diagnoses.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.types import TypeInfo
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ..errors import ConfigurationError, ConflictError, StoreUnavailableError
from ..scope import ReadChain, Scope, ScopeLevel
from ..types import Vectors, content_hash
from . import migrations
from ._pg_admin import _AdminMixin
from ._pg_partitions import _PartitionsMixin
from ._pg_queue import _QueueMixin
from ._pg_rows import _MEMORY_COLS, Conn, _aware, _Cached, _json, _memory, _now, _route, _scope_key
from ._pg_schema import _MIN_SERVER, apply_migrations, migration_status
from ._pg_schema import Finding as Finding  # re-exported: ``tenantry db check``
from ._pg_schema import diagnose as diagnose
from ._sql import fts_terms, scope_filter, search_filter
from .base import ConversationRecord, MemoryRecord, MessageRecord, NewMemory, SearchFilters

__all__ = ["PostgresStore", "apply_migrations", "migration_status"]

log = logging.getLogger("tenantry")


class PostgresStore(_AdminMixin, _QueueMixin, _PartitionsMixin):
    """Storage on PostgreSQL ≥ 14 with pgvector. ``dsn`` is a libpq URL or ``key=value`` string.

    Args:
        dsn: connection string; its role owns the schema (runs the migrations) and must be able to ``SET ROLE``
            to ``tenantry_app`` and ``tenantry_admin`` (granted by the first migration when it creates them).
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
                    f"postgres: the migration needs a privilege this role lacks ({exc}). Run `tenantry db check` "
                    "for what is missing; a superuser can run `tenantry db upgrade` once."
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
            name="tenantry",
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
        """One transaction as ``tenantry_app`` bound to ``instance_id``, or as ``tenantry_admin`` when ``None``."""
        if self._pool is None:
            raise StoreUnavailableError("the store is closed")
        try:
            async with self._pool.connection() as conn, conn.transaction():
                if instance_id is None:
                    await conn.execute("SELECT set_config('role', %s, true)", (self.admin_role,))
                else:
                    await conn.execute(
                        "SELECT set_config('role', %s, true), set_config('tenantry.instance_id', %s, true)",
                        (self.app_role, instance_id),
                    )
                yield conn
        except psycopg.errors.IntegrityError as exc:
            raise ConflictError(f"postgres integrity error: {exc.diag.message_primary or exc}") from exc
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StoreUnavailableError(f"postgres: {exc}") from exc

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
                    content_hash(content),
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
                    "SELECT set_config('role', %s, true), set_config('tenantry.instance_id', %s, true)",
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
        temporary table of this session, then moved with one ``INSERT ... SELECT`` under ``tenantry_app`` bound to
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
                f"CREATE TEMP TABLE tenantry_bulk ON COMMIT DROP AS SELECT {cols} FROM memories WITH NO DATA"
            )
            await conn.execute(sql.SQL("GRANT SELECT ON tenantry_bulk TO {}").format(sql.Identifier(self.app_role)))
            cur = conn.cursor()
            async with cur.copy(f"COPY tenantry_bulk ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
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
                "SELECT set_config('role', %s, true), set_config('tenantry.instance_id', %s, true)",
                (self.app_role, instance_id),
            )
            cur = await conn.execute(f"INSERT INTO memories ({cols}) SELECT {cols} FROM tenantry_bulk")
            inserted = cur.rowcount
            await conn.execute(
                "INSERT INTO scopes (instance_id, customer_id, level, user_id, version) "
                "SELECT DISTINCT instance_id, customer_id, level, user_id, 1 FROM tenantry_bulk "
                "ON CONFLICT (instance_id, customer_id, level, user_id) DO UPDATE SET version = scopes.version + 1"
            )
        return inserted

    # -- retrieval helpers (tenantry.retrieval) ------------------------------------------------------------------
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
