"""The storage interface. One implementation per backend (SQLite, PostgreSQL); both share ``_sql.py``.

Every memory query takes a :class:`~tenantry.scope.ReadChain` (or a single :class:`~tenantry.scope.Scope` for
writes) and builds its WHERE clause through ``_sql.scope_filter``; no method reads memories by bare id.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

import numpy as np

from ..dataformat import Record
from ..models import ApiKey
from ..scope import ReadChain
from ..scope import Relationship
from ..scope import Scope
from ..types import MemoryDraft
from ..types import Vectors

__all__ = [
    "AsyncStore",
    "Audit",
    "CompactionRecord",
    "ConversationRecord",
    "EraseOptions",
    "InstanceRecord",
    "JobRecord",
    "KeyRecord",
    "MemoryEdit",
    "MemoryRecord",
    "MessageRecord",
    "NewMemory",
    "ProcessedJob",
    "SearchFilters",
    "VectorHits",
    "VectorSearch",
    "candidate_ids",
]


@dataclass(slots=True)
class InstanceRecord:
    instance_id: str
    name: str
    relationship: Relationship
    client_id: str
    created_at: datetime
    archived: bool = False
    embedder: str | None = None
    dimensions: int | None = None

    @classmethod
    def new(cls, name: str, relationship: Relationship, created_at: datetime) -> InstanceRecord:
        """A new instance in the Synap client's id formats: ``inst_`` + 16 random hex, ``cli_`` + 16 hex of the name's
        SHA-256."""
        return cls(
            instance_id=f"inst_{uuid.uuid4().hex[:16]}",
            name=name,
            relationship=relationship,
            client_id=f"cli_{hashlib.sha256(name.encode()).hexdigest()[:16]}",
            created_at=created_at,
        )


@dataclass(frozen=True, slots=True)
class Audit:
    """What a write records in the audit log (ids, counts; never content), committed in the write's transaction:
    a write that happened always has its row, one that did not never has."""

    action: str
    detail: dict[str, Any] = field(default_factory=dict)


KeyRecord = ApiKey  # an API key's row is what the admin API shows of it: never its secret, never its hash


@dataclass(slots=True)
class JobRecord:
    ingestion_id: str
    instance_id: str
    scope: Scope
    document_id: str
    kind: str  # "memory" | "transcript"
    status: str
    payload: dict[str, Any]
    attempts: int
    queued_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    memory_ids: list[str] = field(default_factory=list)
    error_message: str | None = None
    claim: str | None = None  # token of the worker claim that owns a processing job
    failures: int = 0  # attempts that raised (a worker that died is not one): what ``max_attempts`` counts


@dataclass(slots=True)
class MemoryRecord:
    rowid: int
    memory_id: str
    scope: Scope
    memory_type: str
    content: str
    confidence: float
    category: str | None
    event_date: datetime | None
    valid_until: datetime | None
    temporal_category: str | None
    source_evidence: list[str]
    entities: list[str]
    subject: str | None
    attribute: str | None
    metadata: dict[str, Any]
    document_id: str | None
    conversation_id: str | None
    created_at: datetime
    updated_at: datetime | None
    superseded_by: str | None
    mention_count: int = 1


@dataclass(frozen=True, slots=True)
class MemoryEdit:
    """A memory's new text, the vector of that text, and its whole new metadata (``None``: the stored one stays)."""

    content: str
    vector: Vectors
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EraseOptions:
    """How :meth:`AsyncStore.delete_scope_data` erases. ``dry_run``: the same statements in a transaction that is
    rolled back, so the counts are those the erasure would give. ``pseudonymise``: the erased scopes' labels in the
    instance's past audit entries are replaced by a hash, in the erasure's transaction."""

    dry_run: bool = False
    pseudonymise: bool = False


@dataclass(slots=True)
class NewMemory:
    """A reconciled draft ready to store, with its vector."""

    memory_id: str
    draft: MemoryDraft
    vector: Vectors
    content_hash: str
    fts_text: str | None = None  # what the lexical index holds (content plus searchable context), if not content


@dataclass(slots=True)
class ProcessedJob:
    """What a worker produced for one job: stored in one transaction with the job's completion."""

    ingestion_id: str
    claim: str | None
    scope: Scope
    document_id: str
    conversation_id: str | None
    new: list[NewMemory]
    merged: list[tuple[int, list[str], float]]  # (rowid of existing, evidence to append, new confidence)
    superseded: list[tuple[int, str]]  # (rowid of old memory, memory_id of the new one)
    status: str = "completed"
    error_message: str | None = None
    document: dict[str, Any] | None = None  # the source document row: content, document_type, metadata, ...

    @property
    def memory_ids(self) -> list[str]:
        return [m.memory_id for m in self.new]


