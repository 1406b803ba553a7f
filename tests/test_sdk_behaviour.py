"""One behavioural suite of the SDK, run twice: embedded (in-process engine) and remote (our SDK over HTTP against
``create_app`` served by uvicorn on 127.0.0.1). Same calls, same answers, same exception classes and codes."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import MakeSdk
from tests.sample_files import GOOD
from tests.sample_files import MALFORMED
from tests.sample_files import REFUND
from tests.server.helpers import ThreadServer
from tests.server.helpers import admin_create_instance

from tenantry import ContextNotFoundError
from tenantry import IngestionNotFoundError
from tenantry import InvalidInputError
from tenantry import MemoryNotFoundError
from tenantry import Tenantry
from tenantry import TranscriptConflictError
from tenantry.models import ContextResponse
from tenantry.models import Memory


async def _ingest(sdk: Tenantry, text: str, **kw: Any) -> list[str]:
    r = await sdk.memories.create(text, **kw)
    assert r.status == "queued"
    st = await sdk.memories.wait_for_completion(r.ingestion_id, timeout_seconds=30, poll_interval_seconds=0.05)
    assert st.status == "completed", st.error_message
    assert st.memory_ids
    return st.memory_ids


def _texts(ctx: ContextResponse) -> list[str]:
    return [str(getattr(i, "content", None) or getattr(i, "summary", "")) for i in ctx.items()]


def _sources(ctx: ContextResponse) -> set[str]:
    return {i.source for i in ctx.items()}


async def test_initialize_reports_the_instance(make_sdk: MakeSdk) -> None:
    sdk = await make_sdk()
    assert sdk.instance_id is not None and sdk.instance_id.startswith("inst_") and len(sdk.instance_id) == 21
    assert sdk.client_id is not None and sdk.client_id.startswith("cli_")


async def test_memory_lifecycle(make_sdk: MakeSdk) -> None:
    sdk = await make_sdk()
    ids = await _ingest(sdk, "User: I live in Lisbon and I love hiking.", customer_id="acme", user_id="u1")
    m = await sdk.memories.get(ids[0])
    assert isinstance(m, Memory) and m.memory_id == ids[0] and m.source == "user:u1" and m.content
    got = await sdk.memories.get(ids[0], user_id="u1", customer_id="acme")
    assert got.memory_id == ids[0]
    with pytest.raises(MemoryNotFoundError):  # by-id access is scope-checked too
        await sdk.memories.get(ids[0], user_id="u1", customer_id="globex")

    updated = await sdk.memories.update(ids[0], "User lives in Porto now.", merge_strategy="replace")
    assert updated.content == "User lives in Porto now." and updated.memory_id == ids[0]
    appended = await sdk.memories.update(ids[0], "Near the river.", merge_strategy="append")
    assert appended.content == "User lives in Porto now. Near the river."

    page = await sdk.memories.list(user_id="u1", customer_id="acme", page=1, page_size=10)
    assert page.total == len(ids) and {x.memory_id for x in page.data} == set(ids)
    assert (await sdk.memories.list(customer_id="globex")).total == 0

    deleted = await sdk.memories.delete(ids[0])
    assert deleted["memory_id"] == ids[0] and deleted["deleted_at"]
    with pytest.raises(MemoryNotFoundError) as exc:
        await sdk.memories.get(ids[0])
    assert exc.value.code == "memory_not_found"
    with pytest.raises(MemoryNotFoundError):
        await sdk.memories.delete(ids[0])


async def test_document_id_is_idempotent_and_batches_report_per_item(make_sdk: MakeSdk) -> None:
    sdk = await make_sdk()
    a = await sdk.memories.create(
        "Our office is in Oslo.", customer_id="acme", document_id="d1", document_type="document"
    )
    b = await sdk.memories.create(
        "Our office is in Oslo.", customer_id="acme", document_id="d1", document_type="document"
    )
    assert a.ingestion_id == b.ingestion_id
    batch = await sdk.memories.batch_create(
        [
            {"document": "Globex pays invoices monthly.", "customer_id": "globex", "document_type": "document"},
            {"document": "User: hello", "user_id": "lonely"},  # b2b: a user needs its customer
        ]
    )
    assert (batch.total, batch.succeeded, batch.failed) == (2, 1, 1)
    ok, bad = batch.results
    assert not isinstance(ok, dict) and ok.status == "queued"
    assert isinstance(bad, dict) and bad["status"] == "failed" and bad["code"] == "customer_id_required"
    with pytest.raises(InvalidInputError):
        await sdk.memories.batch_create([{"document": "User: hi", "user_id": "x"}], fail_fast=True)


async def test_scoped_fetches(make_sdk: MakeSdk) -> None:
    sdk = await make_sdk()
    await _ingest(sdk, "User: I live in Lisbon and I love hiking.", customer_id="acme", user_id="u1")
    await _ingest(sdk, "User: I live in Berlin and I love chess.", customer_id="globex", user_id="u1")
    await _ingest(sdk, "Our refund policy allows returns within 30 days.", customer_id="acme", document_type="document")
    await _ingest(sdk, "The company holiday is on May 1.", document_type="document")

    user = await sdk.user.context.fetch(user_id="u1", customer_id="acme", search_query=["hiking Lisbon refund policy"])
    assert "user:u1" in _sources(user) and "customer:acme" in _sources(user)
    assert _sources(user) <= {"user:u1", "customer:acme", "client"}
    assert not any("Berlin" in t or "chess" in t for t in _texts(user))  # same user_id, other customer
    assert all(i.id and i.extracted_at is not None for i in user.items())

    cust = await sdk.customer.context.fetch(customer_id="acme", search_query=["refund policy returns"])
    assert _sources(cust) and _sources(cust) <= {"customer:acme", "client"}
    assert any("refund" in t for t in _texts(cust))

    client = await sdk.client.context.fetch(search_query=["company holiday May"])
    assert _sources(client) == {"client"}

    only_prefs = await sdk.user.context.fetch(
        user_id="u1", customer_id="acme", search_query=["hiking"], types=["preferences"]
    )
    assert not only_prefs.facts and not only_prefs.temporal_events

    unknown = await sdk.customer.context.fetch(customer_id="initech", search_query=["refund policy"])
    assert _sources(unknown) <= {"client"}  # no data of its own: answered, not refused


async def test_unified_fetch_and_conversation_binding(make_sdk: MakeSdk) -> None:
    sdk = await make_sdk()
    await _ingest(sdk, "User: I live in Lisbon and I love hiking.", customer_id="acme", user_id="u1")
    conv = str(uuid.uuid4())
    rec = await sdk.conversation.record_message(
        conv, "user", "Book me a window seat to Porto.", user_id="u1", customer_id="acme"
    )
    assert rec["conversation_id"] == conv and rec["message_id"]
    with pytest.raises(InvalidInputError) as exc:  # the conversation is bound to (acme, u1)
        await sdk.conversation.record_message(conv, "user", "hi", user_id="u2", customer_id="acme")
    assert exc.value.code == "conversation_scope_mismatch"
    with pytest.raises(InvalidInputError) as exc:
        await sdk.conversation.context.fetch(conv, search_query=["seat"], user_id="u2", customer_id="acme")
    assert exc.value.code == "conversation_scope_mismatch"

    ctx = await sdk.conversation.context.fetch(conv, search_query=["where does the user live"])
    assert ctx.conversation_context is not None
    assert [t["content"] for t in ctx.conversation_context.recent_turns] == ["Book me a window seat to Porto."]
    assert _sources(ctx) <= {"user:u1", "customer:acme", "client"}

    uni = await sdk.fetch(conversation_id=conv, user_id="u1", customer_id="acme", search_query=["hiking"])
    assert uni.scopes_queried and set(uni.scopes_queried) <= {"conversation", "user", "customer"}
    assert uni.scope_map and set(uni.scope_map) == {i.id for i in uni.items()}
    assert uni.formatted_context and "hiking" in uni.formatted_context
    assert uni.conversation_context_for_prompt is not None and uni.conversation_context_for_prompt.recent_messages


async def test_transcripts_are_idempotent(make_sdk: MakeSdk) -> None:
    sdk = await make_sdk()
    turns = [{"role": "user", "content": "I love sushi."}, {"role": "assistant", "content": "Noted."}]
    a = await sdk.conversation.ingest_transcript("call-1", "u1", turns, customer_id="acme")
    b = await sdk.conversation.ingest_transcript("call-1", "u1", turns, customer_id="acme")
    assert a.status == "queued" and b.status == "duplicate" and a.ingestion_id == b.ingestion_id
    with pytest.raises(TranscriptConflictError) as exc:
        await sdk.conversation.ingest_transcript("call-1", "u1", "User: something else", customer_id="acme")
    assert exc.value.code == "transcript_conflict"


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda s: s.memories.create("User: hi", user_id="u1"), "customer_id_required"),
        (lambda s: s.memories.create("x", customer_id="acme", document_type="fax"), "invalid_input"),
        (lambda s: s.memories.create("   ", customer_id="acme"), "invalid_input"),
        (lambda s: s.memories.create("x", customer_id="bad id!"), "invalid_input"),
        (lambda s: s.user.context.fetch(user_id="u1", search_query=["x"]), "customer_id_required"),
        (lambda s: s.user.context.fetch("u1", "acme", search_query=["x"], max_results=0), "invalid_input"),
        (lambda s: s.user.context.fetch("u1", "acme", search_query=["x"], mode="slow"), "invalid_input"),
        (lambda s: s.user.context.fetch("u1", "acme", search_query=["x"], types=["bogus"]), "invalid_input"),
        (lambda s: s.client.context.fetch(search_query=["x"], bogus=1), "invalid_input"),
        (lambda s: s.memories.update(str(uuid.uuid4()), "x", merge_strategy="squash"), "invalid_input"),
        (lambda s: s.conversation.record_message("c1", "robot", "hi", user_id="u1", customer_id="a"), "invalid_input"),
        (lambda s: s.fetch(), "invalid_input"),
        (lambda s: s.delete_data(), "invalid_input"),
    ],
)
async def test_validation_errors_are_the_same_in_both_modes(make_sdk: MakeSdk, call: Any, code: str) -> None:
    sdk = await make_sdk()
    with pytest.raises(InvalidInputError) as exc:
        await call(sdk)
    assert exc.value.code == code


async def test_not_found_errors(make_sdk: MakeSdk) -> None:
    sdk = await make_sdk()
    with pytest.raises(IngestionNotFoundError):
        await sdk.memories.status(str(uuid.uuid4()))
    with pytest.raises(MemoryNotFoundError):
        await sdk.memories.get(str(uuid.uuid4()))


async def test_b2c_instance(make_sdk: MakeSdk) -> None:
    sdk = await make_sdk("b2c")
    await _ingest(sdk, "User: I love hiking in the Alps.", user_id="ann")
    ctx = await sdk.user.context.fetch(user_id="ann", search_query=["hiking"])
    assert _sources(ctx) == {"user:ann"}
    other = await sdk.user.context.fetch(user_id="bob", search_query=["hiking"])
    assert not other.items()


async def test_delete_data_removes_a_user(make_sdk: MakeSdk) -> None:
    sdk = await make_sdk()
    ids = await _ingest(sdk, "User: I live in Lisbon and I love hiking.", customer_id="acme", user_id="u1")
    receipt = await sdk.delete_data(customer_id="acme", user_id="u1")
    assert receipt.receipt_id and receipt.deleted["memories"] == len(ids)
    with pytest.raises(MemoryNotFoundError):
        await sdk.memories.get(ids[0])


@pytest.mark.parametrize("ids", [{"user_id": "ann"}, {"user_id": "ann", "customer_id": "ann"}], ids=["user", "both"])
async def test_b2c_delete_data_removes_the_user(make_sdk: MakeSdk, ids: dict[str, str]) -> None:
    """On b2c instances the user is the tenant: erasing it by user id (alone, or with the same value as customer id,
    as Synap tells b2c callers to pass) removes its memories and nothing of another user."""
    sdk = await make_sdk("b2c")
    mine = await _ingest(sdk, "User: I love hiking in the Alps.", user_id="ann")
    theirs = await _ingest(sdk, "User: I love sailing in Brittany.", user_id="bob")
    receipt = await sdk.delete_data(**ids)
    assert receipt.deleted["memories"] == len(mine)
    with pytest.raises(MemoryNotFoundError):
        await sdk.memories.get(mine[0])
    assert (await sdk.memories.list(user_id="ann")).total == 0
    assert {m.memory_id for m in (await sdk.memories.list(user_id="bob")).data} == set(theirs)


async def test_turns_without_extraction_profiles_and_backfill(make_sdk: MakeSdk) -> None:
    """``extract=False`` records short-term context only (in both modes), ``get_messages`` reads the turns back in
    order, and ``user.get_profile`` is built from the user's own memories."""
    sdk = await make_sdk()
    await sdk.conversation.record_messages_batch(
        [
            {"conversation_id": "c9", "role": "user", "content": "I prefer tea.", "customer_id": "a", "user_id": "u"},
            {"conversation_id": "c9", "role": "assistant", "content": "Tea it is."},
        ],
        extract=False,
    )
    turns = await sdk.conversation.get_messages("c9")
    assert [(t.position, t.role, t.content) for t in turns] == [
        (1, "user", "I prefer tea."),
        (2, "assistant", "Tea it is."),
    ]
    assert (await sdk.memories.list(customer_id="a", user_id="u")).total == 0  # nothing was queued for extraction
    with pytest.raises(InvalidInputError) as exc:  # ids that are not the conversation's binding
        await sdk.conversation.get_messages("c9", customer_id="b", user_id="u")
    assert exc.value.code == "conversation_scope_mismatch"
    with pytest.raises(ContextNotFoundError) as nf:
        await sdk.user.get_profile("u", customer_id="a")
    assert nf.value.code == "profile_not_found"
    await _ingest(sdk, "User: I live in Lisbon and I love hiking.", customer_id="a", user_id="u")
    profile = await sdk.user.get_profile("u", customer_id="a")
    assert profile.overview and "Lisbon" in profile.overview and profile.meta["built_from"].startswith("user:u")
    prompt = await sdk.conversation.context.get_context_for_prompt("c9", style="bullet_points")
    assert prompt.available and prompt.formatted_context == "- User: I prefer tea.\n- Assistant: Tea it is."


