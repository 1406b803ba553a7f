"""ONE conformance suite for every storage backend (SQLite file, PostgreSQL): each test runs unchanged on both.

Store level: instances and keys, the queue (enqueue idempotency, claim, complete, fail, lease expiry, attempts),
memories (get/list/delete/update, search, supersession, merging), conversations, transcripts, deletion receipts,
metadata filters with every operator. Service level (AsyncMemoryService with the hashing embedder and a
deterministic sentence extractor): the tenancy tables of SPEC §1 row by row, conversations, and a hypothesis
isolation property.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from tests.store.conftest import make_settings
from tests.store.helpers import AUDIT_OFF
from tests.store.helpers import AUDIT_ON
from tests.store.helpers import CL
from tests.store.helpers import EMBEDDER
from tests.store.helpers import C
from tests.store.helpers import SentenceExtractor
from tests.store.helpers import U
from tests.store.helpers import audit_actions
from tests.store.helpers import audit_rows
from tests.store.helpers import dialect_of
from tests.store.helpers import job_for
from tests.store.helpers import new_memory
from tests.store.helpers import run_sql
from tests.store.helpers import write

from tenantry.contract import ClientContextQuery
from tenantry.contract import ConversationContextQuery
from tenantry.contract import CreateMemory
from tenantry.contract import CustomerContextQuery
from tenantry.contract import DeleteData
from tenantry.contract import IngestTranscript
from tenantry.contract import ListMemories
from tenantry.contract import MemoryRef
from tenantry.contract import Message
from tenantry.contract import RecordMessages
from tenantry.contract import UserContextQuery
from tenantry.errors import ConflictError
from tenantry.errors import ContextNotFoundError
from tenantry.errors import InvalidInputError
from tenantry.errors import TenantryError
from tenantry.errors import TranscriptConflictError
from tenantry.scope import ReadChain
from tenantry.scope import Relationship
from tenantry.scope import Scope
from tenantry.scope import client_chain
from tenantry.scope import customer_chain
from tenantry.scope import user_chain
from tenantry.service import AsyncMemoryService
from tenantry.store import open_store
from tenantry.store._edits import pseudonym
from tenantry.store.base import AsyncStore
from tenantry.store.base import Audit
from tenantry.store.base import EraseOptions
from tenantry.store.base import JobRecord
from tenantry.store.base import MemoryEdit
from tenantry.store.base import MessageRecord
from tenantry.store.base import ProcessedJob
from tenantry.store.base import SearchFilters
from tenantry.store.base import VectorSearch

F = SearchFilters


async def contents(store: AsyncStore, chain: ReadChain, filters: SearchFilters | None = None) -> set[str]:
    rows, total = await store.list_memories(chain, offset=0, limit=1000, filters=filters or F())
    assert total == len(rows)
    return {r.content for r in rows}


# -- instances and keys -------------------------------------------------------------------------------------------
async def test_instances(store: AsyncStore) -> None:
    a = await store.create_instance("alpha", Relationship.B2B)
    b = await store.create_instance("beta", Relationship.B2C)
    assert a.instance_id.startswith("inst_") and len(a.instance_id) == 21
    with pytest.raises(ConflictError) as exc:
        await store.create_instance("alpha", Relationship.B2C)
    assert exc.value.code == "instance_exists"
    got = await store.get_instance("alpha")
    assert got is not None and got.instance_id == a.instance_id and got.relationship is Relationship.B2B
    got = await store.get_instance(b.instance_id)
    assert got is not None and got.name == "beta" and got.relationship is Relationship.B2C
    assert got.created_at.tzinfo is not None
    assert await store.get_instance("nope") is None
    assert [i.name for i in await store.list_instances()] == ["alpha", "beta"]
    await store.archive_instance(b.instance_id)
    assert [i.name for i in await store.list_instances()] == ["alpha"]
    assert [i.name for i in await store.list_instances(include_archived=True)] == ["alpha", "beta"]
    await store.set_instance_embedder(a.instance_id, "hashing", 64)
    got = await store.get_instance("alpha")
    assert got is not None and (got.embedder, got.dimensions) == ("hashing", 64)


async def test_keys(store: AsyncStore) -> None:
    a = await store.create_instance("alpha", Relationship.B2B)
    k1 = await store.create_key(a.instance_id, "ci", "hash-1", "tn_abc")
    k2 = await store.create_key(a.instance_id, "web", "hash-2", "tn_def")
    found = await store.find_key("hash-1")
    assert found is not None and found[0].key_id == k1.key_id and found[1].instance_id == a.instance_id
    assert await store.find_key("hash-x") is None
    assert [k.key_id for k in await store.list_keys(a.instance_id)] == [k1.key_id, k2.key_id]
    assert await store.revoke_key(k1.key_id) is True
    assert await store.revoke_key(k1.key_id) is False
    assert await store.find_key("hash-1") is None
    keys = {k.key_id: k for k in await store.list_keys(a.instance_id)}
    assert keys[k1.key_id].revoked_at is not None and keys[k2.key_id].revoked_at is None
    with pytest.raises(ConflictError):
        await store.create_key(a.instance_id, "dup", "hash-2", "tn_ghi")


# -- queue ----------------------------------------------------------------------------------------------------------
async def test_enqueue_is_idempotent_per_scope_and_document(store: AsyncStore) -> None:
    s = U("inst_q", "acme", "alice")
    j1 = job_for(s, "doc-1", payload={"document": "hello", "n": [1, 2]})
    stored, created = await store.enqueue(j1, content_hash="h")
    assert created and stored.ingestion_id == j1.ingestion_id
    again, created = await store.enqueue(job_for(s, "doc-1"), content_hash="h")
    assert not created and again.ingestion_id == j1.ingestion_id and again.payload == {"document": "hello", "n": [1, 2]}
    other, created = await store.enqueue(job_for(U("inst_q", "globex", "alice"), "doc-1"), content_hash="h")
    assert created and other.ingestion_id != j1.ingestion_id
    assert await store.count_jobs() == 2
    got = await store.get_job("inst_q", j1.ingestion_id)
    assert got is not None and got.status == "queued" and got.scope == s and got.attempts == 0
    assert await store.get_job("inst_other", j1.ingestion_id) is None


async def test_claim_complete_and_ownership(store: AsyncStore) -> None:
    s = U("inst_q", "acme", "alice")
    jobs = [job_for(s, f"doc-{i}") for i in range(5)]
    for j in jobs:
        await store.enqueue(j, content_hash=j.document_id)
    first = await store.claim_jobs("w1", limit=3, lease_seconds=60)
    second = await store.claim_jobs("w2", limit=10, lease_seconds=60)
    assert [j.document_id for j in first] == ["doc-0", "doc-1", "doc-2"]  # oldest first
    assert [j.document_id for j in second] == ["doc-3", "doc-4"]
    assert all(j.status == "processing" and j.attempts == 1 and j.claim and j.started_at for j in first + second)
    assert len({j.claim for j in first}) == 1 and first[0].claim != second[0].claim
    assert await store.claim_jobs("w3", limit=10, lease_seconds=60) == []
    # A result carrying someone else's claim token is ignored: nothing stored, job untouched.
    j = first[0]
    mem = new_memory("alice likes tea")
    await store.complete_job(ProcessedJob(j.ingestion_id, "bogus", s, j.document_id, None, [mem], [], []))
    assert (await store.get_job("inst_q", j.ingestion_id)).status == "processing"  # type: ignore[union-attr]
    assert await contents(store, ReadChain.single(s)) == set()
    await store.complete_job(
        ProcessedJob(
            j.ingestion_id,
            j.claim,
            s,
            j.document_id,
            "conv-1",
            [mem],
            [],
            [],
            document={"content": "alice likes tea", "document_type": "note", "metadata": {"a": 1}},
        )
    )
    done = await store.get_job("inst_q", j.ingestion_id)
    assert done is not None and done.status == "completed" and done.memory_ids == [mem.memory_id]
    assert done.completed_at is not None and done.claim is None
    assert await contents(store, ReadChain.single(s)) == {"alice likes tea"}
    # Completing twice is a no-op (the claim is gone).
    await store.complete_job(ProcessedJob(j.ingestion_id, j.claim, s, j.document_id, None, [new_memory("x y")], [], []))
    assert await contents(store, ReadChain.single(s)) == {"alice likes tea"}
    assert await store.count_jobs() == 4
    assert await store.count_jobs(statuses=("completed",)) == 1


async def test_complete_jobs_stores_a_batch_and_isolates_a_failing_job(store: AsyncStore) -> None:
    s = U("inst_q", "acme", "alice")
    for i in range(3):
        await store.enqueue(job_for(s, f"doc-{i}"), content_hash=f"h{i}")
    a, b, c = await store.claim_jobs("w1", limit=3, lease_seconds=60)
    clash = new_memory("bob likes chess")
    taken = new_memory("carol likes golf")
    await store.complete_job(ProcessedJob(a.ingestion_id, a.claim, s, a.document_id, None, [taken], [], []))
    duplicate = new_memory("dave likes judo")
    duplicate.memory_id = taken.memory_id  # the second write of job b violates the unique memory id
    results = [
        ProcessedJob(b.ingestion_id, b.claim, s, b.document_id, None, [clash, duplicate], [], []),
        ProcessedJob(c.ingestion_id, c.claim, s, c.document_id, None, [new_memory("erin likes yoga")], [], []),
    ]
    failed = await store.complete_jobs(results)
    assert [(r.ingestion_id, bool(error)) for r, error in failed] == [(b.ingestion_id, True)]
    # Job b is rolled back whole (its first memory too) and still held; job c, after it in the batch, is stored.
    assert await contents(store, ReadChain.single(s)) == {"carol likes golf", "erin likes yoga"}
    assert (await store.get_job("inst_q", b.ingestion_id)).status == "processing"  # type: ignore[union-attr]
    assert (await store.get_job("inst_q", c.ingestion_id)).status == "completed"  # type: ignore[union-attr]
    assert await store.complete_jobs([]) == []


async def test_concurrent_claims_never_share_a_job(store: AsyncStore) -> None:
    s = C("inst_q", "acme")
    for i in range(40):
        await store.enqueue(job_for(s, f"d{i}"), content_hash="h")
    batches = await asyncio.gather(*(store.claim_jobs(f"w{i}", limit=7, lease_seconds=60) for i in range(8)))
    ids = [j.ingestion_id for b in batches for j in b]
    assert len(ids) == 40 and len(set(ids)) == 40


async def test_a_lost_worker_is_not_a_failed_attempt(store: AsyncStore) -> None:
    """A job whose worker died is claimed again after its lease, however often that happens (more often than any
    ``max_attempts``); the dead workers' late results are ignored; only attempts that raised count (``failures``)."""
    s = U("inst_q", "acme", "alice")
    j = job_for(s, "doc")
    await store.enqueue(j, content_hash="h")
    (first,) = await store.claim_jobs("w1", limit=5, lease_seconds=0.4)
    assert await store.claim_jobs("w2", limit=5, lease_seconds=0.4) == []  # lease still held
    dead = [first]
    for n in range(4):  # four more workers die holding it: each time it comes back
        await asyncio.sleep(0.6)
        (again,) = await store.claim_jobs(f"w{n + 2}", limit=5, lease_seconds=0.4)
        assert again.ingestion_id == first.ingestion_id and again.claim != dead[-1].claim
        assert (again.attempts, again.failures) == (n + 2, 0)  # claimed again; no attempt failed
        dead.append(again)
    for late in dead[:-1]:  # the dead workers' late result and failure are ignored
        await store.complete_job(
            ProcessedJob(late.ingestion_id, late.claim, s, late.document_id, None, [new_memory("a b")], [], [])
        )
        await store.fail_job(late.ingestion_id, "late", final=True, claim=late.claim)
    current = await store.get_job("inst_q", j.ingestion_id)
    assert current is not None and current.status == "processing" and current.failures == 0
    assert await contents(store, ReadChain.single(s)) == set()
    live = dead[-1]
    await store.complete_job(ProcessedJob(live.ingestion_id, live.claim, s, live.document_id, None, [], [], []))
    assert (await store.get_job("inst_q", j.ingestion_id)).status == "completed"  # type: ignore[union-attr]
    assert await store.count_jobs() == 0


