"""Large partitions of the PostgreSQL backend: per-scope partial HNSW indexes (creation, lookup, search),
partition sizes, planner statistics and server info."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import numpy as np
from psycopg import sql

from ..errors import StoreUnavailableError
from ..scope import ReadChain
from ..scope import Scope
from ..scope import ScopeLevel
from ..types import Vectors
from ._pg_base import Statement
from ._pg_base import _PgBase
from ._pg_base import explain
from ._pg_base import run_settings
from ._pg_base import set_local
from ._pg_rows import Conn
from ._plan import scope_key
from ._sql import scope_filter


def _hnsw_settings(ef_search: int) -> list[Statement]:
    """For a search through a partition's HNSW index (``SET LOCAL``: on Citus the workers, which run it, get them):
    the planner's cost model for HNSW is pessimistic next to a bitmap scan + top-N sort of the same rows, so the
    sort is switched off (the exact path needs one; the index returns rows in order); a custom plan (parameter
    values known) lets it match the partial index."""
    return [
        set_local("hnsw.ef_search", ef_search),
        set_local("hnsw.iterative_scan", "relaxed_order"),
        set_local("plan_cache_mode", "force_custom_plan"),
        set_local("enable_sort", "off"),
    ]


class _PartitionsMixin(_PgBase):
    """Partial HNSW indexes of large partitions; ``search_vector`` goes through them for indexed scopes."""

    _index_cache: dict[str, tuple[float, set[tuple[str, str, str, str, int]]]]

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
        await run_settings(conn, _hnsw_settings(ef))
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
            await run_settings(conn, _hnsw_settings(100))
            plan = await explain(
                conn,
                f"SELECT m.rowid FROM memories m WHERE m.instance_id = %s AND {where} "
                f"AND m.superseded_by IS NULL AND m.dims = %s::integer "
                f"ORDER BY m.embedding::vector({dims}) <#> %s::vector({dims}) LIMIT 10",
                [scope.instance_id, *params, dims, q],
            )
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
        key = scope_key(scope)
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
                if (*scope_key(scope), d) not in have:
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
