"""Turn ranked memory records into the typed response items, pack them into the token budget, and render a
prompt-ready text block."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..models import ContextResponse
from ..models import Emotion
from ..models import Episode
from ..models import Fact
from ..models import Memory
from ..models import Preference
from ..models import RankedItem
from ..models import ResponseMetadata
from ..models import ScoreExplanation
from ..models import TemporalEvent
from ..models import UnifiedContextResponse
from ..store.base import MemoryRecord
from .engine import Ranked
from .scoring import estimate_tokens
from .scoring import pack_budget

__all__ = ["LIST_OF_TYPE", "format_context", "ranked_items", "to_context_response", "to_memory"]

# The response list each memory type is returned in (a passage: under facts, and as an excerpt when ranked).
LIST_OF_TYPE = {
    "fact": "facts",
    "preference": "preferences",
    "episode": "episodes",
    "emotion": "emotions",
    "temporal_event": "temporal_events",
}


# What a Memory copies from its stored record under the same name (the record's other fields are internal).
_MEMORY_FIELDS = tuple(
    "memory_id memory_type content confidence category created_at updated_at event_date valid_until "
    "temporal_category source_evidence metadata superseded_by".split()
)
_EXPLAINED = ("score", "lexical", "vector", "lexical_rank", "vector_rank")  # the same for a ScoreExplanation


def to_memory(rec: MemoryRecord) -> Memory:
    """The public view of a stored memory: its fields, its source document and its scope label."""
    fields: dict[str, Any] = {name: getattr(rec, name) for name in _MEMORY_FIELDS}
    return Memory(source_document_id=rec.document_id, source=rec.scope.source, **fields)


def _explanation(r: Ranked) -> ScoreExplanation:
    """The candidate's scores and ranks under their own names, and the factors it was reweighted by (0 if not)."""
    c = r.candidate
    explained: dict[str, Any] = {name: getattr(c, name) for name in _EXPLAINED}
    explained.update({name: c.parts.get(name, 0.0) for name in ("recency", "scope", "confidence")})
    return ScoreExplanation(**explained, extra={"fused": c.fused})


def _item(r: Ranked, explain: bool) -> Fact | Preference | Episode | Emotion | TemporalEvent:
    rec = r.record
    meta = dict(rec.metadata)
    if r.shadowed:
        meta["shadows"] = r.shadowed
    if rec.conversation_id:
        meta.setdefault("conversation_id", rec.conversation_id)
    if rec.document_id:
        meta.setdefault("document_id", rec.document_id)
    common: dict[str, Any] = {
        "id": rec.memory_id,
        "source": rec.scope.source,
        "extracted_at": rec.created_at,
        "event_date": rec.event_date,
        "valid_until": rec.valid_until,
        "temporal_category": rec.temporal_category,
        "temporal_confidence": 0.8 if rec.event_date else 0.0,
        "source_evidence": rec.source_evidence,
        "metadata": meta,
        "score": r.candidate.score,
        "explanation": _explanation(r) if explain else None,
    }
    t = rec.memory_type
    if t == "preference":
        return Preference(content=rec.content, category=rec.category or "general", strength=rec.confidence, **common)
    if t == "episode":
        return Episode(
            summary=rec.content, content=rec.content, occurred_at=rec.event_date, significance=rec.confidence, **common
        )
    if t == "emotion":
        return Emotion(
            emotion_type=rec.category or "neutral",
            intensity=rec.confidence,
            detected_at=rec.created_at,
            context=rec.content,
            content=rec.content,
            **common,
        )
    if t == "temporal_event" and rec.event_date is not None:
        return TemporalEvent(content=rec.content, confidence=rec.confidence, **common)
    return Fact(content=rec.content, confidence=rec.confidence, **common)