async def test_fail_job_retry_and_final(store: AsyncStore) -> None:
    s = C("inst_q", "acme")
    j = job_for(s, "doc")
    await store.enqueue(j, content_hash="h")
    (c1,) = await store.claim_jobs("w", limit=1, lease_seconds=60)
    await store.fail_job(c1.ingestion_id, "transient boom", final=False, claim=c1.claim)
    again = await store.get_job("inst_q", j.ingestion_id)
    assert again is not None and again.status == "queued" and again.error_message == "transient boom"
    (c2,) = await store.claim_jobs("w", limit=1, lease_seconds=60)
    assert (c2.attempts, c2.failures) == (2, 1)  # claimed twice, one attempt raised
    await store.fail_job(c2.ingestion_id, "permanent boom", final=True, claim=c2.claim)
    final = await store.get_job("inst_q", j.ingestion_id)
    assert final is not None and final.status == "failed" and final.error_message == "permanent boom"
    assert final.completed_at is not None and (final.attempts, final.failures) == (2, 2)
    assert await store.claim_jobs("w", limit=1, lease_seconds=60) == []


# -- memories -------------------------------------------------------------------------------------------------------
async def test_get_list_delete_update_are_scope_checked(store: AsyncStore) -> None:
    i = "inst_m"
    alice, bob, acme = U(i, "acme", "alice"), U(i, "acme", "bob"), C(i, "acme")
    ma, mb, mc = new_memory("alice drinks green tea"), new_memory("bob drinks coffee"), new_memory("acme has a cafe")
    await write(store, [(alice, [ma]), (bob, [mb]), (acme, [mc])])
    ac = user_chain(i, Relationship.B2B, user_id="alice", customer_id="acme")
    bc = user_chain(i, Relationship.B2B, user_id="bob", customer_id="acme")
    got = await store.get_memory(ac, ma.memory_id)
    assert got is not None and got.scope == alice and got.content == "alice drinks green tea"
    assert got.source_evidence == ["s1"] and got.metadata == {} and got.mention_count == 1
    assert await store.get_memory(bc, ma.memory_id) is None
    assert await store.get_memory(ReadChain.instance("inst_other"), ma.memory_id) is None
    assert await store.get_memory(ReadChain.instance(i), ma.memory_id) is not None
    assert await contents(store, ac) == {"alice drinks green tea", "acme has a cafe"}
    rows, total = await store.list_memories(ReadChain.instance(i), offset=0, limit=2, filters=F())
    assert total == 3 and [r.content for r in rows] == ["acme has a cafe", "bob drinks coffee"]  # newest first
    rows, _ = await store.list_memories(ReadChain.instance(i), offset=2, limit=2, filters=F())
    assert [r.content for r in rows] == ["alice drinks green tea"]
    by_rowid = await store.get_memories(bc, [got.rowid, *(r.rowid for r in rows)])
    assert by_rowid == {}  # alice's row is invisible through bob's chain
    assert await store.delete_memories(bc, [ma.memory_id]) == 0
    assert await store.update_memory(bc, ma.memory_id, MemoryEdit("hacked", EMBEDDER.embed(["hacked"])[0])) is None
    oolong = "alice drinks oolong tea"
    upd = await store.update_memory(ac, ma.memory_id, MemoryEdit(oolong, EMBEDDER.embed([oolong])[0], {"k": "v"}))
    assert upd is not None and upd.content == "alice drinks oolong tea" and upd.metadata == {"k": "v"}
    assert upd.updated_at is not None
    hits = await store.search_lexical(ac, "oolong", limit=5, filters=F())
    assert [h[0] for h in hits] == [upd.rowid]
    assert await store.search_lexical(ac, "green", limit=5, filters=F()) == []
    vec = await store.search_vector(ac, EMBEDDER.embed(["alice drinks oolong tea"])[0], limit=1, filters=F())
    assert vec[0][0] == upd.rowid and vec[0][1] == pytest.approx(1.0, abs=1e-5)
    assert await store.delete_memories(ac, [ma.memory_id, mc.memory_id, mb.memory_id]) == 2
    assert await contents(store, ReadChain.instance(i)) == {"bob drinks coffee"}


