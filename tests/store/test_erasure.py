"""Erasure that erases, on both backends: markers written for one user, one customer and one conversation (documents,
chat turns, PATCHed values, metadata) are erased through the HTTP API; then, with the server stopped, no file of the
SQLite database (main, -wal, -shm) and no table file of the PostgreSQL database (after the erasure's own VACUUM and a
CHECKPOINT) holds a marker's bytes, while another user's data is intact and retrievable, and each receipt counts
what was written."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import typer
from tests.server.helpers import ADMIN_TOKEN
from tests.server.helpers import ThreadServer
from tests.server.helpers import admin_create_instance
from typer.testing import CliRunner

from tenantry import Tenantry
from tenantry.db_cli import register
from tenantry.server.config import ServerSettings
from tenantry.settings import Settings

# One marker per place a text can hide; lowercase letters only, so every tokenizer keeps it whole.
MARKERS = {
    "user_document": "qxuserdocumentmarkq",
    "user_chat": "qxuserchatmarkq",
    "user_patch_old": "qxuserpatcholdmarkq",
    "user_patch_new": "qxuserpatchnewmarkq",
    "user_metadata": "qxusermetadatamarkq",
    "customer_document": "qxcustomerdocumentmarkq",
    "customer_user_chat": "qxcustomeruserchatmarkq",
    "customer_metadata": "qxcustomermetadatamarkq",
    "conversation_turn": "qxconversationturnmarkq",
    "conversation_transcript": "qxconversationtranscriptmarkq",
}
KEEP = "qxkeepcarolmarkq"  # carol's data: must survive every erasure


async def _done(sdk: Tenantry, ingestion_id: str) -> list[str]:
    st = await sdk.memories.wait_for_completion(ingestion_id, timeout_seconds=60, poll_interval_seconds=0.05)
    assert st.status == "completed", st
    return st.memory_ids


async def _write_everything(sdk: Tenantry) -> dict[str, Any]:
    m = MARKERS
    alice = {"customer_id": "acme", "user_id": "alice"}
    written: dict[str, Any] = {}
    # the user: a document, a chat turn, a memory PATCHed twice, metadata
    doc = await sdk.memories.create(
        f"User: My project codename is {m['user_document']} and I live in Lisbon.",
        metadata={"note": m["user_metadata"]},
        **alice,
    )
    ids = await _done(sdk, doc.ingestion_id)
    rec = await sdk.conversation.record_message("conv-alice", "user", f"I drink {m['user_chat']} every day.", **alice)
    await sdk.memories.update(ids[0], f"User likes {m['user_patch_old']}.", merge_strategy="replace", **alice)
    await sdk.memories.update(ids[0], f"User likes {m['user_patch_new']}.", merge_strategy="replace", **alice)
    written["alice_message"] = rec["message_id"]
    # the customer: a document at its scope, and a user of it who chats
    cdoc = await sdk.memories.create(
        f"Globex refunds are handled by {m['customer_document']} within 30 days.",
        document_type="document",
        customer_id="globex",
        metadata={"source": m["customer_metadata"]},
    )
    await _done(sdk, cdoc.ingestion_id)
    await sdk.conversation.record_message(
        "conv-dave", "user", f"My team uses {m['customer_user_chat']} daily.", customer_id="globex", user_id="dave"
    )
    # a conversation of bob's: turns and a transcript
    bob = {"customer_id": "acme", "user_id": "bob"}
    await sdk.conversation.record_message("conv-bob", "user", f"I booked {m['conversation_turn']} for May.", **bob)
    ingest = await sdk.conversation.ingest_transcript(
        "conv-bob-call", "bob", f"User: remind me about {m['conversation_transcript']}.", customer_id="acme"
    )
    await _done(sdk, ingest.ingestion_id)
    # carol, who is erased by nobody
    keep = await sdk.memories.create(f"User: I play {KEEP} on Sundays.", customer_id="acme", user_id="carol")
    written["carol"] = await _done(sdk, keep.ingestion_id)
    return written


async def _settle(url: str) -> None:
    """Wait until the server's ingestion queue is empty (every recorded turn extracted), read from ``/metrics``."""
    pending = re.compile(rb'^tenantry_ingestion_jobs\{status="(queued|processing)"\} (\S+)$', re.M)
    async with httpx.AsyncClient(base_url=url) as http:
        for _ in range(600):
            body = (await http.get("/metrics")).content
            if all(float(v) == 0 for _, v in pending.findall(body)):
                return
            await asyncio.sleep(0.05)
    raise AssertionError("the ingestion queue did not drain")


