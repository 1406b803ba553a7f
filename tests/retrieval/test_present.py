"""Presenting ranked records: the public Memory view, the score explanation and the prompt-ready text."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from tenantry.models import ContextResponse
from tenantry.models import ConversationContext
from tenantry.models import Emotion
from tenantry.models import Episode
from tenantry.models import Fact
from tenantry.models import Preference
from tenantry.models import TemporalEvent
from tenantry.retrieval.engine import Ranked
from tenantry.retrieval.present import format_context
from tenantry.retrieval.present import to_context_response
from tenantry.retrieval.present import to_memory
from tenantry.retrieval.scoring import Candidate
from tenantry.scope import Scope
from tenantry.scope import ScopeLevel
from tenantry.store.base import MemoryRecord

T0 = datetime(2024, 3, 15, 10, 0, tzinfo=UTC)


def _record(memory_type: str = "fact", **overrides: object) -> MemoryRecord:
    fields: dict[str, object] = {
        "rowid": 7,
        "memory_id": "m-1",
        "scope": Scope("inst", ScopeLevel.CUSTOMER, customer_id="acme"),
        "memory_type": memory_type,
        "content": "Maya works at Riverside Hospital",
        "confidence": 0.8,
        "category": None,
        "event_date": None,
        "valid_until": None,
        "temporal_category": "perpetual",
        "source_evidence": ["D1:3"],
        "entities": ["maya"],
        "subject": "maya",
        "attribute": "works_at",
        "metadata": {"rule": "fact"},
        "document_id": "doc-1",
        "conversation_id": None,
        "created_at": T0,
        "updated_at": None,
        "superseded_by": "m-2",
    }
    fields.update(overrides)
    return MemoryRecord(**fields)  # type: ignore[arg-type]


def test_to_memory_copies_the_record_and_labels_its_scope() -> None:
    mem = to_memory(_record())
    assert mem.model_dump() == {
        "memory_id": "m-1",
        "memory_type": "fact",
        "content": "Maya works at Riverside Hospital",
        "confidence": 0.8,
        "category": None,
        "subcategory": None,
        "created_at": T0,
        "updated_at": None,
        "source_document_id": "doc-1",
        "source": "customer:acme",
        "event_date": None,
        "valid_until": None,
        "temporal_category": "perpetual",
        "source_evidence": ["D1:3"],
        "metadata": {"rule": "fact"},
        "superseded_by": "m-2",
    }


def test_explanation_carries_the_candidate_scores_and_factors() -> None:
    scored = Candidate(7, lexical=3.5, vector=0.6, lexical_rank=2, vector_rank=None, fused=0.4, score=0.3)
    scored.parts = {"scope": 0.97, "confidence": 0.95}
    resp = to_context_response([Ranked(_record(), scored)], budget=1000, explain=True)
    explanation = resp.facts[0].explanation
    assert explanation is not None
    assert explanation.model_dump() == {
        "score": 0.3,
        "lexical": 3.5,
        "vector": 0.6,
        "lexical_rank": 2,
        "vector_rank": None,
        "recency": 0.0,  # a factor the candidate was not reweighted by
        "scope": 0.97,
        "confidence": 0.95,
        "extra": {"fused": 0.4},
    }
    assert to_context_response([Ranked(_record(), scored)], budget=1000, explain=False).facts[0].explanation is None


def test_format_context_writes_each_non_empty_section_in_order() -> None:
    resp = ContextResponse(
        facts=[Fact(id="f", source="user:u1", content="Maya is a nurse")],
        preferences=[
            Preference(id="p1", source="client", content="Maya loves sushi", strength=0.9),
            Preference(id="p2", content="Maya likes tea", strength=0.6),
        ],
        episodes=[Episode(id="e", summary="Maya moved to Denver")],
        emotions=[
            Emotion(id="x1", emotion_type="anxious", context="Maya is worried", intensity=0.75),
            Emotion(id="x2", emotion_type="calm", context="Maya relaxed", intensity=0.4),
        ],
        temporal_events=[
            TemporalEvent(id="t1", content="Rent is due on 1 May 2024", valid_until=datetime(2024, 5, 1, tzinfo=UTC)),
            TemporalEvent(id="t2", content="Maya met Tom on 2 May 2024"),
        ],
        conversation_context=ConversationContext(recent_turns=[{"role": "user", "content": "hi"}]),
    )
    assert format_context(resp, include_scope_labels=True) == (
        "## User Context\n"
        "### Facts\n- Maya is a nurse [scope: user:u1]\n\n"
        "### Preferences\n- Maya loves sushi (strength: 0.9) [scope: client]\n- Maya likes tea\n\n"
        "### Episodes\n- Maya moved to Denver\n\n"
        "### Emotions\n- anxious: Maya is worried (intensity: 0.8)\n- calm: Maya relaxed\n\n"
        "### Temporal Events\n- Rent is due on 1 May 2024 (valid until: 2024-05-01)\n- Maya met Tom on 2 May 2024\n\n"
        "### Conversation History\nuser: hi"
    )
    assert "[scope:" not in format_context(resp)


def test_format_context_of_nothing_is_empty() -> None:
    assert format_context(ContextResponse()) == ""
    assert format_context(ContextResponse(conversation_context=ConversationContext())) == ""
    only_turns = ContextResponse(conversation_context=ConversationContext(recent_turns=[{"role": "a", "content": "b"}]))
    assert format_context(only_turns) == "## User Context\n### Conversation History\na: b"