async def test_search_lexical_and_vector_stay_in_chain(store: AsyncStore) -> None:
    i = "inst_s"
    batches = [
        (U(i, "acme", "alice"), [new_memory("alice loves hiking in the alps")]),
        (U(i, "globex", "alice"), [new_memory("alice loves hiking in norway")]),
        (U(i, "acme", "bob"), [new_memory("bob loves hiking too")]),
        (C(i, "acme"), [new_memory("acme sponsors hiking trips")]),
        (CL(i), [new_memory("hiking boots are on the supply list")]),
        (CL("inst_z"), [new_memory("hiking in another instance")]),
    ]
    await write(store, batches)
    chain = user_chain(i, Relationship.B2B, user_id="alice", customer_id="acme")
    want = {"alice loves hiking in the alps", "acme sponsors hiking trips", "hiking boots are on the supply list"}
    everything = await store.get_memories(ReadChain.instance(i), list(range(1, 100)))
    text = {rowid: r.content for rowid, r in everything.items()}
    lex = await store.search_lexical(chain, "hiking", limit=10, filters=F())
    assert {text[r] for r, _ in lex} == want and all(s > 0 for _, s in lex)
    assert [s for _, s in lex] == sorted((s for _, s in lex), reverse=True)
    q = EMBEDDER.embed(["alice loves hiking"])[0]
    vec = await store.search_vector(chain, q, limit=10, filters=F())
    assert {text[r] for r, _ in vec} == want
    assert [s for _, s in vec] == sorted((s for _, s in vec), reverse=True)
    assert text[vec[0][0]] == "alice loves hiking in the alps"
    assert len(await store.search_vector(chain, q, limit=2, filters=F())) == 2
    # types filter
    only_pref = F(types=("preference",))
    assert {text[r] for r, _ in await store.search_lexical(chain, "hiking", limit=10, filters=only_pref)} == {
        "alice loves hiking in the alps"
    }
    assert {text[r] for r, _ in await store.search_vector(chain, q, limit=10, filters=only_pref)} == {
        "alice loves hiking in the alps"
    }
    # stopwords only / nothing matching
    assert await store.search_lexical(chain, "the and of", limit=10, filters=F()) == []
    assert await store.search_lexical(chain, "zeppelin", limit=10, filters=F()) == []
    # a vector of another dimension matches nothing (instances never mix embedders)
    assert await store.search_vector(chain, EMBEDDER.embed(["x"])[0][:32], limit=10, filters=F()) == []
    # customer and client chains
    cust = customer_chain(i, Relationship.B2B, customer_id="acme")
    assert {text[r] for r, _ in await store.search_vector(cust, q, limit=10, filters=F())} == {
        "acme sponsors hiking trips",
        "hiking boots are on the supply list",
    }
    assert {text[r] for r, _ in await store.search_lexical(client_chain(i), "hiking", limit=10, filters=F())} == {
        "hiking boots are on the supply list"
    }


async def test_lexical_scores_depend_only_on_the_callers_data(store: AsyncStore) -> None:
    """Another tenant's writes (another user, another customer, another instance) change neither the hits nor the
    scores of a lexical search: no statistic of data the caller cannot read leaks into its scores."""
    i = "inst_lx"
    alice = U(i, "acme", "alice")
    await write(store, [(alice, [new_memory("alice plays chess on sundays"), new_memory("alice bakes bread")])])
    chain = user_chain(i, Relationship.B2B, user_id="alice", customer_id="acme")
    before = await store.search_lexical(chain, "chess bread sundays", limit=10, filters=F())
    assert len(before) == 2

    def noise() -> list[Any]:
        return [new_memory(f"chess club {n} meets on sundays") for n in range(30)] + [new_memory("sourdough bread")]

    await write(store, [(U(i, "acme", "bob"), noise()), (C(i, "globex"), noise()), (CL("inst_other"), noise())])
    after = await store.search_lexical(chain, "chess bread sundays", limit=10, filters=F())
    assert [r for r, _ in after] == [r for r, _ in before]
    assert [s for _, s in after] == pytest.approx([s for _, s in before], rel=1e-9)


async def test_search_records_follow_every_write(store: AsyncStore) -> None:
    """The records a search returns (a backend may cache them per scope version) show each later write: update,
    merge, supersession, deletion, a new memory; and they never include a row outside the chain."""
    i = "inst_rc"
    s, other = U(i, "acme", "alice"), U(i, "acme", "bob")
    chain = ReadChain.single(s)
    await write(store, [(s, [new_memory("alice likes green tea")]), (other, [new_memory("bob likes green tea")])])
    q = EMBEDDER.embed(["green tea"])[0]

    async def found() -> dict[str, Any]:
        lex = await store.search_lexical(chain, "green tea", limit=10, filters=F())
        search = VectorSearch(vectors=[q], limit=10, filters=F(), rowids=[r for r, _ in lex])
        hits, records = await store.search_vectors_with_records(chain, search)
        assert set(records) == {r for r, _ in lex} | {r for r, _ in hits[0]}
        return {r.content: r for r in records.values()}

    async def complete(new: list[Any], merged: list[Any], superseded: list[Any]) -> None:
        job = job_for(s)
        await store.enqueue(job, content_hash=job.document_id)
        (c,) = await store.claim_jobs("t", limit=10, lease_seconds=60)
        await store.complete_job(ProcessedJob(c.ingestion_id, c.claim, s, c.document_id, None, new, merged, superseded))

    first = await found()
    assert set(first) == {"alice likes green tea"}
    rec = first["alice likes green tea"]
    await store.update_memory(chain, rec.memory_id, MemoryEdit("alice likes green tea a lot", q, {"v": 2}))
    updated = await found()
    assert set(updated) == {"alice likes green tea a lot"}
    assert updated["alice likes green tea a lot"].metadata == {"v": 2}
    mint = new_memory("alice likes green tea with mint")
    await complete([mint], [(rec.rowid, ["s9"], 0.8), (rec.rowid, ["s10"], 0.9)], [])  # merged twice by one job
    merged = await found()
    assert set(merged) == {"alice likes green tea a lot", "alice likes green tea with mint"}
    m = merged["alice likes green tea a lot"]
    assert m.mention_count == rec.mention_count + 2 and m.confidence == 0.9
    assert m.source_evidence == [*rec.source_evidence, "s9", "s10"]
    await complete([new_memory("alice likes green tea with lemon")], [], [(merged[mint.draft.content].rowid, "x")])
    assert set(await found()) == {"alice likes green tea a lot", "alice likes green tea with lemon"}
    assert await store.delete_memories(chain, [rec.memory_id]) == 1
    assert set(await found()) == {"alice likes green tea with lemon"}


