"""PostgreSQL backend: psycopg 3 (async) + psycopg_pool + pgvector; the same semantics as ``sqlite.py``.

Design (details, and how it runs on Citus, in ``docs/postgres.md``):

* **Vectors**: one untyped ``vector`` column plus ``dims``; the dimension is the instance's (known only when its
  first memory is stored), so one schema serves instances with different embedders. Search is exact inside the
  chain's partitions (``ORDER BY embedding <#> q``, negative inner product: embeddings are L2-normalised by the
  Embedder contract, so this is cosine similarity and equals the SQLite backend's dot product, without NaN for a
  zero vector); the btree ``(instance_id, customer_id, level, user_id, ...)`` prunes to the tenant first.
* **Lexical**: ``fts`` = generated ``to_tsvector('english', fts_text)`` + GIN; an OR query of ``fts_terms``,
  ranked with ``ts_rank_cd``.
* **Tenancy**: every memory query is built by ``_sql.scope_filter(dialect="postgres")`` plus an explicit
  ``instance_id`` predicate (routes the query to one shard on Citus). Row-level security is the second guard:
  each transaction begins with ``SET LOCAL ROLE tenantry_app`` and ``SET LOCAL tenantry.instance_id = '<id>'``
  (after ``citus.propagate_set_commands = 'local'`` and the timeouts, so that on Citus the workers get them too:
  ``_pg_base``); the policies show that role only the rows of that instance (and WORLD for reads). Admin paths
  (instances, keys, queue claiming across instances) run as ``tenantry_admin``, which cannot read memories.
* **Queue**: ``FOR UPDATE SKIP LOCKED`` claiming with a lease (database clock) and a claim token; completion checks
  the token under a row lock and writes everything in one transaction.

Layout: this module holds ``PostgresStore`` itself (connection pool, transactions, searches and memory reads, bulk
import); ``_pg_queue`` claims jobs, ``_pg_partitions`` manages the partition indexes, ``_pg_base`` runs plans and
holds the dialect hooks, ``_pg_rows`` maps rows, ``_pg_schema`` migrates and diagnoses. The behaviours both SQL
backends share (instances and keys, the rest of the queue, edits and erasure, conversations) come from ``_admin``,
``_queue``, ``_edits`` and ``_conversations``.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from collections.abc import Sequence
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.types import TypeInfo
from psycopg_pool import AsyncConnectionPool
from psycopg_pool import PoolTimeout

from ..errors import ConfigurationError
from ..errors import ConflictError
from ..errors import InvalidInputError
from ..errors import StoreUnavailableError
from ..scope import ReadChain
from ..scope import Scope
from ..types import Vectors
from . import migrations
from ._admin import _AdminMixin
from ._audit import AuditBuffer
from ._audit import AuditEntry
from ._compactions import _CompactionsMixin
from ._conversations import _ConversationsMixin
from ._edits import _EditsMixin
from ._export import ExportMixin
from ._pg_base import PG_DIALECT
from ._pg_base import bind
from ._pg_base import drive
from ._pg_base import explain
from ._pg_base import run_settings
from ._pg_base import set_local
from ._pg_base import transaction_settings
from ._pg_citus import citus_version
from ._pg_citus import is_distributed
from ._pg_citus import nologin_advice
from ._pg_citus import nologin_roles
from ._pg_partitions import _PartitionsMixin
from ._pg_queue import _ClaimMixin
from ._pg_rows import Conn
from ._pg_rows import _aware
from ._pg_rows import _Cached
from ._pg_rows import _json
from ._pg_rows import _memory
from ._pg_rows import _now
from ._pg_rows import _route
from ._pg_schema import _MIN_SERVER
from ._pg_schema import Finding as Finding  # re-exported: ``tenantry db check``
from ._pg_schema import apply_migrations
from ._pg_schema import diagnose as diagnose
from ._pg_schema import migration_status
from ._plan import bump
from ._plan import scope_key
from ._queue import _QueueMixin
from ._rows import MEMORY_COLS
from ._rows import NEW_MEMORY_COLS
from ._rows import memory_values
from ._sql import fts_terms
from ._sql import scope_filter
from ._sql import search_filter
from .base import MemoryRecord
from .base import NewMemory
from .base import SearchFilters

__all__ = ["PostgresStore", "apply_migrations", "migration_status"]

log = logging.getLogger("tenantry")


def _lexical_query(chain: ReadChain, query: str, limit: int, filters: SearchFilters) -> tuple[str, list[Any]] | None:
    """The lexical search of ``chain`` (``None`` when ``query`` has no searchable term)."""
    terms = fts_terms(query)
    if not terms:
        return None
    route, rparams = _route(chain)
    where, params = scope_filter(chain, dialect="postgres")
    extra, extra_params = search_filter(filters, dialect="postgres")
    return (
        "SELECT m.rowid, ts_rank_cd(m.fts, q.q) AS r FROM memories m, to_tsquery('english', %s) AS q(q) "
        f"WHERE {route} AND {where} AND m.fts @@ q.q{extra} ORDER BY r DESC, m.rowid LIMIT %s",
        [" | ".join(terms), *rparams, *params, *extra_params, limit],
    )


def _live_filter(filters: SearchFilters, dims: int) -> tuple[str, list[Any]]:
    """The vector search's row filter, with the SQLite backend's semantics: live (not superseded, valid at
    as_of/now) rows of the query's dimension; the other filters only when one of them is set."""
    conds = ["m.superseded_by IS NULL", "(m.valid_until IS NULL OR m.valid_until > %s)", "m.dims = %s::integer"]
    cparams: list[Any] = [_aware(filters.as_of) or _now(), dims]
    if filters.types:
        conds.append("m.memory_type = ANY(%s)")
        cparams.append(list(filters.types))
    extra, extra_params = "", list[Any]()
    if filters.metadata or filters.conversation_id or filters.include_superseded or filters.as_of is not None:
        extra, extra_params = search_filter(filters, dialect="postgres")
    return " AND ".join(conds) + extra, [*cparams, *extra_params]


