"""The embedded SDK end to end with its defaults: no arguments, TENANTRY_HOME data, the default instance created as
b2b on first use, the real extractor; plus the blocking facade."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenantry import InvalidInputError
from tenantry import MaximemSynapSDK
from tenantry import SyncTenantry
from tenantry import Tenantry


async def test_no_argument_sdk_uses_home_and_default_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENANTRY_EMBEDDER", "hashing")
    sdk = MaximemSynapSDK()
    await sdk.initialize()
    try:
        assert sdk.instance_id and sdk.instance_id.startswith("inst_") and len(sdk.instance_id) == 21
        r = await sdk.memories.create(document="User: I love hiking in the Alps.", customer_id="acme", user_id="u1")
        assert r.status == "queued"
        st = await sdk.memories.wait_for_completion(r.ingestion_id, timeout_seconds=30)
        assert st.status == "completed" and st.memory_ids
        with pytest.raises(InvalidInputError) as exc:  # b2b: a user lives under a customer
            await sdk.memories.create(document="User: hi", user_id="u1")
        assert exc.value.code == "customer_id_required"
    finally:
        await sdk.shutdown()
    assert (tmp_path / "home" / "tenantry.db").exists()


async def test_document_id_is_idempotent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENANTRY_EMBEDDER", "hashing")
    async with Tenantry() as sdk:
        a = await sdk.memories.create(
            document="Our office is in Oslo.", customer_id="acme", document_id="doc-1", document_type="document"
        )
        b = await sdk.memories.create(
            document="Our office is in Oslo.", customer_id="acme", document_id="doc-1", document_type="document"
        )
        assert a.ingestion_id == b.ingestion_id
        c = await sdk.memories.create(
            document="Our office is in Oslo.", customer_id="globex", document_id="doc-1", document_type="document"
        )
        assert c.ingestion_id != a.ingestion_id  # same document_id, other scope: another document


def test_sync_facade(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENANTRY_EMBEDDER", "hashing")
    with SyncTenantry() as sdk:
        r = sdk.memories.create(document="User: my dog is called Rex.", customer_id="acme", user_id="u2")
        st = sdk.memories.wait_for_completion(r.ingestion_id, timeout_seconds=30)
        assert st.status == "completed"
        ctx = sdk.user.context.fetch(user_id="u2", customer_id="acme", search_query=["dog name"])
        assert any("Rex" in (getattr(i, "content", "") or getattr(i, "summary", "")) for i in ctx.items())
        with pytest.raises(InvalidInputError) as exc:
            sdk.user.context.fetch(user_id="u2", search_query=["dog"])
        assert exc.value.code == "customer_id_required"
