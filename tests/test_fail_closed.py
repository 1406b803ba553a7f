"""Writes act on exactly one scope, hostile input is refused for its own request only (issue: fail-closed writes,
hostile input, erasure). Each test runs embedded and remote (the SDK over HTTP), or on the wire where the SDK's
types cannot express the input."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np
import pytest
from tests.conftest import MakeSdk
from tests.server.helpers import ADMIN_TOKEN
from tests.server.helpers import ThreadServer
from tests.server.helpers import admin_create_instance

from tenantry import InvalidInputError
from tenantry import MemoryNotFoundError
from tenantry import Tenantry
from tenantry._embedding import EmbeddingRunner
from tenantry.pipeline.embedders.hashing import HashingEmbedder
from tenantry.types import Vectors


async def _ingest(sdk: Tenantry, text: str, **ids: str) -> str:
    r = await sdk.memories.create(text, **ids)
    st = await sdk.memories.wait_for_completion(r.ingestion_id, timeout_seconds=30, poll_interval_seconds=0.05)
    assert st.status == "completed" and st.memory_ids, st
    return st.memory_ids[0]


# -- 1. a write acts on exactly one scope ------------------------------------------------------------------------------
async def test_a_users_ids_never_rewrite_or_delete_a_shared_memory(make_sdk: MakeSdk) -> None:
    sdk = await make_sdk()
    client = await _ingest(sdk, "User: I live in Oslo.")
    acme = await _ingest(sdk, "User: I live in Lyon.", customer_id="acme")
    alice = await _ingest(sdk, "User: I live in Porto.", customer_id="acme", user_id="alice")
    alice_ids = {"customer_id": "acme", "user_id": "alice"}
    # Reading along the chain is right ...
    assert (await sdk.memories.get(client, **alice_ids)).memory_id == client
    assert (await sdk.memories.get(acme, **alice_ids)).memory_id == acme
    # ... writing along it is not.
    for target in (client, acme):
        with pytest.raises(MemoryNotFoundError):
            await sdk.memories.update(target, "rewritten by alice", merge_strategy="replace", **alice_ids)
        with pytest.raises(MemoryNotFoundError):
            await sdk.memories.delete(target, **alice_ids)
    with pytest.raises(MemoryNotFoundError):  # a customer's ids reach its CUSTOMER memories only
        await sdk.memories.update(client, "rewritten by acme", merge_strategy="replace", customer_id="acme")
    assert "Oslo" in (await sdk.memories.get(client)).content
    assert "Lyon" in (await sdk.memories.get(acme)).content
    # Each scope's own ids (and the instance key alone) still write their own memories.
    assert (await sdk.memories.update(alice, "Alice likes oolong.", merge_strategy="replace", **alice_ids)).content
    assert (await sdk.memories.update(acme, "Acme: tea is free.", merge_strategy="replace", customer_id="acme")).content
    assert (await sdk.memories.delete(client))["memory_id"] == client


async def test_conversation_routes_check_the_ids_against_the_binding(make_sdk: MakeSdk) -> None:
    sdk = await make_sdk()
    await sdk.conversation.record_message("conv-a", "user", "alice's plans", customer_id="acme", user_id="alice")
    carol = {"customer_id": "globex", "user_id": "carol"}
    for call in (
        lambda: sdk.delete_data(conversation_id="conv-a", **carol),
        lambda: sdk.conversation.get_messages("conv-a", **carol),
        lambda: sdk.conversation.context.fetch("conv-a", search_query=["plans"], **carol),
    ):
        with pytest.raises(InvalidInputError) as exc:
            await call()
        assert exc.value.code == "conversation_scope_mismatch"
    assert [t.content for t in await sdk.conversation.get_messages("conv-a")] == ["alice's plans"]


async def test_ingest_with_another_scopes_conversation_reveals_nothing(make_sdk: MakeSdk) -> None:
    sdk = await make_sdk()
    text = "User: I like tea.\nAssistant: Noted."
    await sdk.conversation.ingest_transcript("conv-t", "alice", text, customer_id="acme")
    for other in (text, "User: something else entirely."):  # same transcript or not: the same refusal
        with pytest.raises(InvalidInputError) as exc:
            await sdk.conversation.ingest_transcript("conv-t", "carol", other, customer_id="globex")
        assert exc.value.code == "conversation_scope_mismatch"


@pytest.mark.parametrize("bad", ["acme\n", "acme\r\n", "\nacme", "ac me", "x" * 129])
async def test_ids_are_matched_whole(make_sdk: MakeSdk, bad: str) -> None:
    sdk = await make_sdk()
    with pytest.raises(InvalidInputError):
        await sdk.memories.create("User: hi", customer_id=bad)
    assert (await sdk.memories.list()).total == 0


# -- 2. one tenant cannot hurt another ---------------------------------------------------------------------------------
class _ChokesOn(HashingEmbedder):
    """The packaged hashing embedder, except that it refuses any batch holding ``poison`` (as a real tokenizer
    refuses text it cannot encode), and counts its calls."""

    def __init__(self, poison: str) -> None:
        super().__init__()
        self.poison = poison
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        if self.poison in texts:
            raise ValueError("cannot encode the input")
        return super().embed(texts)


async def test_a_bad_query_fails_alone_in_a_shared_embedding_batch() -> None:
    runner = EmbeddingRunner(_ChokesOn("poison"))
    try:
        good = [runner.queries([f"question {i}"], partition=f"inst_{i % 3}") for i in range(40)]
        bad = runner.queries(["poison"], partition="inst_x")
        results = await asyncio.gather(*good, bad, return_exceptions=True)
        assert isinstance(results[-1], ValueError)
        assert all(isinstance(r, np.ndarray) and r.shape == (1, 256) for r in results[:-1])
    finally:
        runner.close()


async def test_the_query_cache_is_per_instance() -> None:
    embedder = _ChokesOn("never asked")
    runner = EmbeddingRunner(embedder)
    try:
        first = await runner.queries(["what does alice eat?"], partition="inst_a")
        await runner.queries(["what does alice eat?"], partition="inst_a")
        assert embedder.calls == 1  # the same instance: answered from its cache
        other = await runner.queries(["what does alice eat?"], partition="inst_b")
        assert embedder.calls == 2  # another instance never gets a cached (faster) answer of someone else's query
        assert np.array_equal(first, other)
    finally:
        runner.close()


@pytest.fixture
def wire(remote_server: ThreadServer) -> httpx.Client:
    """A raw HTTP client on a fresh b2b instance of the test server: for inputs the SDK's types do not allow."""
    created = admin_create_instance(remote_server.url, f"w{uuid.uuid4().hex[:12]}", "b2b")
    headers = {"Authorization": f"Bearer {created['key']['api_key']}"}
    return httpx.Client(base_url=remote_server.url, headers=headers, timeout=30)