def _pg_files(dsn: str, pg: Any) -> list[Path]:
    """The files of the test database (tables, their TOAST and indexes), after a CHECKPOINT (as the superuser)."""
    with psycopg.connect(pg.admin_dsn, autocommit=True) as admin:
        admin.execute("CHECKPOINT")
    with psycopg.connect(dsn.replace("postgresql://", "postgresql://", 1), autocommit=True) as conn:
        oid = conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()
    assert oid is not None
    return sorted(p for p in (pg.data_dir / "base" / str(oid[0])).iterdir() if p.is_file())


def _found(files: list[Path]) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = {}
    for path in files:
        data = path.read_bytes()
        for name, marker in MARKERS.items():
            if re.search(marker.encode(), data, re.IGNORECASE):
                hits.setdefault(name, []).append(path.name)
    return hits


@pytest.mark.slow
async def test_erasure_leaves_no_bytes_behind(backend_dsn: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    settings = Settings(dsn=backend_dsn, embedder="hashing", extractor="rules+turns", workers=1)
    server = ThreadServer(settings, ServerSettings(admin_token=ADMIN_TOKEN, rate_limit_per_second=0)).start()
    try:
        created = await asyncio.to_thread(admin_create_instance, server.url, "erasure", "b2b")
        sdk = Tenantry(url=server.url, api_key=created["key"]["api_key"])
        await sdk.initialize()
        written = await _write_everything(sdk)
        await _settle(server.url)
        before = {
            "alice": (await sdk.memories.list(customer_id="acme", user_id="alice", page_size=100)).total,
        }
        user = await sdk.delete_data(customer_id="acme", user_id="alice")
        customer = await sdk.delete_data(customer_id="globex")
        conversation = await sdk.delete_data(conversation_id="conv-bob", customer_id="acme", user_id="bob")
        call = await sdk.delete_data(conversation_id="conv-bob-call", customer_id="acme", user_id="bob")
        # receipts count what was written
        assert user.deleted["conversations"] == 1 and user.deleted["messages"] == 1
        assert user.deleted["documents"] >= 2 and user.deleted["ingestions"] >= 2
        assert user.deleted["memories"] >= 1 and user.deleted["memories"] >= before["alice"] - 2
        assert customer.deleted["conversations"] == 1 and customer.deleted["messages"] == 1
        assert customer.deleted["documents"] == 2 and customer.deleted["ingestions"] == 2
        assert conversation.deleted["conversations"] == 1 and conversation.deleted["messages"] == 1
        assert call.deleted["conversations"] == 1 and call.deleted["ingestions"] == 1
        # carol is intact and retrievable
        ctx = await sdk.user.context.fetch("carol", "acme", search_query=[KEEP])
        assert any(KEEP in (getattr(i, "content", None) or getattr(i, "summary", "")) for i in ctx.items())
        assert (await sdk.memories.get(written["carol"][0])).memory_id == written["carol"][0]
        await sdk.shutdown()
    finally:
        server.stop()
    if backend_dsn.startswith("sqlite"):
        files = sorted(p for p in tmp_path.iterdir() if p.name.startswith("conformance.db"))
    else:
        pg = request.getfixturevalue("backend_server")
        if pg.data_dir is None:
            pytest.skip("an external PostgreSQL: its files cannot be read")
        files = _pg_files(backend_dsn, pg)
    assert files
    assert _found(files) == {}
    assert any(KEEP.encode() in p.read_bytes() for p in files)  # the scan does see text that is still there


@pytest.mark.slow
async def test_deleting_memories_by_id_leaves_no_bytes_behind(
    backend_dsn: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A memory deleted by id takes with it the text it came from: its source document, the job payload, its
    recorded message, and the lexical text of the memories around it (which quoted its turn); its bytes go at once
    on SQLite, at the next scrub on PostgreSQL."""
    mark = "qxbyidmarkq"
    settings = Settings(dsn=backend_dsn, embedder="hashing", extractor="rules+turns", workers=0)
    async with Tenantry(settings=settings.model_copy(update={"instance": "byid"})) as sdk:
        ids = {"customer_id": "acme", "user_id": "alice"}
        chat = f"User: I walked the dog.\nAssistant: Nice!\nUser: We spoke of {mark} then.\nAssistant: Right."
        r = await sdk.memories.create(chat, **ids)
        await sdk.conversation.record_message("c1", "user", f"Note that {mark} matters.", extract=True, **ids)
        service = sdk.api.service  # type: ignore[attr-defined]
        await service.workers.run_pending()
        assert (await sdk.memories.status(r.ingestion_id)).status == "completed"
        everything = (await sdk.memories.list(page_size=100, **ids)).data
        marked = [m for m in everything if mark in m.content]
        kept = [m for m in everything if mark not in m.content]
        assert marked and kept
        for m in marked:
            await sdk.memories.delete(m.memory_id, **ids)
        assert {m.memory_id for m in (await sdk.memories.list(page_size=100, **ids)).data} == {
            k.memory_id for k in kept
        }
        hits = await sdk.user.context.fetch("alice", "acme", search_query=[mark])
        assert all(mark not in (getattr(i, "content", None) or getattr(i, "summary", "")) for i in hits.items())
        assert [t.content for t in await sdk.conversation.get_messages("c1")] == []  # its turn is gone too
        walked = await sdk.user.context.fetch("alice", "acme", search_query=["walked the dog"])
        assert any("dog" in (getattr(i, "content", None) or getattr(i, "summary", "")) for i in walked.items())
    if not backend_dsn.startswith("sqlite"):
        # PostgreSQL releases a by-id deletion's bytes at the next scrub (VACUUM FULL locks the tables, so it does
        # not run after each deletion): `tenantry db scrub`. SQLite scrubs after each one.
        app = typer.Typer()
        app.command("noop")(lambda: None)
        register(app)
        res = await asyncio.to_thread(CliRunner().invoke, app, ["db", "scrub", "--dsn", backend_dsn])
        assert res.exit_code == 0 and "scrubbed in" in res.output, res.output
    if backend_dsn.startswith("sqlite"):
        files = sorted(p for p in tmp_path.iterdir() if p.name.startswith("conformance.db"))
    else:
        pg = request.getfixturevalue("backend_server")
        if pg.data_dir is None:
            pytest.skip("an external PostgreSQL: its files cannot be read")
        files = _pg_files(backend_dsn, pg)
    assert not [p.name for p in files if mark.encode() in p.read_bytes()]
    assert any(b"walked the dog" in p.read_bytes() for p in files)


async def test_a_replace_update_drops_what_was_read_from_the_old_text(make_sdk: Any) -> None:
    sdk = await make_sdk()
    r = await sdk.memories.create("User: I live in Lisbon.", customer_id="acme", user_id="alice")
    st = await sdk.memories.wait_for_completion(r.ingestion_id, timeout_seconds=30, poll_interval_seconds=0.05)
    facts = [m for m in (await sdk.memories.list(customer_id="acme", user_id="alice")).data if m.memory_type == "fact"]
    assert st.memory_ids and facts and "Lisbon" in str(facts[0].metadata)
    new = await sdk.memories.update(facts[0].memory_id, "User lives in Porto.", merge_strategy="replace")
    assert "Lisbon" not in new.content and "Lisbon" not in str(new.metadata)