def _exact_vector_query(
    chain: ReadChain, q: Vectors, live: str, live_params: list[Any], limit: int
) -> tuple[str, list[Any]]:
    """Exact (no index) vector search of ``chain``'s partitions."""
    route, rparams = _route(chain)
    where, params = scope_filter(chain, dialect="postgres")
    return (
        "SELECT m.rowid, -(m.embedding <#> %s) AS s FROM memories m "
        f"WHERE {route} AND {where} AND {live} ORDER BY s DESC, m.rowid LIMIT %s",
        [q, *rparams, *params, *live_params, limit],
    )


_TEXT_TABLES = ("memories", "documents", "ingestions", "messages", "transcripts", "conversations", "compactions")


class PostgresStore(
    _AdminMixin,
    _QueueMixin,
    _ClaimMixin,
    _EditsMixin,
    _ConversationsMixin,
    _CompactionsMixin,
    ExportMixin,
    _PartitionsMixin,
):
    """Storage on PostgreSQL ≥ 14 with pgvector. ``dsn`` is a libpq URL or ``key=value`` string.

    Args:
        dsn: connection string; its role owns the schema (runs the migrations) and must be able to ``SET ROLE``
            to ``tenantry_app`` and ``tenantry_admin`` (granted by the first migration when it creates them).
        min_size: connections the pool keeps open.
        max_size: upper bound of the pool.
        cache_bytes: budget of the per-scope vector cache used by ingestion reconciliation.
        lock_timeout: seconds a statement may wait for a lock before it fails (``StoreUnavailableError``; 0 = no
            limit). ``None``: the login session's own setting (server, database or role default, or the DSN's
            ``options=-c lock_timeout=...``) when it has one, else 30 s.
        statement_timeout: seconds a statement may run (0 = no limit). ``None``: the session's own setting, else none.
            Both are set in every transaction with ``SET LOCAL``, so on Citus they bound the work on the workers too.
    """

    app_role = migrations.POSTGRES_APP_ROLE
    admin_role = migrations.POSTGRES_ADMIN_ROLE

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        cache_bytes: int = 256 * 1024 * 1024,
        lock_timeout: float | None = None,
        statement_timeout: float | None = None,
    ) -> None:
        self.dsn = dsn
        self._timeouts = (lock_timeout, statement_timeout)
        self._settings = transaction_settings(lock_timeout_ms=0, statement_timeout_ms=0)
        self._min_size = min_size
        self._max_size = max_size
        self._pool: AsyncConnectionPool[Conn] | None = None
        self._vector_info: TypeInfo | None = None
        self._cache: OrderedDict[tuple[str, str, str, str], _Cached] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._cache_bytes = cache_bytes
        self._cache_used = 0
        self._audit = AuditBuffer(self._write_audit)
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
            await self._resolve_timeouts(conn)
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
        if await citus_version(conn) is not None:
            nologin = await nologin_roles(conn)
            if nologin:
                raise ConfigurationError(f"postgres: this is a Citus database: {nologin_advice(nologin)}")

    async def _resolve_timeouts(self, conn: Conn) -> None:
        """The timeouts of every transaction: the store's arguments, else the login session's (milliseconds in
        ``pg_settings``), else 30 s to wait for a lock and no statement limit."""
        cur = await conn.execute(
            "SELECT (SELECT setting::bigint FROM pg_settings WHERE name = 'lock_timeout'), "
            "(SELECT setting::bigint FROM pg_settings WHERE name = 'statement_timeout')"
        )
        row = await cur.fetchone()
        assert row is not None
        session_ms = (int(row[0]), int(row[1]))
        defaults_ms = (30_000, 0)
        resolved = [
            int(round(mine * 1000)) if mine is not None else (session or default)
            for mine, session, default in zip(self._timeouts, session_ms, defaults_ms, strict=True)
        ]
        self._settings = transaction_settings(lock_timeout_ms=resolved[0], statement_timeout_ms=resolved[1])

    async def _configure(self, conn: Conn) -> None:
        from pgvector.psycopg.vector import register_vector_info

        register_vector_info(conn, self._vector_info)
        await conn.execute("SET TIME ZONE 'UTC'")

    async def close(self) -> None:
        await self._audit.aclose()
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
                role = self.admin_role if instance_id is None else self.app_role
                await run_settings(conn, [*self._settings, *bind(role, instance_id)])
                yield conn
        except psycopg.errors.IntegrityError as exc:
            raise ConflictError(f"postgres integrity error: {exc.diag.message_primary or exc}") from exc
        except psycopg.DataError as exc:
            # A value PostgreSQL cannot take (class 22, or psycopg's own refusal of a NUL in a text parameter):
            # the caller's input, not an outage. The edge refuses what it knows of (NUL, lone surrogates, dates,
            # non-finite numbers); this keeps anything else a 400 instead of an unhandled error.
            log.warning("postgres refused a value: %s", exc)
            message = exc.diag.message_primary or str(exc)
            raise InvalidInputError(f"a value was refused by the database: {message}", code="invalid_value") from exc
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StoreUnavailableError(f"postgres: {exc}") from exc

    async def _scrub(self, *, full: bool) -> None:
        """After an erasure (``full``): ``VACUUM FULL`` of the tables that hold text (memories, documents,
        ingestions, messages, transcripts, conversations): each is rewritten with its live rows only, with its
        indexes and TOAST, and the old files are released at the next checkpoint. A plain VACUUM marks dead tuples
        free but leaves their bytes in the pages (measured). VACUUM FULL locks each table while it is rewritten
        (≈ 6-10 s at 100k memories on 2 cores), so a by-id deletion does not run it: its rows are gone at once, its
        bytes at the next erasure or :meth:`scrub` (``tenantry db scrub``)."""
        if not full:
            return
        if self._pool is None:
            raise StoreUnavailableError("the store is closed")
        try:
            async with self._pool.connection() as conn:  # autocommit: VACUUM cannot run inside a transaction
                for table in _TEXT_TABLES:
                    await conn.execute(sql.SQL("VACUUM (FULL) {}").format(sql.Identifier(table)))
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StoreUnavailableError(f"postgres: {exc}") from exc

    async def _write_audit(self, rows: list[AuditEntry]) -> None:
        """One transaction as ``tenantry_app``; each instance's rows under that instance's setting (the policies
        let ``tenantry_app`` write only the rows of the instance it is bound to). Only the setting changes between
        instances, never the role: on Citus a worker connection opened as one role replays the transaction's
        ``SET LOCAL ROLE`` commands, and neither role may switch to the other."""
        by_instance: dict[str, list[AuditEntry]] = {}
        for r in rows:
            by_instance.setdefault(r[0], []).append(r)
        async with self._tx(rows[0][0]) as conn:
            for instance_id, group in by_instance.items():
                await run_settings(conn, [set_local("tenantry.instance_id", instance_id)])
                async with conn.cursor() as cur:
                    await cur.executemany(
                        "INSERT INTO audit_log (instance_id, at, action, detail) VALUES (%s, %s, %s, %s)",
                        [(i, at, a, _json(d)) for i, at, a, d in group],
                    )

    # -- memories -------------------------------------------------------------------------------------------------
    async def scope_vectors(self, scope: Scope) -> tuple[list[int], Vectors]:
        key = scope_key(scope)
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
                f"SELECT {MEMORY_COLS} FROM memories m WHERE m.instance_id = %s AND {where} AND m.attribute = %s "
                "AND m.superseded_by IS NULL AND m.subject IS NOT DISTINCT FROM %s ORDER BY m.rowid",
                [scope.instance_id, *params, attribute, subject],
            )
            rows = await cur.fetchall()
        return [_memory(r) for r in rows]

    async def search_lexical(
        self, chain: ReadChain, query: str, *, limit: int, filters: SearchFilters
    ) -> list[tuple[int, float]]:
        built = _lexical_query(chain, query, limit, filters)
        if built is None:
            return []
        async with self._tx(chain.instance_id) as conn:
            cur = await conn.execute(*built)
            rows = await cur.fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    async def search_vector(
        self, chain: ReadChain, vector: Vectors, *, limit: int, filters: SearchFilters
    ) -> list[tuple[int, float]]:
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        dims = int(q.size)
        live, live_params = _live_filter(filters, dims)
        indexed: list[Scope] = []
        if not chain.whole_instance:
            known = await self._indexed_partitions(chain.instance_id)
            indexed = [s for s in chain.scopes if (*scope_key(s), dims) in known]
        exact_scopes = tuple(s for s in chain.scopes if s not in indexed)
        out: list[tuple[int, float]] = []
        async with self._tx(chain.instance_id) as conn:
            if exact_scopes or chain.whole_instance:
                sub = chain if chain.whole_instance else ReadChain(chain.instance_id, exact_scopes)
                cur = await conn.execute(*_exact_vector_query(sub, q, live, live_params, limit))
                out.extend((int(r[0]), float(r[1])) for r in await cur.fetchall())
            for scope in indexed:
                out.extend(await self._hnsw(conn, scope, q, limit=limit, live=live, live_params=live_params))
        out.sort(key=lambda r: (-r[1], r[0]))
        return out[:limit]

    async def explain_search(
        self, chain: ReadChain, query: str, vector: Vectors, *, limit: int = 10, filters: SearchFilters | None = None
    ) -> list[str]:
        """The plans (``EXPLAIN``, nothing run) of the statements a search of ``chain`` runs: the lexical query
        and the exact vector query, built as ``search_lexical`` and ``search_vector`` build them. On Citus,
        ``Task Count: 1`` in a plan means the statement is routed to one shard."""
        f = filters or SearchFilters()
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        statements = [_exact_vector_query(chain, q, *_live_filter(f, int(q.size)), limit)]
        lexical = _lexical_query(chain, query, limit, f)
        if lexical is not None:
            statements.insert(0, lexical)
        plans: list[str] = []
        async with self._tx(chain.instance_id) as conn:
            for text, params in statements:
                plans.append(await explain(conn, text, params))
        return plans

    async def get_memories(self, chain: ReadChain, rowids: list[int]) -> dict[int, MemoryRecord]:
        if not rowids:
            return {}
        route, rparams = _route(chain)
        where, params = scope_filter(chain, dialect="postgres")
        async with self._tx(chain.instance_id) as conn:
            cur = await conn.execute(
                f"SELECT {MEMORY_COLS} FROM memories m WHERE {route} AND m.rowid = ANY(%s) AND {where}",
                [*rparams, list(rowids), *params],
            )
            rows = await cur.fetchall()
        return {int(r[0]): _memory(r) for r in rows}

    async def get_memory(self, chain: ReadChain, memory_id: str) -> MemoryRecord | None:
        route, rparams = _route(chain)
        where, params = scope_filter(chain, dialect="postgres")
        async with self._tx(chain.instance_id) as conn:
            cur = await conn.execute(
                f"SELECT {MEMORY_COLS} FROM memories m WHERE {route} AND m.memory_id = %s AND {where}",
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
                f"SELECT {MEMORY_COLS} FROM memories m WHERE {cond} ORDER BY m.rowid DESC LIMIT %s OFFSET %s",
                [*args, limit, offset],
            )
            rows = await cur.fetchall()
        return [_memory(r) for r in rows], int(total_row[0]) if total_row else 0

    # -- bulk import -----------------------------------------------------------------------------------------------
    async def bulk_insert_memories(self, instance_id: str, rows: Sequence[tuple[Scope, NewMemory]]) -> int:
        """Insert many memories of one instance at once (imports, benchmarks); returns the number inserted.

        One transaction as ``tenantry_app`` bound to ``instance_id``, so the policies check every row. ``COPY``
        cannot write into a table with row-level security: on plain PostgreSQL the rows are COPYed (binary) into a
        temporary table, then moved with one ``INSERT ... SELECT``; on Citus that ``INSERT ... SELECT`` would reach
        the shards as a ``COPY`` (refused for the same reason), so the rows go as pipelined ``INSERT`` statements.
        Scope versions are bumped as for a normal write. No reconciliation (deduplication, supersession) is done:
        the caller brings final memories.
        """
        if not rows:
            return 0
        if any(s.instance_id != instance_id for s, _ in rows):
            raise ValueError("bulk_insert_memories: every row must belong to instance_id")
        cols = f"{NEW_MEMORY_COLS}, dims, embedding, fts_text"
        now, d = _now(), PG_DIALECT
        none: dict[str, Any] = {"document_id": None, "conversation_id": None, "ingestion_id": None}
        values = [
            (
                *memory_values(d, scope, mem, **none, created_at=now),
                *d.search_values(mem.vector, mem.fts_text or mem.draft.content),
            )
            for scope, mem in rows
        ]
        async with self._tx(instance_id) as conn, conn.cursor() as cur:
            if await is_distributed(conn, "memories"):
                await cur.executemany(f"INSERT INTO memories ({cols}) VALUES ({d.marks(len(values[0]))})", values)
            else:
                types = [*["text"] * 9, "float8", *["timestamptz"] * 2, "text", *["jsonb"] * 2, *["text"] * 2]
                types += ["jsonb", *["text"] * 3, "timestamptz", "int2", "vector", "text"]
                await cur.execute(
                    f"CREATE TEMP TABLE tenantry_bulk ON COMMIT DROP AS SELECT {cols} FROM memories WITH NO DATA"
                )
                async with cur.copy(f"COPY tenantry_bulk ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(types)
                    for row in values:
                        await copy.write_row(row)
                await cur.execute(f"INSERT INTO memories ({cols}) SELECT {cols} FROM tenantry_bulk")
            inserted = cur.rowcount
            await drive(conn, bump(d, [scope_key(s) for s, _ in rows], create=True))
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
                f"SELECT {MEMORY_COLS} FROM memories m WHERE {route} AND {where} AND m.superseded_by IS NULL "
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