@dataclass(slots=True)
class SearchFilters:
    """Filters applied inside the store queries, on top of the scope filter."""

    types: tuple[str, ...] | None = None  # memory types (singular: fact, preference, ...)
    metadata: dict[str, Any] | None = None  # {"key": value} or {"key": {"op": value}}
    as_of: datetime | None = None  # only memories valid at that time
    include_superseded: bool = False
    conversation_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VectorSearch:
    """The searches of :meth:`AsyncStore.search_vectors_with_records`: up to ``limit`` hits for each of ``vectors``
    under ``filters``, and the records of those hits and of ``rowids`` (the lexical hits)."""

    vectors: Sequence[Vectors]
    limit: int
    filters: SearchFilters
    rowids: Sequence[int] = ()


@dataclass(slots=True)
class ConversationRecord:
    instance_id: str
    conversation_id: str
    customer_id: str
    user_id: str
    created_at: datetime
    message_count: int = 0
    last_message_at: datetime | None = None


@dataclass(slots=True)
class MessageRecord:
    message_id: str
    conversation_id: str
    role: str
    content: str
    recorded_at: datetime
    session_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class CompactionRecord:
    """One version of a conversation's compaction: ``in_progress`` while it runs, then ``completed`` (with its
    figures and its ``body``: the kept sentences by section) or ``failed``."""

    instance_id: str
    conversation_id: str
    compaction_id: str
    strategy: str
    trigger: str
    created_at: datetime
    status: str = "in_progress"
    version: int = 0
    completed_at: datetime | None = None
    message_count: int = 0  # turns covered: the conversation's first ``message_count`` turns
    original_tokens: int = 0
    compacted_tokens: int = 0
    compression_ratio: float | None = None
    validation_score: float | None = None
    body: dict[str, Any] = field(default_factory=dict)
    error_message: str | None = None


Hits = list[tuple[int, float]]  # (rowid, score) best first
VectorHits = tuple[list[Hits], dict[int, MemoryRecord]]  # hits per query vector, and the records of all the hits


def candidate_ids(rowids: Sequence[int], hits: Sequence[Sequence[tuple[int, float]]]) -> list[int]:
    """``rowids`` then the rowids of ``hits`` (lists of (rowid, score)), each once, in first-seen order."""
    wanted = dict.fromkeys(rowids)
    for h in hits:
        wanted.update(dict.fromkeys(r for r, _ in h))
    return list(wanted)


