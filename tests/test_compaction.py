"""Conversation compaction (SPEC §6): the extractive algorithm, its versions in the store, the prompt context built on
it, conflicts, automatic compaction, and the SDK in both modes (embedded engine and over HTTP)."""

from __future__ import annotations

import uuid
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from tests.conftest import MakeSdk

from tenantry.contract import CompactConversation
from tenantry.errors import ConflictError
from tenantry.errors import ContextNotFoundError
from tenantry.errors import InvalidInputError
from tenantry.pipeline.registry import create_extractor
from tenantry.service.compaction import STRATEGY_RATIOS
from tenantry.service.compaction import TurnText
from tenantry.service.compaction import compact_turns
from tenantry.service.compaction import render
from tenantry.store.base import CompactionRecord

CHATTER = ["Haha, yes!", "Thanks so much.", "Wow!", "Oh nice."]
MOODS = ["quiet", "grey", "windy", "sunny", "slow", "busy", "calm", "odd"]
THINGS = ["garden", "street", "kitchen", "office", "park", "river", "market", "station", "library", "beach"]
FACTS = [
    "I moved to Lisbon in March 2021 for a job at a design studio.",
    "I really love hiking in the mountains on weekends.",
    "We decided to book the train to Porto for the 14th.",
    "What time does the museum open on Sundays?",
    "My sister Ana is a nurse at the Santa Maria hospital.",
    "I am allergic to peanuts and shellfish.",
]


