"""The ingestion runner: normalise → split → extract → resolve dates → reconcile → embed → (store, by the caller).

Claimed jobs are processed as one batch so the embedder sees one large batch (its throughput depends on it). The
result of each job is a :class:`~tenantry.store.base.ProcessedJob` that the store writes in one transaction,
together with the job's completion: a crash before that commit leaves the job to be retried, never half-stored.

Searchable context: in a chat document, each memory's lexical index text (``NewMemory.fts_text``) is its content
followed by the turns around its source turns (``neighbour_window`` on each side, default 2), so a question worded
like the exchange ("Did you paint that?" / "Yes, last year") finds the answer turn; the memory's own text is written
twice so that it outweighs the context. The stored ``content`` stays the memory alone. Each memory of a chat
document also gets ``metadata["turn"]``: the position of its first source turn in the document, which the retrieval
engine uses to relate memories of neighbouring turns. The context can be switched off (``neighbours`` in
:mod:`tenantry.retrieval.features`); embedding it too (``neighbour_vectors``) is off by default.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import cast

import numpy as np

from ..retrieval.features import Features
from ..store._sql import parse_ts
from ..store.base import AsyncStore
from ..store.base import JobRecord
from ..store.base import MemoryRecord
from ..store.base import NewMemory
from ..store.base import ProcessedJob
from ..types import content_hash
from .base import DocumentInput
from .base import Extractor
from .base import MemoryDraft
from .base import Segment
from .base import Vectors
from .split import split_document
from .units import document_text
from .units import fold_identical
from .units import merge_caller_metadata
from .units import passage_units

__all__ = ["IngestPipeline", "content_hash", "searchable_context"]


@dataclass(slots=True)
class _Pending:
    job: JobRecord
    drafts: list[MemoryDraft]
    document: dict[str, Any]
    conversation_id: str | None
    error: str | None = None
    fts_texts: list[str | None] | None = None  # per draft: lexical index text when it is more than the content
    embed_texts: list[str] | None = None  # per draft: the text embedded (content, or content with context)


def _turn_text(seg: Segment) -> str:
    who = seg.speaker or seg.role
    return f"{who}: {seg.text}" if who else seg.text


def searchable_context(
    drafts: list[MemoryDraft], segments: list[Segment], *, window: int, lexical: bool, vectors: bool
) -> tuple[list[str | None], list[str]]:
    """Per draft: (lexical index text or None, text to embed), with the turns around its evidence appended.

    Only chat documents (segments with a speaker or role) get context; a draft's own turns are not repeated. The
    draft's ``metadata["turn"]`` is set to the position of its first source turn. A draft may carry the text to
    embed in place of its content as ``metadata["_embed_text"]``, and its lexical index text as
    ``metadata["_lexical_text"]`` (a passage: its heading path and its text); both are removed here, never stored.
    """
    chat = any(s.speaker or s.role for s in segments)
    pos = {s.id: i for i, s in enumerate(segments)}
    fts: list[str | None] = []
    emb: list[str] = []
    for d in drafts:
        own_text = str(d.metadata.pop("_embed_text", None) or d.content)
        own_lexical = d.metadata.pop("_lexical_text", None)
        idx = sorted(pos[e] for e in d.source_evidence if e in pos)
        if not chat or not idx:
            fts.append(str(own_lexical) if own_lexical else None)
            emb.append(own_text)
            continue
        d.metadata.setdefault("turn", idx[0])
        own = set(idx)
        around = [i for i in range(max(0, idx[0] - window), min(len(segments), idx[-1] + window + 1)) if i not in own]
        context = " ".join(_turn_text(segments[i]) for i in around) if window > 0 else ""
        # The memory's own text is written twice so that it outweighs its context in BM25 (one FTS column only).
        fts.append(f"{d.content} {d.content} | {context}" if lexical and context else None)
        emb.append(f"{own_text} | {context}" if vectors and context else own_text)
    return fts, emb


def _is_passage(metadata: dict[str, Any]) -> bool:
    return metadata.get("kind") == "passage"


class _TwinIndex:
    """The new memories of one scope in the current batch, for duplicate detection (vectorised).

    A passage is the verbatim text of a write: it is the twin of a passage with the same text only (two passages
    that differ by one number are both kept), and never of a typed memory."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.items: list[NewMemory] = []
        self.hashes: dict[tuple[str, bool], int] = {}
        self.types: list[str] = []
        self.matrix: Vectors | None = None

    def find(self, h: str, memory_type: str, vec: Vectors, *, passage: bool = False) -> NewMemory | None:
        """The first memory with the same content hash, or (typed memories) of the same type with cosine >=
        threshold."""
        n = len(self.items)
        if n == 0:
            return None
        first = self.hashes.get((h, passage), n)
        if not passage and self.matrix is not None and self.matrix.shape[1] == vec.shape[0]:
            sims = self.matrix[:n] @ vec
            for i in np.flatnonzero(sims >= self.threshold):
                if int(i) >= first:
                    break
                if self.types[int(i)] == memory_type:
                    first = int(i)
                    break
        return self.items[first] if first < n else None

    def add(self, mem: NewMemory) -> None:
        n = len(self.items)
        vec = np.asarray(mem.vector, dtype=np.float32).reshape(-1)
        if self.matrix is None or self.matrix.shape[1] != vec.shape[0]:
            self.matrix = np.zeros((max(64, n + 1), vec.shape[0]), dtype=np.float32)
            for i, m in enumerate(self.items):
                if m.vector.shape[-1] == vec.shape[0]:
                    self.matrix[i] = m.vector
        elif n >= self.matrix.shape[0]:
            grown = np.zeros((self.matrix.shape[0] * 2, self.matrix.shape[1]), dtype=np.float32)
            grown[:n] = self.matrix[:n]
            self.matrix = grown
        self.matrix[n] = vec
        self.items.append(mem)
        passage = _is_passage(mem.draft.metadata)
        self.types.append("passage" if passage else mem.draft.memory_type)  # a passage is no typed memory's twin
        self.hashes.setdefault((mem.content_hash, passage), n)


