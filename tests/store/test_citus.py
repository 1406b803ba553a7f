"""The Citus rules of the PostgreSQL backend (docs/postgres.md, "Citus").

On plain PostgreSQL (CI) these check our own schema and transactions against what Citus needs: every key of a
distributed table includes (and, here, is led by) its distribution column; the claim query touches only the queue
table; every transaction sets its tenant, role and timeouts with ``SET LOCAL`` after ``citus.propagate_set_commands``;
the roles can log in. Their ``citus`` variants (and the Citus-only tests) run on the cluster named by
``TENANTRY_TEST_CITUS_DSN``: a scoped search is routed to one shard, a lock wait on a worker is bounded by the
store's lock timeout, the queue stays a local table.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from tests.store.helpers import U
from tests.store.helpers import fresh_database
from tests.store.helpers import job_for
from tests.store.helpers import new_memory
from tests.store.helpers import write

from tenantry.errors import StoreUnavailableError
from tenantry.scope import ReadChain
from tenantry.scope import Relationship
from tenantry.scope import Scope
from tenantry.scope import ScopeLevel
from tenantry.scope import user_chain
from tenantry.store import migrations
from tenantry.store._pg_citus import LAYOUTS
from tenantry.store._pg_citus import Key
from tenantry.store._pg_citus import current_layout
from tenantry.store._pg_citus import key_violations
from tenantry.store._pg_citus import schema_keys
from tenantry.store._pg_citus import wanted_layout
from tenantry.store.base import MemoryEdit
from tenantry.store.base import SearchFilters
from tenantry.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_store(pg_dsn: str) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(pg_dsn, lock_timeout=2.0)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def _keys(dsn: str) -> list[Key]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        return await schema_keys(conn)


# -- keys ---------------------------------------------------------------------------------------------------------
async def test_every_key_of_a_distributed_table_includes_its_distribution_column(pg_dsn: str) -> None:
    keys = await _keys(pg_dsn)
    for by in LAYOUTS:
        layout = wanted_layout(by)
        assert key_violations(keys, layout) == [], by
        distributed = {t for t, p in layout.items() if p.kind == "distributed"}
        assert distributed <= {k.table for k in keys if k.name.endswith("_pkey")}, by  # each one has a primary key
    assert {"memories_memory_id", "memories_pkey", "scopes_pkey"} <= {k.name for k in keys}


async def test_a_key_without_the_distribution_column_is_reported(pg_dsn: str, pg_server: Any) -> None:
    bad = [
        "CREATE UNIQUE INDEX bad_memory_id ON memories (memory_id)",  # no instance_id: breaks both layouts
        "CREATE UNIQUE INDEX bad_document ON documents (instance_id, document_id, content_hash)",  # no customer_id
        "CREATE UNIQUE INDEX bad_order ON scopes (customer_id, instance_id, level, user_id, version)",
    ]
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        if pg_server.citus:  # Citus itself refuses a key it cannot enforce shard by shard
            with pytest.raises(psycopg.Error, match="partition column|distribution column"):
                await conn.execute(bad[0] if pg_server.citus == "instance" else bad[1])
            return
        for statement in bad:
            await conn.execute(statement)
    keys = await _keys(pg_dsn)
    by_instance = key_violations(keys, wanted_layout("instance"))
    by_customer = key_violations(keys, wanted_layout("customer"))
    assert [v.split(":")[0] for v in by_instance] == ["memories", "scopes"], by_instance
    assert "lacks the distribution column instance_id" in by_instance[0] and "not led by" in by_instance[1]
    assert sorted(v.split(" ")[2] for v in by_customer) == ["bad_document", "bad_memory_id", "bad_order"]
    assert any("bad_document" in v and "lacks the distribution column customer_id" in v for v in by_customer)


# -- the queue ----------------------------------------------------------------------------------------------------
async def test_the_claim_touches_only_the_queue_table(pg_store: PostgresStore, pg_dsn: str) -> None:
    """Another session holds every other table of the schema exclusively: claiming (queued jobs, then jobs whose
    lease ran out) still goes through, so it reads and writes ``ingestions`` alone (on Citus: a local table of the
    coordinator)."""
    x = U("inst_x", "acme", "alice")
    await write(pg_store, [(x, [new_memory("an earlier memory")])])
    job = job_for(x)
    await pg_store.enqueue(job, content_hash="h")
    others = sorted(set(migrations.POSTGRES_RLS_TABLES) - {"ingestions"})
    async with await psycopg.AsyncConnection.connect(pg_dsn) as locker:
        await locker.execute(f"LOCK TABLE {', '.join(others)} IN ACCESS EXCLUSIVE MODE")
        claimed = await asyncio.wait_for(pg_store.claim_jobs("w", limit=5, lease_seconds=0.01), timeout=15)
        assert [j.ingestion_id for j in claimed] == [job.ingestion_id]
        await asyncio.sleep(0.05)  # the lease runs out: the next claim takes the job over
        again = await asyncio.wait_for(pg_store.claim_jobs("w", limit=5, lease_seconds=60), timeout=15)
        assert [(j.ingestion_id, j.attempts) for j in again] == [(job.ingestion_id, 2)]
        await locker.rollback()


async def test_a_claim_that_reads_another_table_would_wait_for_it(pg_store: PostgresStore, pg_dsn: str) -> None:
    """The lock test above can fail: a statement on the queue that also reads ``instances`` waits on the lock."""
    await pg_store.enqueue(job_for(U("inst_x", "acme", "alice")), content_hash="h")
    async with await psycopg.AsyncConnection.connect(pg_dsn) as locker:
        await locker.execute("LOCK TABLE instances IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(StoreUnavailableError, match="lock timeout"):
            async with pg_store._tx(None) as conn:
                await conn.execute(
                    "SELECT i.ingestion_id FROM ingestions i WHERE NOT EXISTS "
                    "(SELECT 1 FROM instances n WHERE n.instance_id = i.instance_id AND n.archived) "
                    "FOR UPDATE OF i SKIP LOCKED"
                )
        await locker.rollback()


# -- transaction settings -----------------------------------------------------------------------------------------
_SHOW = (
    "SELECT current_setting('citus.propagate_set_commands', true), current_user, "
    "current_setting('tenantry.instance_id', true), current_setting('lock_timeout'), "
    "current_setting('statement_timeout')"
)


async def test_every_transaction_sets_tenant_role_and_timeouts_locally(pg_dsn: str) -> None:
    store = PostgresStore(pg_dsn, min_size=1, max_size=1, lock_timeout=1.5, statement_timeout=20)
    await store.open()
    try:
        hostile = "inst_x'; RESET ROLE; --"  # SET takes no parameter: the id is quoted as a literal
        async with store._tx(hostile) as conn:
            row = await (await conn.execute(_SHOW)).fetchone()
        assert row == ("local", "tenantry_app", hostile, "1500ms", "20s")
        async with store._tx(None) as conn:
            row = await (await conn.execute(_SHOW)).fetchone()
        assert row is not None and row[:3] == ("local", "tenantry_admin", "")
        assert store._pool is not None
        async with store._pool.connection() as conn:  # the same (only) connection, after those transactions
            row = await (await conn.execute(_SHOW)).fetchone()
        assert row is not None and row[1] == "tenantry_owner" and not row[2] and row[3] == "0"
    finally:
        await store.close()


async def test_timeouts_default_to_the_sessions_own(pg_dsn: str) -> None:
    """Without arguments: the login session's settings (here the DSN's ``options``), else a 30 s lock timeout."""
    configured = make_conninfo(pg_dsn, options="-c lock_timeout=7s -c statement_timeout=90s")
    for dsn, expected in ((configured, ("7s", "90s")), (pg_dsn, ("30s", "0"))):
        store = PostgresStore(dsn, min_size=1, max_size=1)
        await store.open()
        try:
            async with store._tx("inst_x") as conn:
                row = await (await conn.execute(_SHOW)).fetchone()
            assert row is not None and row[3:] == expected
        finally:
            await store.close()


async def test_a_lock_wait_is_bounded_by_the_lock_timeout(pg_store: PostgresStore) -> None:
    """One transaction holds a memory row; another store call that must lock it fails after the lock timeout
    (2 s here) instead of waiting. On Citus the wait happens on a worker: the timeout must have reached it."""
    x = U("inst_x", "acme", "alice")
    await write(pg_store, [(x, [new_memory("a contended memory")])])
    async with pg_store._tx("inst_x") as holder:
        cur = await holder.execute(
            "SELECT memory_id FROM memories WHERE instance_id = 'inst_x' AND customer_id = 'acme' FOR UPDATE"
        )
        (memory_id,) = await cur.fetchone() or ("",)
        start = time.monotonic()
        with pytest.raises(StoreUnavailableError, match="lock timeout"):
            await asyncio.wait_for(pg_store.delete_memories(ReadChain.single(x), [memory_id]), timeout=25)
        assert 1.5 < time.monotonic() - start < 15


# -- roles --------------------------------------------------------------------------------------------------------
async def test_the_roles_can_log_in_and_the_owner_only_switches_to_them(pg_dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        for role in (migrations.POSTGRES_APP_ROLE, migrations.POSTGRES_ADMIN_ROLE):
            cur = await conn.execute(
                "SELECT rolcanlogin, pg_has_role(current_user, rolname, 'SET'), "
                "pg_has_role(current_user, rolname, 'USAGE') FROM pg_roles WHERE rolname = %s",
                (role,),
            )
            assert await cur.fetchone() == (True, True, False), role  # log in; switch to; inherit nothing


# -- on a Citus cluster -------------------------------------------------------------------------------------------
async def _shards(dsn: str, values: list[str]) -> int:
    """How many shards of ``memories`` hold the rows of these distribution column values."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT count(DISTINCT get_shard_id_for_distribution_column('memories', v)) FROM unnest(%s::text[]) v",
            (values,),
        )
        row = await cur.fetchone()
        return int(row[0]) if row else 0