def _send(wire: httpx.Client, method: str, path: str, body: Any) -> httpx.Response:
    """``body`` as a client may really send it: lone surrogates as ``\\ud800`` escapes, ``NaN``/``Infinity``
    literals (Python's json writes both; httpx's own encoder refuses them)."""
    return wire.request(method, path, content=json.dumps(body), headers={"Content-Type": "application/json"})


def _create(wire: httpx.Client, **body: Any) -> httpx.Response:
    return _send(wire, "POST", "/api/v1/memories/create", {"document": "User: I like tea.", **body})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"document": "x \ud800 y", "customer_id": "acme"}, "document", id="surrogate-document"),
        pytest.param({"metadata": {"k": "\udfff"}}, "metadata", id="surrogate-metadata"),
        pytest.param({"metadata": {"\ud800": 1}}, "metadata", id="surrogate-metadata-key"),
        pytest.param({"metadata": {"score": math.nan}}, "metadata", id="nan"),
        pytest.param({"metadata": {"score": [1.0, math.inf]}}, "metadata", id="infinity"),
        pytest.param({"document_created_at": "0001-01-01T00:00:00+14:00"}, "document_created_at", id="year-1"),
        pytest.param({"document_created_at": "9999-12-31T23:59:59-14:00"}, "document_created_at", id="year-9999"),
        pytest.param({"document": {"messages": [{"role": "user", "content": "\ud83d"}]}}, "document", id="chat"),
        pytest.param({"document": "a NUL \u0000 in it", "customer_id": "acme"}, "document", id="nul-document"),
        pytest.param({"metadata": {"k": "nul \u0000"}}, "metadata", id="nul-metadata"),
    ],
)
def test_hostile_writes_are_refused_at_the_edge(wire: httpx.Client, body: dict[str, Any], field: str) -> None:
    r = _create(wire, **body)
    assert r.status_code == 400, r.text
    assert r.json()["details"].get("field") == field
    assert wire.get("/api/v1/memories").json()["total"] == 0  # nothing stored that a later read cannot decode


