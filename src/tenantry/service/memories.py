"""Memories: create (validated, then a durable job row: the workers extract it), batch create, ingestion status, and
get / update / delete / list by id within what the caller's ids may reach."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

from ..contract import BatchCreate
from ..contract import CreateFromFile
from ..contract import CreateMemory
from ..contract import ListMemories
from ..contract import UpdateMemory
from ..errors import IngestionNotFoundError
from ..errors import InvalidInputError
from ..errors import MemoryNotFoundError
from ..errors import PayloadTooLargeError
from ..models import BatchCreateResponse
from ..models import CreateMemoryResponse
from ..models import DeletedMemory
from ..models import Memory
from ..models import MemoryPage
from ..models import MemoryStatusResponse
from ..pipeline.files import parse_file
from ..retrieval.present import to_memory
from ..scope import WORLD_INSTANCE
from ..scope import Scope
from ..scope import Target
from ..scope import Tenant
from ..scope import resolve_target
from ..scope import validate_id
from ..store.base import Audit
from ..store.base import JobRecord
from ..store.base import MemoryEdit
from ..store.base import SearchFilters
from ..types import content_hash
from ..validation import DOCUMENT_TYPES
from ..validation import check_json
from ..validation import check_metadata
from ..validation import check_text
from ..validation import normalise_types
from ..validation import parse_when
from ..validation import utcnow
from ..validation import validate_document_id

if TYPE_CHECKING:
    from ._core import AsyncMemoryService

__all__ = ["Memories", "check_document"]

MAX_BATCH = 1000
# Metadata the extractor derives from a memory's text (the value of its attribute, the attributes it read): a
# ``replace`` update drops it with the old text.
_DERIVED_FROM_TEXT = ("value", "attributes")
MAX_PAGE = 1_000_000  # page × page_size stays far inside every backend's integer range


def check_document(document: object, limit: int) -> str | dict[str, Any] | list[Any]:
    """A document as stored: a non-empty string, or a structured chat (object / list) of at most ``limit`` bytes.

    Raises:
        InvalidInputError: empty or of another type.
        PayloadTooLargeError: over ``limit`` bytes (``TENANTRY_MAX_DOCUMENT_BYTES``).
    """
    if isinstance(document, str):
        if not document.strip():
            raise InvalidInputError("document is empty", details={"field": "document"})
        size = len(check_text(document, "document").encode("utf-8"))
    elif isinstance(document, Mapping | list | tuple):
        if not document:
            raise InvalidInputError("document is empty", details={"field": "document"})
        document = dict(document) if isinstance(document, Mapping) else list(document)
        check_json(document, "document")
        size = len(json.dumps(document, default=str).encode("utf-8"))
    else:
        raise InvalidInputError(
            f"document must be a string or a structured chat (object/list), got {type(document).__name__}",
            details={"field": "document"},
        )
    if size > limit:
        raise PayloadTooLargeError(
            f"document is {size} bytes; the limit is {limit} (TENANTRY_MAX_DOCUMENT_BYTES)",
            details={"field": "document", "limit": limit},
        )
    return document


class Memories:
    def __init__(self, svc: AsyncMemoryService) -> None:
        self._svc = svc

    def check_document(self, document: object) -> str | dict[str, Any] | list[Any]:
        return check_document(document, self._svc.settings.max_document_bytes)

    async def create(
        self, target: Target, request: CreateMemory, *, document_id: str | None = None, kind: str = "memory"
    ) -> CreateMemoryResponse:
        """Validate and enqueue one document at ``target``'s write scope; returns at once with ``status="queued"``
        (or the existing job of the same ``document_id`` in that scope). ``document_id`` overrides the request's
        (internal ids such as ``msg-<id>`` that callers may not use)."""
        if not isinstance(request.document_type, str) or request.document_type not in DOCUMENT_TYPES:
            raise InvalidInputError(
                f"unknown document_type {request.document_type!r}; one of {', '.join(sorted(DOCUMENT_TYPES))}",
                details={"field": "document_type"},
            )
        if request.mode not in ("long-range", "fast"):
            raise InvalidInputError("mode must be 'long-range' or 'fast'", details={"field": "mode"})
        scope = target.write_scope
        document = self.check_document(request.document)
        metadata = check_metadata(request.metadata)
        doc_id = document_id or validate_document_id(request.document_id) or str(uuid.uuid4())
        created = parse_when(request.document_created_at, "document_created_at")
        conv = request.conversation_id or metadata.get("conversation_id")
        if conv is not None:
            conv = validate_id(conv, "conversation_id")
            assert conv is not None
            await self._svc.conversations.bind(target, conv)
        now = utcnow()
        job = JobRecord(
            ingestion_id=str(uuid.uuid4()),
            instance_id=target.instance_id,
            scope=scope,
            document_id=doc_id,
            kind=kind,
            status="queued",
            payload={
                "document": document,
                "document_type": request.document_type,
                "document_created_at": (created or now).isoformat(),
                "mode": request.mode,
                "metadata": metadata,
                "conversation_id": conv,
            },
            attempts=0,
            queued_at=now,
        )
        digest = content_hash(
            document if isinstance(document, str) else json.dumps(document, sort_keys=True, default=str)
        )
        stored, is_new = await self._svc.store.enqueue(job, content_hash=digest)  # audited in the same transaction
        self._svc.queued.set()
        if is_new and conv is not None and document_id is None:  # a caller's write (not a recorded turn's)
            await self._svc.conversations.add_document_turns(target.tenant, conv, document, request.document_type)
        return CreateMemoryResponse.model_validate(stored, from_attributes=True)

    async def create_from_file(self, target: Target, request: CreateFromFile) -> CreateMemoryResponse:
        """Read an uploaded file into text (in a worker thread: a PDF may take a while) and :meth:`create` it. A
        file that cannot be read raises ``InvalidInputError`` naming its format, before anything is stored. The
        caller's metadata gets ``filename`` (unless it has one)."""
        if not isinstance(request.filename, str) or not request.filename.strip():
            raise InvalidInputError("a file needs a filename", details={"field": "filename"})
        if not isinstance(request.content, bytes | bytearray):
            raise InvalidInputError("file content must be bytes", details={"field": "file"})
        metadata = check_metadata(request.metadata)
        parsed = await asyncio.to_thread(parse_file, bytes(request.content), request.filename.strip())
        document = CreateMemory(
            document=parsed.text,
            document_type=request.document_type or parsed.document_type,
            document_id=request.document_id,
            document_created_at=parsed.created_at,
            mode=request.mode,
            metadata={"filename": request.filename.strip(), **metadata},
            customer_id=request.customer_id,
            user_id=request.user_id,
        )
        return await self.create(target, document)

    async def batch(self, tenant: Tenant, request: BatchCreate) -> BatchCreateResponse:
        """Queue up to 1000 documents, each at its own ids' scope. With ``fail_fast`` every document is checked
        before any is queued; otherwise an invalid one fails alone (a ``failed`` item with its error code)."""
        documents = list(request.documents)
        if not documents:
            raise InvalidInputError("documents must be a non-empty list")
        if len(documents) > MAX_BATCH:
            raise InvalidInputError(f"at most {MAX_BATCH} documents per batch")
        if request.fail_fast:
            for d in documents:
                resolve_target(tenant, customer_id=d.customer_id, user_id=d.user_id)
                self.check_document(d.document)
        results: list[CreateMemoryResponse | dict[str, Any]] = []
        for i, d in enumerate(documents):
            try:
                target = resolve_target(tenant, customer_id=d.customer_id, user_id=d.user_id)
                results.append(await self.create(target, d))
            except InvalidInputError as exc:
                if request.fail_fast:
                    raise
                results.append({"index": i, "status": "failed", "error_message": str(exc), "code": exc.code})
        ok = sum(1 for r in results if isinstance(r, CreateMemoryResponse))
        return BatchCreateResponse(
            batch_id=str(uuid.uuid4()), total=len(documents), succeeded=ok, failed=len(documents) - ok, results=results
        )

    async def status(self, tenant: Tenant, ingestion_id: str) -> MemoryStatusResponse:
        job = await self._svc.store.get_job(tenant.instance_id, str(ingestion_id))
        if job is None:
            raise IngestionNotFoundError(f"no ingestion {str(ingestion_id)[:64]} in this instance")
        status = MemoryStatusResponse.model_validate(job, from_attributes=True)
        status.memories_created = len(job.memory_ids)
        return status

    async def get(self, target: Target, memory_id: str) -> Memory:
        validate_id(memory_id, "memory_id", required=True)
        rec = await self._svc.store.get_memory(target.lookup, memory_id)
        if rec is None:
            raise MemoryNotFoundError(f"no memory {memory_id} in this scope")
        return to_memory(rec)

    async def delete(self, target: Target, memory_id: str) -> DeletedMemory:
        validate_id(memory_id, "memory_id", required=True)
        audit = Audit("memory.delete", {"memory_id": memory_id})
        n = await self._svc.store.delete_memories(target.edits, [memory_id], audit=audit)
        if n == 0:
            raise MemoryNotFoundError(f"no memory {memory_id} in this scope")
        return DeletedMemory(memory_id=memory_id, deleted_at=utcnow())

    async def update(self, target: Target, request: UpdateMemory) -> Memory:
        """``replace``, ``append`` or ``smart-merge`` (keep the old sentences the new text does not already say,
        newer wins on overlap); the memory is re-embedded."""
        validate_id(request.memory_id, "memory_id", required=True)
        if request.merge_strategy not in ("replace", "append", "smart-merge"):
            raise InvalidInputError("merge_strategy must be replace, append or smart-merge")
        document = request.document
        if not isinstance(document, str) or not document.strip():
            raise InvalidInputError("document must be a non-empty string")
        self.check_document(document)
        metadata = check_metadata(request.metadata)
        chain = target.edits
        current = await self._svc.store.get_memory(chain, request.memory_id)
        if current is None:
            raise MemoryNotFoundError(f"no memory {request.memory_id} in this scope")
        if request.merge_strategy == "replace":
            content = document.strip()
        elif request.merge_strategy == "append":
            content = f"{current.content.rstrip()} {document.strip()}"
        else:
            new_words = set(document.lower().split())
            old_parts = [s for s in current.content.split(". ") if len(set(s.lower().split()) - new_words) > 2]
            content = ". ".join([document.strip().rstrip("."), *old_parts]) if old_parts else document.strip()
        vec = (await self._svc.embed_documents([content]))[0]
        meta = {**current.metadata, **metadata}
        if request.merge_strategy == "replace":  # what extraction read from the old text must not outlive it
            for derived in _DERIVED_FROM_TEXT:
                meta.pop(derived, None)
        audit = Audit("memory.update", {"memory_id": request.memory_id, "merge_strategy": request.merge_strategy})
        rec = await self._svc.store.update_memory(chain, request.memory_id, MemoryEdit(content, vec, meta), audit=audit)
        if rec is None:
            raise MemoryNotFoundError(f"no memory {request.memory_id} in this scope")
        return to_memory(rec)

    async def page(self, target: Target, request: ListMemories) -> MemoryPage:
        page, page_size = request.page, request.page_size
        if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= MAX_PAGE:
            raise InvalidInputError(f"page must be an integer from 1 to {MAX_PAGE:,}", details={"field": "page"})
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 100:
            raise InvalidInputError("page_size must be between 1 and 100")
        filters = SearchFilters(types=normalise_types(request.types), include_superseded=request.include_superseded)
        rows, total = await self._svc.store.list_memories(
            target.lookup, offset=(page - 1) * page_size, limit=page_size, filters=filters
        )
        return MemoryPage(
            data=[to_memory(r) for r in rows],
            page=page,
            page_size=page_size,
            total=total,
            total_pages=(total + page_size - 1) // page_size,
        )

    async def add_world_knowledge(self, document: str, *, document_type: str = "document") -> list[str]:
        """Operator-only: extract ``document`` into the WORLD scope (read by every instance that asks for it).

        Runs the pipeline inline (no job row), so the memories exist when this returns; returns their ids."""
        self.check_document(document)
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
        (result,) = await self._svc.pipeline.process([job])
        if result.status == "failed":
            raise InvalidInputError(result.error_message or "extraction failed")
        await self._svc.store.complete_job(result, audit=Audit("world.write", {"memories": len(result.new)}))
        return result.memory_ids