async def test_supersession_merge_validity_and_as_of(store: AsyncStore) -> None:
    i = "inst_t"
    s = U(i, "acme", "alice")
    chain = ReadChain.single(s)
    old = new_memory("Alice lives in Paris", subject="Alice", attribute="lives_in")
    expired = new_memory("alice temporary badge", valid_until=datetime.now(UTC) - timedelta(days=1))
    await write(store, [(s, [old, expired])])
    found = await store.find_by_attribute(s, "Alice", "lives_in")
    assert [m.memory_id for m in found] == [old.memory_id]
    assert await store.find_by_attribute(s, None, "lives_in") == []
    assert await store.find_by_attribute(U(i, "globex", "alice"), "Alice", "lives_in") == []
    rowids, matrix = await store.scope_vectors(s)
    assert len(rowids) == 2 and matrix.shape == (2, 64)
    old_rowid = found[0].rowid
    new = new_memory("Alice lives in Rome", subject="Alice", attribute="lives_in")
    j = job_for(s)
    await store.enqueue(j, content_hash="x")
    (c,) = await store.claim_jobs("w", limit=1, lease_seconds=60)
    await store.complete_job(
        ProcessedJob(
            c.ingestion_id,
            c.claim,
            s,
            c.document_id,
            None,
            [new],
            [(old_rowid, ["s9", "s1"], 0.95)],
            [(old_rowid, new.memory_id)],
        )
    )
    prior = await store.get_memory(chain, old.memory_id)
    assert prior is not None and prior.superseded_by == new.memory_id and prior.valid_until is not None
    assert prior.source_evidence == ["s1", "s9"] and prior.confidence == pytest.approx(0.95)
    assert prior.mention_count == 2
    assert [m.memory_id for m in await store.find_by_attribute(s, "Alice", "lives_in")] == [new.memory_id]
    assert await contents(store, chain) == {"Alice lives in Rome", "alice temporary badge"}
    assert await contents(store, chain, F(include_superseded=True)) == {
        "Alice lives in Paris",
        "Alice lives in Rome",
        "alice temporary badge",
    }
    rowids, matrix = await store.scope_vectors(s)
    assert len(rowids) == 2  # superseded rows leave the reconciliation set
    recs = await store.scope_memories_by_rowid(s, rowids)
    assert {r.content for r in recs} == {"Alice lives in Rome", "alice temporary badge"}
    # vector search never returns superseded or expired memories; lexical keeps expired ones unless as_of is given
    q = EMBEDDER.embed(["alice lives badge"])[0]
    vec = await store.search_vector(chain, q, limit=10, filters=F())
    assert {r for r, _ in vec} == {m.rowid for m in recs if m.content == "Alice lives in Rome"}
    lex = await store.search_lexical(chain, "alice", limit=10, filters=F())
    assert len(lex) == 2
    assert len(await store.search_lexical(chain, "alice", limit=10, filters=F(as_of=datetime.now(UTC)))) == 1
    past = datetime.now(UTC) - timedelta(days=3)
    assert await contents(store, chain, F(as_of=past)) == set()  # nothing existed yet


# -- metadata filters -----------------------------------------------------------------------------------------------
META: dict[str, dict[str, Any]] = {
    "m1": {"n": 5, "s": "apple", "b": True, "arr": ["x", "y"], "nested": {"k": 1}},
    "m2": {"n": 10.5, "s": "banana", "b": False, "arr": ["y"]},
    "m3": {"n": "5", "s": "cherry pie"},
    "m4": {},
    "m5": {"n": -1, "s": "Apple", "arr": [], "nested": {"k": "1"}},
}
CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"n": 5}, {"m1"}),
    ({"n": {"eq": 5}}, {"m1"}),
    ({"n": {"ne": 5}}, {"m2", "m3", "m4", "m5"}),
    ({"n": {"gt": 5}}, {"m2"}),
    ({"n": {"gte": 5}}, {"m1", "m2"}),
    ({"n": {"lt": 5}}, {"m5"}),
    ({"n": {"lte": 5}}, {"m1", "m5"}),
    ({"n": {"gt": 0, "lt": 6}}, {"m1"}),
    ({"n": {"gte": 10.5}}, {"m2"}),
    ({"n": "5"}, {"m1", "m3"}),
    ({"n": {"in": [5, 10.5]}}, {"m1", "m2", "m3"}),
    ({"n": {"nin": [5]}}, {"m2", "m4", "m5"}),
    ({"s": "apple"}, {"m1"}),
    ({"s": {"ne": "apple"}}, {"m2", "m3", "m4", "m5"}),
    ({"s": {"gt": "b"}}, {"m2", "m3"}),
    ({"s": {"lte": "apple"}}, {"m1", "m5"}),
    ({"s": {"in": ["apple", "banana"]}}, {"m1", "m2"}),
    ({"s": {"nin": ["apple", "banana"]}}, {"m3", "m4", "m5"}),
    ({"s": {"contains": "pie"}}, {"m3"}),
    ({"s": {"contains": "an"}}, {"m2"}),
    ({"b": True}, {"m1"}),
    ({"b": False}, {"m2"}),
    ({"b": {"ne": True}}, {"m2", "m3", "m4", "m5"}),
    ({"b": {"in": [True, False]}}, {"m1", "m2"}),
    ({"arr": {"contains": "y"}}, {"m1", "m2"}),
    ({"arr": {"contains": "x"}}, {"m1"}),
    ({"arr": {"contains": "z"}}, set()),
    ({"nested.k": 1}, {"m1"}),
    ({"nested.k": "1"}, {"m1", "m5"}),
    ({"missing": "a"}, set()),
    ({"missing": {"ne": "a"}}, {"m1", "m2", "m3", "m4", "m5"}),
    ({"missing": {"nin": ["a"]}}, {"m1", "m2", "m3", "m4", "m5"}),
    ({"missing": {"gt": 0}}, set()),
    ({"n": {"gte": 5}, "s": {"contains": "a"}}, {"m1", "m2"}),
]


async def test_metadata_filters_every_operator(store: AsyncStore) -> None:
    i = "inst_meta"
    s = C(i, "acme")
    mems = {name: new_memory(f"{name} shared word", memory_type="fact", metadata=meta) for name, meta in META.items()}
    await write(store, [(s, list(mems.values()))])
    chain = customer_chain(i, Relationship.B2B, customer_id="acme")
    name_of = {f"{n} shared word": n for n in META}
    rowid_name = {
        r.rowid: name_of[r.content] for r in (await store.list_memories(chain, offset=0, limit=50, filters=F()))[0]
    }
    q = EMBEDDER.embed(["shared word"])[0]
    failures = []
    for flt, want in CASES:
        got = {name_of[c] for c in await contents(store, chain, F(metadata=flt))}
        lex = {rowid_name[r] for r, _ in await store.search_lexical(chain, "shared", limit=50, filters=F(metadata=flt))}
        vec = {rowid_name[r] for r, _ in await store.search_vector(chain, q, limit=50, filters=F(metadata=flt))}
        if not got == lex == vec == want:
            failures.append((flt, want, got, lex, vec))
    assert failures == []
    bad_filters: list[dict[str, Any]] = [{"n": {"regex": "x"}}, {"bad key!": 1}, {"n": {"in": []}}, {"n": {"eq": [1]}}]
    for bad in bad_filters:
        with pytest.raises(InvalidInputError):
            await store.list_memories(chain, offset=0, limit=5, filters=F(metadata=bad))


# -- conversations, transcripts, deletion -----------------------------------------------------------------------------
async def test_conversations_messages_transcripts(store: AsyncStore) -> None:
    i = "inst_c"
    conv = await store.bind_conversation(i, "conv-1", "acme", "alice")
    assert (conv.customer_id, conv.user_id) == ("acme", "alice")
    again = await store.bind_conversation(i, "conv-1", "globex", "bob")  # first binding wins
    assert (again.customer_id, again.user_id) == ("acme", "alice")
    assert await store.get_conversation(i, "conv-2") is None
    assert await store.get_conversation("inst_other", "conv-1") is None
    t0 = datetime.now(UTC)
    msgs = [
        MessageRecord(
            str(uuid.uuid4()),
            "conv-1",
            "user" if n % 2 == 0 else "assistant",
            f"turn {n}",
            t0 + timedelta(seconds=n),
            "sess",
            {"n": n},
        )
        for n in range(5)
    ]
    await store.add_messages(i, msgs[:3])
    await store.add_messages(i, msgs[3:])
    got = await store.get_conversation(i, "conv-1")
    assert got is not None and got.message_count == 5 and got.last_message_at == msgs[-1].recorded_at
    recent = await store.recent_messages(i, "conv-1", limit=3)
    assert [m.content for m in recent] == ["turn 2", "turn 3", "turn 4"]
    assert recent[0].metadata == {"n": 2} and recent[0].session_id == "sess" and recent[0].role == "user"
    assert await store.recent_messages("inst_other", "conv-1", limit=3) == []
    assert await store.customer_exists(i, "acme") is True  # through the conversation binding
    assert await store.customer_exists(i, "globex") is False
    assert await store.transcript_ingestion(i, "conv-1") is None
    await store.save_transcript(i, "conv-1", "digest-1", "ing-1")
    assert await store.transcript_ingestion(i, "conv-1") == ("digest-1", "ing-1")
    with pytest.raises(ConflictError):
        await store.save_transcript(i, "conv-1", "digest-2", "ing-2")