def _filler(i: int) -> str:
    mood, thing = MOODS[i % len(MOODS)], THINGS[(i // len(MOODS)) % len(THINGS)]
    return f"{CHATTER[i % len(CHATTER)]} the {thing} seemed rather {mood} when we walked past it this morning."


def _conversation(n: int = 120) -> list[TurnText]:
    """``n`` turns: each fact of FACTS once, spread out, the rest small talk (every sentence different)."""
    step = max(1, n // len(FACTS))
    turns = []
    for i in range(n):
        text = FACTS[i // step] if i % step == 0 and i // step < len(FACTS) else _filler(i)
        turns.append(TurnText(f"t{i}", "user" if i % 2 == 0 else "assistant", text))
    return turns


@pytest.mark.parametrize("strategy", list(STRATEGY_RATIOS))
def test_fixed_strategies_land_on_their_ratio(strategy: str) -> None:
    result = compact_turns(_conversation(), strategy=strategy, extractor=create_extractor("rules"))
    assert abs(result.ratio - STRATEGY_RATIOS[strategy]) <= 0.1  # SPEC: ±10 points
    assert result.compacted_tokens < result.original_tokens
    assert result.validation_score is not None and 0 <= result.validation_score <= 1


def test_what_carries_information_is_kept_first() -> None:
    turns = _conversation()
    result = compact_turns(turns, strategy="aggressive", extractor=create_extractor("rules"))
    kept = " ".join(u["content"] for u in result.kept())
    assert "Lisbon" in kept and "peanuts" in kept and "Porto" in kept  # facts, a decision
    assert "Haha, yes!" not in kept and "Thanks so much." not in kept  # chatter goes first
    assert result.sections["decisions"] and result.sections["current_state"]
    assert {u["turn"] for u in result.sections["current_state"]} <= set(range(len(turns) - 5, len(turns) + 1))
    structured = render(result, "structured")
    assert "### Facts" in structured and "### Decisions" in structured
    framed = render(result, "injection", compaction_id="c1")
    assert framed.startswith('<earlier_conversation compaction_id="c1"') and structured in framed


def test_validation_score_falls_when_facts_are_dropped() -> None:
    allergens = ["peanuts", "shellfish", "milk", "eggs", "soy", "wheat", "cats", "dogs", "pollen", "dust", "latex"]
    cities = ["Lisbon", "Porto", "Madrid", "Paris", "Berlin", "Vienna", "Prague", "Rome", "Athens", "Dublin", "Oslo"]
    turns = [TurnText(f"a{i}", "user", f"I am allergic to {a}.", speaker=f"Person{i}") for i, a in enumerate(allergens)]
    turns += [
        TurnText(f"c{i}", "user", f"I live in {c} with my cat.", speaker=f"Friend{i}") for i, c in enumerate(cities)
    ]
    extractor = create_extractor("rules")
    full = compact_turns(turns, strategy="conservative", extractor=extractor)
    tight = compact_turns(turns, strategy="aggressive", extractor=extractor)
    assert full.validation_score is not None and tight.validation_score is not None
    assert full.validation_score >= tight.validation_score + 0.3  # one fact per turn: ~70 % of them vs ~15 %


def test_target_tokens_and_bad_input() -> None:
    result = compact_turns(_conversation(), target_tokens=200)
    assert result.compacted_tokens <= 200
    with pytest.raises(InvalidInputError):
        compact_turns(_conversation(), strategy="lossy")
    with pytest.raises(InvalidInputError):
        compact_turns(_conversation(), target_tokens=0)


async def _record(sdk: Any, conv: str, texts: list[str], **ids: Any) -> None:
    msgs = [
        {"conversation_id": conv, "role": "user" if i % 2 == 0 else "assistant", "content": t, **ids}
        for i, t in enumerate(texts)
    ]
    await sdk.conversation.record_messages_batch(msgs, extract=False)


async def test_compaction_through_the_sdk(make_sdk: MakeSdk) -> None:
    sdk = await make_sdk()
    conv, ids = str(uuid.uuid4()), {"customer_id": "acme", "user_id": "alice"}
    texts = [t.text for t in _conversation(60)]
    assert await sdk.conversation.context.get_compacted(conv) is None
    assert (await sdk.conversation.context.get_compaction_status(conv)).status == "not_compacted"
    with pytest.raises(ContextNotFoundError):  # nothing to compact yet
        await sdk.conversation.context.compact(conv)
    await _record(sdk, conv, texts, **ids)

    first = await sdk.conversation.context.compact(conv, strategy="balanced")
    assert first.status == "completed" and first.version == 1 and first.strategy_used == "balanced"
    assert first.compression_ratio is not None and abs(first.compression_ratio - 0.40) <= 0.1
    again = await sdk.conversation.context.compact(conv, strategy="balanced")
    assert again.status == "already_compacted" and again.compaction_id == first.compaction_id
    forced = await sdk.conversation.context.compact(conv, strategy="aggressive", force=True)
    assert forced.status == "completed" and forced.version == 2 and forced.previous_compaction_id == first.compaction_id

    latest = await sdk.conversation.context.get_compacted(conv)
    assert latest is not None and latest.version == 2 and latest.compaction_id == forced.compaction_id
    assert latest.compacted_message_count == 60 and latest.facts and latest.current_state["turns"]
    v1 = await sdk.conversation.context.get_compacted(conv, version=1, format="narrative")
    assert v1 is not None and v1.strategy_used == "balanced" and "### " not in v1.formatted_context
    assert await sdk.conversation.context.get_compacted(conv, version=9) is None
    for bad in (0, 2**63, 10**20):  # beyond any integer column: a 400, not a store error (found by tenantry fuzz)
        with pytest.raises(InvalidInputError, match="version"):
            await sdk.conversation.context.get_compacted(conv, version=bad)
    status = await sdk.conversation.context.get_compaction_status(conv)
    assert status.status == "completed" and status.latest_version == 2 and status.compaction_id == forced.compaction_id

    await _record(sdk, conv, ["I just remembered: my passport expires in May.", "Noted, renew it soon."], **ids)
    prompt = await sdk.conversation.context.get_context_for_prompt(conv)
    assert prompt.compaction_id == forced.compaction_id and prompt.context_block
    assert prompt.context_block.startswith("<earlier_conversation")
    assert [m.content for m in prompt.recent_messages] == [
        "I just remembered: my passport expires in May.",
        "Noted, renew it soon.",
    ]
    assert (prompt.compacted_message_count, prompt.recent_message_count, prompt.total_message_count) == (60, 2, 62)
    assert prompt.formatted_context and prompt.formatted_context.startswith(prompt.context_block)
    assert prompt.formatted_context.endswith("Assistant: Noted, renew it soon.")

    with pytest.raises(InvalidInputError):
        await sdk.conversation.context.compact(conv, strategy="lossy")
    with pytest.raises(InvalidInputError) as mismatch:
        await sdk.api.compact_conversation(CompactConversation(conversation_id=conv, customer_id="globex", user_id="a"))
    assert mismatch.value.code == "conversation_scope_mismatch"


async def test_a_second_compaction_while_one_runs_conflicts(make_service: Any) -> None:
    e = await make_service("b2b")
    conv = "conv-busy"
    await _record(e.sdk, conv, [t.text for t in _conversation(20)], customer_id="acme", user_id="alice")
    now = datetime.now(UTC)
    running = CompactionRecord(e.inst.instance_id, conv, "running-1", "balanced", "manual_api", now)
    assert await e.svc.store.begin_compaction(running, stale_before=now - timedelta(minutes=10)) is not None
    with pytest.raises(ConflictError) as exc:
        await e.sdk.conversation.context.compact(conv)
    assert exc.value.code == "compaction_running"
    assert (await e.sdk.conversation.context.get_compaction_status(conv)).status == "in_progress"
    # a run abandoned by a process that died does not block the conversation for ever
    old = CompactionRecord(e.inst.instance_id, "conv-old", "stuck", "balanced", "manual_api", now - timedelta(hours=1))
    await _record(e.sdk, "conv-old", ["I live in Oslo.", "Nice."], customer_id="acme", user_id="alice")
    assert await e.svc.store.begin_compaction(old, stale_before=old.created_at - timedelta(minutes=1)) is not None
    done = await e.sdk.conversation.context.compact("conv-old")
    assert done.status == "completed" and done.version == 2
    stuck = await e.svc.store.get_compaction(e.inst.instance_id, "conv-old", version=1, completed=False)
    assert stuck is not None and stuck.status == "failed" and stuck.error_message


async def test_automatic_compaction_past_the_threshold(make_service: Any) -> None:
    e = await make_service("b2b", compaction_threshold_tokens=300)
    conv, ids = "conv-auto", {"customer_id": "acme", "user_id": "alice"}
    await _record(e.sdk, conv, [t.text for t in _conversation(6)], **ids)
    assert (await e.sdk.conversation.context.get_compaction_status(conv)).status == "not_compacted"
    await _record(e.sdk, conv, [t.text for t in _conversation(40)], **ids)
    status = await e.sdk.conversation.context.get_compaction_status(conv)
    assert status.status == "completed" and status.latest_version == 1
    compacted = await e.sdk.conversation.context.get_compacted(conv)
    assert compacted is not None and compacted.strategy_used == "adaptive" and compacted.compacted_message_count == 46


async def test_memories_written_with_a_conversation_id_are_its_turns(make_service: Any) -> None:
    e = await make_service("b2b")
    conv = "conv-docs"
    await e.sdk.memories.create(
        "User: I keep bees on my roof.\nAssistant: How many hives?",
        customer_id="acme",
        user_id="alice",
        metadata={"conversation_id": conv},
    )
    prompt = await e.sdk.conversation.context.get_context_for_prompt(conv)
    assert [(m.role, m.content) for m in prompt.recent_messages] == [
        ("user", "I keep bees on my roof."),
        ("assistant", "How many hives?"),
    ]
    assert (await e.sdk.conversation.context.compact(conv)).status == "completed"


async def test_erasing_a_conversation_erases_its_compactions(make_service: Any) -> None:
    e = await make_service("b2b")
    conv = "conv-gone"
    await _record(e.sdk, conv, [t.text for t in _conversation(20)], customer_id="acme", user_id="alice")
    await e.sdk.conversation.context.compact(conv)
    await e.sdk.delete_data(customer_id="acme", user_id="alice", conversation_id=conv)
    assert await e.svc.store.get_compaction(e.inst.instance_id, conv, completed=False) is None
