"""The unmodified ``maximem-synap`` client, with its default local response cache **on**, against ``tenantry serve``
(a real subprocess on 127.0.0.1): what the server answers must keep that cache from ever serving one customer another
customer's context, and the items the framework integrations read must be there (metadata kept verbatim, ``content``
on every item, events accepted, an unknown customer answered with empty lists)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from maximem_synap import MaximemSynapSDK
from maximem_synap import SDKConfig
from tests.server.helpers import SubprocessServer
from tests.server.helpers import synap_server


class Deployment:
    def __init__(self, server: SubprocessServer, api_key: str) -> None:
        self.server, self.api_key = server, api_key


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with synap_server(tmp_path_factory.mktemp("synap-safety"), "synap-safety") as (server, api_key):
        yield Deployment(server, api_key)


@pytest.fixture
async def sdk(deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """One unmodified client with its defaults, the local SQLite response cache included."""
    monkeypatch.setenv("SYNAP_BASE_URL", deployment.server.url)
    monkeypatch.setenv("SYNAP_API_KEY", deployment.api_key)
    monkeypatch.setenv("SYNAP_AUTO_LISTEN", "false")
    monkeypatch.setenv("SYNAP_SDK_LOCAL_MODEL", "off")
    client = MaximemSynapSDK(config=SDKConfig(storage_path=str(tmp_path / "synap")), _force_new=True)
    await client.initialize()
    assert client._cache_manager is not None and client._cache_manager.enabled  # the cache is on
    yield client
    await client.shutdown()


async def _ingest(sdk: Any, text: str, **kw: Any) -> Any:
    r = await sdk.memories.create(text, **kw)
    st = await sdk.memories.wait_for_completion(r.ingestion_id, timeout_seconds=30, poll_interval_seconds=0.1)
    assert str(st.status.value) == "completed", st.error_message
    return st


def _texts(ctx: Any) -> str:
    items = [*ctx.facts, *ctx.preferences, *ctx.episodes, *ctx.emotions, *ctx.temporal_events]
    return " ".join(str(getattr(i, "content", None) or getattr(i, "summary", "") or "") for i in items).lower()


def _cached_entries(sdk: Any) -> int:
    """Entries of the client's local response cache that it would still serve (not expired)."""
    entries: int = sdk.cache.stats()["total_entries"]
    return entries


async def test_same_user_id_in_two_customers_never_crosses(sdk: Any) -> None:
    user = f"alice-{uuid.uuid4().hex[:6]}"
    await _ingest(sdk, "User: I live in Lisbon and I am allergic to peanuts.", user_id=user, customer_id="acme")
    await _ingest(sdk, "User: I live in Oslo and I am allergic to shellfish.", user_id=user, customer_id="globex")
    query = ["where do I live and what am I allergic to"]
    for _ in range(2):  # back to back, twice: neither order may ever be answered from the other's cache
        acme = await sdk.user.context.fetch(user_id=user, customer_id="acme", search_query=query)
        globex = await sdk.user.context.fetch(user_id=user, customer_id="globex", search_query=query)
        assert "lisbon" in _texts(acme) and "oslo" not in _texts(acme)
        assert "oslo" in _texts(globex) and "lisbon" not in _texts(globex)
        assert acme.metadata.source == globex.metadata.source == "cloud"  # both answered by the server
    assert _cached_entries(sdk) == 0


async def test_no_scope_is_cached(sdk: Any) -> None:
    """User, customer, client and conversation answers all expire at once in the client's cache, so a write is
    seen by the very next fetch."""
    user, conv = f"bob-{uuid.uuid4().hex[:6]}", str(uuid.uuid4())
    await _ingest(sdk, "User: I play the cello.", user_id=user, customer_id="initech")
    await _ingest(sdk, "Initech's refund window is 30 days.", customer_id="initech", document_type="document")
    await _ingest(sdk, "The office is closed on May 1.", document_type="document")
    await sdk.conversation.record_message(
        conversation_id=conv, role="user", content="I play the cello.", user_id=user, customer_id="initech"
    )
    fetches = {
        "user": lambda: sdk.user.context.fetch(user_id=user, customer_id="initech", search_query=["instrument"]),
        "customer": lambda: sdk.customer.context.fetch(customer_id="initech", search_query=["refund window"]),
        "client": lambda: sdk.client.context.fetch(search_query=["office closed"]),
        "conversation": lambda: sdk.conversation.context.fetch(
            conversation_id=conv, search_query=["instrument"], user_id=user, customer_id="initech"
        ),
    }
    for name, fetch in fetches.items():
        first = await fetch()
        assert _texts(first), name  # non-empty: the client would cache it for the ttl the server sent
        assert _cached_entries(sdk) == 0, name
        again = await fetch()
        assert again.metadata.source == "cloud", name
    await _ingest(sdk, "Initech's refund window is now 60 days.", customer_id="initech", document_type="document")
    later = await sdk.customer.context.fetch(customer_id="initech", search_query=["refund window"])
    assert "60 days" in _texts(later)