async def seed(store: AsyncStore, scope: Scope, conv: str, texts: list[str]) -> JobRecord:
    """What one conversation of ``scope`` leaves in every table: its binding, an ingestion (through the queue) that
    stored ``texts`` as memories and the source document, two messages and the transcript record."""
    await store.bind_conversation(scope.instance_id, conv, scope.customer_id, scope.user_id)
    job = job_for(scope, f"doc-{conv}", payload={"document": " ".join(texts), "conversation_id": conv})
    await store.enqueue(job, content_hash=job.document_id)
    (claimed,) = await store.claim_jobs("t", limit=10, lease_seconds=60)
    document = {"content": " ".join(texts), "document_type": "ai-chat-conversation", "content_hash": "h"}
    await store.complete_job(
        ProcessedJob(
            *(claimed.ingestion_id, claimed.claim, scope, claimed.document_id, conv),
            *([new_memory(t) for t in texts], [], []),
            document=document,
        )
    )
    now = datetime.now(UTC)
    await store.add_messages(
        scope.instance_id, [MessageRecord(str(uuid.uuid4()), conv, "user", t, now) for t in ("hi", "bye")]
    )
    await store.save_transcript(scope.instance_id, conv, f"digest-{conv}", job.ingestion_id)
    return job


def receipt(memories: int, conversations: int = 1) -> dict[str, int]:
    """The receipt of erasing ``conversations`` seeded conversations holding ``memories`` memories in all."""
    n = conversations
    return {"memories": memories, "documents": n, "ingestions": n, "messages": 2 * n, "conversations": n}


async def test_erasing_a_b2c_user_removes_all_of_theirs_and_nothing_else(store: AsyncStore) -> None:
    i = "inst_b2c"
    u1, u2 = U(i, "", "u1"), U(i, "", "u2")  # b2c: the user is the tenant, customer_id is ""
    jobs = {"u1": await seed(store, u1, "c-u1", ["u1 likes tea.", "u1 owns a cat."])}
    jobs["u2"] = await seed(store, u2, "c-u2", ["u2 likes coffee."])
    await store.search_lexical(ReadChain.single(u1), "tea cat", limit=5, filters=F())  # warm the caches
    assert len((await store.scope_vectors(u1))[0]) == 2
    assert await store.delete_scope_data(ReadChain.subtree(u1)) == receipt(2)
    assert await contents(store, ReadChain.instance(i)) == {"u2 likes coffee."}
    assert await store.search_lexical(ReadChain.single(u1), "tea cat", limit=5, filters=F()) == []
    assert (await store.scope_vectors(u1))[0] == []
    assert await store.get_conversation(i, "c-u1") is None
    assert await store.recent_messages(i, "c-u1", limit=5) == []
    assert await store.transcript_ingestion(i, "c-u1") is None
    assert await store.get_job(i, jobs["u1"].ingestion_id) is None
    # u2 keeps everything: its own erasure counts every row
    assert await store.get_job(i, jobs["u2"].ingestion_id) is not None
    assert await store.transcript_ingestion(i, "c-u2") == ("digest-c-u2", jobs["u2"].ingestion_id)
    assert await store.delete_scope_data(ReadChain.subtree(u2)) == receipt(1)
    assert await store.delete_scope_data(ReadChain.subtree(u2)) == receipt(0, 0)


async def test_erasing_a_customer_removes_its_users_but_no_other_customer_nor_client_data(store: AsyncStore) -> None:
    i = "inst_b2b"
    acme, alice, bob = C(i, "acme"), U(i, "acme", "alice"), U(i, "acme", "bob")
    globex, carol, client = C(i, "globex"), U(i, "globex", "carol"), CL(i)
    for n, scope in enumerate((acme, alice, bob, globex, carol, client)):
        await seed(store, scope, f"c{n}", [f"memory {n} of {scope.source}."])
    await write(store, [(U("inst_other", "acme", "alice"), [new_memory("other instance")])])
    assert await store.delete_scope_data(ReadChain.subtree(acme)) == receipt(3, 3)
    left = {"memory 3 of customer:globex.", "memory 4 of user:carol.", "memory 5 of client."}
    assert await contents(store, ReadChain.instance(i)) == left
    assert [await store.get_conversation(i, f"c{n}") is None for n in range(6)] == [True] * 3 + [False] * 3
    assert await store.customer_exists(i, "globex") is True
    assert await contents(store, ReadChain.instance("inst_other")) == {"other instance"}
    # what is left is exactly what was written for globex and the client
    assert await store.delete_scope_data(ReadChain.subtree(globex)) == receipt(2, 2)
    assert await store.delete_scope_data(ReadChain.subtree(client)) == receipt(1)
    assert await contents(store, ReadChain.instance("inst_other")) == {"other instance"}


async def test_erasing_a_conversation_removes_only_its_rows(store: AsyncStore) -> None:
    i = "inst_conv"
    alice, bob = U(i, "acme", "alice"), U(i, "acme", "bob")
    await seed(store, alice, "c-1", ["first talk one.", "first talk two."])
    await seed(store, alice, "c-2", ["second talk."])
    await seed(store, bob, "c-3", ["bob talk."])
    # a chain that does not hold the conversation erases nothing of it
    assert await store.delete_scope_data(ReadChain.subtree(bob), conversation_id="c-1") == receipt(0, 0)
    assert await store.delete_scope_data(ReadChain.subtree(alice), conversation_id="c-1") == receipt(2)
    assert await contents(store, ReadChain.instance(i)) == {"second talk.", "bob talk."}
    assert await store.get_conversation(i, "c-1") is None and await store.transcript_ingestion(i, "c-1") is None
    assert (await store.get_conversation(i, "c-2")) is not None
    assert [m.content for m in await store.recent_messages(i, "c-2", limit=5)] == ["hi", "bye"]
    assert await store.delete_scope_data(ReadChain.subtree(alice)) == receipt(1)
    assert await store.delete_scope_data(ReadChain.subtree(CL(i)), conversation_id="c-3") == receipt(1)


async def test_delete_scope_data_receipts(store: AsyncStore) -> None:
    i = "inst_d"
    alice, bob = U(i, "acme", "alice"), U(i, "acme", "bob")
    await write(
        store,
        [
            (alice, [new_memory("a one"), new_memory("a two")]),
            (bob, [new_memory("b one")]),
            (C(i, "acme"), [new_memory("acme one")]),
            (U(i, "globex", "alice"), [new_memory("g one")]),
        ],
    )
    await write(store, [(U("inst_other", "acme", "alice"), [new_memory("other instance")])])
    for conv, cust, user in (("c-a", "acme", "alice"), ("c-b", "acme", "bob"), ("c-g", "globex", "alice")):
        await store.bind_conversation(i, conv, cust, user)
        await store.add_messages(i, [MessageRecord(str(uuid.uuid4()), conv, "user", "hi", datetime.now(UTC))])
    await store.save_transcript(i, "c-a", "d", "ing")
    r = await store.delete_scope_data(ReadChain.subtree(alice))
    assert r == {"memories": 2, "documents": 0, "ingestions": 1, "messages": 1, "conversations": 1}
    assert await store.transcript_ingestion(i, "c-a") is None
    assert await contents(store, ReadChain.instance(i)) == {"b one", "acme one", "g one"}
    r = await store.delete_scope_data(ReadChain.subtree(bob), conversation_id="c-b")
    assert r == {"memories": 0, "documents": 0, "ingestions": 0, "messages": 1, "conversations": 1}
    r = await store.delete_scope_data(ReadChain.subtree(C(i, "acme")))
    assert r == {"memories": 2, "documents": 0, "ingestions": 2, "messages": 0, "conversations": 0}
    assert await contents(store, ReadChain.instance(i)) == {"g one"}
    assert await contents(store, ReadChain.instance("inst_other")) == {"other instance"}
    assert await store.customer_exists(i, "globex") is True
    await store.audit(i, "data.delete", detail={"counts": r})