def _ranked_item(item: object, rank: int) -> RankedItem:
    """One item in the ranked shape: its type's list name as ``category`` (``excerpts`` for a passage)."""
    if isinstance(item, Fact):
        category = "excerpts" if item.metadata.get("kind") == "passage" else "facts"
        content, confidence = item.content, item.confidence
    elif isinstance(item, Preference):
        category, content, confidence = "preferences", item.content, item.strength
    elif isinstance(item, Episode):
        category, content, confidence = "episodes", item.summary, item.significance
    elif isinstance(item, Emotion):
        category, content, confidence = "emotions", item.context, item.intensity
    elif isinstance(item, TemporalEvent):
        category, content, confidence = "temporal_events", item.content, item.confidence
    else:
        raise TypeError(f"not a context item: {type(item).__name__}")
    common = item.model_dump(
        include={
            "id",
            "source",
            "extracted_at",
            "event_date",
            "valid_until",
            "temporal_category",
            "temporal_confidence",
            "source_evidence",
            "score",
            "explanation",
        }
    )
    metadata = {**item.metadata, "rank_score": item.score}
    return RankedItem(**common, rank=rank, category=category, content=content, confidence=confidence, metadata=metadata)


def ranked_items(items: Sequence[object]) -> list[RankedItem]:
    """``items`` (best first) in the ranked shape, numbered from 1."""
    return [_ranked_item(item, n) for n, item in enumerate(items, start=1)]


def to_context_response(ranked: list[Ranked], *, budget: int, explain: bool, shape: str = "by_type") -> ContextResponse:
    """The best items that fit ``budget`` tokens, in the by-type lists; with ``shape="ranked"`` also every item
    once, best first, in :attr:`ContextResponse.ranked`."""
    by_id = {r.record.memory_id: r for r in ranked}
    kept, used, cut = pack_budget(((r.record.memory_id, estimate_tokens(r.record.content)) for r in ranked), budget)
    resp = ContextResponse()
    in_order: list[Fact | Preference | Episode | Emotion | TemporalEvent] = []
    for mid in kept:
        item = _item(by_id[mid], explain)
        in_order.append(item)
        if isinstance(item, Preference):
            resp.preferences.append(item)
        elif isinstance(item, Episode):
            resp.episodes.append(item)
        elif isinstance(item, Emotion):
            resp.emotions.append(item)
        elif isinstance(item, TemporalEvent):
            resp.temporal_events.append(item)
        else:
            resp.facts.append(item)
    if shape == "ranked":
        resp.ranked = ranked_items(in_order)
    resp.metadata = ResponseMetadata(tokens_used=used, truncated=cut, token_budget=budget)
    return resp


def format_context(resp: UnifiedContextResponse | ContextResponse, *, include_scope_labels: bool = False) -> str:
    """Prompt-ready Markdown, in the layout of Synap's ``format_for_prompt``: a section per memory type that has
    items, then the recent turns of the conversation."""

    def label(item: Any) -> str:
        return f" [scope: {item.source}]" if include_scope_labels and item.source else ""

    cc = resp.conversation_context
    sections = {
        "Facts": [f"- {f.content}{label(f)}" for f in resp.facts],
        "Preferences": [
            f"- {p.content}" + (f" (strength: {p.strength:.1f})" if p.strength >= 0.7 else "") + label(p)
            for p in resp.preferences
        ],
        "Episodes": [f"- {e.summary}{label(e)}" for e in resp.episodes],
        "Emotions": [
            f"- {e.emotion_type}: {e.context}"
            + (f" (intensity: {e.intensity:.1f})" if e.intensity >= 0.5 else "")
            + label(e)
            for e in resp.emotions
        ],
        "Temporal Events": [
            f"- {t.content}" + (f" (valid until: {t.valid_until:%Y-%m-%d})" if t.valid_until else "") + label(t)
            for t in resp.temporal_events
        ],
        "Conversation History": [f"{t['role']}: {t['content']}" for t in cc.recent_turns] if cc is not None else [],
    }
    text = "\n\n".join(f"### {heading}\n" + "\n".join(lines) for heading, lines in sections.items() if lines)
    return "## User Context\n" + text if text else ""
