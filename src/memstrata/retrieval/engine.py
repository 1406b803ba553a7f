"""The retrieval engine: runs lexical and vector candidate searches inside a read chain, fuses and ranks them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from ..pipeline.base import Vectors
from ..scope import ReadChain
from ..store.base import AsyncStore, MemoryRecord, SearchFilters
from .scoring import Candidate, RankingWeights, fuse, reweight

__all__ = ["Ranked", "RetrievalEngine"]

EmbedFn = Callable[[Sequence[str]], Awaitable[Vectors]]


@dataclass(slots=True)
class Ranked:
    record: MemoryRecord
    candidate: Candidate
    shadowed: list[str] | None = None  # ids of broader-scope items this one shadows


def _conflict_key(r: MemoryRecord) -> tuple[str, ...] | None:
    if r.attribute:
        return ("attr", r.memory_type, (r.subject or "").lower(), r.attribute)
    return None


class RetrievalEngine:
    def __init__(self, store: AsyncStore, embed: EmbedFn, weights: RankingWeights | None = None) -> None:
        self.store = store
        self.embed = embed
        self.weights = weights or RankingWeights()

    async def search(
        self,
        chain: ReadChain,
        queries: Sequence[str],
        *,
        k: int,
        filters: SearchFilters,
        mode: str = "fast",
    ) -> tuple[list[Ranked], dict[str, float]]:
        """Best ``k`` memories of ``chain`` for ``queries`` (narrower scope wins on conflict), with timings in ms."""
        timings: dict[str, float] = {}
        queries = [q.strip() for q in queries if q and q.strip()]
        if not queries:
            return await self._recent(chain, k=k, filters=filters), timings
        pool = max(k * (8 if mode == "accurate" else 4), 40 if mode == "accurate" else 24)
        t0 = asyncio.get_running_loop().time()
        vectors = await self.embed(queries)
        t1 = asyncio.get_running_loop().time()
        timings["embed_ms"] = (t1 - t0) * 1000
        lex_tasks = [self.store.search_lexical(chain, q, limit=pool, filters=filters) for q in queries]
        vec_tasks = [self.store.search_vector(chain, vectors[i], limit=pool, filters=filters) for i in range(len(queries))]
        results = await asyncio.gather(*lex_tasks, *vec_tasks)
        t2 = asyncio.get_running_loop().time()
        timings["search_ms"] = (t2 - t1) * 1000
        lexical, vector = results[: len(queries)], results[len(queries) :]
        cands = fuse(lexical, vector, self.weights)
        records = await self.store.get_memories(chain, list(cands))
        now = datetime.now(UTC)
        ranked: list[Ranked] = []
        for rowid, c in cands.items():
            rec = records.get(rowid)
            if rec is None:
                continue  # not visible through the chain (cannot happen unless a backend is wrong): fail closed
            reweight(c, level=rec.scope.level, confidence=rec.confidence, created_at=rec.created_at, now=now, weights=self.weights)
            ranked.append(Ranked(rec, c))
        ranked.sort(key=lambda r: -r.candidate.score)
        ranked = self._narrower_wins(ranked)
        if mode == "accurate":
            ranked = self._mmr(ranked, k, vectors)
        timings["rank_ms"] = (asyncio.get_running_loop().time() - t2) * 1000
        return ranked[:k], timings

    async def _recent(self, chain: ReadChain, *, k: int, filters: SearchFilters) -> list[Ranked]:
        rows, _ = await self.store.list_memories(chain, offset=0, limit=max(k * 4, 40), filters=filters)
        now = datetime.now(UTC)
        out = []
        for rec in rows:
            c = Candidate(rec.rowid, fused=1.0 / 60)
            reweight(c, level=rec.scope.level, confidence=rec.confidence, created_at=rec.created_at, now=now, weights=self.weights)
            out.append(Ranked(rec, c))
        out.sort(key=lambda r: -r.candidate.score)
        return self._narrower_wins(out)[:k]

    @staticmethod
    def _narrower_wins(ranked: list[Ranked]) -> list[Ranked]:
        """Drop a broader-scope memory when a narrower one fills the same slot (same attribute, or same text)."""
        best: dict[tuple[str, ...], Ranked] = {}
        for r in ranked:
            for key in (_conflict_key(r.record), ("text", r.record.content.strip().lower())):
                if key is None:
                    continue
                cur = best.get(key)
                if cur is None or r.record.scope.level.rank < cur.record.scope.level.rank:
                    best[key] = r
        keep: list[Ranked] = []
        for r in ranked:
            winners = [best.get(key) for key in (_conflict_key(r.record), ("text", r.record.content.strip().lower())) if key]
            if any(w is not None and w is not r and w.record.scope.level.rank < r.record.scope.level.rank for w in winners):
                for w in winners:
                    if w is not None and w is not r:
                        w.shadowed = [*(w.shadowed or []), r.record.memory_id]
                continue
            keep.append(r)
        return keep

    @staticmethod
    def _mmr(ranked: list[Ranked], k: int, _queries: Vectors, lam: float = 0.8) -> list[Ranked]:
        """Maximal-marginal-relevance re-ordering on content words (diversity without extra vector reads)."""
        if len(ranked) <= k:
            return ranked
        words = [set(r.record.content.lower().split()) for r in ranked]
        top = ranked[0].candidate.score or 1.0
        chosen: list[int] = []
        rest = list(range(len(ranked)))
        while rest and len(chosen) < k:
            best_i, best_v = rest[0], -np.inf
            for i in rest:
                sim = max(
                    (len(words[i] & words[j]) / max(1, len(words[i] | words[j])) for j in chosen), default=0.0
                )
                v = lam * ranked[i].candidate.score / top - (1 - lam) * sim
                if v > best_v:
                    best_i, best_v = i, v
            chosen.append(best_i)
            rest.remove(best_i)
        return [ranked[i] for i in chosen] + [ranked[i] for i in rest]