def test_hostile_patches_messages_and_fetches_are_4xx(wire: httpx.Client) -> None:
    ok = _create(wire, customer_id="acme", user_id="alice", document_type="note").json()
    for _ in range(200):
        st = wire.get(f"/api/v1/memories/status/{ok['ingestion_id']}").json()
        if st["status"] == "completed":
            break
    memory_id = st["memory_ids"][0]
    patch = _send(wire, "PATCH", f"/api/v1/memories/{memory_id}", {"document": "x", "metadata": {"s": math.nan}})
    assert patch.status_code == 400
    message = {"conversation_id": "c1", "role": "user", "content": "hi \ud800", "customer_id": "acme"}
    assert _send(wire, "POST", "/v1/conversations/messages", message).status_code == 400
    ask = {"user_id": "alice", "customer_id": "acme"}
    bad_fetches = [
        {"search_query": ["x \ud800 y"]},
        {"search_query": ["tea"], "as_of": "0001-01-01T00:00:00+14:00"},
        {"search_query": ["tea"], "filters": {f"k{i}": i for i in range(2000)}},
        {"search_query": ["tea"], "filters": {"k": {"in": list(range(300_000))}}},
        {"search_query": ["tea"], "filters": {"k": math.inf}},
    ]
    for extra in bad_fetches:
        r = _send(wire, "POST", "/v1/context/user/fetch", {**ask, **extra})
        assert r.status_code == 400, (list(extra), r.text[:200])
    for turns in (10**20, -1, 5001):
        r = wire.post("/v1/context/conversation/fetch", json={"conversation_id": "c1", "recent_turns": turns})
        assert r.status_code == 400, r.text
    assert wire.get("/api/v1/memories", params={"page": 2**62}).status_code == 400
    batch = [
        {"conversation_id": "c2", "role": "user", "content": f"turn {i}", "customer_id": "acme"} for i in range(501)
    ]
    r = wire.post("/v1/conversations/messages/batch", json={"messages": batch})
    assert r.status_code == 400 and "at most 500" in r.json()["message"]
    # The instance still answers, and its memory is intact.
    good = wire.post("/v1/context/user/fetch", json={**ask, "search_query": ["tea"]})
    assert good.status_code == 200 and good.json()["context"]["facts"] + good.json()["context"]["preferences"]


def test_an_instance_is_erased_whole_and_only_it(remote_server: ThreadServer) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    names = [f"gone{uuid.uuid4().hex[:8]}", f"kept{uuid.uuid4().hex[:8]}"]
    keys = [admin_create_instance(remote_server.url, n, "b2b")["key"]["api_key"] for n in names]
    clients = [httpx.Client(base_url=remote_server.url, headers={"Authorization": f"Bearer {k}"}) for k in keys]
    for c in clients:
        job = _create(c, customer_id="acme", user_id="alice").json()
        for _ in range(200):
            if c.get(f"/api/v1/memories/status/{job['ingestion_id']}").json()["status"] == "completed":
                break
    dry = httpx.post(
        f"{remote_server.url}/admin/v1/instances/{names[0]}/erase", params={"dry_run": True}, headers=admin
    )
    assert dry.status_code == 200 and dry.json()["dry_run"] and dry.json()["deleted"]["memories"] >= 1
    assert clients[0].get("/api/v1/memories").json()["total"] >= 1  # a dry run changes nothing
    done = httpx.post(f"{remote_server.url}/admin/v1/instances/{names[0]}/erase", headers=admin)
    assert done.status_code == 200 and done.json()["deleted"] == dry.json()["deleted"]
    assert clients[0].get("/api/v1/memories").status_code == 401  # archived: its keys no longer work
    assert clients[1].get("/api/v1/memories").json()["total"] >= 1  # the other instance is untouched
    for c in clients:
        c.close()


@pytest.mark.parametrize("who", ["user", "customer", "conversation"])
async def test_a_dry_run_counts_exactly_what_the_erasure_removes(make_sdk: MakeSdk, who: str) -> None:
    """For each kind of erasure: the dry run's counts equal the real erasure's (and delete nothing), the counts
    are those of what was written, and a second dry run afterwards finds nothing."""
    sdk = await make_sdk()
    alice = {"customer_id": "acme", "user_id": "alice"}
    await _ingest(sdk, "User: I live in Porto and I fly Air France.", **alice)
    await _ingest(sdk, "Acme refunds within 30 days.", customer_id="acme")
    await _ingest(sdk, "User: I live in Lyon.", customer_id="acme", user_id="bob")
    await _ingest(sdk, "User: I live in Oslo.", customer_id="globex", user_id="alice")
    for text in ("I want a window seat.", "Booked: 14A."):
        await sdk.conversation.record_message("conv-d", "user", text, extract=False, **alice)
    target: dict[str, str] = {
        "user": alice,
        "customer": {"customer_id": "acme"},
        "conversation": {"conversation_id": "conv-d", **alice},
    }[who]
    before = (await sdk.memories.list(**alice)).total
    dry = await sdk.delete_data(**target, dry_run=True)
    assert dry.dry_run and (await sdk.memories.list(**alice)).total == before  # counted, nothing deleted
    assert len(await sdk.conversation.get_messages("conv-d", **alice)) == 2
    real = await sdk.delete_data(**target)
    assert not real.dry_run and real.deleted == dry.deleted
    nonzero = {k: v for k, v in real.deleted.items() if v}
    if who == "conversation":
        assert nonzero == {"messages": 2, "conversations": 1}
    else:  # alice's memory and document (+ acme's and bob's for the customer), each one ingestion; the conversation
        n = {"user": 1, "customer": 3}[who]
        assert nonzero["memories"] >= n and nonzero["documents"] == n and nonzero["ingestions"] == n
        assert nonzero["messages"] == 2 and nonzero["conversations"] == 1
    after = await sdk.delete_data(**target, dry_run=True)
    assert not any(after.deleted.values())
    assert (await sdk.memories.list(customer_id="globex", user_id="alice")).total >= 1  # the other alice is intact
