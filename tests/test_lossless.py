"""Lossless memory through the SDK: every write is kept in retrievable units with provenance, typed memories on top.

The playbook test is issue #12's first acceptance point: a multi-section support playbook of 14 distinct rules is
written at CUSTOMER scope and every rule's text comes back for a question about it (``max_results=5``); so does each
note an integration writes (free text and a JSON value). It runs with the product's defaults (``rules+turns``,
MiniLM int8).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tenantry import InvalidInputError
from tenantry import Tenantry

PLAYBOOK = """# Acme support playbook

## Escalation
Escalate any ticket that mentions a data breach to the security team within 15 minutes.
Tickets from enterprise customers that stay unanswered for 2 hours go to the duty manager.

## Refunds
Customers get a full refund within 30 days of purchase.
After 30 days we only offer store credit, never cash.
Refunds above 500 euros need approval from a team lead.

## Service levels
- Priority 1 incidents: first response within 1 hour, around the clock.
- Priority 3 requests: first response within 2 business days.

## Pricing
| Plan | Price |
|---|---|
| Starter | 19 euros per month |
| Business | 99 euros per month |

## Routing
Billing questions are routed to the finance queue in Lisbon.
Questions about the mobile app go to the Android and iOS squad.

## Tone and sign-off
Always address the customer by their first name.
Sign every reply with "Kind regards, the Acme care team".
Never promise a delivery date that the warehouse has not confirmed.
"""

# (question, words the returned text must hold) — one per rule, worded as an agent's user would ask.
QUESTIONS = [
    ("What do we do when a customer reports a data breach?", ["security team", "15 minutes"]),
    ("An enterprise ticket has had no answer for two hours, who takes it?", ["duty manager"]),
    ("Can I get my money back, I bought it last week?", ["full refund within 30 days"]),
    ("It has been two months since I purchased, can I get cash back?", ["store credit"]),
    ("Who has to approve a refund of 800 euros?", ["team lead"]),
    ("How fast do we respond to a priority 1 incident?", ["within 1 hour"]),
    ("When will a priority 3 request get a first answer?", ["2 business days"]),
    ("How much does the Starter plan cost?", ["19 euros"]),
    ("What is the price of the Business plan?", ["99 euros"]),
    ("Where do billing questions go?", ["finance queue"]),
    ("Who handles problems with the mobile app?", ["Android and iOS squad"]),
    ("How should I address the customer?", ["first name"]),
    ("How do I sign my replies?", ["Kind regards"]),
    ("Can I tell the customer when the order will arrive?", ["warehouse has not confirmed"]),
]

NOTES: list[tuple[Any, str, list[str]]] = [
    ("User prefers dark mode and concise responses", "Which theme does the user like?", ["dark mode"]),
    ("The user's favourite colour is teal", "What is the user's favourite colour?", ["teal"]),
    ("I fly Air France whenever I can", "Which airline does the user fly?", ["Air France"]),
    (
        {"preferred_language": "French", "timezone": "Europe/Paris"},
        "What language should replies be in?",
        ["French"],
    ),
]


@pytest.fixture
async def sdk(tmp_path: Path) -> AsyncIterator[Tenantry]:
    async with Tenantry(dsn=f"sqlite:///{tmp_path / 'lossless.db'}", instance_id="lossless", workers=1) as s:
        yield s


async def _write(sdk: Tenantry, document: Any, **kw: Any) -> list[str]:
    r = await sdk.memories.create(document, **kw)
    st = await sdk.memories.wait_for_completion(r.ingestion_id, timeout_seconds=120, poll_interval_seconds=0.05)
    assert st.status == "completed", st.error_message
    return st.memory_ids


def _texts(resp: Any) -> str:
    return "\n".join(getattr(i, "content", None) or getattr(i, "summary", "") for i in resp.items())


@pytest.mark.model
async def test_every_rule_of_a_playbook_is_returned_for_its_question(sdk: Tenantry) -> None:
    await _write(sdk, PLAYBOOK, document_type="document", customer_id="acme", document_id="kb/playbook.md")
    missed = []
    for question, needed in QUESTIONS:
        resp = await sdk.customer.context.fetch(customer_id="acme", search_query=[question], max_results=5)
        text = _texts(resp)
        if not all(n.lower() in text.lower() for n in needed):
            missed.append(f"{question!r} -> {needed}\n{text}")
    assert not missed, "\n\n".join(missed)


@pytest.mark.model
async def test_notes_written_by_integrations_are_returned(sdk: Tenantry) -> None:
    for n, (note, _, _) in enumerate(NOTES):
        # The Synap client's default document_type is a chat; an integration's note has no speaker labels.
        await _write(sdk, note, customer_id="acme", user_id="ana", metadata={"store_key": f"note-{n}"})
    for n, (_, question, needed) in enumerate(NOTES):
        resp = await sdk.user.context.fetch(user_id="ana", customer_id="acme", search_query=[question], max_results=5)
        text = _texts(resp)
        assert all(w.lower() in text.lower() for w in needed), f"{question!r}:\n{text}"
        # The caller's metadata comes back on what that write made.
        keys = {i.metadata.get("store_key") for i in resp.items() if any(w in _texts_of(i) for w in needed)}
        assert f"note-{n}" in keys


def _texts_of(item: Any) -> str:
    return str(getattr(item, "content", None) or getattr(item, "summary", ""))


@pytest.mark.model
async def test_a_passage_is_verbatim_with_its_heading_path_and_span(sdk: Tenantry) -> None:
    doc_id = "https://kb.acme.example/support/Playbook v2#refunds|EU"
    await _write(sdk, PLAYBOOK, document_type="document", customer_id="acme", document_id=doc_id)
    resp = await sdk.customer.context.fetch(customer_id="acme", search_query=["store credit"], max_results=3)
    passage = next(f for f in resp.facts if f.metadata.get("kind") == "passage")
    start, end = passage.metadata["span"]
    # verbatim, also when the next passage (another section) is joined to it: the heading line between them included
    assert PLAYBOOK[start:end] == passage.content
    assert passage.metadata["headings"] == ["Acme support playbook", "Refunds"]
    spans = [e.removeprefix(f"{doc_id}@").split("-") for e in passage.source_evidence]
    assert all(e.startswith(f"{doc_id}@") for e in passage.source_evidence)
    assert spans[0][0] == str(start) and spans[-1][1] == str(end)
    assert len(spans) == 1 + len(passage.metadata.get("joined", []))
    assert all(PLAYBOOK[int(a) : int(b)] in passage.content for a, b in spans)
    assert passage.metadata["document_id"] == doc_id


@pytest.mark.model
async def test_a_typed_memory_stands_for_the_turn_it_came_from(sdk: Tenantry) -> None:
    await _write(
        sdk,
        "User: I'm vegetarian and I live in Lyon.\nAssistant: Noted!",
        customer_id="acme",
        user_id="ana",
    )
    resp = await sdk.user.context.fetch(user_id="ana", customer_id="acme", search_query=["vegetarian Lyon"])
    contents = [_texts_of(i) for i in resp.items()]
    assert any("vegetarian" in c for c in contents) and any("Lyon" in c for c in contents)
    assert not any(i.metadata.get("kind") == "turn" for i in resp.items()), contents  # the facts, not the turn
    assert not any("Noted" in c for c in contents)  # chatter is not a memory
    listed = await sdk.memories.list(customer_id="acme", user_id="ana", page_size=100)
    assert not any("Noted" in m.content for m in listed.data)


@pytest.mark.model
async def test_ranked_shape_returns_every_item_once_with_passages_as_excerpts(sdk: Tenantry) -> None:
    await _write(sdk, PLAYBOOK, document_type="document", customer_id="acme")
    await _write(sdk, "User: I love hiking and I prefer refunds as store credit.", customer_id="acme", user_id="ana")
    by_type = await sdk.user.context.fetch(user_id="ana", customer_id="acme", search_query=["refund store credit"])
    assert by_type.ranked is None
    ranked = await sdk.user.context.fetch(
        user_id="ana", customer_id="acme", search_query=["refund store credit"], response_shape="ranked"
    )
    assert ranked.ranked is not None
    assert [r.id for r in ranked.ranked] == [i.id for i in ranked.items()]
    assert [r.rank for r in ranked.ranked] == list(range(1, len(ranked.ranked) + 1))
    categories = {r.category for r in ranked.ranked}
    assert "excerpts" in categories and categories <= {
        "excerpts",
        "facts",
        "preferences",
        "episodes",
        "emotions",
        "temporal_events",
    }
    scores = [r.metadata["rank_score"] for r in ranked.ranked]
    assert scores == sorted(scores, reverse=True)
    with pytest.raises(InvalidInputError):
        await sdk.user.context.fetch(user_id="ana", customer_id="acme", search_query=["x"], response_shape="list")
