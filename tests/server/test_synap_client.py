"""The unmodified public ``maximem-synap`` client against ``tenantry serve`` (a real subprocess on 127.0.0.1, a temp
SQLite database). Instance X is made with the CLI, instance Y with the admin API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from maximem_synap import MaximemSynapSDK
from maximem_synap import SDKConfig
from maximem_synap.models.errors import AuthenticationError
from maximem_synap.models.errors import ContextNotFoundError
from maximem_synap.models.errors import InvalidInputError
from maximem_synap.models.errors import TranscriptConflictError
from tests.server.helpers import ADMIN_TOKEN
from tests.server.helpers import REPO
from tests.server.helpers import SubprocessServer
from tests.server.helpers import admin_create_instance


class Deployment:
    def __init__(self, server: SubprocessServer, x: dict[str, Any], y: dict[str, Any], c: dict[str, Any]) -> None:
        self.server, self.x, self.y, self.c = server, x, y, c


def _cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "tenantry.cli", *args],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")},
            **env,
            "PYTHONPATH": str(REPO / "src"),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data: dict[str, Any] = json.loads(out.stdout)
    return data


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("synap")
    env = {
        "TENANTRY_DSN": f"sqlite:///{tmp / 'tenantry.db'}",
        "TENANTRY_EMBEDDER": "hashing",
        "TENANTRY_ADMIN_TOKEN": ADMIN_TOKEN,
        "TENANTRY_WORKERS": "2",
    }
    x = _cli(env, "instance", "create", "synap-x", "--relationship", "b2b", "--json")
    server = SubprocessServer(env, tmp / "server.log").start()
    try:
        y = admin_create_instance(server.url, "synap-y", "b2b")
        c = admin_create_instance(server.url, "synap-c", "b2c")
        yield Deployment(
            server,
            x,
            {"instance_id": y["instance"]["instance_id"], "api_key": y["key"]["api_key"]},
            {"instance_id": c["instance"]["instance_id"], "api_key": c["key"]["api_key"]},
        )
    finally:
        code = server.stop()
        log = server.log()
        assert "Traceback" not in log, log[-4000:]
        assert code == 0, log[-2000:]


@pytest.fixture
async def synap(deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """Factory of initialised, unmodified Synap clients, configured the way docs/server.md says."""
    monkeypatch.setenv("SYNAP_BASE_URL", deployment.server.url)
    monkeypatch.setenv("SYNAP_GRPC_HOST", "127.0.0.1")
    monkeypatch.setenv("SYNAP_GRPC_PORT", "50051")
    monkeypatch.setenv("SYNAP_GRPC_USE_TLS", "false")
    monkeypatch.setenv("SYNAP_AUTO_LISTEN", "false")
    monkeypatch.setenv("SYNAP_SDK_LOCAL_MODEL", "off")
    made: list[Any] = []

    async def make(api_key: str) -> Any:
        monkeypatch.setenv("SYNAP_API_KEY", api_key)
        sdk = MaximemSynapSDK(
            config=SDKConfig(cache_backend=None, storage_path=str(tmp_path / f"synap{len(made)}")), _force_new=True
        )
        await sdk.initialize()
        made.append(sdk)
        return sdk

    yield make
    for sdk in made:
        await sdk.shutdown()


async def _ingest(sdk: Any, text: str, **kw: Any) -> Any:
    r = await sdk.memories.create(text, **kw)
    st = await sdk.memories.wait_for_completion(r.ingestion_id, timeout_seconds=30, poll_interval_seconds=0.1)
    assert str(st.status.value) == "completed", st.error_message
    assert st.memory_ids
    return st


def _items(ctx: Any) -> list[Any]:
    return [*ctx.facts, *ctx.preferences, *ctx.episodes, *ctx.emotions, *ctx.temporal_events]


def _wire_sources(ctx: Any) -> set[str]:
    """``source`` of every item as sent (the client's Preference/Episode/Emotion models do not keep it)."""
    kinds = ("facts", "preferences", "episodes", "emotions", "temporal_events")
    return {str(it.get("source")) for k in kinds for it in ctx.raw.get(k, [])}


def _text(item: Any) -> str:
    return str(getattr(item, "content", None) or getattr(item, "summary", None) or getattr(item, "context", ""))


async def test_synap_client_end_to_end(deployment: Deployment, synap: Any) -> None:
    sdk = await synap(deployment.x["api_key"])
    assert sdk.instance_id == deployment.x["instance_id"]

    st = await _ingest(
        sdk, "User: I live in Lisbon and I love hiking. I am allergic to peanuts.", user_id="alice", customer_id="acme"
    )
    await _ingest(sdk, "Our refund policy allows returns within 30 days.", customer_id="acme", document_type="document")
    await _ingest(sdk, "The company holiday is on May 1.", document_type="document")

    conv = str(uuid.uuid4())
    rec = await sdk.conversation.record_message(
        conversation_id=conv,
        role="user",
        content="Book me a window seat to Porto.",
        user_id="alice",
        customer_id="acme",
    )
    assert rec["conversation_id"] == conv and rec["message_id"] and rec["conversation_message_count"] == 1

    turns = [{"role": "user", "content": "I love sushi."}, {"role": "assistant", "content": "Noted."}]
    first = await sdk.conversation.ingest_transcript(
        conversation_id="call-42", user_id="alice", customer_id="acme", transcript=turns
    )
    again = await sdk.conversation.ingest_transcript(
        conversation_id="call-42", user_id="alice", customer_id="acme", transcript=turns
    )
    assert first.status == "queued" and again.status == "duplicate" and again.ingestion_id == first.ingestion_id
    with pytest.raises(TranscriptConflictError):
        await sdk.conversation.ingest_transcript(
            conversation_id="call-42", user_id="alice", customer_id="acme", transcript="User: a different call"
        )

    user = await sdk.user.context.fetch(user_id="alice", customer_id="acme", search_query=["peanuts allergy"])
    assert any("peanut" in _text(i) for i in _items(user))
    assert {i.source for i in user.facts} <= {"user:alice", "customer:acme", "client"}
    assert all(i.id and i.extracted_at for i in user.facts)

    cust = await sdk.customer.context.fetch(customer_id="acme", search_query=["refund policy"])
    assert any("refund" in _text(i) for i in _items(cust))
    assert not any("peanut" in _text(i) for i in _items(cust))

    client = await sdk.client.context.fetch(search_query=["company holiday"])
    assert any("holiday" in _text(i) for i in _items(client))
    assert _wire_sources(client) == {"client"}

    conv_ctx = await sdk.conversation.context.fetch(conversation_id=conv, search_query=["where does alice live"])
    assert conv_ctx.conversation_context is not None
    assert any(t["content"] == "Book me a window seat to Porto." for t in conv_ctx.conversation_context.recent_turns)

    prompt = await sdk.conversation.context.get_context_for_prompt(conv)
    assert prompt.available and prompt.recent_messages[0].content == "Book me a window seat to Porto."

    uni = await sdk.fetch(conversation_id=conv, user_id="alice", customer_id="acme", search_query=["hiking"])
    assert uni.formatted_context and "hiking" in uni.formatted_context.lower()

    profile = await sdk.user.get_profile("alice", customer_id="acme")
    assert profile.overview or profile.attributes

    mid = st.memory_ids[0]
    mem = await sdk.memories.get(mid)
    assert str(mem.memory_id) == mid and mem.content
    gone = await sdk.memories.delete(mid)
    assert str(gone["memory_id"]) == mid
    with pytest.raises(ContextNotFoundError):
        await sdk.memories.get(mid)

    # compaction through the client: none yet, then compact, then the prompt context carries its framed block
    assert await sdk.conversation.context.get_compacted(conv) is None
    assert (await sdk.conversation.context.get_compaction_status(conv)).status == "not_compacted"
    for content in ("I land in Porto on Friday at 9.", "We decided on the window seat, row 12."):
        await sdk.conversation.record_message(
            conversation_id=conv, role="user", content=content, user_id="alice", customer_id="acme"
        )
    trigger = await sdk.conversation.context.compact(conv, strategy="balanced", force=True)
    assert trigger.status == "completed" and trigger.compaction_id != "pending"
    done = await sdk.conversation.context.get_compaction_status(conv)
    assert done.status == "completed" and done.compaction_id == trigger.compaction_id and done.latest_version == 1
    compacted = await sdk.conversation.context.get_compacted(conv)
    assert compacted is not None and compacted.compaction_id == trigger.compaction_id
    assert str(compacted.level_applied) == "balanced" and "Porto" in compacted.compacted_context
    await sdk.conversation.record_message(
        conversation_id=conv, role="assistant", content="Booked.", user_id="alice", customer_id="acme"
    )
    prompt = await sdk.conversation.context.get_context_for_prompt(conv)
    assert prompt.compaction_id == trigger.compaction_id
    assert prompt.context_block and "Porto" in prompt.context_block and "window seat" in prompt.context_block
    assert [m.content for m in prompt.recent_messages] == ["Booked."]
    assert (prompt.compacted_message_count, prompt.total_message_count) == (3, 4)

    # B2B: a user without its customer is refused by the server (400 -> the client's InvalidInputError)
    with pytest.raises(InvalidInputError):
        await sdk.memories.create("User: hi", user_id="bob")


async def test_instances_are_isolated(deployment: Deployment, synap: Any) -> None:
    sdk_y = await synap(deployment.y["api_key"])
    st = await _ingest(
        sdk_y, "User: I live in Reykjavik and I love pineapple pizza.", user_id="alice", customer_id="acme"
    )
    mine = await sdk_y.user.context.fetch(
        user_id="alice", customer_id="acme", search_query=["pineapple pizza Reykjavik"]
    )
    assert any("pineapple" in _text(i) for i in _items(mine))

    sdk_x = await synap(deployment.x["api_key"])
    assert sdk_x.instance_id == deployment.x["instance_id"] != deployment.y["instance_id"]
    seen = await sdk_x.user.context.fetch(
        user_id="alice", customer_id="acme", search_query=["pineapple pizza Reykjavik"]
    )
    assert not any("pineapple" in _text(i) for i in _items(seen))
    with pytest.raises(ContextNotFoundError):
        await sdk_x.memories.get(st.memory_ids[0])
    with pytest.raises(ContextNotFoundError):
        await sdk_x.memories.status(st.ingestion_id)
    with pytest.raises(ContextNotFoundError):
        await sdk_x.memories.delete(st.memory_ids[0])
    assert (await sdk_y.memories.get(st.memory_ids[0])).content  # still there for its own instance


async def test_b2c_whoami_makes_the_client_refuse_customer_ids(deployment: Deployment, synap: Any) -> None:
    sdk = await synap(deployment.c["api_key"])
    with pytest.raises(InvalidInputError):
        await sdk.memories.create("User: hi", user_id="ann", customer_id="acme")
    await _ingest(sdk, "User: I love hiking in the Alps.", user_id="ann")
    ctx = await sdk.user.context.fetch(user_id="ann", search_query=["hiking"])
    assert _wire_sources(ctx) == {"user:ann"}


async def test_bad_key_fails_on_first_call(deployment: Deployment, synap: Any) -> None:
    sdk = await synap("tn_not-a-real-key-000000000000000000")  # whoami failure is swallowed by the client
    with pytest.raises(AuthenticationError):
        await sdk.memories.create("User: hi", user_id="a", customer_id="b")
    r = httpx.get(f"{deployment.server.url}/health")
    assert r.status_code == 200


async def test_synap_client_reads_passages_ranked_responses_and_uploads(
    deployment: Deployment, synap: Any, tmp_path: Path
) -> None:
    """The public client's ``response_shape="ranked"``: ``ctx.items`` in rank order, passages as ``excerpts``; its
    ``create_from_file`` uploads a file the server reads (a Markdown playbook, its headings kept)."""
    sdk = await synap(deployment.y["api_key"])
    playbook = tmp_path / "playbook.md"
    playbook.write_text(
        "# Playbook\n\n## Refunds\n\nCustomers can get a full refund within 30 days of purchase. After that we only "
        "offer store credit.\n\n"
        "## Support\n\nSupport hours are 9am to 5pm CET.\n"
    )
    r = await sdk.memories.create_from_file(user_id="peter", customer_id="initech", file_path=str(playbook))
    st = await sdk.memories.wait_for_completion(r.ingestion_id, timeout_seconds=30, poll_interval_seconds=0.1)
    assert str(st.status.value) == "completed", st.error_message
    ids = {"user_id": "peter", "customer_id": "initech"}
    by_type = await sdk.user.context.fetch(**ids, search_query=["refund"], max_results=5)
    assert any("full refund within 30 days" in f.content for f in by_type.facts)
    ranked = await sdk.user.context.fetch(**ids, search_query=["refund"], max_results=5, response_shape="ranked")
    assert ranked.items and [i.rank for i in ranked.items] == list(range(1, len(ranked.items) + 1))
    refund = next(i for i in ranked.items if "full refund" in i.content)
    assert refund.category == "excerpts" and refund.metadata["headings"] == ["Playbook", "Refunds"]
    assert any("full refund" in e.content for e in ranked.excerpts)
    scores = [i.rank_score for i in ranked.items]
    assert all(s is not None for s in scores) and scores == sorted(scores, reverse=True)