def _tasks(plan: str) -> int:
    found = re.findall(r"Task Count: (\d+)", plan)
    assert found, plan
    return int(found[0])


@pytest.mark.citus
async def test_a_scoped_search_is_routed_to_one_shard(citus_cluster: Any) -> None:
    dsn = citus_cluster.create_database()
    try:
        store = PostgresStore(dsn)
        await store.open()
        try:
            inst = await store.create_instance("routed", Relationship.B2B)
            user = U(inst.instance_id, "acme", "alice")
            await write(store, [(user, [new_memory("Alice prefers tea in the morning")])])
            vector = new_memory("tea").vector
            one = await store.explain_search(ReadChain.single(user), "tea morning", vector)
            assert [_tasks(p) for p in one] == [1, 1], one
            chain = user_chain(inst.instance_id, Relationship.B2B, user_id="alice", customer_id="acme")
            plans = await store.explain_search(chain, "tea morning", vector)
            # user -> customer -> client: one instance (one shard); by customer, the shards of 'acme' and '' (the
            # client's rows), which may be one
            values = [inst.instance_id] if citus_cluster.citus == "instance" else ["acme", ""]
            want = await _shards(dsn, values)
            assert [_tasks(p) for p in plans] == [want, want], plans
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                layout = await current_layout(conn)
            assert str(layout["ingestions"]) == "local" and str(layout["instances"]) == "reference"
        finally:
            await store.close()
    finally:
        citus_cluster.drop_database(dsn.rsplit("/", 1)[1].split("?", 1)[0])