async def test_ttl_on_the_wire(deployment: Deployment) -> None:
    """What makes that so: every context answer carries a ttl that has already run out."""
    headers = {"Authorization": f"Bearer {deployment.api_key}"}
    body = {"search_query": ["anything"], "user_id": "u", "customer_id": "acme"}
    for path in ("user", "customer", "client"):
        r = httpx.post(f"{deployment.server.url}/v1/context/{path}/fetch", json=body, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["ttl_seconds"] < 0


def _wire(deployment: Deployment, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(
        f"{deployment.server.url}{path}", json=body, headers={"Authorization": f"Bearer {deployment.api_key}"}
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def test_scope_named_metadata_is_caller_data(sdk: Any, deployment: Deployment) -> None:
    """crewai's ``remember`` and agno's ``upsert_user_memory`` put scope-named keys in ``metadata``: they are stored and
    returned as given, and never read to decide where the memory lands or who may read it."""
    user = f"carol-{uuid.uuid4().hex[:6]}"
    meta = {"customer_id": "globex", "user_id": "mallory", "scope": "client", "source": "crew"}
    st = await _ingest(sdk, "User: I keep bees on my roof.", user_id=user, customer_id="acme", metadata=meta)
    mine = await sdk.user.context.fetch(user_id=user, customer_id="acme", search_query=["bees roof"])
    kinds = ("facts", "preferences", "episodes", "emotions", "temporal_events")
    items = [i for k in kinds for i in mine.raw.get(k, []) if "bees" in i.get("content", "").lower()]
    assert items and all(i["source"] == f"user:{user}" for i in items)  # stored at the typed ids' scope
    export = _wire(deployment, "/v1/data/export", {"customer_id": "acme", "user_id": user})["records"]
    docs = [r for r in export if r.get("kind") == "document"]
    assert [{k: d["metadata"].get(k) for k in meta} for d in docs] == [meta]  # kept and returned as given
    assert (await sdk.memories.get(st.memory_ids[0])).content
    others = [
        sdk.user.context.fetch(user_id="mallory", customer_id="globex", search_query=["bees roof"]),
        sdk.user.context.fetch(user_id=user, customer_id="globex", search_query=["bees roof"]),
        sdk.customer.context.fetch(customer_id="globex", search_query=["bees roof"]),
        sdk.customer.context.fetch(customer_id="acme", search_query=["bees roof"]),
        sdk.client.context.fetch(search_query=["bees roof"]),
    ]
    for other in others:
        assert "bees" not in _texts(await other)


async def test_every_item_carries_content(sdk: Any, deployment: Deployment) -> None:
    """mcp-server's ``recall_context`` reads only ``content``: episodes and emotions carry it too."""
    user = f"dan-{uuid.uuid4().hex[:6]}"
    await _ingest(sdk, "User: I was thrilled when I got the job!", user_id=user, customer_id="acme")
    body = {"user_id": user, "customer_id": "acme", "search_query": ["thrilled job"], "max_results": 50}
    episodes = _wire(deployment, "/v1/context/user/fetch", {**body, "types": ["episodes"]})["context"]["episodes"]
    emotions = _wire(deployment, "/v1/context/user/fetch", {**body, "types": ["emotions"]})["context"]["emotions"]
    assert episodes and emotions
    assert all(i["content"] and i["content"] == i["summary"] for i in episodes)
    assert all(i["content"] and i["content"] == i["context"] for i in emotions)


async def test_events_batch_is_accepted(deployment: Deployment) -> None:
    events = [
        {"event_type": "user_message", "role": "user", "content": "hi", "conversation_id": "c", "event_id": "e1"},
        {"event_type": "assistant_message", "role": "assistant", "content": "hello", "conversation_id": "c"},
    ]
    got = _wire(deployment, "/v1/events/batch", {"events": events})
    assert got["accepted"] == 2 and got["rejected"] == 0
    assert [r["event_id"] for r in got["results"]] == ["e1", None]
    r = httpx.post(f"{deployment.server.url}/v1/events/batch", json={"events": []})
    assert r.status_code == 401  # an instance's route: the key is checked


async def test_customer_without_data_is_answered_empty(sdk: Any, caplog: pytest.LogCaptureFixture) -> None:
    ctx = await sdk.customer.context.fetch(customer_id=f"new-{uuid.uuid4().hex[:6]}", search_query=["refund policy"])
    assert not ctx.facts and not ctx.preferences and not ctx.episodes
    assert not [r for r in caplog.records if r.levelname == "WARNING" and "synap" in r.name]
