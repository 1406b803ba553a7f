"""AsyncMemoryService: the only orchestration code. The embedded SDK and the HTTP server both call it.

Every public method takes the instance first (the caller's identity, from an API key or the embedded settings; never
from a request body), validates its input, resolves the scope through :mod:`tenantry.scope`, and talks to the
store. Ingestion is durable: ``create_memory`` writes a job row and returns; workers (``start_workers``) claim jobs
with a lease, so a job whose process died is picked up again by the next process.
The read paths (``fetch_*`` and the unified ``fetch``) come from :class:`~tenantry._context.ContextFetchMixin`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence
from typing import Any

from ._context import ContextFetchMixin
from ._embedding import EmbeddingRunner
from .errors import (
    ConfigurationError,
    ContextNotFoundError,
    DeadlineExceededError,
    IngestionNotFoundError,
    InvalidInputError,
    MemoryNotFoundError,
    PayloadTooLargeError,
    TranscriptConflictError,
)
from .models import BatchCreateResponse, CreateMemoryResponse, Memory, MemoryPage, MemoryStatusResponse
from .pipeline.base import Embedder, Extractor, Vectors
from .pipeline.ingest import IngestPipeline, content_hash
from .pipeline.registry import create_embedder, create_extractor
from .retrieval.engine import RetrievalEngine
from .retrieval.present import to_memory
from .scope import (
    WORLD_INSTANCE,
    ReadChain,
    Relationship,
    Scope,
    customer_chain,
    resolve_write_scope,
    user_chain,
    validate_id,
)
from .settings import Settings
from .store import open_store
from .store.base import AsyncStore, InstanceRecord, JobRecord, MessageRecord, SearchFilters
from .validation import DOCUMENT_TYPES, check_metadata, normalise_types, parse_when, utcnow

__all__ = ["AsyncMemoryService", "DOCUMENT_TYPES", "normalise_types"]

log = logging.getLogger("tenantry")


class AsyncMemoryService(ContextFetchMixin):
    """The engine. Build it with :meth:`open` (reads :class:`Settings`), close it with :meth:`close`."""

    def __init__(self, settings: Settings, store: AsyncStore, embedder: Embedder, extractor: Extractor) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.extractor = extractor
        # Queries and ingestion embed on separate threads, so a fetch never waits behind a large ingestion batch.
        self._embedding = EmbeddingRunner(embedder)
        self.pipeline = IngestPipeline(store, extractor, self.embed_documents, dedup_threshold=settings.dedup_threshold)
        self.engine = RetrievalEngine(store, self.embed)
        self._workers: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._wakeup = asyncio.Event()
        self._worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._instances: dict[str, InstanceRecord] = {}

    @classmethod
    async def open(cls, settings: Settings | None = None, **overrides: Any) -> AsyncMemoryService:
        settings = settings or Settings(**overrides)
        store = open_store(settings.resolved_dsn())
        await store.open()
        try:
            svc = cls(settings, store, create_embedder(settings.embedder), create_extractor(settings.extractor))
        except Exception:
            await store.close()
            raise
        return svc

    async def close(self, *, drain: bool = True, timeout: float = 30.0) -> None:
        """Stop the workers (after the jobs they hold, when ``drain``) and close the store."""
        await self.stop_workers(drain=drain, timeout=timeout)
        await self.store.close()
        self._embedding.close()

    # -- embedding ------------------------------------------------------------------------------------------------
    async def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Embed ingestion text (large batches) on the ingestion thread."""
        return await self._embedding.documents(texts)

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed query text (micro-batched across concurrent fetches, cached for repeated queries)."""
        return await self._embedding.queries(texts)

    async def warm_up(self) -> None:
        """Load the embedder now (for ``minilm-int8`` on a new machine: build its model file, ~2 s), so the first
        request does not pay for it. Used by the server before it accepts connections."""
        await self._embedding.documents(["tenantry warm-up"])

    # -- instances ------------------------------------------------------------------------------------------------
    async def instance(self, ref: str, *, create: Relationship | None = None) -> InstanceRecord:
        """Look an instance up by id or name; with ``create``, make it on first use."""
        cached = self._instances.get(ref)
        if cached is not None:
            return cached
        inst = await self.store.get_instance(ref)
        if inst is None and create is not None:
            if ref.startswith("inst_"):
                raise ContextNotFoundError(f"no instance {ref}")
            try:
                inst = await self.store.create_instance(ref, create)
            except Exception:
                inst = await self.store.get_instance(ref)  # created concurrently by another process
        if inst is None:
            raise ContextNotFoundError(f"no instance named or numbered {ref!r}", code="instance_not_found")
        if inst.embedder is None:
            await self.store.set_instance_embedder(inst.instance_id, self.embedder.name, self.embedder.dimensions)
            inst.embedder, inst.dimensions = self.embedder.name, self.embedder.dimensions
        elif inst.dimensions != self.embedder.dimensions or inst.embedder != self.embedder.name:
            raise ConfigurationError(
                f"instance {inst.name} was built with embedder {inst.embedder} ({inst.dimensions}-d); this process "
                f"runs {self.embedder.name} ({self.embedder.dimensions}-d). Set TENANTRY_EMBEDDER={inst.embedder}."
            )
        self._instances[ref] = self._instances[inst.instance_id] = inst
        return inst

    async def create_instance(self, name: str, relationship: Relationship | str) -> InstanceRecord:
        validate_id(name, "name", required=True)
        rel = Relationship(relationship) if isinstance(relationship, str) else relationship
        inst = await self.store.create_instance(name, rel)
        return await self.instance(inst.instance_id)

    # -- memories -------------------------------------------------------------------------------------------------
    def _check_document(self, document: Any) -> str | dict[str, Any] | list[Any]:
        if isinstance(document, str):
            if not document.strip():
                raise InvalidInputError("document is empty", details={"field": "document"})
            size = len(document.encode("utf-8"))
        elif isinstance(document, dict | list):
            if not document:
                raise InvalidInputError("document is empty", details={"field": "document"})
            size = len(json.dumps(document, default=str).encode("utf-8"))
        else:
            raise InvalidInputError(
                f"document must be a string or a structured chat (object/list), got {type(document).__name__}",
                details={"field": "document"},
            )
        if size > self.settings.max_document_bytes:
            raise PayloadTooLargeError(
                f"document is {size} bytes; the limit is {self.settings.max_document_bytes} "
                "(TENANTRY_MAX_DOCUMENT_BYTES)",
                details={"field": "document", "limit": self.settings.max_document_bytes},
            )
        checked: str | dict[str, Any] | list[Any] = document
        return checked

    async def _bind(self, inst: InstanceRecord, conversation_id: str, scope: Scope) -> None:
        conv = await self.store.bind_conversation(inst.instance_id, conversation_id, scope.customer_id, scope.user_id)
        if (conv.customer_id, conv.user_id) != (scope.customer_id, scope.user_id):
            raise InvalidInputError(
                f"conversation {conversation_id} belongs to another customer/user; a conversation is bound to the "
                "(customer_id, user_id) of its first write",
                code="conversation_scope_mismatch",
            )

    async def create_memory(
        self,
        inst: InstanceRecord,
        document: Any,
        *,
        document_type: str = "ai-chat-conversation",
        user_id: str | None = None,
        customer_id: str | None = None,
        document_id: str | None = None,
        document_created_at: Any = None,
        mode: str = "long-range",
        metadata: dict[str, Any] | None = None,
        conversation_id: str | None = None,
        kind: str = "memory",
    ) -> CreateMemoryResponse:
        """Validate and enqueue one document; returns at once with ``status="queued"`` (or the existing job)."""
        if not isinstance(document_type, str) or document_type not in DOCUMENT_TYPES:
            raise InvalidInputError(
                f"unknown document_type {document_type!r}; one of {', '.join(sorted(DOCUMENT_TYPES))}",
                details={"field": "document_type"},
            )
        if mode not in ("long-range", "fast"):
            raise InvalidInputError("mode must be 'long-range' or 'fast'", details={"field": "mode"})
        scope = resolve_write_scope(inst.instance_id, inst.relationship, customer_id=customer_id, user_id=user_id)
        document = self._check_document(document)
        metadata = check_metadata(metadata)
        document_id = validate_id(document_id, "document_id") or str(uuid.uuid4())
        created = parse_when(document_created_at, "document_created_at")
        conv = conversation_id or metadata.get("conversation_id")
        if conv is not None:
            conv = validate_id(conv, "conversation_id")
            assert conv is not None
            await self._bind(inst, conv, scope)
        now = utcnow()
        job = JobRecord(
            ingestion_id=str(uuid.uuid4()),
            instance_id=inst.instance_id,
            scope=scope,
            document_id=document_id,
            kind=kind,
            status="queued",
            payload={
                "document": document,
                "document_type": document_type,
                "document_created_at": (created or now).isoformat(),
                "mode": mode,
                "metadata": metadata,
                "conversation_id": conv,
            },
            attempts=0,
            queued_at=now,
        )
        digest = content_hash(
            document if isinstance(document, str) else json.dumps(document, sort_keys=True, default=str)
        )
        stored, is_new = await self.store.enqueue(job, content_hash=digest)
        self._wakeup.set()
        await self.store.audit(
            inst.instance_id,
            "memory.create",
            detail={"ingestion_id": stored.ingestion_id, "scope": scope.source, "new": is_new},
        )
        return CreateMemoryResponse(
            ingestion_id=stored.ingestion_id,
            document_id=stored.document_id,
            status=stored.status,  # type: ignore[arg-type]
            queued_at=stored.queued_at,
            error_message=stored.error_message,
        )

    async def batch_create(
        self, inst: InstanceRecord, documents: Sequence[dict[str, Any]], *, fail_fast: bool = False
    ) -> BatchCreateResponse:
        if not isinstance(documents, list | tuple) or not documents:
            raise InvalidInputError("documents must be a non-empty list")
        if len(documents) > 1000:
            raise InvalidInputError("at most 1000 documents per batch")
        allowed = {
            "document",
            "document_type",
            "user_id",
            "customer_id",
            "document_id",
            "document_created_at",
            "mode",
            "metadata",
        }
        if fail_fast:  # validate everything before enqueuing anything
            for i, d in enumerate(documents):
                if not isinstance(d, dict) or "document" not in d:
                    raise InvalidInputError(f"documents[{i}] must be an object with a 'document'")
                resolve_write_scope(
                    inst.instance_id, inst.relationship, customer_id=d.get("customer_id"), user_id=d.get("user_id")
                )
                self._check_document(d["document"])
        results: list[CreateMemoryResponse | dict[str, Any]] = []
        ok = 0
        for i, d in enumerate(documents):
            try:
                if not isinstance(d, dict) or "document" not in d:
                    raise InvalidInputError(f"documents[{i}] must be an object with a 'document'")
                unknown = set(d) - allowed
                if unknown:
                    raise InvalidInputError(f"documents[{i}] has unknown fields {sorted(unknown)}")
                args = {k: v for k, v in d.items() if k != "document"}
                results.append(await self.create_memory(inst, d["document"], **args))
                ok += 1
            except InvalidInputError as exc:
                if fail_fast:
                    raise
                results.append({"index": i, "status": "failed", "error_message": str(exc), "code": exc.code})
        return BatchCreateResponse(
            batch_id=str(uuid.uuid4()), total=len(documents), succeeded=ok, failed=len(documents) - ok, results=results
        )

    async def ingestion_status(self, inst: InstanceRecord, ingestion_id: str) -> MemoryStatusResponse:
        ingestion_id = str(ingestion_id)
        job = await self.store.get_job(inst.instance_id, ingestion_id)
        if job is None:
            raise IngestionNotFoundError(f"no ingestion {ingestion_id} in this instance")
        return MemoryStatusResponse(
            ingestion_id=job.ingestion_id,
            document_id=job.document_id,
            status=job.status,  # type: ignore[arg-type]
            queued_at=job.queued_at,
            started_at=job.started_at,
            completed_at=job.completed_at,
            memories_created=len(job.memory_ids),
            memory_ids=job.memory_ids,
            error_message=job.error_message,
            attempts=job.attempts,
        )

    async def wait_for_completion(
        self,
        inst: InstanceRecord,
        ingestion_id: str,
        *,
        timeout_seconds: float = 300,
        poll_interval_seconds: float = 0.05,
    ) -> MemoryStatusResponse:
        deadline = time.monotonic() + timeout_seconds
        while True:
            st = await self.ingestion_status(inst, ingestion_id)
            if st.status in ("completed", "failed", "partial_success"):
                return st
            if time.monotonic() > deadline:
                raise DeadlineExceededError(f"ingestion {ingestion_id} still {st.status} after {timeout_seconds}s")
            await asyncio.sleep(poll_interval_seconds)

    def _id_chain(self, inst: InstanceRecord, user_id: str | None, customer_id: str | None) -> ReadChain:
        """The chain by-id operations are checked against: the named user/customer, else the whole instance."""
        if user_id:
            return user_chain(inst.instance_id, inst.relationship, user_id=user_id, customer_id=customer_id)
        if customer_id:
            return customer_chain(inst.instance_id, inst.relationship, customer_id=customer_id)
        return ReadChain.instance(inst.instance_id)

    async def get_memory(
        self, inst: InstanceRecord, memory_id: str, *, user_id: str | None = None, customer_id: str | None = None
    ) -> Memory:
        memory_id = str(memory_id)
        validate_id(memory_id, "memory_id", required=True)
        rec = await self.store.get_memory(self._id_chain(inst, user_id, customer_id), memory_id)
        if rec is None:
            raise MemoryNotFoundError(f"no memory {memory_id} in this scope")
        return to_memory(rec)

    async def delete_memory(
        self, inst: InstanceRecord, memory_id: str, *, user_id: str | None = None, customer_id: str | None = None
    ) -> dict[str, Any]:
        memory_id = str(memory_id)
        validate_id(memory_id, "memory_id", required=True)
        n = await self.store.delete_memories(self._id_chain(inst, user_id, customer_id), [memory_id])
        if n == 0:
            raise MemoryNotFoundError(f"no memory {memory_id} in this scope")
        await self.store.audit(inst.instance_id, "memory.delete", detail={"memory_id": memory_id})
        return {"memory_id": memory_id, "deleted_at": utcnow().isoformat()}

    async def update_memory(
        self,
        inst: InstanceRecord,
        memory_id: str,
        document: str,
        *,
        merge_strategy: str = "smart-merge",
        metadata: dict[str, Any] | None = None,
        user_id: str | None = None,
        customer_id: str | None = None,
        document_type: str | None = None,
    ) -> Memory:
        if merge_strategy not in ("replace", "append", "smart-merge"):
            raise InvalidInputError("merge_strategy must be replace, append or smart-merge")
        if not isinstance(document, str) or not document.strip():
            raise InvalidInputError("document must be a non-empty string")
        self._check_document(document)
        metadata = check_metadata(metadata)
        chain = self._id_chain(inst, user_id, customer_id)
        current = await self.store.get_memory(chain, str(memory_id))
        if current is None:
            raise MemoryNotFoundError(f"no memory {memory_id} in this scope")
        if merge_strategy == "replace":
            content = document.strip()
        elif merge_strategy == "append":
            content = f"{current.content.rstrip()} {document.strip()}"
        else:  # smart-merge: keep the old sentences the new text does not already say, newer wins on overlap
            new_words = set(document.lower().split())
            old_parts = [s for s in current.content.split(". ") if len(set(s.lower().split()) - new_words) > 2]
            content = ". ".join([document.strip().rstrip("."), *old_parts]) if old_parts else document.strip()
        vec = (await self.embed([content]))[0]
        rec = await self.store.update_memory(chain, str(memory_id), content=content, vector=vec, metadata=metadata)
        if rec is None:
            raise MemoryNotFoundError(f"no memory {memory_id} in this scope")
        return to_memory(rec)

    async def list_memories(
        self,
        inst: InstanceRecord,
        *,
        user_id: str | None = None,
        customer_id: str | None = None,
        page: int = 1,
        page_size: int = 20,
        types: Sequence[str] | None = None,
        include_superseded: bool = False,
    ) -> MemoryPage:
        if not isinstance(page, int) or page < 1:
            raise InvalidInputError("page must be an integer ≥ 1")
        if not isinstance(page_size, int) or not 1 <= page_size <= 100:
            raise InvalidInputError("page_size must be between 1 and 100")
        chain = self._id_chain(inst, user_id, customer_id)
        filters = SearchFilters(types=normalise_types(types), include_superseded=include_superseded)
        rows, total = await self.store.list_memories(
            chain, offset=(page - 1) * page_size, limit=page_size, filters=filters
        )
        return MemoryPage(
            data=[to_memory(r) for r in rows],
            page=page,
            page_size=page_size,
            total=total,
            total_pages=(total + page_size - 1) // page_size,
        )

    # -- conversations --------------------------------------------------------------------------------------------
    async def record_message(
        self,
        inst: InstanceRecord,
        conversation_id: str,
        role: str,
        content: str,
        *,
        user_id: str | None = None,
        customer_id: str | None = None,
        session_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        extract: bool = True,
    ) -> dict[str, Any]:
        res = await self.record_messages(
            inst,
            [
                {
                    "conversation_id": conversation_id,
                    "role": role,
                    "content": content,
                    "user_id": user_id,
                    "customer_id": customer_id,
                    "session_id": session_id,
                    "metadata": metadata,
                }
            ],
            extract=extract,
        )
        return res[0]

    async def record_messages(
        self, inst: InstanceRecord, messages: Sequence[dict[str, Any]], *, extract: bool = True
    ) -> list[dict[str, Any]]:
        """Store turns (short-term context) and queue them for extraction into the user's long-term memory."""
        records: list[MessageRecord] = []
        out: list[dict[str, Any]] = []
        for m in messages:
            conversation_id = validate_id(m.get("conversation_id"), "conversation_id", required=True)
            assert conversation_id is not None
            role = m.get("role")
            if role not in ("user", "assistant"):
                raise InvalidInputError("role must be 'user' or 'assistant'", details={"field": "role"})
            content = m.get("content")
            if not isinstance(content, str) or not content.strip():
                raise InvalidInputError("content must be a non-empty string", details={"field": "content"})
            self._check_document(content)
            meta = check_metadata(m.get("metadata"))
            scope = await self._conversation_scope(inst, conversation_id, m.get("user_id"), m.get("customer_id"))
            session_id = validate_id(m.get("session_id"), "session_id") or f"{conversation_id}-s1"
            rec = MessageRecord(str(uuid.uuid4()), conversation_id, role, content, utcnow(), session_id, meta)
            records.append(rec)
            out.append(
                {
                    "message_id": rec.message_id,
                    "conversation_id": conversation_id,
                    "session_id": session_id,
                    "recorded_at": rec.recorded_at.isoformat(),
                    "_scope": scope,
                }
            )
        await self.store.add_messages(inst.instance_id, records)
        for rec, o in zip(records, out, strict=True):
            scope = o.pop("_scope")
            if extract and scope is not None:
                label = "User" if rec.role == "user" else "Assistant"
                await self.create_memory(
                    inst,
                    f"{label}: {rec.content}",
                    document_type="ai-chat-conversation",
                    user_id=scope.user_id or None,
                    customer_id=scope.customer_id or None,
                    document_id=f"msg-{rec.message_id}",
                    conversation_id=rec.conversation_id,
                )
        return out

    async def _conversation_scope(
        self, inst: InstanceRecord, conversation_id: str, user_id: Any, customer_id: Any
    ) -> Scope | None:
        """Bind a conversation on its first write; later writes must name the same (customer, user) or none."""
        existing = await self.store.get_conversation(inst.instance_id, conversation_id)
        if existing is not None and user_id is None and customer_id is None:
            return self._scope_of_binding(inst, existing.customer_id, existing.user_id)
        if user_id is None and customer_id is None:
            scope = Scope(
                inst.instance_id,
                resolve_write_scope(inst.instance_id, inst.relationship, customer_id=None, user_id=None).level,
            )
        else:
            scope = resolve_write_scope(inst.instance_id, inst.relationship, customer_id=customer_id, user_id=user_id)
        await self._bind(inst, conversation_id, scope)
        return scope

    @staticmethod
    def _scope_of_binding(inst: InstanceRecord, customer_id: str, user_id: str) -> Scope:
        if user_id:
            from .scope import ScopeLevel

            return Scope(inst.instance_id, ScopeLevel.USER, customer_id, user_id)
        if customer_id:
            from .scope import ScopeLevel

            return Scope(inst.instance_id, ScopeLevel.CUSTOMER, customer_id)
        return resolve_write_scope(inst.instance_id, inst.relationship, customer_id=None, user_id=None)

    async def ingest_transcript(
        self,
        inst: InstanceRecord,
        conversation_id: str,
        transcript: str | list[dict[str, Any]],
        *,
        user_id: str | None = None,
        customer_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        conversation_type: str | None = None,
        started_at: Any = None,
    ) -> dict[str, Any]:
        """One-shot transcript push; idempotent on (conversation, transcript): same again → ``duplicate``."""
        conversation_id = validate_id(conversation_id, "conversation_id", required=True) or ""
        if inst.relationship is Relationship.B2B and user_id and not customer_id:
            raise InvalidInputError(
                "this instance is b2b: ingest_transcript needs customer_id", code="customer_id_required"
            )
        if isinstance(transcript, list):
            turns = []
            for t in transcript:
                if not isinstance(t, dict) or not isinstance(t.get("content"), str):
                    raise InvalidInputError("each transcript turn must be an object with role and content")
                turns.append(
                    {
                        "role": t.get("role"),
                        "speaker": t.get("speaker"),
                        "content": t["content"],
                        "timestamp": t.get("timestamp"),
                    }
                )
            document: Any = {"messages": turns}
            digest_src = json.dumps(turns, sort_keys=True, default=str)
        elif isinstance(transcript, str):
            document = transcript
            digest_src = transcript.strip()
        else:
            raise InvalidInputError("transcript must be a string or a list of turns")
        self._check_document(document)
        digest = hashlib.sha256(digest_src.encode()).hexdigest()
        prior = await self.store.transcript_ingestion(inst.instance_id, conversation_id)
        if prior is not None:
            if prior[0] == digest:
                job = await self.store.get_job(inst.instance_id, prior[1])
                return {
                    "conversation_id": conversation_id,
                    "external_conversation_id": conversation_id,
                    "ingestion_id": prior[1],
                    "status": "duplicate",
                    "turns_recorded": 0,
                    "summary_status": "already_compacted",
                    "queued_at": (job.queued_at if job else utcnow()).isoformat(),
                }
            raise TranscriptConflictError(
                f"conversation {conversation_id} already has a different transcript", code="transcript_conflict"
            )
        scope = resolve_write_scope(inst.instance_id, inst.relationship, customer_id=customer_id, user_id=user_id)
        await self._bind(inst, conversation_id, scope)
        meta = dict(check_metadata(metadata))
        if conversation_type:
            meta["conversation_type"] = str(conversation_type)[:64]
        resp = await self.create_memory(
            inst,
            document,
            document_type="ai-chat-conversation",
            user_id=user_id,
            customer_id=customer_id,
            document_id=f"transcript-{conversation_id}",
            document_created_at=started_at,
            metadata=meta,
            conversation_id=conversation_id,
            kind="transcript",
        )
        await self.store.save_transcript(inst.instance_id, conversation_id, digest, resp.ingestion_id)
        from .pipeline.split import split_document

        segs = split_document(document, "ai-chat-conversation", created_at=utcnow())
        await self.store.add_messages(
            inst.instance_id,
            [
                MessageRecord(
                    str(uuid.uuid4()), conversation_id, "user" if s.role == "user" else "assistant", s.text, utcnow()
                )
                for s in segs
            ],
        )
        return {
            "conversation_id": conversation_id,
            "external_conversation_id": conversation_id,
            "ingestion_id": resp.ingestion_id,
            "status": "queued",
            "turns_recorded": len(segs),
            "summary_status": "skipped",
            "queued_at": resp.queued_at.isoformat(),
        }

    # -- data -----------------------------------------------------------------------------------------------------
    async def delete_data(
        self,
        inst: InstanceRecord,
        *,
        customer_id: str | None = None,
        user_id: str | None = None,
        conversation_id: str | None = None,
    ) -> dict[str, Any]:
        """Delete every trace of a user, customer or conversation (memories, vectors, index, messages, documents)."""
        customer_id = validate_id(customer_id, "customer_id")
        user_id = validate_id(user_id, "user_id")
        conversation_id = validate_id(conversation_id, "conversation_id")
        if not (customer_id or user_id or conversation_id):
            raise InvalidInputError("name a customer_id, user_id or conversation_id to delete")
        if inst.relationship is Relationship.B2B and user_id and not customer_id:
            raise InvalidInputError(
                "this instance is b2b: deleting a user needs its customer_id", code="customer_id_required"
            )
        if customer_id or user_id:
            scope = resolve_write_scope(inst.instance_id, inst.relationship, customer_id=customer_id, user_id=user_id)
            chain = ReadChain.subtree(scope)
        else:  # a conversation alone: the scope it is bound to (unbound: the instance, still only that conversation)
            assert conversation_id is not None
            conv = await self.store.get_conversation(inst.instance_id, conversation_id)
            chain = (
                ReadChain.subtree(self._scope_of_binding(inst, conv.customer_id, conv.user_id))
                if conv is not None
                else ReadChain.instance(inst.instance_id)
            )
        receipt = await self.store.delete_scope_data(chain, conversation_id=conversation_id)
        await self.store.audit(inst.instance_id, "data.delete", detail={"counts": receipt})
        return {"receipt_id": str(uuid.uuid4()), "deleted_at": utcnow().isoformat(), "deleted": receipt}

    async def add_world_knowledge(self, document: str, *, document_type: str = "document") -> list[str]:
        """Operator-only: extract ``document`` into the WORLD scope (read by every instance that asks for it).

        Runs the pipeline inline (no job row), so the memories exist when this returns; returns their ids."""
        self._check_document(document)
        job = JobRecord(
            ingestion_id=f"world-{uuid.uuid4()}",
            instance_id=WORLD_INSTANCE,
            scope=Scope.world(),
            document_id=str(uuid.uuid4()),
            kind="world",
            status="processing",
            payload={"document": document, "document_type": document_type, "metadata": {}},
            attempts=1,
            queued_at=utcnow(),
        )
        (result,) = await self.pipeline.process([job])
        if result.status == "failed":
            raise InvalidInputError(result.error_message or "extraction failed")
        await self.store.complete_job(result)
        await self.store.audit(WORLD_INSTANCE, "world.write", detail={"memories": len(result.new)})
        return result.memory_ids

    # -- workers --------------------------------------------------------------------------------------------------
    def start_workers(self, n: int | None = None) -> None:
        """Start ``n`` (default ``settings.workers``) ingestion worker tasks on the running loop."""
        n = self.settings.workers if n is None else n
        self._stopping.clear()
        for i in range(n):
            self._workers.append(
                asyncio.create_task(self._worker_loop(f"{self._worker_id}/{i}"), name=f"tenantry-worker-{i}")
            )

    async def stop_workers(self, *, drain: bool = True, timeout: float = 30.0) -> None:
        if not self._workers:
            return
        self._stopping.set()
        self._wakeup.set()
        if drain:
            _done, pending = await asyncio.wait(self._workers, timeout=timeout)
        else:
            pending = set(self._workers)
        for t in pending:
            t.cancel()
        for t in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._workers.clear()

    async def run_pending(self, *, limit: int | None = None) -> int:
        """Process queued jobs in the calling task until none is left (tests, CLI ``tenantry worker --once``)."""
        total = 0
        while True:
            n = await self._work_once(f"{self._worker_id}/inline")
            total += n
            if n == 0 or (limit is not None and total >= limit):
                return total

    async def _work_once(self, worker_id: str) -> int:
        jobs = await self.store.claim_jobs(
            worker_id,
            limit=self.settings.worker_batch,
            lease_seconds=self.settings.lease_seconds,
            max_attempts=self.settings.max_attempts,
        )
        if not jobs:
            return 0
        try:
            results = await self.pipeline.process(jobs)
        except Exception as exc:
            log.exception("ingestion batch failed")
            for job in jobs:
                final = job.attempts >= self.settings.max_attempts
                await self.store.fail_job(
                    job.ingestion_id, f"{type(exc).__name__}: {exc}", final=final, claim=job.claim
                )
            return len(jobs)
        for res in results:
            if res.status == "failed":
                await self.store.fail_job(res.ingestion_id, res.error_message or "failed", final=True, claim=res.claim)
        # The batch's results in one store call (one write transaction on SQLite); a job whose writes fail is
        # retried like a job whose processing failed, until its attempts run out.
        attempts = {job.ingestion_id: job.attempts for job in jobs}
        stored = await self.store.complete_jobs([res for res in results if res.status != "failed"])
        for res, error in stored:
            log.error("ingestion %s: storing its result failed: %s", res.ingestion_id, error)
            final = attempts.get(res.ingestion_id, 0) >= self.settings.max_attempts
            await self.store.fail_job(res.ingestion_id, error, final=final, claim=res.claim)
        return len(jobs)

    async def _worker_loop(self, worker_id: str) -> None:
        idle = self.settings.poll_interval
        while not self._stopping.is_set():
            try:
                n = await self._work_once(worker_id)
            except Exception:  # a store hiccup must not kill the worker; the job lease makes retry safe
                log.exception("ingestion worker %s: error", worker_id)
                n = 0
                await asyncio.sleep(1.0)
            if n == 0:
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=idle)
                idle = min(idle * 2, 1.0)
            else:
                idle = self.settings.poll_interval
