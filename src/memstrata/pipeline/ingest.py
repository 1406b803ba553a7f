"""The ingestion runner: normalise → split → extract → resolve dates → reconcile → embed → (store, by the caller).

Claimed jobs are processed as one batch so the embedder sees one large batch (its throughput depends on it). The
result of each job is a :class:`~memstrata.store.base.ProcessedJob` that the store writes in one transaction,
together with the job's completion: a crash before that commit leaves the job to be retried, never half-stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ..store._sql import parse_ts
from ..store.base import AsyncStore, JobRecord, NewMemory, ProcessedJob
from .base import DocumentInput, Extractor, MemoryDraft, Vectors
from .split import split_document

__all__ = ["IngestPipeline", "content_hash"]


def content_hash(text: str) -> str:
    return hashlib.sha1(" ".join(text.lower().split()).encode()).hexdigest()


@dataclass(slots=True)
class _Pending:
    job: JobRecord
    drafts: list[MemoryDraft]
    document: dict[str, Any]
    conversation_id: str | None
    error: str | None = None


class IngestPipeline:
    def __init__(
        self,
        store: AsyncStore,
        extractor: Extractor,
        embed: Callable[[Sequence[str]], Awaitable[Vectors]],
        *,
        dedup_threshold: float = 0.95,
        extract_executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self.store = store
        self.extractor = extractor
        self.embed = embed
        self.dedup_threshold = dedup_threshold
        self._executor = extract_executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="memstrata-extract")

    def _extract(self, job: JobRecord) -> _Pending:
        p = job.payload
        created = parse_ts(p.get("document_created_at")) or job.queued_at or datetime.now(UTC)
        document = p["document"]
        segments = split_document(document, p.get("document_type", "document"), created_at=created)
        doc = DocumentInput(
            document_id=job.document_id,
            document_type=p.get("document_type", "document"),
            segments=segments,
            created_at=created,
            metadata=dict(p.get("metadata") or {}),
        )
        drafts = self.extractor.extract(doc)
        text = document if isinstance(document, str) else "\n".join(f"{s.speaker or s.role or ''}: {s.text}" for s in segments)
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
        texts = [d.content for p in pending for d in p.drafts]
        vectors = await self.embed(texts) if texts else np.zeros((0, 1), dtype=np.float32)
        results: list[ProcessedJob] = []
        offset = 0
        # New memories of earlier jobs in this batch, per scope, so a later job merges into them, not beside them.
        batch_new: dict[Any, list[NewMemory]] = {}
        for p in pending:
            n = len(p.drafts)
            vecs = vectors[offset : offset + n]
            offset += n
            if p.error is not None:
                results.append(
                    ProcessedJob(p.job.ingestion_id, p.job.claim, p.job.scope, p.job.document_id, None, [], [], [],
                                 status="failed", error_message=p.error)
                )
                continue
            results.append(await self._reconcile(p, vecs, batch_new.setdefault(p.job.scope, [])))
        return results

    async def _reconcile(self, p: _Pending, vecs: Vectors, earlier: list[NewMemory]) -> ProcessedJob:
        job = p.job
        rowids, matrix = await self.store.scope_vectors(job.scope)
        existing_hashes: dict[str, int] = {}
        new: list[NewMemory] = []
        merged: dict[int, tuple[list[str], float]] = {}
        superseded: list[tuple[int, str]] = []
        for draft, vec in zip(p.drafts, vecs, strict=True):
            h = content_hash(draft.content)
            # 1) duplicate of a memory created earlier in this batch or this job: fold the evidence in.
            twin = next(
                (m for m in (*earlier, *new) if m.content_hash == h or
                 (m.draft.memory_type == draft.memory_type and float(m.vector @ vec) >= self.dedup_threshold)),
                None,
            )
            if twin is not None:
                twin.draft.source_evidence = list(dict.fromkeys(twin.draft.source_evidence + draft.source_evidence))
                twin.draft.confidence = min(1.0, 1 - (1 - twin.draft.confidence) * 0.8)
                continue
            # 2) near-duplicate of a stored memory of the same scope: merge (evidence appended, confidence raised).
            if len(rowids) and matrix.shape[1] == vec.shape[0]:
                sims = matrix @ vec
                best = int(np.argmax(sims))
                if float(sims[best]) >= self.dedup_threshold:
                    recs = await self.store.scope_memories_by_rowid(job.scope, [rowids[best]])
                    if recs and recs[0].memory_type == draft.memory_type:
                        rec = recs[0]
                        ev, conf = merged.get(rec.rowid, (list(rec.source_evidence), rec.confidence))
                        merged[rec.rowid] = (ev + draft.source_evidence, min(1.0, 1 - (1 - conf) * 0.8))
                        continue
            mem = NewMemory(str(uuid.uuid4()), draft, np.asarray(vec, dtype=np.float32), h)
            # 3) contradiction: same subject and attribute in the same scope, different value → supersede the old.
            if draft.attribute:
                for old in await self.store.find_by_attribute(job.scope, draft.subject, draft.attribute):
                    if content_hash(old.content) != h:
                        superseded.append((old.rowid, mem.memory_id))
            new.append(mem)
        earlier.extend(new)
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
