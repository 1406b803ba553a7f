"""Reconciliation: duplicates merge (evidence appended, confidence raised) and a new value for the same
subject/attribute supersedes the old one in the same scope only; update/list/delete through the engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from tests.conftest import Engine
from tests.conftest import ServiceFactory
from tests.fakes import SlotExtractor

from tenantry.errors import InvalidInputError
from tenantry.models import Fact
from tenantry.models import Memory
from tenantry.models import MemoryStatusResponse


@pytest.fixture
async def slot_service(make_service: ServiceFactory) -> Engine:
    engine: Engine = await make_service("b2b", name="r", extractor=SlotExtractor())
    return engine


def typed(facts: Sequence[Fact | Memory]) -> list[str]:
    """The contents of the typed facts (the passages that keep each write verbatim left out)."""
    return [f.content for f in facts if f.metadata.get("kind") != "passage"]


async def typed_id(e: Engine, status: MemoryStatusResponse) -> str:
    """The id of the one typed memory a write made (beside the passage that keeps it)."""
    for mid in status.memory_ids:
        if (await e.sdk.memories.get(mid)).metadata.get("kind") != "passage":
            return mid
    raise AssertionError(f"no typed memory in {status.memory_ids}")


async def ingest(e: Engine, text: str, **ids: Any) -> MemoryStatusResponse:
    r = await e.sdk.memories.create(text, document_type="document", **ids)
    await e.svc.workers.run_pending()
    return await e.sdk.memories.status(r.ingestion_id)


async def test_exact_duplicate_merges_evidence_and_raises_confidence(slot_service: Engine) -> None:
    e = slot_service
    sdk = e.sdk
    first = await ingest(e, "The office plants need water on Mondays.", customer_id="acme")
    second = await ingest(e, "The office plants need water on Mondays.", customer_id="acme")
    # The typed memory restates the one-sentence note word for word: one memory, not a passage beside it.
    assert len(first.memory_ids) == 1 and second.memory_ids == []
    page = await sdk.memories.list(customer_id="acme")
    assert page.total == 1
    mem = page.data[0]
    assert mem.confidence > 0.6
    spans = [f"{first.document_id}@0-40", f"{second.document_id}@0-40"]
    assert mem.source_evidence == spans  # the same text in both documents: one memory citing both
    third = await ingest(e, "Reminder. The office plants need water on Mondays.", customer_id="acme")
    # The note kept as a passage, "Reminder." is a new typed memory; the plant sentence merged again.
    assert third.memory_ids and len(third.memory_ids) == 2
    page = await sdk.memories.list(customer_id="acme")
    passage = next(m for m in page.data if m.metadata.get("kind") == "passage")
    assert passage.content == "Reminder. The office plants need water on Mondays."
    plants = next(m for m in page.data if m.content == "The office plants need water on Mondays.")
    assert plants.source_evidence == [*spans, f"{third.document_id}@0-50"]


async def test_same_scope_contradiction_supersedes_old_value(slot_service: Engine) -> None:
    e = slot_service
    sdk = e.sdk
    old = await ingest(e, "city = Paris", customer_id="acme", user_id="alice")
    new = await ingest(e, "city = Lyon", customer_id="acme", user_id="alice")
    fetched = await sdk.user.context.fetch(user_id="alice", customer_id="acme", search_query=["city"], max_results=10)
    assert typed(fetched.facts) == ["the city is Lyon"]
    # What was written stays (a passage is never superseded); "city = Lyon" says what the typed fact says.
    assert "city = Paris" in {f.content for f in fetched.facts}
    old_mem = await sdk.memories.get(await typed_id(e, old))
    assert old_mem.superseded_by == await typed_id(e, new) and old_mem.valid_until is not None
    history = await sdk.memories.list(user_id="alice", customer_id="acme", include_superseded=True)
    assert set(typed(history.data)) == {"the city is Paris", "the city is Lyon"}


async def test_contradiction_in_another_scope_supersedes_nothing(slot_service: Engine) -> None:
    e = slot_service
    sdk = e.sdk
    await ingest(e, "city = Paris", customer_id="acme", user_id="alice")
    await ingest(e, "city = Rome", customer_id="globex", user_id="alice")
    await ingest(e, "city = Oslo", customer_id="acme")
    fetched = await sdk.user.context.fetch(user_id="alice", customer_id="acme", search_query=["city"], max_results=10)
    # alice@acme keeps Paris; the customer default Oslo is shadowed by the narrower user value
    assert typed(fetched.facts) == ["the city is Paris"]
    fetched = await sdk.user.context.fetch(user_id="alice", customer_id="globex", search_query=["city"], max_results=10)
    assert typed(fetched.facts) == ["the city is Rome"]


async def test_update_strategies_and_delete(slot_service: Engine) -> None:
    e = slot_service
    sdk = e.sdk
    st = await ingest(e, "Alice likes green tea.", customer_id="acme", user_id="alice")
    mid = st.memory_ids[0]
    m = await sdk.memories.update(mid, "She drinks it without sugar.", merge_strategy="append")
    assert m.content == "Alice likes green tea. She drinks it without sugar."
    m = await sdk.memories.update(mid, "Alice likes black coffee.", merge_strategy="replace", metadata={"v": 2})
    assert m.content == "Alice likes black coffee." and m.metadata["v"] == 2
    got = await sdk.user.context.fetch(user_id="alice", customer_id="acme", search_query=["coffee"], max_results=5)
    assert [f.content for f in got.facts] == ["Alice likes black coffee."]
    with pytest.raises(InvalidInputError):
        await sdk.memories.update(mid, "x", merge_strategy="overwrite")
    await sdk.memories.delete(mid)
    got = await sdk.user.context.fetch(user_id="alice", customer_id="acme", search_query=["coffee"], max_results=5)
    assert got.facts == []


async def test_list_is_paginated_and_scoped(slot_service: Engine) -> None:
    e = slot_service
    sdk = e.sdk
    for i in range(7):
        await ingest(e, f"Note number {i} about the garden.", customer_id="acme", user_id="alice")
    await ingest(e, "Bob's own note.", customer_id="acme", user_id="bob")
    p1 = await sdk.memories.list(user_id="alice", customer_id="acme", page=1, page_size=5)
    p2 = await sdk.memories.list(user_id="alice", customer_id="acme", page=2, page_size=5)
    assert (p1.total, p1.total_pages, len(p1.data), len(p2.data)) == (7, 2, 5, 2)
    assert not {m.memory_id for m in p1.data} & {m.memory_id for m in p2.data}
    assert all(m.source == "user:alice" for m in p1.data + p2.data)


async def test_explain_and_token_budget(slot_service: Engine) -> None:
    e = slot_service
    sdk = e.sdk
    plants = ["tomatoes", "peppers", "basil", "lettuce", "beans", "carrots"]
    for i, plant in enumerate(plants):
        await ingest(e, f"In bed {i} the {plant} need sun and water every day.", customer_id="acme")
    resp = await sdk.customer.context.fetch(
        "acme", search_query=["need sun and water every day"], max_results=10, explain=True
    )
    assert len(resp.facts) == 6
    e = resp.facts[0].explanation
    assert e is not None and e.score > 0 and e.scope == 0.97 and (e.lexical_rank or e.vector_rank)
    small = await sdk.customer.context.fetch(
        "acme", search_query=["need sun and water every day"], max_results=10, token_budget=30
    )
    assert len(small.facts) == 2 and small.metadata.truncated == 4 and small.metadata.tokens_used <= 30