async def test_writes_commit_their_audit_row_with_them(store: AsyncStore, backend_dsn: str) -> None:
    """The audit row of a write is in the write's transaction: readable by another connection as soon as the write
    returns (nothing buffered to lose on a kill -9); a write that changes nothing records nothing."""
    i = "inst_wa"
    s = U(i, "acme", "alice")
    await store.enqueue(job_for(s, "doc"), content_hash="h")
    await store.enqueue(job_for(s, "doc"), content_hash="h")  # the same document again: audited as not new
    tea = new_memory("alice likes tea")
    await write(store, [(s, [tea, new_memory("alice likes coffee")])])  # one more job
    oolong = new_memory("alice likes oolong")
    chain = ReadChain.single(s)
    assert await store.update_memory(
        chain,
        tea.memory_id,
        MemoryEdit("alice likes oolong", oolong.vector),
        audit=Audit("memory.update", {"memory_id": tea.memory_id}),
    )
    assert await store.delete_memories(chain, ["no-such-id"], audit=Audit("memory.delete")) == 0
    assert await store.delete_memories(chain, [tea.memory_id], audit=Audit("memory.delete")) == 1
    dry = await store.delete_scope_data(ReadChain.subtree(s), options=EraseOptions(dry_run=True))
    created = ["memory.create"] * 3
    assert await audit_actions(backend_dsn, i) == [*created, "memory.update", "memory.delete"]
    assert dry["memories"] == 1 and dry["ingestions"] == 2
    assert (await store.delete_scope_data(ReadChain.subtree(s))) == dry  # the dry run counted, and erased nothing
    assert await audit_actions(backend_dsn, i) == [*created, "memory.update", "memory.delete", "data.delete"]


async def test_audit_entries_survive_a_failed_write(store: AsyncStore, backend_dsn: str) -> None:
    i = "inst_audit"
    await run_sql(backend_dsn, AUDIT_OFF[dialect_of(backend_dsn)])
    for n in range(3):
        await store.audit(i, f"action.{n}", detail={"n": n})
    with pytest.raises(ConflictError):
        await store.flush_audit()
    await store.audit(i, "action.3", detail={})
    await run_sql(backend_dsn, AUDIT_ON[dialect_of(backend_dsn)])
    await store.flush_audit()
    await store.close()  # waits for a background flush that may have taken entries meanwhile
    assert await audit_actions(backend_dsn, i) == ["action.0", "action.1", "action.2", "action.3"]


# -- through the service: SPEC §1 tenancy tables --------------------------------------------------------------------
# Fetches go through the retrieval engine, whose ranking drops some items on purpose (e.g. items whose evidence is
# covered by better-ranked ones), so fetch tests assert what a read NEVER returns over many queries, and that each
# item the read may see is reachable by a query aimed at it; exact completeness is asserted on list_memories and on
# the store searches.
async def ingest(svc: AsyncMemoryService, inst: Any, text: str, **ids: Any) -> None:
    api = svc.api(inst)
    r = await api.create_memory(CreateMemory(document=text, document_type="note", **ids))
    await svc.workers.run_pending()
    status = await api.ingestion_status(r.ingestion_id)
    assert status.status == "completed", status


def texts(resp: Any) -> set[str]:
    return {str(getattr(i, "content", None) or getattr(i, "summary", "")) for i in resp.items()}


async def reach(fetch: Any, queries: list[str]) -> set[str]:
    """Union of what ``fetch`` returns over ``queries`` (one query per call)."""
    out: set[str] = set()
    for q in queries:
        out |= texts(await fetch(search_query=[q], max_results=50))
    return out


B2B_SEED = [
    ("Alice at acme drinks green tea.", {"customer_id": "acme", "user_id": "alice"}),
    ("Alice at globex drinks black coffee.", {"customer_id": "globex", "user_id": "alice"}),
    ("Bob at acme drinks sparkling water.", {"customer_id": "acme", "user_id": "bob"}),
    ("Acme policy says drinks are free.", {"customer_id": "acme"}),
    ("Globex policy says drinks cost a coin.", {"customer_id": "globex"}),
    ("Client handbook says every drink is logged.", {}),
]
ALL_QUERIES = [
    "green tea",
    "black coffee",
    "sparkling water",
    "drinks free",
    "cost coin",
    "handbook logged",
    "alice",
    "bob",
    "acme",
    "globex",
    "drinks",
]


async def seed_b2b(svc: AsyncMemoryService, inst: Any) -> None:
    for text, ids in B2B_SEED:
        await ingest(svc, inst, text, **ids)


async def test_spec_b2b_writes_land_where_the_table_says(service: AsyncMemoryService) -> None:
    inst = await service.create_instance("b2b", Relationship.B2B)
    await seed_b2b(service, inst)
    rows, _ = await service.store.list_memories(ReadChain.instance(inst.instance_id), offset=0, limit=50, filters=F())
    assert {r.content: r.scope for r in rows} == {
        "Alice at acme drinks green tea.": U(inst.instance_id, "acme", "alice"),
        "Alice at globex drinks black coffee.": U(inst.instance_id, "globex", "alice"),
        "Bob at acme drinks sparkling water.": U(inst.instance_id, "acme", "bob"),
        "Acme policy says drinks are free.": C(inst.instance_id, "acme"),
        "Globex policy says drinks cost a coin.": C(inst.instance_id, "globex"),
        "Client handbook says every drink is logged.": CL(inst.instance_id),
    }
    with pytest.raises(InvalidInputError) as exc:  # b2b: user_id without customer_id is rejected, nothing stored
        await service.api(inst).create_memory(CreateMemory(document="orphan", document_type="note", user_id="alice"))
    assert exc.value.code == "customer_id_required"
    assert await service.store.count_jobs(statuses=("queued", "processing", "completed", "failed")) == 6


async def test_spec_b2b_reads(service: AsyncMemoryService) -> None:
    inst = await service.create_instance("b2b", Relationship.B2B)
    api = service.api(inst)
    await seed_b2b(service, inst)
    alice_acme = {
        "Alice at acme drinks green tea.",
        "Acme policy says drinks are free.",
        "Client handbook says every drink is logged.",
    }
    acme = {"Acme policy says drinks are free.", "Client handbook says every drink is logged."}
    client = {"Client handbook says every drink is logged."}

    async def user(**kw: Any) -> Any:
        return await api.fetch_user(UserContextQuery(user_id="alice", customer_id="acme", **kw))

    async def cust(**kw: Any) -> Any:
        return await api.fetch_customer(CustomerContextQuery(customer_id="acme", **kw))

    async def cli(**kw: Any) -> Any:
        return await api.fetch_client(ClientContextQuery(**kw))

    assert await reach(user, ALL_QUERIES) == alice_acme
    assert await reach(cust, ALL_QUERIES) == acme
    assert await reach(cli, ALL_QUERIES) == client
    assert {i.source for q in ALL_QUERIES for i in (await user(search_query=[q])).items()} <= {
        "user:alice",
        "customer:acme",
        "client",
    }
    with pytest.raises(InvalidInputError) as exc:  # b2b user read needs its customer
        await api.fetch_user(UserContextQuery(user_id="alice", search_query=["tea"]))
    assert exc.value.code == "customer_id_required"
    unknown = await api.fetch_customer(CustomerContextQuery(customer_id="initech", search_query=["drink logged"]))
    assert {i.source for i in unknown.items()} <= {"client"}  # a customer with no data: answered, not refused
    listed = await api.list_memories(ListMemories(user_id="alice", customer_id="globex"))
    assert {m.content for m in listed.data} == {
        "Alice at globex drinks black coffee.",
        "Globex policy says drinks cost a coin.",
        "Client handbook says every drink is logged.",
    }
    assert {m.content for m in (await api.list_memories(ListMemories(customer_id="acme"))).data} == acme


