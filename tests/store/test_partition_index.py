"""PostgreSQL: a large partition gets its own partial HNSW index; searches through it stay in the chain, keep the
store's filters, and find (almost) what the exact search finds."""

from __future__ import annotations

import numpy as np
import pytest
from tests.store.helpers import new_memory

from tenantry.scope import Relationship
from tenantry.scope import Scope
from tenantry.scope import ScopeLevel
from tenantry.scope import user_chain
from tenantry.store.base import NewMemory
from tenantry.store.base import SearchFilters
from tenantry.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres


def _random_memories(n: int, seed: int) -> list[NewMemory]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        mem = new_memory(f"client note {i}", memory_type="fact" if i % 5 else "preference")
        v = rng.normal(size=64).astype(np.float32)
        mem.vector = v / np.linalg.norm(v)
        out.append(mem)
    return out


async def test_partition_index_search(pg_dsn: str) -> None:
    store = PostgresStore(pg_dsn)
    await store.open()
    try:
        inst = (await store.create_instance("big", Relationship.B2B)).instance_id
        await store.set_instance_embedder(inst, "random", 64)
        client = Scope(inst, ScopeLevel.CLIENT)
        alice = Scope(inst, ScopeLevel.USER, "acme", "alice")
        bob = Scope(inst, ScopeLevel.USER, "acme", "bob")
        await store.bulk_insert_memories(inst, [(client, m) for m in _random_memories(3000, 1)])
        await store.bulk_insert_memories(
            inst, [(alice, m) for m in _random_memories(50, 2)] + [(bob, m) for m in _random_memories(50, 3)]
        )
        chain = user_chain(inst, Relationship.B2B, user_id="alice", customer_id="acme")
        queries = _random_memories(20, 4)
        exact = [await store.search_vector(chain, q.vector, limit=10, filters=SearchFilters()) for q in queries]
        exact_pref = [
            await store.search_vector(chain, q.vector, limit=10, filters=SearchFilters(types=("preference",)))
            for q in queries
        ]
        assert await store.partition_sizes(inst) == [(client, 3000), (alice, 50), (bob, 50)]
        built = await store.index_large_partitions(min_rows=1000)  # the CLIENT partition only
        assert [(s, n) for s, n, _ in built] == [(client, 3000)]
        assert await store.partition_plan_uses_index(client, queries[0].vector)
        assert await store.index_large_partitions(min_rows=1000) == []  # already indexed
        allowed = {r.rowid for r in (await store.get_memories(chain, list(range(1, 4000)))).values()}
        hits = total = 0
        for q, want, want_pref in zip(queries, exact, exact_pref, strict=True):
            got = await store.search_vector(chain, q.vector, limit=10, filters=SearchFilters())
            assert {r for r, _ in got} <= allowed
            assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
            hits += len({r for r, _ in got} & {r for r, _ in want})
            total += len(want)
            pref = await store.search_vector(chain, q.vector, limit=10, filters=SearchFilters(types=("preference",)))
            recs = await store.get_memories(chain, [r for r, _ in pref])
            assert all(rec.memory_type == "preference" for rec in recs.values()) and len(pref) == len(want_pref)
        assert hits / total >= 0.9
    finally:
        await store.close()
