"""The base the PostgreSQL backend's mixins are written against: the store attributes and the transaction they use
(defined by ``PostgresStore``), the statements that open each transaction, the plan runner, and the dialect hooks of
the PostgreSQL schema (a memory's ``fts_text`` and ``vector`` live in its own row; ``fts`` is a generated
``tsvector``).

**Transaction settings** (the same on plain PostgreSQL and on Citus, docs/postgres.md): every transaction begins,
at its top level, with ``SET LOCAL citus.propagate_set_commands = 'local'`` (a harmless placeholder setting where
Citus is not loaded), the store's timeouts, ``SET LOCAL ROLE`` and ``SET LOCAL tenantry.instance_id = '<id>'``.
Citus carries the ``SET LOCAL`` commands issued after the first one to every worker connection of the transaction
(``set_config()`` calls are not carried, so row-level security on a worker would see no tenant, and a lock timeout
set on the coordinator would not bound a wait on a worker). They are sent in one pipeline: one round trip. ``SET``
takes no bind parameter, so the instance id is quoted as a literal by psycopg. Never issue them inside a savepoint:
Citus forgets a ``SET LOCAL`` of a savepoint for the worker connections it opens after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any
from typing import TypeVar
from typing import cast

from psycopg import AsyncClientCursor
from psycopg import sql
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

__all__ = [
    "PG_DIALECT",
    "PROPAGATE",
    "PgDialect",
    "Statement",
    "bind",
    "drive",
    "explain",
    "run_settings",
    "set_local",
    "transaction_settings",
]

T = TypeVar("T")

Statement = sql.SQL | sql.Composed
PROPAGATE = sql.SQL("SET LOCAL citus.propagate_set_commands = 'local'")


def set_local(name: str, value: str | int) -> sql.Composed:
    """``SET LOCAL <name> = '<value>'`` (Citus carries it to the workers; ``name`` is one of ours, never input)."""
    if not name.replace(".", "").replace("_", "").isalnum():
        raise ValueError(f"not a setting name: {name!r}")
    return sql.SQL("SET LOCAL {} = {}").format(sql.SQL(name), sql.Literal(str(value)))


def transaction_settings(*, lock_timeout_ms: int, statement_timeout_ms: int) -> list[Statement]:
    """What opens every transaction before its role: SET propagation, then the timeouts (0 = none)."""
    out: list[Statement] = [PROPAGATE]
    if lock_timeout_ms:
        out.append(set_local("lock_timeout", f"{lock_timeout_ms}ms"))
    if statement_timeout_ms:
        out.append(set_local("statement_timeout", f"{statement_timeout_ms}ms"))
    return out


def bind(role: str, instance_id: str | None) -> list[Statement]:
    """Switch the transaction to ``role``, bound to ``instance_id`` (the tenant policies' setting) unless ``None``."""
    out: list[Statement] = [sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role))]
    if instance_id is not None:
        out.append(set_local("tenantry.instance_id", instance_id))
    return out


async def explain(conn: Conn, query: str, params: Sequence[Any]) -> str:
    """The plan of ``query`` (``EXPLAIN``, nothing run), its parameters bound as literals on the client: Citus does
    not always explain a distributed statement sent with server-side parameters ("could not determine data type of
    parameter")."""
    async with AsyncClientCursor(conn) as cur:
        await cur.execute("EXPLAIN " + query, params)
        return "\n".join(str(r[0]) for r in await cur.fetchall())


async def run_settings(conn: Conn, statements: Sequence[Statement]) -> None:
    """Run ``SET`` statements in one round trip (pipeline mode), in the caller's transaction."""
    async with conn.pipeline():
        for statement in statements:
            await conn.execute(statement)


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
