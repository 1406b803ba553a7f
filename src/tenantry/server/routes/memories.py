"""``/api/v1/memories/...``: create (JSON, batch, form upload), ingestion status, get / update / delete, list."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime
from email import policy
from email.message import Message
from email.parser import BytesParser
from typing import Annotated
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Query
from fastapi import Request
from fastapi import Response

from ...contract import BatchCreate
from ...contract import CreateFromFile
from ...contract import CreateMemory
from ...contract import ListMemories
from ...contract import MemoryRef
from ...contract import UpdateMemory
from ...errors import InvalidInputError
from ...models import CreateMemoryResponse
from ...models import DeletedMemory
from ...models import Memory
from ...models import MemoryPage
from ...models import MemoryStatusResponse
from ..deps import Caller
from ..deps import authenticate
from ..errors import ERROR_RESPONSES
from ..schemas import BatchCreateBody
from ..schemas import BatchCreateWire
from ..schemas import BatchResultItem
from ..schemas import CreateMemoryBody
from ..schemas import IdPath
from ..schemas import ListMemoriesQuery
from ..schemas import ScopeIdsQuery
from ..schemas import UpdateMemoryBody
from ._common import json_response
from ._common import merge_scope_path
from ._common import request_of

__all__ = ["router"]

router = APIRouter(tags=["memories"], responses=ERROR_RESPONSES)

NIL_UUID = "00000000-0000-0000-0000-000000000000"

_UPLOAD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "user_id": {"type": "string"},
        "customer_id": {"type": "string"},
        "relationship_type": {"type": "string", "description": "ignored: the instance's relationship applies"},
        "mode": {"type": "string", "enum": ["long-range", "fast"]},
        "document_type": {"type": "string"},
        "metadata": {"type": "string", "description": "JSON object"},
        "scope": {"type": "string", "description": "JSON rung path"},
        "document_id": {"type": "string", "description": "the caller's id of the document (1-512 printable chars)"},
        "text": {"type": "string"},
        "file": {
            "type": "string",
            "format": "binary",
            "description": "Markdown, plain text, HTML, PDF, DOCX or .eml (by extension, else by content)",
        },
    },
}


def _create_request(body: CreateMemoryBody) -> CreateMemory:
    customer_id, user_id = merge_scope_path(body.scope, body.customer_id, body.user_id)
    return request_of(CreateMemory, body, customer_id=customer_id, user_id=user_id)


# OpenAPI links: what a client (and schemathesis' stateful tests) can do next with an answer's ids.
_STATUS_OF_JOB = {
    "StatusOfTheJob": {
        "operationId": "status_api_v1_memories_status__ingestion_id__get",
        "parameters": {"ingestion_id": "$response.body#/ingestion_id"},
    }
}
_MEMORY_OF_JOB = {
    name: {"operationId": op, "parameters": {"memory_id": "$response.body#/memory_ids/0"}}
    for name, op in (
        ("GetItsFirstMemory", "get_memory_api_v1_memories__memory_id__get"),
        ("DeleteItsFirstMemory", "delete_memory_api_v1_memories__memory_id__delete"),
    )
}


@router.post(
    "/api/v1/memories/create",
    response_model=CreateMemoryResponse,
    summary="Queue one document",
    responses={200: {"links": _STATUS_OF_JOB}},
)
async def create_memory(body: CreateMemoryBody, caller: Caller = Depends(authenticate)) -> Response:
    """Validate and queue a document for extraction; answers at once with ``status: queued`` (200)."""
    return json_response(await caller.api.create_memory(_create_request(body)))


@router.post("/api/v1/memories/batch", response_model=BatchCreateWire, summary="Queue several documents")
async def batch_create(body: BatchCreateBody, caller: Caller = Depends(authenticate)) -> Response:
    """Queue up to 1000 documents. Without ``fail_fast`` an invalid document fails alone (status ``failed``)."""
    documents = [_create_request(d) for d in body.documents]
    res = await caller.api.batch_create(BatchCreate(documents=documents, fail_fast=body.fail_fast))
    now = datetime.now(UTC)
    items: list[BatchResultItem] = []
    for i, r in enumerate(res.results):
        if isinstance(r, CreateMemoryResponse):
            items.append(BatchResultItem(**r.model_dump(), index=i))
        else:
            items.append(
                BatchResultItem(
                    ingestion_id=NIL_UUID,
                    document_id=body.documents[i].document_id or "",
                    status="failed",
                    queued_at=now,
                    error_message=str(r.get("error_message") or "failed"),
                    code=str(r.get("code") or "invalid_input"),
                    index=i,
                )
            )
    wire = BatchCreateWire(
        batch_id=res.batch_id, total=res.total, succeeded=res.succeeded, failed=res.failed, results=items
    )
    return json_response(wire)


def _parse_form(content_type: str, raw: bytes) -> tuple[dict[str, str], tuple[str, bytes] | None]:
    """Parse an urlencoded or multipart form with the standard library: (fields, (filename, bytes) | None)."""
    fields: dict[str, str] = {}
    upload: tuple[str, bytes] | None = None
    if content_type.startswith("multipart/form-data"):
        msg = BytesParser(policy=policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
        )
        if not msg.is_multipart():
            raise InvalidInputError("malformed multipart body", code="malformed_form")
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            payload = part.get_payload(decode=True)
            if part.get_content_type() == "message/rfc822":  # an .eml file part: the parser read it as a message
                inner = part.get_payload(0)
                payload = inner.as_bytes(policy=policy.default) if isinstance(inner, Message) else b""
            data = payload if isinstance(payload, bytes) else b""
            filename = part.get_filename()
            if filename is not None or name == "file":
                upload = (filename or "upload", data)
            else:
                fields[name] = data.decode("utf-8", errors="replace")
    elif content_type.startswith("application/x-www-form-urlencoded") or not content_type:
        try:
            fields = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise InvalidInputError("form body is not UTF-8", code="malformed_form") from None
    else:
        raise InvalidInputError(
            "upload a form: multipart/form-data or application/x-www-form-urlencoded", code="unsupported_media_type"
        )
    return fields, upload


def _json_field(fields: dict[str, str], name: str) -> Any:
    raw = fields.get(name)
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise InvalidInputError(f"{name} must be a JSON object", details={"field": name}) from None
    if not isinstance(value, dict):
        raise InvalidInputError(f"{name} must be a JSON object", details={"field": name})
    return value


@router.post(
    "/api/v1/memories/upload",
    response_model=CreateMemoryResponse,
    summary="Queue a file or a text (form)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": _UPLOAD_SCHEMA},
                "application/x-www-form-urlencoded": {"schema": _UPLOAD_SCHEMA},
            },
        }
    },
)
async def upload(request: Request, caller: Caller = Depends(authenticate)) -> Response:
    """The Synap client's ``create_from_file``: a ``file`` part — Markdown, plain text, HTML, PDF, DOCX or e-mail
    (``.eml``), read by the server, headings kept — or a ``text`` field. A file that cannot be read answers 400
    ``unreadable_file`` naming its format (``unsupported_file_type`` for other formats); nothing is stored."""
    fields, upload_part = _parse_form(request.headers.get("content-type", ""), await request.body())
    scope = _json_field(fields, "scope")
    customer_id, user_id = merge_scope_path(scope, fields.get("customer_id") or None, fields.get("user_id") or None)
    common: dict[str, Any] = {
        "user_id": user_id,
        "customer_id": customer_id,
        "document_id": fields.get("document_id") or None,
        "mode": fields.get("mode") or "long-range",
        "metadata": _json_field(fields, "metadata"),
    }
    if upload_part is not None:
        filename, data = upload_part
        from_file = CreateFromFile(
            filename=filename, content=data, document_type=fields.get("document_type") or None, **common
        )
        return json_response(await caller.api.create_memory_from_file(from_file))
    text = fields.get("text", "")
    if not text.strip():
        raise InvalidInputError("give a non-empty 'text' field or a 'file' part", details={"field": "text"})
    create = CreateMemory(document=text, document_type=fields.get("document_type") or "document", **common)
    return json_response(await caller.api.create_memory(create))


@router.get(
    "/api/v1/memories/status/{ingestion_id}",
    response_model=MemoryStatusResponse,
    summary="Ingestion job status",
    responses={200: {"links": _MEMORY_OF_JOB}},
)
async def status(ingestion_id: IdPath, caller: Caller = Depends(authenticate)) -> Response:
    """``queued → processing → completed | failed | partial_success``, with ``memory_ids`` when done."""
    return json_response(await caller.api.ingestion_status(ingestion_id))


@router.get("/api/v1/memories", response_model=MemoryPage, summary="List memories (paginated, scope-filtered)")
async def list_memories(
    params: Annotated[ListMemoriesQuery, Query()], caller: Caller = Depends(authenticate)
) -> Response:
    """The memories a (customer, user) can see (its whole read chain), or every memory of the instance."""
    return json_response(await caller.api.list_memories(request_of(ListMemories, params)))


@router.get("/api/v1/memories/{memory_id}", response_model=Memory, summary="Get one memory")
async def get_memory(
    memory_id: IdPath, ids: Annotated[ScopeIdsQuery, Query()], caller: Caller = Depends(authenticate)
) -> Response:
    """By id, within the key's instance (and within the named user/customer chain when ids are given)."""
    return json_response(await caller.api.get_memory(request_of(MemoryRef, ids, memory_id=memory_id)))


@router.patch("/api/v1/memories/{memory_id}", response_model=Memory, summary="Update one memory")
async def update_memory(
    memory_id: IdPath,
    body: UpdateMemoryBody,
    ids: Annotated[ScopeIdsQuery, Query()],
    caller: Caller = Depends(authenticate),
) -> Response:
    """``merge_strategy``: ``replace``, ``append`` or ``smart-merge``; the memory is re-embedded. The scope ids may
    come in the body or as query parameters."""
    request = request_of(
        UpdateMemory,
        body,
        memory_id=memory_id,
        user_id=body.user_id or ids.user_id,
        customer_id=body.customer_id or ids.customer_id,
    )
    return json_response(await caller.api.update_memory(request))


@router.delete("/api/v1/memories/{memory_id}", response_model=DeletedMemory, summary="Delete one memory")
async def delete_memory(
    memory_id: IdPath, ids: Annotated[ScopeIdsQuery, Query()], caller: Caller = Depends(authenticate)
) -> Response:
    """Permanent: removes the memory, its vector and its lexical-index entry."""
    return json_response(await caller.api.delete_memory(request_of(MemoryRef, ids, memory_id=memory_id)))