async def test_an_update_through_a_chain_locks_one_partition(
    pg_store: PostgresStore, pg_dsn: str, pg_server: Any
) -> None:
    """``update_memory`` takes the caller's whole chain (user -> customer -> client). Its locking read is made
    within the memory's own partition: distributed by customer, the chain spans shards, and Citus refuses a locking
    read over several shards."""
    customer = "acme"
    if pg_server.citus == "customer":  # a customer whose shard is not the client rows' (customer_id '')
        for customer in (f"c{i}" for i in range(100)):
            if await _shards(pg_dsn, [customer, ""]) == 2:
                break
    scope = Scope("inst_x", ScopeLevel.CUSTOMER, customer)
    await write(pg_store, [(scope, [new_memory("The team prefers email")])])
    chain = user_chain("inst_x", Relationship.B2B, user_id="alice", customer_id=customer)
    [memory] = (await pg_store.list_memories(chain, offset=0, limit=5, filters=SearchFilters()))[0]
    edit = MemoryEdit("The team prefers chat", new_memory("chat").vector, {"k": 1})
    updated = await pg_store.update_memory(chain, memory.memory_id, edit)
    assert updated is not None and updated.content == "The team prefers chat" and updated.metadata == {"k": 1}


# -- migrations on a database that already exists ---------------------------------------------------------------------
async def _memory_id_key(conn: psycopg.AsyncConnection[Any]) -> tuple[str | None, ...]:
    return next(k.columns for k in await schema_keys(conn) if k.name == "memories_memory_id")