async def test_spec_b2c_writes_and_reads(service: AsyncMemoryService) -> None:
    inst = await service.create_instance("b2c", Relationship.B2C)
    await ingest(service, inst, "Carol drinks mint tea.", user_id="carol")
    await ingest(service, inst, "Dave drinks cold brew.", user_id="dave", customer_id="dave")
    await ingest(service, inst, "Shop handbook says drinks are organic.")
    rows, _ = await service.store.list_memories(ReadChain.instance(inst.instance_id), offset=0, limit=50, filters=F())
    assert {r.content: r.scope.source for r in rows} == {
        "Carol drinks mint tea.": "user:carol",
        "Dave drinks cold brew.": "user:dave",
        "Shop handbook says drinks are organic.": "client",
    }
    queries = ["mint tea", "cold brew", "handbook organic", "drinks", "carol", "dave"]

    api = service.api(inst)

    async def carol(**kw: Any) -> Any:
        return await api.fetch_user(UserContextQuery(user_id="carol", **kw))

    async def cli(**kw: Any) -> Any:
        return await api.fetch_client(ClientContextQuery(**kw))

    assert await reach(carol, queries) == {"Carol drinks mint tea.", "Shop handbook says drinks are organic."}
    assert await reach(cli, queries) == {"Shop handbook says drinks are organic."}


async def test_spec_conversation_context(service: AsyncMemoryService) -> None:
    inst = await service.create_instance("b2b", Relationship.B2B)
    api = service.api(inst)
    await seed_b2b(service, inst)
    message = Message(
        conversation_id="conv-1",
        role="user",
        content="Alice prefers window seats.",
        customer_id="acme",
        user_id="alice",
    )
    await api.record_messages(RecordMessages(messages=[message]))
    await service.workers.run_pending()

    async def conv(**kw: Any) -> Any:
        return await api.fetch_conversation(ConversationContextQuery(conversation_id="conv-1", **kw))

    ctx = await conv(search_query=["window seats"])
    assert [t["content"] for t in ctx.conversation_context.recent_turns] == ["Alice prefers window seats."]
    assert await reach(conv, [*ALL_QUERIES, "window seats"]) == {
        "Alice at acme drinks green tea.",
        "Acme policy says drinks are free.",
        "Client handbook says every drink is logged.",
        "Alice prefers window seats.",
    }
    with pytest.raises(InvalidInputError):  # ids passed must match the binding
        await conv(customer_id="globex", user_id="alice", search_query=["x"])

    async def unbound(**kw: Any) -> Any:  # an unbound conversation with ids uses those ids
        query = ConversationContextQuery(conversation_id="conv-new", customer_id="globex", user_id="alice", **kw)
        return await api.fetch_conversation(query)

    assert await reach(unbound, ALL_QUERIES) == {
        "Alice at globex drinks black coffee.",
        "Globex policy says drinks cost a coin.",
        "Client handbook says every drink is logged.",
    }


async def test_spec_b2c_delete_data_as_synap_callers_send_it(service: AsyncMemoryService) -> None:
    inst = await service.create_instance("b2c", Relationship.B2C)
    i, api = inst.instance_id, service.api(inst)
    await ingest(service, inst, "Carol drinks mint tea.", user_id="carol", customer_id="carol")
    await ingest(service, inst, "Dave drinks cold brew.", user_id="dave")
    for user, text in (("carol", "User: I like tea.\nAssistant: Noted."), ("dave", "User: I ride bikes.")):
        await api.ingest_transcript(
            IngestTranscript(conversation_id=f"conv-{user}", transcript=text, user_id=user, customer_id=user)
        )
    await service.workers.run_pending()
    carol = await contents(service.store, ReadChain.single(U(i, "", "carol")))
    assert len(carol) >= 2
    # b2c callers pass customer_id = user_id; the data lives in the user's scope, whose customer_id is ""
    receipt = await api.delete_data(DeleteData(customer_id="carol", user_id="carol"))
    written = {"memories": len(carol), "documents": 2, "ingestions": 2, "messages": 2, "conversations": 1}
    assert receipt.deleted == written
    assert all("Carol" not in t and "tea" not in t for t in await contents(service.store, ReadChain.instance(i)))
    # a conversation alone: erased in the scope it is bound to
    dave = await contents(service.store, ReadChain.single(U(i, "", "dave")))
    receipt = await api.delete_data(DeleteData(conversation_id="conv-dave"))
    assert receipt.deleted["conversations"] == 1 and receipt.deleted["ingestions"] == 1
    assert await contents(service.store, ReadChain.instance(i)) == {"Dave drinks cold brew."} != dave


async def test_erasure_pseudonymises_the_erased_scopes_in_past_audit_entries(
    service: AsyncMemoryService, backend_dsn: str
) -> None:
    inst = await service.create_instance("pseudo", Relationship.B2B)
    api = service.api(inst)
    for ids in ({"customer_id": "acme", "user_id": "alice"}, {"customer_id": "acme", "user_id": "bob"}):
        await ingest(service, inst, "A note about tea.", **ids)
        await api.fetch_user(UserContextQuery(search_query=["tea"], **ids))
    await ingest(service, inst, "Globex serves coffee.", customer_id="globex")
    await ingest(service, inst, "Dave likes coffee.", customer_id="globex", user_id="dave")
    await service.store.flush_audit()
    before = "".join(d for _, d in await audit_rows(backend_dsn, inst.instance_id))
    assert "customer:acme/user:alice" in before and "customer:globex/user:dave" in before
    await api.delete_data(DeleteData(customer_id="acme", user_id="alice"))
    await api.delete_data(DeleteData(customer_id="globex"))
    rows = await audit_rows(backend_dsn, inst.instance_id)
    after = "".join(d for _, d in rows)
    assert "alice" not in after and "globex" not in after and "dave" not in after
    assert "customer:acme/user:bob" in after  # nobody else's entries change
    alice = pseudonym(inst.instance_id, "customer:acme/user:alice")
    assert after.count(alice) == 2  # her create and her fetch: still one person across entries, not named
    assert [a for a, _ in rows].count("data.delete") == 2


async def test_transcripts_and_delete_through_service(service: AsyncMemoryService) -> None:
    inst = await service.create_instance("b2b", Relationship.B2B)
    api = service.api(inst)

    def transcript(text: str) -> IngestTranscript:
        return IngestTranscript(conversation_id="conv-t", transcript=text, customer_id="acme", user_id="alice")

    first = await api.ingest_transcript(transcript("User: I like tea.\nAssistant: Noted."))
    assert first.status == "queued"
    dup = await api.ingest_transcript(transcript("User: I like tea.\nAssistant: Noted."))
    assert dup.status == "duplicate" and dup.ingestion_id == first.ingestion_id
    with pytest.raises(TranscriptConflictError):
        await api.ingest_transcript(transcript("User: something else"))
    await service.workers.run_pending()
    assert (await api.ingestion_status(first.ingestion_id)).status == "completed"
    receipt = await api.delete_data(DeleteData(customer_id="acme", user_id="alice"))
    assert receipt.deleted["memories"] >= 1 and receipt.deleted["conversations"] == 1
    assert (await api.list_memories(ListMemories(user_id="alice", customer_id="acme"))).total == 0


async def test_world_knowledge_and_audit(service: AsyncMemoryService) -> None:
    inst = await service.create_instance("b2b", Relationship.B2B)
    await ingest(service, inst, "Alice at acme drinks green tea.", customer_id="acme", user_id="alice")
    ids = await service.memories.add_world_knowledge("Water boils at one hundred degrees.")
    assert len(ids) == 1
    chain = user_chain(inst.instance_id, Relationship.B2B, user_id="alice", customer_id="acme", include_world=True)
    assert await contents(service.store, chain) == {
        "Alice at acme drinks green tea.",
        "Water boils at one hundred degrees.",
    }
    assert await contents(service.store, ReadChain.instance(inst.instance_id)) == {"Alice at acme drinks green tea."}
    api = service.api(inst)
    with_world = await api.fetch_user(
        UserContextQuery(user_id="alice", customer_id="acme", include_world=True, search_query=["water boils"])
    )
    assert "Water boils at one hundred degrees." in texts(with_world)
    without = await api.fetch_user(UserContextQuery(user_id="alice", customer_id="acme", search_query=["water boils"]))
    assert "Water boils at one hundred degrees." not in texts(without)
    await service.store.flush_audit()


