"""The unified fetch never turns a failure of one of its sub-fetches into a partial answer: a store outage while the
customer scope is searched is an error the caller sees, not a response with the other scopes' items."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.fakes import EchoExtractor

from tenantry import StoreUnavailableError
from tenantry import Tenantry
from tenantry.pipeline.embedders.hashing import HashingEmbedder
from tenantry.scope import ReadChain
from tenantry.scope import ScopeLevel
from tenantry.service import AsyncMemoryService
from tenantry.settings import Settings
from tenantry.store.base import SearchFilters
from tenantry.store.sqlite import SQLiteStore


class CustomerOutageStore(SQLiteStore):
    """A SQLite store whose lexical search fails for any chain that reads a CUSTOMER scope (a lost partition)."""

    outage = False

    async def search_lexical(
        self, chain: ReadChain, query: str, *, limit: int, filters: SearchFilters
    ) -> list[tuple[int, float]]:
        if self.outage and any(s.level is ScopeLevel.CUSTOMER for s in chain.scopes):
            raise StoreUnavailableError("customer partition unreachable")
        return await super().search_lexical(chain, query, limit=limit, filters=filters)


async def test_a_failing_sub_fetch_fails_the_unified_fetch(tmp_path: Path) -> None:
    dsn = f"sqlite:///{tmp_path / 'u.db'}"
    store = CustomerOutageStore(dsn)
    await store.open()
    svc = AsyncMemoryService(Settings(dsn=dsn, embedder="hashing"), store, HashingEmbedder(), EchoExtractor())
    try:
        inst = await svc.create_instance("uni", "b2b")
        sdk = Tenantry(api=svc.api(inst))
        await sdk.initialize()
        for text, ids in (("alice likes green tea", {"user_id": "alice"}), ("acme serves tea", {})):
            await sdk.memories.create(text, customer_id="acme", document_type="document", **ids)
        await svc.workers.run_pending()
        query: dict[str, Any] = {"user_id": "alice", "customer_id": "acme", "search_query": ["tea"]}
        healthy = await sdk.fetch(**query, scopes=["user", "client"])
        assert healthy.scopes_queried == ["user", "client"]  # user chain: alice, acme, client
        store.outage = True
        with pytest.raises(StoreUnavailableError):
            await sdk.fetch(**query)
        with pytest.raises(StoreUnavailableError):  # the user sub-fetch reads the customer scope too
            await sdk.fetch(**query, scopes=["user"])
        assert (await sdk.fetch(**query, scopes=["client"])).scopes_queried == ["client"]
    finally:
        await svc.close(drain=False)