class IngestPipeline:
    def __init__(
        self,
        store: AsyncStore,
        extractor: Extractor,
        embed: Callable[[Sequence[str]], Awaitable[Vectors]],
        *,
        dedup_threshold: float = 0.95,
        extract_executor: ThreadPoolExecutor | None = None,
        neighbour_window: int = 2,
        neighbour_vectors: bool = False,
        features: Features | None = None,
    ) -> None:
        self.store = store
        self.extractor = extractor
        self.embed = embed
        self.dedup_threshold = dedup_threshold
        self.neighbour_window = neighbour_window
        self.neighbour_vectors = neighbour_vectors  # off by default: ~3x the embedding cost for ~+1.7 pts R@10
        self.features = features or Features()
        self._executor = extract_executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="tenantry-extract")

    def _extract(self, job: JobRecord) -> _Pending:
        p = job.payload
        created = parse_ts(p.get("document_created_at")) or job.queued_at or datetime.now(UTC)
        document = p["document"]
        segments = split_document(document, p.get("document_type", "document"), created_at=created)
        units: list[MemoryDraft] = []
        if any(s.speaker or s.role for s in segments):  # a chat: one unit per turn (the turn extractor's memories)
            text = (
                document
                if isinstance(document, str)
                else "\n".join(f"{s.speaker or s.role or ''}: {s.text}" for s in segments)
            )
        else:  # anything else is kept whole, as passages; the typed extractors read the passages' sentences
            structured = isinstance(document, list) or (isinstance(document, dict) and "messages" in document)
            text = "\n\n".join(s.text for s in segments) if structured else document_text(document)
            units, segments = passage_units(text, job.document_id)
        doc = DocumentInput(
            document_id=job.document_id,
            document_type=p.get("document_type", "document"),
            segments=segments,
            created_at=created,
            metadata=dict(p.get("metadata") or {}),
        )
        typed = self.extractor.extract(doc)
        drafts = fold_identical(units, typed) + typed
        merge_caller_metadata(drafts, doc.metadata)
        fts, emb = searchable_context(
            drafts,
            segments,
            window=self.neighbour_window,
            lexical=self.features.on("neighbours"),
            vectors=self.neighbour_vectors,
        )
        return _Pending(
            job,
            drafts,
            {
                "content": text,
                "content_hash": content_hash(text),
                "document_type": doc.document_type,
                "document_created_at": created.isoformat(),
                "metadata": doc.metadata,
            },
            p.get("conversation_id"),
            fts_texts=fts,
            embed_texts=emb,
        )

    def _extract_all(self, jobs: list[JobRecord]) -> list[_Pending]:
        out = []
        for job in jobs:
            try:
                out.append(self._extract(job))
            except Exception as exc:  # one bad document must not sink the batch; its job fails with the reason
                out.append(_Pending(job, [], {}, None, error=f"{type(exc).__name__}: {exc}"))
        return out

    async def process(self, jobs: list[JobRecord]) -> list[ProcessedJob]:
        loop = asyncio.get_running_loop()
        pending = await loop.run_in_executor(self._executor, self._extract_all, jobs)
        texts = [t for p in pending for t in (p.embed_texts or [d.content for d in p.drafts])]
        unique = list(dict.fromkeys(texts))  # identical texts (e.g. an episode and its temporal event) embed once
        if unique:
            where = {t: i for i, t in enumerate(unique)}
            vectors = (await self.embed(unique))[[where[t] for t in texts]]
        else:
            vectors = np.zeros((0, 1), dtype=np.float32)
        stored, by_attribute = await self._reads(pending)
        results: list[ProcessedJob] = []
        offset = 0
        # New memories of earlier jobs in this batch, per scope, so a later job merges into them, not beside them.
        batch_new: dict[Any, _TwinIndex] = {}
        for p in pending:
            n = len(p.drafts)
            vecs = vectors[offset : offset + n]
            offset += n
            if p.error is not None:
                results.append(
                    ProcessedJob(
                        p.job.ingestion_id,
                        p.job.claim,
                        p.job.scope,
                        p.job.document_id,
                        None,
                        [],
                        [],
                        [],
                        status="failed",
                        error_message=p.error,
                    )
                )
                continue
            index = batch_new.get(p.job.scope)
            if index is None:
                index = batch_new[p.job.scope] = _TwinIndex(self.dedup_threshold)
            results.append(await self._reconcile(p, vecs, index, stored[p.job.scope], by_attribute))
        return results

    async def _reads(
        self, pending: list[_Pending]
    ) -> tuple[dict[Any, tuple[list[int], Vectors]], dict[tuple[Any, str | None, str], list[MemoryRecord]]]:
        """What reconciliation reads from the store for the whole batch, asked for at once: the vectors of each scope
        written to, and the live memories of each (scope, subject, attribute) a draft sets.

        One call per job and attribute, awaited in turn, made a batch of 15 chat turns take ≈ 1 s under read load
        (each call waits for a reader thread and an event-loop turn); concurrently they take about one such wait. The
        batch's writes come after its reconciliation, so every job of it sees the same stored state either way."""
        live = [p for p in pending if p.error is None]
        scopes = list(dict.fromkeys(p.job.scope for p in live))
        attributes = list(
            dict.fromkeys((p.job.scope, d.subject, d.attribute) for p in live for d in p.drafts if d.attribute)
        )
        found = await asyncio.gather(
            *(self.store.scope_vectors(scope) for scope in scopes),
            *(self.store.find_by_attribute(scope, subject, attr) for scope, subject, attr in attributes),
            return_exceptions=True,
        )
        for item in found:
            if isinstance(item, BaseException):
                raise item
        vectors = cast(list[tuple[list[int], Vectors]], found[: len(scopes)])
        records = cast(list[list[MemoryRecord]], found[len(scopes) :])
        return dict(zip(scopes, vectors, strict=True)), dict(zip(attributes, records, strict=True))

    async def _reconcile(
        self,
        p: _Pending,
        vecs: Vectors,
        index: _TwinIndex,
        stored: tuple[list[int], Vectors],
        by_attribute: dict[tuple[Any, str | None, str], list[MemoryRecord]],
    ) -> ProcessedJob:
        job = p.job
        rowids, matrix = stored
        new: list[NewMemory] = []
        merged: dict[int, tuple[list[str], float]] = {}
        superseded: list[tuple[int, str]] = []
        fts_texts = p.fts_texts or [None] * len(p.drafts)
        for draft, vec, fts in zip(p.drafts, vecs, fts_texts, strict=True):
            h = content_hash(draft.content)
            passage = _is_passage(draft.metadata)
            # 1) duplicate of a memory created earlier in this batch or this job: fold the evidence in.
            twin = index.find(h, draft.memory_type, vec, passage=passage)
            if twin is not None:
                twin.draft.source_evidence = list(dict.fromkeys(twin.draft.source_evidence + draft.source_evidence))
                twin.draft.confidence = min(1.0, 1 - (1 - twin.draft.confidence) * 0.8)
                continue
            # 2) near-duplicate of a stored memory of the same scope: merge (evidence appended, confidence raised);
            # a passage only into a stored passage of the same text.
            if len(rowids) and matrix.shape[1] == vec.shape[0]:
                sims = matrix @ vec
                best = int(np.argmax(sims))
                if float(sims[best]) >= self.dedup_threshold:
                    recs = await self.store.scope_memories_by_rowid(job.scope, [rowids[best]])
                    if (
                        recs
                        and recs[0].memory_type == draft.memory_type
                        and _is_passage(recs[0].metadata) == passage
                        and (not passage or content_hash(recs[0].content) == h)
                    ):
                        rec = recs[0]
                        ev, conf = merged.get(rec.rowid, (list(rec.source_evidence), rec.confidence))
                        merged[rec.rowid] = (ev + draft.source_evidence, min(1.0, 1 - (1 - conf) * 0.8))
                        continue
            mem = NewMemory(str(uuid.uuid4()), draft, np.asarray(vec, dtype=np.float32), h, fts_text=fts)
            # 3) contradiction: same subject and attribute in the same scope, different value → supersede the old.
            if draft.attribute:
                for old in by_attribute[(job.scope, draft.subject, draft.attribute)]:
                    if content_hash(old.content) != h:
                        superseded.append((old.rowid, mem.memory_id))
            new.append(mem)
            index.add(mem)
        return ProcessedJob(
            ingestion_id=job.ingestion_id,
            claim=job.claim,
            scope=job.scope,
            document_id=job.document_id,
            conversation_id=p.conversation_id,
            new=new,
            merged=[(rowid, ev, conf) for rowid, (ev, conf) in merged.items()],
            superseded=superseded,
            document=p.document,
        )