async def test_memories_at_turns(store: AsyncStore) -> None:
    i = "inst_turns"
    s = U(i, "acme", "alice")
    mems = [new_memory(f"turn memory {n}", metadata={"turn": n}) for n in range(4)]
    mems.append(new_memory("turn as text", metadata={"turn": "2"}))
    await write(store, [(s, mems)])
    rows, _ = await store.list_memories(ReadChain.single(s), offset=0, limit=10, filters=F())
    doc = rows[0].document_id
    assert doc is not None
    got = await store.memories_at_turns(
        user_chain(i, Relationship.B2B, user_id="alice", customer_id="acme"), [(doc, 1), (doc, 2), ("other-doc", 3)]
    )
    assert sorted(r.content for r in got) == ["turn memory 1", "turn memory 2"]
    other = user_chain(i, Relationship.B2B, user_id="alice", customer_id="globex")
    assert await store.memories_at_turns(other, [(doc, 1)]) == []


# -- hypothesis isolation property ------------------------------------------------------------------------------------
CUSTOMERS = ["c0", "c1", "c2"]
USERS = ["u0", "u1", "u2"]
writes_st = st.lists(
    st.tuples(st.sampled_from([*CUSTOMERS, None]), st.sampled_from([*USERS, None])), min_size=1, max_size=12
)
fetch_st = st.lists(
    st.tuples(st.sampled_from(["user", "customer", "client"]), st.sampled_from(CUSTOMERS), st.sampled_from(USERS)),
    min_size=1,
    max_size=5,
)


def _allowed(rel: Relationship, kind: str, cust: str, user: str) -> set[tuple[str, str, str]]:
    """(level, customer_id, user_id) cells a read may see — straight from SPEC §1's read table."""
    if rel is Relationship.B2B:
        return {
            "user": {("user", cust, user), ("customer", cust, ""), ("client", "", "")},
            "customer": {("customer", cust, ""), ("client", "", "")},
            "client": {("client", "", "")},
        }[kind]
    return {
        "user": {("user", "", user), ("client", "", "")},
        "customer": {("client", "", "")},
        "client": {("client", "", "")},
    }[kind]


def test_isolation_property(backend_dsn: str) -> None:
    """Random writes by 3 customers × 3 users (the same user ids reused across customers) and random fetches: no
    fetch ever returns an item outside its allowed chain — through the service (fetch, list) and the store searches
    (which must also return everything the chain allows)."""
    with asyncio.Runner() as runner:
        store = open_store(backend_dsn)
        runner.run(store.open())
        svc = AsyncMemoryService(make_settings(backend_dsn), store, EMBEDDER, SentenceExtractor())

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        @given(rel=st.sampled_from([Relationship.B2B, Relationship.B2C]), writes=writes_st, fetches=fetch_st)
        def prop(rel: Relationship, writes: list[tuple[str | None, str | None]], fetches: list[Any]) -> None:
            runner.run(check(svc, rel, writes, fetches))

        try:
            prop()
        finally:
            runner.run(svc.close(drain=False))


async def check(svc: AsyncMemoryService, rel: Relationship, writes: list[Any], fetches: list[Any]) -> None:
    inst = await svc.create_instance(f"p{uuid.uuid4().hex[:10]}", rel)
    api = svc.api(inst)
    iid = inst.instance_id
    cell_of: dict[str, tuple[str, str, str]] = {}
    for n, (cust, user) in enumerate(writes):
        text = f"Token w{n} shared memo."
        if rel is Relationship.B2B and user and not cust:
            with pytest.raises(InvalidInputError):
                await api.create_memory(
                    CreateMemory(document=text, document_type="note", customer_id=cust, user_id=user)
                )
            continue
        await api.create_memory(
            CreateMemory(document=text, document_type="note", customer_id=cust, user_id=user, document_id=f"d{n}")
        )
        if rel is Relationship.B2B:
            cell = ("user", cust or "", user) if user else ("customer", cust, "") if cust else ("client", "", "")
        else:
            who = user or cust
            cell = ("user", "", who) if who else ("client", "", "")
        cell_of[text] = cell
    await svc.workers.run_pending()
    store = svc.store
    for kind, cust, user in fetches:
        allowed = _allowed(rel, kind, cust, user)
        expected = {t for t, c in cell_of.items() if c in allowed}
        where = f"{kind} fetch ({cust}, {user})"
        if kind == "user":
            chain = user_chain(iid, rel, user_id=user, customer_id=cust)
        elif kind == "customer":
            chain = customer_chain(iid, rel, customer_id=cust)
        else:
            chain = client_chain(iid)
        rowids = [
            r for r, _ in await store.search_vector(chain, EMBEDDER.embed(["shared memo"])[0], limit=100, filters=F())
        ]
        assert {r.content for r in (await store.get_memories(chain, rowids)).values()} == expected, where
        lex = [r for r, _ in await store.search_lexical(chain, "shared memo token", limit=100, filters=F())]
        assert {r.content for r in (await store.get_memories(chain, lex)).values()} == expected, where
        assert await contents(store, chain) == expected, where
        if kind == "user":
            page = await api.list_memories(
                ListMemories(user_id=user, customer_id=cust if rel is Relationship.B2B else None, page_size=100)
            )
            assert {m.content for m in page.data} == expected, where
        got: set[str] = set()
        for q in ["shared memo", *[t.split()[1] for t in sorted(expected)][:3]]:
            try:
                if kind == "user":
                    query = UserContextQuery(user_id=user, customer_id=cust, search_query=[q], max_results=50)
                    resp = await api.fetch_user(query)
                elif kind == "customer":
                    resp = await api.fetch_customer(
                        CustomerContextQuery(customer_id=cust, search_query=[q], max_results=50)
                    )
                else:
                    resp = await api.fetch_client(ClientContextQuery(search_query=[q], max_results=50))
            except ContextNotFoundError:
                assert kind == "customer" and not expected - {t for t, c in cell_of.items() if c[0] == "client"}
                break
            got |= texts(resp)
        assert got <= set(cell_of), f"{where}: item from another instance: {got - set(cell_of)}"
        leaked = {t for t in got if cell_of[t] not in allowed}
        assert not leaked, f"{where} returned {[(t, cell_of[t]) for t in leaked]}"


async def test_text_with_a_nul_is_refused_and_nothing_is_stored(service: AsyncMemoryService) -> None:
    """PostgreSQL's text and jsonb cannot hold U+0000 (a NUL in a document made the create fail with an unhandled
    error and the server drop the connection; found by `tenantry fuzz --dsn postgresql://…`). Every backend refuses
    it at the edge, for documents, messages, metadata and questions alike, and the instance keeps working."""
    inst = await service.create_instance("nul", Relationship.B2B)
    api = service.api(inst)
    ids = {"customer_id": "acme", "user_id": "alice"}
    attempts: list[Callable[[], Awaitable[object]]] = [
        lambda: api.create_memory(CreateMemory(document="User: I like \x00 tea.", **ids)),
        lambda: api.create_memory(CreateMemory(document="User: I like tea.", metadata={"k": "a\x00b"}, **ids)),
        lambda: api.record_messages(
            RecordMessages(messages=[Message(conversation_id="c1", role="user", content="hi \x00", **ids)])
        ),
        lambda: api.fetch_user(UserContextQuery(search_query=["tea \x00"], **ids)),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidInputError) as exc:
            await attempt()
        assert exc.value.code == "invalid_text"
    assert await service.store.count_jobs(statuses=("queued", "processing", "completed", "failed")) == 0
    await api.create_memory(CreateMemory(document="User: I like green tea.", **ids))
    assert await service.store.count_jobs(statuses=("queued",)) == 1
    answer = await api.fetch_user(UserContextQuery(search_query=["tea"], **ids))
    assert answer is not None


async def test_a_lookup_by_an_id_holding_a_nul_is_a_client_error(service: AsyncMemoryService) -> None:
    """Ids in paths are looked up as given: one holding a NUL is not found (SQLite) or refused (PostgreSQL, whose
    text cannot hold it: a `DataError` became an unhandled 500 and a dropped connection); never a server error."""
    inst = await service.create_instance("nul-ids", Relationship.B2B)
    api = service.api(inst)
    for lookup in (
        lambda: api.ingestion_status("job\x00id"),
        lambda: api.get_memory(MemoryRef(memory_id="mem\x00id")),
    ):
        with pytest.raises(TenantryError) as exc:
            await lookup()
        assert 400 <= exc.value.status_code < 500, exc.value
