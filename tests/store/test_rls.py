"""Row-level security, the second guard behind the scope filter (PostgreSQL only).

The queries here deliberately bypass ``scope_filter``: raw SQL on the store's own transactions. A session set to
instance X must read zero rows of instance Y, must not write rows of Y, and roles/owners must not get around it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from tests.pg import PgServer
from tests.store.helpers import new_memory
from tests.store.helpers import write

from tenantry.scope import Scope
from tenantry.scope import ScopeLevel
from tenantry.store import migrations
from tenantry.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres

TENANT_TABLES = migrations.POSTGRES_TENANT_TABLES


@pytest.fixture
async def pg_store(pg_dsn: str) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(pg_dsn)
    await store.open()
    try:
        x = Scope("inst_x", ScopeLevel.USER, "acme", "alice")
        y = Scope("inst_y", ScopeLevel.USER, "acme", "alice")  # same customer and user ids, other instance
        await write(store, [(x, [new_memory("x secret one"), new_memory("x secret two")])])
        await write(store, [(y, [new_memory("y secret")])])
        for inst in ("inst_x", "inst_y"):
            await store.bind_conversation(inst, "conv", "acme", "alice")
            await store.audit(inst, "test", detail={})
        await store.flush_audit()
        yield store
    finally:
        await store.close()


async def test_session_of_x_reads_zero_rows_of_y(pg_store: PostgresStore) -> None:
    async with pg_store._tx("inst_x") as conn:
        for table in TENANT_TABLES:
            cur = await conn.execute(f"SELECT DISTINCT instance_id FROM {table}")  # no scope filter at all
            assert {r[0] for r in await cur.fetchall()} <= {"inst_x"}, table
        cur = await conn.execute("SELECT content FROM memories ORDER BY content")
        assert [r[0] for r in await cur.fetchall()] == ["x secret one", "x secret two"]
        cur = await conn.execute("SELECT count(*) FROM memories WHERE instance_id = 'inst_y'")
        assert (await cur.fetchone()) == (0,)
    async with pg_store._tx("inst_y") as conn:
        cur = await conn.execute("SELECT content FROM memories")
        assert [r[0] for r in await cur.fetchall()] == ["y secret"]


async def test_session_of_x_cannot_touch_rows_of_y(pg_store: PostgresStore) -> None:
    async with pg_store._tx("inst_x") as conn:
        cur = await conn.execute("UPDATE memories SET content = 'owned' WHERE instance_id = 'inst_y' RETURNING 1")
        assert await cur.fetchall() == []
        cur = await conn.execute("DELETE FROM memories WHERE true RETURNING instance_id")
        assert {r[0] for r in await cur.fetchall()} == {"inst_x"}
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        async with pg_store._tx("inst_x") as conn:
            await conn.execute(
                "INSERT INTO conversations (instance_id, conversation_id, customer_id, user_id, created_at) "
                "VALUES ('inst_y', 'sneaky', 'acme', 'alice', now())"
            )
    # Moving a row to another instance is refused too: by the policy, or on Citus already by the planner (the
    # instance is the distribution column).
    with pytest.raises(
        (psycopg.errors.InsufficientPrivilege, psycopg.errors.FeatureNotSupported),
        match="row-level security|modifying the partition value",
    ):
        async with pg_store._tx("inst_x") as conn:
            await conn.execute("UPDATE conversations SET instance_id = 'inst_y'")
    async with pg_store._tx("inst_y") as conn:
        cur = await conn.execute("SELECT content FROM memories")
        assert [r[0] for r in await cur.fetchall()] == ["y secret"]


async def test_no_instance_set_reads_nothing(pg_store: PostgresStore) -> None:
    assert pg_store._pool is not None
    async with pg_store._pool.connection() as conn, conn.transaction():
        await conn.execute("SET LOCAL ROLE tenantry_app")
        for table in TENANT_TABLES:
            cur = await conn.execute(f"SELECT count(*) FROM {table}")
            assert (await cur.fetchone()) == (0,), table


async def test_admin_role_cannot_read_memories_and_app_role_cannot_read_keys(pg_store: PostgresStore) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        async with pg_store._tx(None) as conn:
            await conn.execute("SELECT count(*) FROM memories")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        async with pg_store._tx("inst_x") as conn:
            await conn.execute("SELECT count(*) FROM api_keys")
    async with pg_store._tx(None) as conn:  # the queue is the admin role's: it sees every instance's jobs
        cur = await conn.execute("SELECT count(DISTINCT instance_id) FROM ingestions")
        assert (await cur.fetchone()) == (2,)


async def test_owner_login_without_role_switch_sees_nothing(pg_store: PostgresStore, pg_dsn: str) -> None:
    """FORCE ROW LEVEL SECURITY: the schema owner (the DSN's login role) gets no policy of its own."""
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        cur = await conn.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        row = await cur.fetchone()
        assert row is not None and row[1] is False
        for table in migrations.POSTGRES_RLS_TABLES:
            cur = await conn.execute(f"SELECT count(*) FROM {table}")
            assert (await cur.fetchone()) == (0,), table
            cur = await conn.execute(
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = %s::regclass", (table,)
            )
            assert (await cur.fetchone()) == (True, True), table


async def test_superuser_login_is_still_subject_to_rls_after_the_role_switch(
    pg_store: PostgresStore, pg_server: PgServer, pg_dsn: str
) -> None:
    if pg_server.external and not pg_server.citus:  # a Citus cluster: superuser DSN, owner role made here
        pytest.skip("needs the superuser of the private test server")
    dbname = pg_dsn.rsplit("/", 1)[1].split("?", 1)[0]
    su = PostgresStore(make_conninfo(pg_server.admin_dsn, dbname=dbname))
    await su.open()
    try:
        async with su._tx("inst_x") as conn:
            cur = await conn.execute("SELECT DISTINCT instance_id FROM memories")
            assert {r[0] for r in await cur.fetchall()} == {"inst_x"}
    finally:
        await su.close()


async def test_bulk_insert_goes_through_the_policies(pg_store: PostgresStore) -> None:
    from tenantry.scope import ReadChain
    from tenantry.store.base import SearchFilters

    x = Scope("inst_x", ScopeLevel.CUSTOMER, "acme")
    n = await pg_store.bulk_insert_memories("inst_x", [(x, new_memory(f"bulk row {i}")) for i in range(50)])
    assert n == 50
    rows, total = await pg_store.list_memories(ReadChain.single(x), offset=0, limit=100, filters=SearchFilters())
    assert total == 50 and await pg_store.customer_exists("inst_x", "acme")
    with pytest.raises(ValueError):
        await pg_store.bulk_insert_memories("inst_x", [(Scope("inst_y", ScopeLevel.CLIENT), new_memory("sneaky"))])
