"""The retrieval engine: runs lexical and vector candidate searches inside a read chain, fuses and ranks them.

Fast mode (one query embedding, one lexical and one vector search per query, then in-memory ranking):

1. query understanding (:mod:`.query`): names asked about, "when" questions, a named period;
2. candidates: the best ``pool`` of each index (the pool does not depend on ``k``, so the ranking for a smaller
   ``k`` is a prefix of the ranking for a larger one);
3. fusion of normalised BM25 and cosine scores (weights tuned on LoCoMo dev, see ``docs/retrieval.md``), or
   reciprocal-rank fusion;
4. boosts: memories about the person asked about; dated memories for "when" questions; memories of a named
   period;
5. neighbour context: a memory gains a share of the score of the memories of the turns next to its own;
6. scope precedence, confidence and recency; narrower scope wins; items whose source turns are all covered by
   better-ranked items are dropped.

Accurate mode adds: question parts asked separately ("Jon and Gina" → one query per name); the memories of the
turns around the best results as extra candidates; and passages: each returned memory of a chat turn comes with the
turns around it (content and ``source_evidence``), so an agent sees the exchange, not one line of it. Also
available, off by default because they measured no gain on LoCoMo dev: a second lexical pass with the names found in
the best first-pass results (``RankingWeights.expansion``) and a per-document diversity penalty
(``session_diversity``).

Every component can be switched off for ablation (:mod:`.features`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from datetime import UTC
from datetime import datetime

from ..pipeline.base import Vectors
from ..scope import _RANK
from ..scope import ReadChain
from ..store.base import AsyncStore
from ..store.base import MemoryRecord
from ..store.base import SearchFilters
from ..store.base import VectorSearch
from .features import Features
from .overlap import JOIN_WINDOW
from .overlap import MAX_JOINED
from .overlap import join_adjacent
from .overlap import units_and_typed
from .query import QueryPlan
from .query import plan_query
from .query import subqueries
from .scoring import Candidate
from .scoring import RankingWeights
from .scoring import fuse
from .scoring import fuse_scores
from .scoring import reweight
from .scoring import score_factors

__all__ = ["Ranked", "RetrievalEngine"]

# Embeds query texts for one instance (the query cache is per instance: no timing tells one tenant another's queries).
EmbedFn = Callable[[Sequence[str], str], Awaitable[Vectors]]


@dataclass(slots=True)
class Ranked:
    record: MemoryRecord
    candidate: Candidate
    shadowed: list[str] | None = None  # ids of broader-scope items this one shadows


def _conflict_key(r: MemoryRecord) -> tuple[str, ...] | None:
    if r.attribute:
        return ("attr", r.memory_type, (r.subject or "").lower(), r.attribute)
    return None


def _turn_key(rec: MemoryRecord) -> tuple[str, int] | None:
    """(document, position) of a chat turn's memory, or of a document's passage (its ``unit`` number): what the
    neighbour scores relate."""
    meta = rec.metadata
    turn = meta.get("unit") if meta.get("kind") == "passage" else meta.get("turn")
    if rec.document_id is None or not isinstance(turn, int) or isinstance(turn, bool):
        return None
    return (rec.document_id, turn)


def _chat_turn_key(rec: MemoryRecord) -> tuple[str, int] | None:
    """:func:`_turn_key` of the memories of chat turns only (what accurate mode fetches and joins around)."""
    return None if rec.metadata.get("kind") == "passage" else _turn_key(rec)


def _aware(d: datetime) -> datetime:
    return d if d.tzinfo else d.replace(tzinfo=UTC)


class RetrievalEngine:
    def __init__(
        self,
        store: AsyncStore,
        embed: EmbedFn,
        weights: RankingWeights | None = None,
        features: Features | None = None,
    ) -> None:
        self.store = store
        self.embed = embed
        self.weights = weights or RankingWeights()
        self.features = features or Features()

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
        w, f = self.weights, self.features
        accurate = mode == "accurate"
        pool = w.accurate_pool if accurate else w.pool
        loop = asyncio.get_running_loop()
        plans = [plan_query(q) for q in queries]
        # (lexical text, vector text, weight) per query; accurate mode adds the parts of multi-person questions.
        asks: list[tuple[str, str, float]] = [(self._lexical(p), p.text, 1.0) for p in plans]
        if accurate and f.on("query-decomposition"):
            for q in queries:
                for part in subqueries(q):
                    asks.append((self._lexical(plan_query(part)), part, w.subquery))
        t0 = loop.time()
        # The lexical searches need no vector: they run while the question is embedded.
        lex_tasks = [
            asyncio.ensure_future(self.store.search_lexical(chain, a[0], limit=pool, filters=filters)) for a in asks
        ]
        try:
            vectors = await self.embed([a[1] for a in asks], chain.instance_id)
        except BaseException:
            for t in lex_tasks:
                t.cancel()
            raise
        t1 = loop.time()
        timings["embed_ms"] = (t1 - t0) * 1000
        lexical = list(await asyncio.gather(*lex_tasks))
        # The vector searches and the records of every candidate (lexical and vector hits: the fused pool) in one
        # store call.
        search = VectorSearch(
            vectors=[vectors[i] for i in range(len(asks))],
            limit=pool,
            filters=filters,
            rowids=[rowid for hits in lexical for rowid, _ in hits],
        )
        vector, records = await self.store.search_vectors_with_records(chain, search)
        qweights = [a[2] for a in asks]
        if f.on("score-fusion"):
            cands = fuse_scores(lexical, vector, w, qweights)
        else:
            cands = fuse(lexical, vector, w)
        if accurate and f.on("entity-expansion") and w.expansion > 0:
            await self._expand(chain, plans, cands, records, pool=pool, filters=filters)
        fetch_n = w.accurate_neighbour_fetch if accurate else w.neighbour_fetch
        if fetch_n > 0 and f.on("neighbour-scores"):
            await self._add_neighbours(chain, cands, records, fetch_n)
        t2 = loop.time()
        timings["search_ms"] = (t2 - t1) * 1000  # after the embedding (lexical search overlaps it)
        now = datetime.now(UTC)
        ranked = self._rank(cands, records, plans, now)
        ranked = self._narrower_wins(ranked)
        if accurate and f.on("passages") and w.passage_window > 0:
            ranked = await self._passages(chain, ranked)
        if f.on("evidence-dedup"):
            # Enough items for the cut below: joined passages count as one.
            joins = f.on("passage-join")
            limit = None if accurate and w.session_diversity > 0 else (max(k, JOIN_WINDOW) * MAX_JOINED if joins else k)
            ranked = self._drop_covered(ranked, limit)
        if accurate and w.session_diversity > 0:
            ranked = self._diversify(ranked, k, w.session_diversity)
        ranked = join_adjacent(ranked, k) if f.on("passage-join") else ranked[:k]
        self._explain(ranked, now)
        self._monotone(ranked)
        timings["rank_ms"] = (loop.time() - t2) * 1000
        return ranked, timings

    def _lexical(self, plan: QueryPlan) -> str:
        """The lexical query of a question: its content words, without the names asked about unless configured."""
        text = plan.lexical_text or plan.text
        if self.weights.lexical_names or not plan.names or not self.features.on("speaker"):
            return text
        kept = [t for t in text.split() if t.lower().removesuffix("'s") not in plan.names]
        return " ".join(kept) or text

    # -- ranking --------------------------------------------------------------------------------------------------
    def _rank(
        self, cands: dict[int, Candidate], records: dict[int, MemoryRecord], plans: list[QueryPlan], now: datetime
    ) -> list[Ranked]:
        w, f = self.weights, self.features
        names = {n for p in plans for n in p.names} if f.on("speaker") else set()
        temporal = f.on("temporal")
        asks_when = temporal and any(p.asks_when for p in plans)
        periods = [p.period for p in plans if p.period is not None] if temporal else []
        neighbours = f.on("neighbour-scores") and (w.neighbour_prev > 0 or w.neighbour_next > 0)
        turn_prior, speaker, when_dated, period = w.turn_prior, 1 + w.speaker, 1 + w.when_dated, 1 + w.period
        base: dict[int, float] = {}
        turn_keys: dict[int, tuple[str, int]] = {}
        for rowid, c in cands.items():
            rec = records.get(rowid)
            if rec is None:
                continue  # not visible through the chain (cannot happen unless a backend is wrong): fail closed
            factor = 1.0
            meta = rec.metadata
            if meta and meta.get("kind") == "turn":
                factor *= turn_prior
            if names and rec.subject and rec.subject.lower() in names:
                factor *= speaker
                c.parts["speaker"] = speaker
            if asks_when and meta and meta.get("dated"):
                factor *= when_dated
                c.parts["when_dated"] = when_dated
            if periods and rec.event_date is not None:
                ev = _aware(rec.event_date)
                if any(lo <= ev <= hi for lo, hi in periods):
                    factor *= period
                    c.parts["period"] = period
            base[rowid] = c.fused * factor
            if neighbours and meta:
                key = _turn_key(rec)
                if key is not None:
                    turn_keys[rowid] = key
        if turn_keys:  # neighbour scores (only memories of chat turns have a turn key)
            by_turn: dict[tuple[str, int], float] = {}
            for rowid, key in turn_keys.items():
                by_turn[key] = max(by_turn.get(key, 0.0), base[rowid])
            for rowid, key in turn_keys.items():
                gain = max(
                    w.neighbour_prev * by_turn.get((key[0], key[1] - 1), 0.0),
                    w.neighbour_next * by_turn.get((key[0], key[1] + 1), 0.0),
                )
                if gain > 0:
                    base[rowid] = base[rowid] + gain
                    cands[rowid].parts["neighbour"] = gain
        # Final scores as reweight() computes them; the score explanation (``Candidate.parts``) is completed by
        # ``_explain`` for the returned items only.
        keyed: list[tuple[float, int, Ranked]] = []
        for rowid, b in base.items():
            c, rec = cands[rowid], records[rowid]
            c.parts["fused_raw"] = c.fused
            c.fused = b
            scope_w, conf_w, rec_w = score_factors(rec.scope.level, rec.confidence, rec.created_at, now, w)
            c.score = score = b * scope_w * conf_w * rec_w
            keyed.append((-score, rowid, Ranked(rec, c)))
        keyed.sort()  # by score, then rowid (unique: the Ranked items are never compared)
        return [k[2] for k in keyed]

    def _explain(self, ranked: list[Ranked], now: datetime) -> None:
        """The parts of each item's score (as ``reweight`` records them), after ``_rank`` (same ``now``)."""
        for r in ranked:
            c, rec = r.candidate, r.record
            fused_raw = c.parts.pop("fused_raw")
            scope_w, conf_w, rec_w = score_factors(rec.scope.level, rec.confidence, rec.created_at, now, self.weights)
            c.parts = {**c.parts, "scope": scope_w, "confidence": conf_w, "recency": rec_w, "fused_raw": fused_raw}

    async def _expand(
        self,
        chain: ReadChain,
        plans: list[QueryPlan],
        cands: dict[int, Candidate],
        records: dict[int, MemoryRecord],
        *,
        pool: int,
        filters: SearchFilters,
    ) -> None:
        """Second lexical pass with the entities of the best first-pass memories (bridges multi-hop questions)."""
        w = self.weights
        asked = {n for p in plans for n in p.names}
        top = sorted((c for c in cands.values() if c.rowid in records), key=lambda c: -c.fused)[: w.expansion_top]
        speakers = {(r.subject or "").lower() for r in records.values()}
        terms: dict[str, None] = {}
        for c in top:
            for e in records[c.rowid].entities:
                if e not in asked and e not in speakers:
                    terms.setdefault(e, None)
        if not terms:
            return
        text = " ".join([plans[0].lexical_text, *terms])
        hits = await self.store.search_lexical(chain, text, limit=pool, filters=filters)
        if not hits:
            return
        best = hits[0][1] or 1.0
        missing: list[int] = []
        for rank, (rowid, raw) in enumerate(hits, start=1):
            found = cands.get(rowid)
            if found is None:
                found = cands[rowid] = Candidate(rowid, lexical=raw, lexical_rank=rank)
                missing.append(rowid)
            c = found
            c.fused += w.expansion * w.lexical_share * raw / best
        if missing:
            records.update(await self.store.get_memories(chain, missing))

    async def _add_neighbours(
        self, chain: ReadChain, cands: dict[int, Candidate], records: dict[int, MemoryRecord], n: int
    ) -> None:
        """The memories of the turns next to the best ``n`` candidates join the pool (scored from neighbours)."""
        top = sorted((c for c in cands.values() if c.rowid in records), key=lambda c: -c.fused)[:n]
        keys: set[tuple[str, int]] = set()
        for c in top:
            key = _chat_turn_key(records[c.rowid])
            if key is not None:
                keys.update({(key[0], key[1] - 1), (key[0], key[1] + 1)})
        if not keys:
            return
        found = await self.store.memories_at_turns(chain, sorted(keys))
        for rec in found:
            if rec.rowid not in cands:
                cands[rec.rowid] = Candidate(rec.rowid)
                records[rec.rowid] = rec

    async def _passages(self, chain: ReadChain, ranked: list[Ranked]) -> list[Ranked]:
        """Accurate: join the turns around each of the best items to its content (a passage), with their ids."""
        w = self.weights
        head, tail = ranked[: w.passage_candidates], ranked[w.passage_candidates :]
        keys: set[tuple[str, int]] = set()
        for r in head:
            key = _chat_turn_key(r.record)
            if key is not None:
                keys.update((key[0], key[1] + d) for d in range(-w.passage_window, w.passage_window + 1) if d)
        if not keys:
            return ranked
        turns: dict[tuple[str, int], MemoryRecord] = {}
        for rec in await self.store.memories_at_turns(chain, sorted(keys)):
            key = _chat_turn_key(rec)
            if key is not None and (key not in turns or rec.metadata.get("kind") == "turn"):
                turns[key] = rec
        out: list[Ranked] = []
        for r in head:
            key = _chat_turn_key(r.record)
            if key is None:
                out.append(r)
                continue
            before = [turns[(key[0], key[1] + d)] for d in range(-w.passage_window, 0) if (key[0], key[1] + d) in turns]
            after = [
                turns[(key[0], key[1] + d)] for d in range(1, w.passage_window + 1) if (key[0], key[1] + d) in turns
            ]
            if not before and not after:
                out.append(r)
                continue
            evidence = list(
                dict.fromkeys([*r.record.source_evidence, *(e for m in (*before, *after) for e in m.source_evidence)])
            )
            content = "\n".join(m.content for m in (*before, r.record, *after))
            meta = {**r.record.metadata, "passage": [e for m in (*before, *after) for e in m.source_evidence]}
            out.append(
                Ranked(
                    replace(r.record, content=content, source_evidence=evidence, metadata=meta), r.candidate, r.shadowed
                )
            )
        return out + tail

    @staticmethod
    def _drop_covered(ranked: list[Ranked], limit: int | None) -> list[Ranked]:
        """Spend the budget once on what a write said: see :func:`units_and_typed`."""
        return units_and_typed(ranked, limit)

    @staticmethod
    def _diversify(ranked: list[Ranked], k: int, penalty: float) -> list[Ranked]:
        """Greedy re-ranking: an item's score shrinks by ``penalty`` per better-ranked item of the same document."""
        rest = list(ranked)
        chosen: list[Ranked] = []
        per_doc: dict[str | None, int] = {}
        while rest and len(chosen) < k:
            best_i = max(
                range(len(rest)),
                key=lambda i: rest[i].candidate.score * (1 - penalty) ** per_doc.get(rest[i].record.document_id, 0),
            )
            r = rest.pop(best_i)
            per_doc[r.record.document_id] = per_doc.get(r.record.document_id, 0) + 1
            chosen.append(r)
        return chosen + rest

    @staticmethod
    def _monotone(ranked: list[Ranked]) -> None:
        """Make scores strictly decrease along the final order (clients sort items by score)."""
        for i in range(1, len(ranked)):
            prev = ranked[i - 1].candidate.score
            if ranked[i].candidate.score >= prev:
                ranked[i].candidate.score = prev * (1 - 1e-9) if prev > 0 else prev - 1e-12

    async def _recent(self, chain: ReadChain, *, k: int, filters: SearchFilters) -> list[Ranked]:
        rows, _ = await self.store.list_memories(chain, offset=0, limit=max(k * 4, 40), filters=filters)
        now = datetime.now(UTC)
        out = []
        for rec in rows:
            c = Candidate(rec.rowid, fused=1.0 / 60)
            reweight(
                c,
                level=rec.scope.level,
                confidence=rec.confidence,
                created_at=rec.created_at,
                now=now,
                weights=self.weights,
            )
            out.append(Ranked(rec, c))
        out.sort(key=lambda r: -r.candidate.score)
        return self._narrower_wins(out)[:k]

    @staticmethod
    def _narrower_wins(ranked: list[Ranked]) -> list[Ranked]:
        """Drop a broader-scope memory when a narrower one fills the same slot (same attribute, or same text)."""
        best: dict[tuple[str, ...], tuple[Ranked, int]] = {}
        slots: list[tuple[Ranked, int, tuple[tuple[str, ...], ...]]] = []
        for r in ranked:
            rec = r.record
            level = _RANK[rec.scope.level]
            text = ("text", rec.content.strip().lower())
            conflict = _conflict_key(rec)
            keys: tuple[tuple[str, ...], ...] = (text,) if conflict is None else (conflict, text)
            for key in keys:
                cur = best.get(key)
                if cur is None or level < cur[1]:
                    best[key] = (r, level)
            slots.append((r, level, keys))
        keep: list[Ranked] = []
        for r, level, keys in slots:
            if level:  # (the narrowest level, 0, is never shadowed)
                winners = [best[key] for key in keys]  # every key is there: ``r`` itself was offered for it
                if any(w is not r and w_level < level for w, w_level in winners):
                    for w, _ in winners:
                        if w is not r:
                            w.shadowed = [*(w.shadowed or []), r.record.memory_id]
                    continue
            keep.append(r)
        return keep
