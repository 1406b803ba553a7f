"""Pure ranking functions: fusion, scope/confidence/recency re-weighting, narrower-wins dedup, token packing."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ..scope import ScopeLevel

__all__ = [
    "Candidate",
    "RankingWeights",
    "estimate_tokens",
    "fuse",
    "pack_budget",
    "reweight",
]


@dataclass(slots=True)
class RankingWeights:
    rrf_k: float = 60.0
    lexical: float = 1.0
    vector: float = 1.0
    scope: dict[ScopeLevel, float] = field(
        default_factory=lambda: {
            ScopeLevel.USER: 1.0,
            ScopeLevel.CUSTOMER: 0.97,
            ScopeLevel.CLIENT: 0.94,
            ScopeLevel.WORLD: 0.9,
        }
    )
    confidence: float = 0.15  # share of the score that depends on the memory's confidence
    recency: float = 0.1  # share that depends on age
    recency_half_life_days: float = 180.0


@dataclass(slots=True)
class Candidate:
    rowid: int
    lexical: float = 0.0  # best raw BM25 over the queries
    vector: float = 0.0  # best cosine over the queries
    lexical_rank: int | None = None
    vector_rank: int | None = None
    fused: float = 0.0
    score: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)


def fuse(
    lexical: Sequence[Sequence[tuple[int, float]]],
    vector: Sequence[Sequence[tuple[int, float]]],
    weights: RankingWeights,
) -> dict[int, Candidate]:
    """Reciprocal-rank fusion of one lexical and one vector list per query (ranks are 1-based)."""
    cands: dict[int, Candidate] = {}
    for lists, kind in ((lexical, "lexical"), (vector, "vector")):
        w = weights.lexical if kind == "lexical" else weights.vector
        for hits in lists:
            for rank, (rowid, raw) in enumerate(hits, start=1):
                c = cands.setdefault(rowid, Candidate(rowid))
                c.fused += w / (weights.rrf_k + rank)
                if kind == "lexical":
                    c.lexical = max(c.lexical, raw)
                    c.lexical_rank = rank if c.lexical_rank is None else min(c.lexical_rank, rank)
                else:
                    c.vector = max(c.vector, raw)
                    c.vector_rank = rank if c.vector_rank is None else min(c.vector_rank, rank)
    return cands


def recency_factor(created_at: datetime, now: datetime, half_life_days: float) -> float:
    age_days = max((now - created_at).total_seconds() / 86400.0, 0.0)
    return math.pow(0.5, age_days / half_life_days)


def reweight(
    c: Candidate, *, level: ScopeLevel, confidence: float, created_at: datetime, now: datetime, weights: RankingWeights
) -> float:
    """Final score = fused × scope precedence × (confidence and recency mixes)."""
    scope_w = weights.scope[level]
    conf_w = (1.0 - weights.confidence) + weights.confidence * max(0.0, min(1.0, confidence))
    rec = recency_factor(created_at, now, weights.recency_half_life_days)
    rec_w = (1.0 - weights.recency) + weights.recency * rec
    c.parts = {"scope": scope_w, "confidence": conf_w, "recency": rec_w}
    c.score = c.fused * scope_w * conf_w * rec_w
    return c.score


def estimate_tokens(text: str) -> int:
    """Cheap token estimate (≈ 4 characters per token for English, as the cl100k vocabulary averages)."""
    return max(1, (len(text) + 3) // 4)


def pack_budget(items: Iterable[tuple[str, int]], budget: int) -> tuple[list[str], int, int]:
    """Keep items (id, tokens) in order while they fit ``budget``; returns (kept ids, tokens used, cut count)."""
    kept: list[str] = []
    used = 0
    cut = 0
    for item_id, tokens in items:
        if used + tokens > budget:
            cut += 1
            continue
        kept.append(item_id)
        used += tokens
    return kept, used, cut