def test_remote_sdk_refuses_a_bad_key(remote_server: ThreadServer) -> None:
    """Remote only (embedded mode has no keys): a wrong key fails ``initialize`` with AuthenticationError."""
    import asyncio

    from tenantry import AuthenticationError

    async def run() -> None:
        sdk = Tenantry(url=remote_server.url, api_key="tn_" + "x" * 32)
        with pytest.raises(AuthenticationError) as exc:
            await sdk.initialize()
        assert exc.value.code == "invalid_api_key"

    asyncio.run(run())
    assert httpx.get(f"{remote_server.url}/health").status_code == 200


def test_remote_mode_from_the_environment(remote_server: ThreadServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """``TENANTRY_URL`` + ``TENANTRY_API_KEY`` select remote mode, for the async SDK and the blocking facade."""
    from tenantry import SyncTenantry

    created = admin_create_instance(remote_server.url, f"env{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("TENANTRY_URL", remote_server.url)
    monkeypatch.setenv("TENANTRY_API_KEY", created["key"]["api_key"])
    with SyncTenantry() as sdk:
        assert sdk.instance_id == created["instance"]["instance_id"]
        r = sdk.memories.create("User: I love hiking.", customer_id="acme", user_id="u1")
        st = sdk.memories.wait_for_completion(r.ingestion_id, timeout_seconds=30)
        assert st.status == "completed"
    monkeypatch.delenv("TENANTRY_API_KEY")

    import asyncio

    from tenantry import AuthenticationError

    async def no_key() -> None:
        with pytest.raises(AuthenticationError) as exc:
            await Tenantry().initialize()
        assert exc.value.code == "missing_api_key"

    asyncio.run(no_key())


async def test_b2c_conversation_reads_refuse_another_users_ids(make_sdk: MakeSdk) -> None:
    """On b2c a customer_id passed alone names the user of that id, for conversation reads too: carol's conversation
    read, listed or erased with dave's id is refused, not served."""
    sdk = await make_sdk("b2c")
    await sdk.conversation.record_message("conv-1", "user", "carol's secret plan", user_id="carol")
    calls = [
        lambda: sdk.conversation.context.fetch("conv-1", customer_id="dave", search_query=["secret"]),
        lambda: sdk.conversation.get_messages("conv-1", customer_id="dave"),
        lambda: sdk.delete_data(conversation_id="conv-1", customer_id="dave"),
        lambda: sdk.fetch(conversation_id="conv-1", customer_id="dave", search_query=["secret"]),
    ]
    for call in calls:
        with pytest.raises(InvalidInputError) as exc:
            await call()
        assert exc.value.code == "conversation_scope_mismatch"
    own = await sdk.conversation.context.fetch("conv-1", customer_id="carol")
    assert own.conversation_context is not None and len(own.conversation_context.recent_turns) == 1


@pytest.mark.parametrize("fmt", sorted(GOOD))
async def test_create_from_file_reads_each_format_and_refuses_a_malformed_one(
    make_sdk: MakeSdk, tmp_path: Path, fmt: str
) -> None:
    """``memories.create_from_file`` with a path, bytes or a file object: the engine (embedded) or the server
    (remote) reads the file, headings kept; a malformed file of the same format raises ``InvalidInputError`` naming
    the format, with nothing stored."""
    sdk = await make_sdk()
    name, data = GOOD[fmt]
    path = tmp_path / name
    path.write_bytes(data)
    r = await sdk.memories.create_from_file(
        customer_id="acme", file_path=path, metadata={"origin": fmt}, document_id=f"files/{name} #1"
    )
    assert r.document_id == f"files/{name} #1"
    st = await sdk.memories.wait_for_completion(r.ingestion_id, timeout_seconds=30, poll_interval_seconds=0.05)
    assert st.status == "completed", st.error_message
    resp = await sdk.customer.context.fetch(customer_id="acme", search_query=["refund within 30 days"], max_results=5)
    passage = next(f for f in resp.facts if REFUND in f.content)
    assert passage.metadata["origin"] == fmt and passage.metadata["filename"] == name
    assert passage.metadata.get("headings", [None])[-1] == "Refund policy" or passage.content.startswith("Refund")

    again = await sdk.memories.create_from_file(customer_id="acme", file=io.BytesIO(data), filename=f"copy-{name}")
    assert again.status == "queued"
    raw = await sdk.memories.create_from_file(customer_id="globex", file=data, filename=name)
    assert raw.status == "queued"

    bad_name, bad = MALFORMED[fmt]
    before = (await sdk.memories.list(customer_id="acme")).total
    with pytest.raises(InvalidInputError) as exc:
        await sdk.memories.create_from_file(customer_id="acme", file=bad, filename=bad_name)
    assert exc.value.code == "unreadable_file" and exc.value.details["format"] == fmt
    assert bad_name in str(exc.value)
    assert (await sdk.memories.list(customer_id="acme")).total == before


async def test_create_from_file_arguments(make_sdk: MakeSdk, tmp_path: Path) -> None:
    sdk = await make_sdk()
    with pytest.raises(InvalidInputError):
        await sdk.memories.create_from_file(customer_id="acme")  # none of file_path, file, text
    with pytest.raises(InvalidInputError):
        await sdk.memories.create_from_file(customer_id="acme", text="x", file=b"y", filename="y.txt")
    with pytest.raises(InvalidInputError):
        await sdk.memories.create_from_file(customer_id="acme", file=b"no name")
    with pytest.raises(InvalidInputError) as exc:
        await sdk.memories.create_from_file(customer_id="acme", file=b"\x89PNG\r\n\x1a\n\x00", filename="a.png")
    assert exc.value.code == "unsupported_file_type"
    with pytest.raises(InvalidInputError):
        await sdk.memories.create_from_file(customer_id="acme", file_path=tmp_path / "missing.md")
    r = await sdk.memories.create_from_file(customer_id="acme", text="Our office is in Oslo.")
    assert r.status == "queued"


async def test_ranked_response_shape_and_document_ids(make_sdk: MakeSdk) -> None:
    """``response_shape="ranked"``: every item once, best first, passages as ``excerpts``; ``document_id`` takes
    what callers name documents with; the caller's metadata comes back on the items a write made."""
    sdk = await make_sdk()
    doc_id = "https://kb.example.com/Refund Policy v2.md#eu|b2b"
    await _ingest(
        sdk,
        "# Refunds\n\nRefunds are accepted within 30 days of purchase. After that we offer store credit.",
        customer_id="acme",
        document_type="document",
        document_id=doc_id,
        metadata={"source": "kb", "rev": 2},
    )
    plain = await sdk.customer.context.fetch(customer_id="acme", search_query=["refund store credit"])
    assert plain.ranked is None
    resp = await sdk.customer.context.fetch(
        customer_id="acme", search_query=["refund store credit"], response_shape="ranked"
    )
    assert resp.ranked and [r.id for r in resp.ranked] == [i.id for i in resp.items()]
    assert [r.rank for r in resp.ranked] == list(range(1, len(resp.ranked) + 1))
    excerpt = next(r for r in resp.ranked if r.category == "excerpts")
    assert excerpt.content.startswith("Refunds are accepted") and excerpt.metadata["headings"] == ["Refunds"]
    assert excerpt.source_evidence and excerpt.source_evidence[0].startswith(f"{doc_id}@")
    assert all(r.metadata["source"] == "kb" and r.metadata["rev"] == 2 for r in resp.ranked)
    assert any(f.metadata.get("kind") == "passage" for f in resp.facts)  # by type: a passage is a fact
    with pytest.raises(InvalidInputError):
        await sdk.customer.context.fetch(customer_id="acme", search_query=["x"], response_shape="flat")
    with pytest.raises(InvalidInputError):
        await sdk.memories.create("x", customer_id="acme", document_id="two\nlines")
