"""Pure ranking functions: fusion, scope/confidence/recency re-weighting, narrower-wins dedup, token packing."""

from __future__ import annotations

import math
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime

from ..scope import ScopeLevel

__all__ = [
    "Candidate",
    "RankingWeights",
    "estimate_tokens",
    "fuse",
    "fuse_scores",
    "pack_budget",
    "reweight",
    "score_factors",
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
    # -- score fusion (tuned on the LoCoMo dev split by grid search; see docs/retrieval.md) ----------------------
    lexical_share: float = 0.7  # fused = share × BM25/best BM25 + (1 - share) × rescaled cosine
    vector_floor: float = 0.3  # cosines at or below count as 0; the best cosine of the query counts as 1
    lexical_names: bool = True  # keep the names asked about in the lexical query (the speaker boost also uses them)
    pool: int = 100  # candidates read from each index per query (fast); independent of k, so rankings nest
    accurate_pool: int = 100  # a larger pool measured no better (200: -0.8 pt R@10)
    # -- query understanding (multiplicative boosts, 0 = off) ----------------------------------------------------
    speaker: float = 1.0  # memory about a person the question names
    when_dated: float = 0.9  # "when" question, and the memory carries a date said in the turn
    period: float = 0.3  # the question names a period and the memory's date falls in it
    turn_prior: float = 1.2  # factor on turn memories (kind "turn") relative to typed memories
    # -- context -----------------------------------------------------------------------------------------------------
    neighbour_prev: float = 0.35  # share of the previous turn's best score a memory gains (it may answer it)
    neighbour_next: float = 0.3  # share of the next turn's best score a memory gains (it may be the question)
    neighbour_fetch: int = 0  # fast: fetch the memories of the turns around the best N candidates (0 = only pool)
    accurate_neighbour_fetch: int = 20
    subquery: float = 0.8  # accurate: weight of a question part relative to the whole question
    expansion: float = 0.0  # accurate: weight of the expanded second lexical pass (0 = off: measured -0.1 pt R@10)
    expansion_top: int = 5  # accurate: results whose names/rare words feed the expanded pass
    session_diversity: float = 0.0  # accurate: penalty per better-ranked item of the same document
    passage_window: int = 1  # accurate: turns on each side joined to a returned turn's memory (0 = off)
    passage_candidates: int = 60  # accurate: how many of the best items are expanded (fixed: rankings nest)


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
    for lists, is_lexical in ((lexical, True), (vector, False)):
        w = weights.lexical if is_lexical else weights.vector
        for hits in lists:
            for rank, (rowid, raw) in enumerate(hits, start=1):
                c = _note_hit(cands, rowid, rank, raw, lexical=is_lexical)
                c.fused += w / (weights.rrf_k + rank)
    return cands


def _note_hit(cands: dict[int, Candidate], rowid: int, rank: int, raw: float, *, lexical: bool) -> Candidate:
    """The candidate of ``rowid`` (added on its first hit), keeping the best raw score and rank each index gave it."""
    c = cands.get(rowid)
    if c is None:
        c = cands[rowid] = Candidate(rowid)
    if lexical:
        if raw > c.lexical:  # max(c.lexical, raw)
            c.lexical = raw
        if c.lexical_rank is None or rank < c.lexical_rank:
            c.lexical_rank = rank
    else:
        if raw > c.vector:  # max(c.vector, raw)
            c.vector = raw
        if c.vector_rank is None or rank < c.vector_rank:
            c.vector_rank = rank
    return c


def fuse_scores(
    lexical: Sequence[Sequence[tuple[int, float]]],
    vector: Sequence[Sequence[tuple[int, float]]],
    weights: RankingWeights,
    query_weights: Sequence[float] | None = None,
) -> dict[int, Candidate]:
    """Weighted fusion of normalised scores: per query, ``share × bm25 / best bm25 + (1 - share) × cosine rescaled
    from [floor, best] to [0, 1]``; a candidate keeps its best query's (weighted) score. Lists are per query, in the
    same order in ``lexical`` and ``vector`` (either may be shorter: missing lists are empty)."""
    n = max(len(lexical), len(vector))
    qw = list(query_weights) if query_weights is not None else [1.0] * n
    cands: dict[int, Candidate] = {}
    share = weights.lexical_share
    vector_floor = weights.vector_floor
    for qi in range(n):
        per: dict[int, float] = {}
        lex = lexical[qi] if qi < len(lexical) else []
        vec = vector[qi] if qi < len(vector) else []
        top_lex = max((raw for _, raw in lex), default=0.0)
        for rank, (rowid, raw) in enumerate(lex, start=1):
            _note_hit(cands, rowid, rank, raw, lexical=True)
            if top_lex > 0:
                per[rowid] = per.get(rowid, 0.0) + share * raw / top_lex
        top_vec = max((raw for _, raw in vec), default=0.0)
        span = top_vec - vector_floor
        for rank, (rowid, raw) in enumerate(vec, start=1):
            _note_hit(cands, rowid, rank, raw, lexical=False)
            if span > 0:
                per[rowid] = per.get(rowid, 0.0) + (1 - share) * max(0.0, raw - vector_floor) / span
        q_weight = qw[qi]
        for rowid, v in per.items():
            c = cands[rowid]
            fused = q_weight * v
            if fused > c.fused:  # max(c.fused, fused)
                c.fused = fused
    return cands


def recency_factor(created_at: datetime, now: datetime, half_life_days: float) -> float:
    age_days = max((now - created_at).total_seconds() / 86400.0, 0.0)
    return math.pow(0.5, age_days / half_life_days)


def score_factors(
    level: ScopeLevel, confidence: float, created_at: datetime, now: datetime, weights: RankingWeights
) -> tuple[float, float, float]:
    """The factors a fused score is multiplied by: (scope precedence, confidence mix, recency mix)."""
    scope_w = weights.scope[level]
    conf_w = (1.0 - weights.confidence) + weights.confidence * max(0.0, min(1.0, confidence))
    rec = recency_factor(created_at, now, weights.recency_half_life_days)
    rec_w = (1.0 - weights.recency) + weights.recency * rec
    return scope_w, conf_w, rec_w


def reweight(
    c: Candidate, *, level: ScopeLevel, confidence: float, created_at: datetime, now: datetime, weights: RankingWeights
) -> float:
    """Final score = fused × scope precedence × (confidence and recency mixes)."""
    scope_w, conf_w, rec_w = score_factors(level, confidence, created_at, now, weights)
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