class AsyncStore:
    """Base class of the storage backends. Methods raise ``NotImplementedError`` until a backend defines them."""

    dsn: str

    async def open(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> AsyncStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- instances and keys --------------------------------------------------------------------------------------
    async def create_instance(self, name: str, relationship: Relationship) -> InstanceRecord:
        raise NotImplementedError

    async def get_instance(self, ref: str) -> InstanceRecord | None:
        """By ``inst_`` id or by name."""
        raise NotImplementedError

    async def list_instances(self, *, include_archived: bool = False) -> list[InstanceRecord]:
        raise NotImplementedError

    async def archive_instance(self, instance_id: str) -> None:
        raise NotImplementedError

    async def set_instance_embedder(self, instance_id: str, embedder: str, dimensions: int) -> None:
        raise NotImplementedError

    async def create_key(self, instance_id: str, name: str, key_hash: str, prefix: str) -> KeyRecord:
        raise NotImplementedError

    async def find_key(self, key_hash: str) -> tuple[KeyRecord, InstanceRecord] | None:
        raise NotImplementedError

    async def list_keys(self, instance_id: str) -> list[KeyRecord]:
        raise NotImplementedError

    async def revoke_key(self, key_id: str) -> bool:
        raise NotImplementedError

    # -- ingestion queue ------------------------------------------------------------------------------------------
    async def enqueue(self, job: JobRecord, *, content_hash: str) -> tuple[JobRecord, bool]:
        """Insert a job, or return the existing one for the same (scope, document_id); bool = created. Audited
        (``memory.create``) in the same transaction."""
        raise NotImplementedError

    async def claim_jobs(self, worker_id: str, *, limit: int, lease_seconds: float) -> list[JobRecord]:
        raise NotImplementedError

    async def complete_job(self, result: ProcessedJob, *, audit: Audit | None = None) -> None:
        """Store a job's result and mark it done, in one transaction, if ``result.claim`` still owns the job.

        ``claim=None`` is a direct write with no job row (operator writes to WORLD)."""
        raise NotImplementedError

    async def complete_jobs(self, results: Sequence[ProcessedJob]) -> list[tuple[ProcessedJob, str]]:
        """:meth:`complete_job` for each result of a batch; a result whose writes fail is rolled back alone.

        Returns:
            The results that could not be stored, each with the error, for the caller to fail or retry.
        """
        failed: list[tuple[ProcessedJob, str]] = []
        for result in results:
            try:
                await self.complete_job(result)
            except Exception as exc:
                failed.append((result, f"{type(exc).__name__}: {exc}"))
        return failed

    async def fail_job(self, ingestion_id: str, error: str, *, final: bool, claim: str | None = None) -> None:
        raise NotImplementedError

    async def get_job(self, instance_id: str, ingestion_id: str) -> JobRecord | None:
        raise NotImplementedError

    async def count_jobs(self, *, statuses: tuple[str, ...] = ("queued", "processing")) -> int:
        raise NotImplementedError

    # -- memories -------------------------------------------------------------------------------------------------
    async def scope_vectors(self, scope: Scope) -> tuple[list[int], Vectors]:
        """All live vectors of one scope (for near-duplicate reconciliation)."""
        raise NotImplementedError

    async def scope_memories_by_rowid(self, scope: Scope, rowids: list[int]) -> list[MemoryRecord]:
        raise NotImplementedError

    async def find_by_attribute(self, scope: Scope, subject: str | None, attribute: str) -> list[MemoryRecord]:
        raise NotImplementedError

    async def search_lexical(
        self, chain: ReadChain, query: str, *, limit: int, filters: SearchFilters
    ) -> list[tuple[int, float]]:
        """(rowid, bm25 score — higher is better), best first."""
        raise NotImplementedError

    async def search_vector(
        self, chain: ReadChain, vector: Vectors, *, limit: int, filters: SearchFilters
    ) -> list[tuple[int, float]]:
        """(rowid, cosine similarity), best first."""
        raise NotImplementedError

    async def get_memories(self, chain: ReadChain, rowids: list[int]) -> dict[int, MemoryRecord]:
        raise NotImplementedError

    async def search_vectors_with_records(self, chain: ReadChain, search: VectorSearch) -> VectorHits:
        """``search_vector`` for each of ``search.vectors``, and ``get_memories`` of their hits and of
        ``search.rowids``: what the retrieval engine reads once the query is embedded. A backend whose calls each cost
        a round trip to another thread can do it in one; this default makes the separate calls."""
        searches = (self.search_vector(chain, v, limit=search.limit, filters=search.filters) for v in search.vectors)
        hits = list(await asyncio.gather(*searches))
        return hits, await self.get_memories(chain, candidate_ids(search.rowids, hits))

    async def get_memory(self, chain: ReadChain, memory_id: str) -> MemoryRecord | None:
        raise NotImplementedError

    async def list_memories(
        self, chain: ReadChain, *, offset: int, limit: int, filters: SearchFilters
    ) -> tuple[list[MemoryRecord], int]:
        raise NotImplementedError

    async def delete_memories(self, chain: ReadChain, memory_ids: list[str], *, audit: Audit | None = None) -> int:
        """Delete the memories of ``chain`` with those ids (and what is stored beside them); ``audit`` is recorded
        with the deletion, its detail completed with ``deleted`` (the count)."""
        raise NotImplementedError

    async def update_memory(
        self, chain: ReadChain, memory_id: str, edit: MemoryEdit, *, audit: Audit | None = None
    ) -> MemoryRecord | None:
        """Rewrite the memory of ``chain`` with that id as ``edit`` says; ``None`` when there is none."""
        raise NotImplementedError

    async def customer_exists(self, instance_id: str, customer_id: str) -> bool:
        raise NotImplementedError

    # -- conversations --------------------------------------------------------------------------------------------
    async def bind_conversation(
        self, instance_id: str, conversation_id: str, customer_id: str, user_id: str
    ) -> ConversationRecord:
        """Insert the binding if the conversation is new; return the (possibly pre-existing) binding."""
        raise NotImplementedError

    async def get_conversation(self, instance_id: str, conversation_id: str) -> ConversationRecord | None:
        raise NotImplementedError

    async def add_messages(self, instance_id: str, messages: list[MessageRecord]) -> None:
        raise NotImplementedError

    async def recent_messages(self, instance_id: str, conversation_id: str, *, limit: int) -> list[MessageRecord]:
        raise NotImplementedError

    async def transcript_ingestion(self, instance_id: str, conversation_id: str) -> tuple[str, str] | None:
        """(transcript hash, ingestion id) of the transcript already ingested for that conversation."""
        raise NotImplementedError

    async def save_transcript(self, instance_id: str, conversation_id: str, digest: str, ingestion_id: str) -> None:
        raise NotImplementedError

    # -- compactions ----------------------------------------------------------------------------------------------
    async def begin_compaction(self, rec: CompactionRecord, *, stale_before: datetime) -> CompactionRecord | None:
        """Record ``rec`` as the conversation's next version, ``in_progress``; ``None`` when another compaction of
        the conversation is in progress (one begun before ``stale_before`` is abandoned: marked failed first)."""
        raise NotImplementedError

    async def finish_compaction(self, rec: CompactionRecord) -> None:
        """Store the outcome of the compaction ``rec.compaction_id`` (status, figures, body, error)."""
        raise NotImplementedError

    async def get_compaction(
        self, instance_id: str, conversation_id: str, *, version: int | None = None, completed: bool = True
    ) -> CompactionRecord | None:
        """The conversation's compaction ``version`` (default: the latest), among completed ones or, with
        ``completed=False``, of any status."""
        raise NotImplementedError

    # -- deletion -------------------------------------------------------------------------------------------------
    async def delete_scope_data(
        self, chain: ReadChain, *, conversation_id: str | None = None, options: EraseOptions = EraseOptions()
    ) -> dict[str, int]:
        """Erase every row ``chain`` reads, on every table: memories (with their search rows and caches), documents,
        ingestions, conversations with their messages and transcripts. ``chain`` comes from
        :meth:`ReadChain.subtree <tenantry.scope.ReadChain.subtree>` (a user; a customer with its users; a CLIENT
        scope: the whole instance). With ``conversation_id``, only that conversation's rows inside ``chain``.

        The erasure is audited (``data.delete`` with the counts) in its own transaction; ``options`` can make it a
        dry run or pseudonymise the erased scopes in past audit entries (:class:`EraseOptions`).

        Returns:
            The receipt: rows deleted per kind (``memories``, ``documents``, ``ingestions``, ``messages``,
            ``conversations``).
        """
        raise NotImplementedError

    # -- export and import (tenantry.dataformat records) ---------------------------------------------------------
    async def export_page(
        self, chain: ReadChain, kind: str, *, after: Sequence[Any] | None, limit: int
    ) -> tuple[list[Record], list[Any] | None]:
        """Up to ``limit`` rows of one kind (``document``, ``memory``, ``message``) that ``chain`` reads, in key
        order after the key ``after`` (``None``: from the first); returns them and the key of the last one."""
        raise NotImplementedError

    async def restore(self, instance_id: str, records: Sequence[tuple[Record, Vectors | None]]) -> list[str | None]:
        """Write exported records into ``instance_id`` in one transaction (a memory with its vector), each unless
        it is there already; returns, per record, ``None`` (written) or why it was skipped."""
        raise NotImplementedError

    async def audit(self, instance_id: str, action: str, *, detail: dict[str, Any]) -> None:
        raise NotImplementedError

    async def scrub(self) -> None:
        """Release now the bytes every deletion so far left in the database's files."""
        raise NotImplementedError

    async def flush_audit(self) -> None:
        """Write buffered audit entries now (backends that buffer them)."""

    # -- retrieval helpers (tenantry.retrieval) ------------------------------------------------------------------
    async def memories_at_turns(self, chain: ReadChain, keys: list[tuple[str, int]]) -> list[MemoryRecord]:
        """Live (not superseded) memories of ``chain`` whose ``(document_id, metadata["turn"])`` is one of ``keys``.

        The ingestion runner sets ``metadata["turn"]`` (an int: the position of the memory's first source turn in
        its chat document); accurate-mode retrieval uses this to add the memories of neighbouring turns."""
        raise NotImplementedError


def as_vectors(blob: bytes, dim: int) -> Vectors:
    return np.frombuffer(blob, dtype=np.float32).reshape(-1, dim)