async def test_a_database_migrated_when_compactions_were_migration_5_is_repaired(
    plain_pg_server: Any, request: pytest.FixtureRequest
) -> None:
    """Before the Citus migration (5) was merged, main numbered the compactions table 5: such a database has 1-5
    applied without the Citus changes. Upgrading it applies 6 (already there: re-run harmlessly) and 7 (the Citus
    changes of 5)."""
    from tenantry.store._pg_schema import apply_migrations

    dsn = fresh_database(request, plain_pg_server, migrated=False)
    ddl = dict(migrations.POSTGRES)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz)")
        for version in (1, 2, 3, 4):
            await conn.execute(ddl[version].encode())
            await conn.execute("INSERT INTO schema_migrations VALUES (%s, now())", (version,))
        await conn.execute(ddl[6].encode())  # what main then applied as 5
        await conn.execute("INSERT INTO schema_migrations VALUES (5, now())")
        assert await _memory_id_key(conn) == ("instance_id", "memory_id")
        assert await apply_migrations(conn) == [6, 7]
        assert await _memory_id_key(conn) == ("instance_id", "customer_id", "memory_id")
        assert await apply_migrations(conn) == []
    store = PostgresStore(dsn)
    await store.open()  # and the store works on it
    try:
        await write(store, [(U("inst_r", "acme", "alice"), [new_memory("alice likes tea")])])
    finally:
        await store.close()


@pytest.mark.citus
async def test_distributing_tables_that_hold_rows(citus_cluster: Any, request: pytest.FixtureRequest) -> None:
    """Citus copies a table's rows into its shards with COPY, which forced row-level security refuses even to the
    owner: ``db distribute`` lifts the force for the copy and sets it again (an instance created before
    distributing used to fail it with 'COPY FROM not supported with row-level security')."""
    from tenantry.store._pg_citus import distribute

    dsn = fresh_database(request, citus_cluster, migrated=False)
    store = PostgresStore(dsn)
    await store.open()
    try:
        await store.create_instance("acme-app", Relationship.B2B)
        await write(store, [(U("inst_d", "acme", "alice"), [new_memory("alice likes tea")])])
    finally:
        await store.close()
    by = citus_cluster.citus or "instance"
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await distribute(conn, by=by)
        assert await current_layout(conn) == wanted_layout(by)
        cur = await conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname = ANY(%s) AND relkind = 'r' AND NOT relforcerowsecurity",
            (list(wanted_layout(by)),),
        )
        assert (await cur.fetchone()) == (0,)  # the force is back on every table
    store = PostgresStore(dsn)
    await store.open()
    try:
        assert [i.name for i in await store.list_instances()] == ["acme-app"]
        [rows, _] = await store.list_memories(
            ReadChain.single(U("inst_d", "acme", "alice")), offset=0, limit=5, filters=SearchFilters()
        )
        assert [r.content for r in rows] == ["alice likes tea"]
    finally:
        await store.close()


@pytest.mark.citus
async def test_a_table_a_migration_adds_joins_the_layout(citus_cluster: Any, request: pytest.FixtureRequest) -> None:
    """A migration applied to a distributed database (the store migrates when it opens) places the tables it created
    as ``db distribute`` would have, rows included: ``db check`` stays green after an upgrade."""
    from tenantry.store._pg_schema import apply_migrations

    dsn = fresh_database(request, citus_cluster)
    by = citus_cluster.citus or "instance"
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        # As if compactions had just been created by a migration: a plain table, already holding a row.
        await conn.execute("SELECT undistribute_table('compactions')")
        async with conn.transaction():
            await conn.execute("SET LOCAL ROLE tenantry_app")
            await conn.execute("SET LOCAL tenantry.instance_id = 'inst_c'")
            await conn.execute(
                "INSERT INTO compactions (instance_id, conversation_id, version, compaction_id, strategy, "
                "trigger_type, status, created_at) VALUES ('inst_c', 'conv', 1, 'cmp-1', 'balanced', 'manual_api', "
                "'completed', now())"
            )
        await conn.execute("DELETE FROM schema_migrations WHERE version = 7")
        assert (await current_layout(conn))["compactions"].kind == "plain"
        assert await apply_migrations(conn) == [7]
        assert await current_layout(conn) == wanted_layout(by)
        async with conn.transaction():  # read as the store does: the settings reach the workers
            await conn.execute("SET LOCAL citus.propagate_set_commands = 'local'")
            await conn.execute("SET LOCAL ROLE tenantry_app")
            await conn.execute("SET LOCAL tenantry.instance_id = 'inst_c'")
            cur = await conn.execute("SELECT compaction_id FROM compactions")
            assert await cur.fetchall() == [("cmp-1",)]
