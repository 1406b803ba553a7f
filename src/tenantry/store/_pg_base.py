"""The base the PostgreSQL backend's mixins are written against: the store attributes and the transaction they use
(defined by ``PostgresStore``), the plan runner, and the dialect hooks of the PostgreSQL schema (a memory's
``fts_text`` and ``vector`` live in its own row; ``fts`` is a generated ``tsvector``)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any
from typing import TypeVar
from typing import cast

from psycopg_pool import AsyncConnectionPool

from ..scope import ReadChain
from ..scope import Scope
from ..types import Vectors
from ._pg_rows import Conn
from ._pg_rows import _aware
from ._pg_rows import _json
from ._pg_rows import _route
from ._plan import Dialect
from ._plan import Op
from ._plan import Plan
from ._plan import PlanStore
from ._plan import Result
from ._rows import NEW_MEMORY_COLS
from ._rows import flat
from .base import NewMemory

__all__ = ["PG_DIALECT", "PgDialect", "drive"]

T = TypeVar("T")


class PgDialect(Dialect):
    name = "postgres"
    p = "%s"
    for_update = " FOR UPDATE"
    json_key = "({column} ->> '{key}')"
    json_as_text = "{column}::text"
    text_as_json = "({expr})::jsonb"
    ts = staticmethod(_aware)
    js = staticmethod(_json)

    def scoped(self, chain: ReadChain, alias: str = "m") -> tuple[str, list[Any]]:
        """The scope filter after an explicit top-level instance predicate (lets Citus route to one shard)."""
        route, rparams = _route(chain, alias)
        where, params = super().scoped(chain, alias)
        return f"{route} AND {where}", [*rparams, *params]

    def open_scope(self, scope: Scope) -> Plan[None]:
        yield from ()  # the scope row is upserted by the version bump

    def insert_memories(self, handle: None, rows: list[tuple[Any, ...]], memories: Sequence[NewMemory]) -> Plan[None]:
        yield Op(
            f"INSERT INTO memories ({NEW_MEMORY_COLS}, dims, embedding, fts_text) "
            f"VALUES ({self.marks(len(rows[0]) + 3)})",
            [
                (*row, *self.search_values(mem.vector, mem.fts_text or mem.draft.content))
                for row, mem in zip(rows, memories, strict=True)
            ],
            many=True,
        )

    def rewrite_memory(self, rowid: int, where: str, params: list[Any], text: str, vector: Vectors) -> Plan[None]:
        yield Op(
            f"UPDATE memories AS m SET dims = %s, embedding = %s, fts_text = %s WHERE {where} AND m.rowid = %s",
            [*self.search_values(vector, text), *params, rowid],
        )

    def forget_memories(self, rowids: list[int]) -> Plan[None]:
        yield from ()  # nothing is stored beside the row

    def relabel_memory(self, rowid: int, where: str, params: list[Any], text: str) -> Plan[None]:
        yield Op(f"UPDATE memories AS m SET fts_text = %s WHERE {where} AND m.rowid = %s", [text, *params, rowid])

    @staticmethod
    def search_values(vector: Vectors, text: str) -> tuple[int, Vectors, str]:
        """``dims``, ``embedding`` and ``fts_text`` of a memory row."""
        v = flat(vector)
        return int(v.size), v, text


PG_DIALECT = PgDialect()


async def drive(conn: Conn, plan: Plan[T]) -> T:
    """Run ``plan`` on ``conn`` (inside the caller's transaction)."""
    try:
        op = next(plan)
        while True:
            if op.many:
                async with conn.cursor() as cur:
                    await cur.executemany(op.sql, op.params)
                    op = plan.send(Result([], cur.rowcount))
            else:
                cur = await conn.execute(op.sql, op.params)
                rows: list[Sequence[Any]] = list(await cur.fetchall()) if cur.description is not None else []
                op = plan.send(Result(rows, cur.rowcount))
    except StopIteration as done:
        return cast(T, done.value)


class _PgBase(PlanStore):
    """What ``PostgresStore`` gives its mixins (``_pg_queue``, ``_pg_partitions``, the shared behaviours)."""

    app_role: str
    admin_role: str
    _pool: AsyncConnectionPool[Conn] | None
    dialect: Dialect = PG_DIALECT

    def _tx(self, instance_id: str | None) -> AbstractAsyncContextManager[Conn]:
        """One transaction as ``tenantry_app`` bound to ``instance_id``, or as ``tenantry_admin`` when ``None``."""
        raise NotImplementedError

    async def _run(self, plan: Plan[T], *, instance_id: str | None, write: bool = True) -> T:
        async with self._tx(instance_id) as conn:
            return await drive(conn, plan)
