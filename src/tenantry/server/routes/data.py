"""``POST /v1/data/delete``: delete every trace of a user, a customer or a conversation (→ ``service.delete_data``).
``POST /v1/data/export`` (a page) and ``GET /v1/data/export.jsonl`` (the whole file): the JSON Lines export of
:mod:`tenantry.dataformat`; ``POST /v1/data/import``: write exported records back (idempotent).

Synap-style bodies name a ``scope`` (``user`` | ``customer`` | ``conversation``) and ``confirm`` (the id being
deleted); tenantry's remote SDK sends just the ids. Deletion is synchronous and complete when the call returns.
``dry_run``: the counts the erasure would give (the same statements in a transaction that is rolled back), nothing
deleted.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated
from typing import Any

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Query
from fastapi import Response
from fastapi.responses import StreamingResponse
from pydantic import Field

from ...contract import DeleteData
from ...contract import ExportData
from ...contract import ImportData
from ...contract import TenantryAPI
from ...errors import InvalidInputError
from ...errors import PermissionDeniedError
from ...models import ExportPage
from ...models import ImportReport
from ..deps import Caller
from ..deps import authenticate
from ..errors import ERROR_RESPONSES
from ..schemas import DeleteDataBody
from ..schemas import DeleteDataWire
from ..schemas import ScopeIdsQuery
from ..schemas import _Body
from ..schemas import id_field
from ._common import json_response
from ._common import request_of

__all__ = ["router"]

router = APIRouter(tags=["data"], responses=ERROR_RESPONSES)


@router.post(
    "/v1/data/delete", response_model=DeleteDataWire, summary="Delete a user's, customer's or conversation's data"
)
async def delete_data(body: DeleteDataBody, caller: Caller = Depends(authenticate)) -> Response:
    """Removes memories, vectors, lexical index rows, documents, ingestion jobs and raw messages of the target."""
    inst = caller.instance
    if body.instance_id and body.instance_id != inst.instance_id:
        raise PermissionDeniedError("instance_id does not match the API key's instance", code="instance_mismatch")
    customer_id, user_id, conversation_id = body.customer_id, body.user_id, body.conversation_id
    if body.scope is not None:
        target = {"user": user_id, "customer": customer_id, "conversation": conversation_id}[body.scope]
        if not target:
            raise InvalidInputError(f"{body.scope}_id is required for scope={body.scope!r}")
        if body.confirm is not None and body.confirm != target:
            raise InvalidInputError(f"confirm must equal the {body.scope}_id being deleted", code="confirm_mismatch")
        if body.scope == "customer":
            user_id, conversation_id = None, None
        elif body.scope == "user":
            conversation_id = None
        # scope == "conversation": the ids sent with it are checked against the conversation's binding
    receipt = await caller.api.delete_data(
        DeleteData(customer_id=customer_id, user_id=user_id, conversation_id=conversation_id, dry_run=body.dry_run)
    )
    counts = receipt.deleted
    wire = DeleteDataWire(
        deletion_id=receipt.receipt_id,
        receipt_id=receipt.receipt_id,
        status="dry_run" if receipt.dry_run else "complete",
        scope=body.scope,
        dry_run=receipt.dry_run,
        found=any(counts.values()),
        counts=counts,
        deleted={} if receipt.dry_run else counts,
        deleted_at=receipt.deleted_at,
        fully_removed=not receipt.dry_run,
        memories_kept=receipt.dry_run,
    )
    return json_response(wire)


NDJSON: dict[str, Any] = {
    "description": "JSON Lines: a header record, then documents, memories and messages (tenantry.dataformat)",
    "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
}


class ExportBody(_Body):
    customer_id: str | None = id_field()
    user_id: str | None = id_field()
    cursor: str | None = Field(default=None, description="the previous page's next_cursor")
    limit: int = Field(default=500, description="records per page, 1-1000")


class ImportBody(_Body):
    records: list[dict[str, Any]] = Field(description="up to 1000 exported records (decoded JSON lines)")
    lines: list[int] | None = Field(default=None, description="their line numbers in the file, for the report")


@router.post("/v1/data/export", response_model=ExportPage, summary="One page of a JSON Lines export")
async def export_page(body: ExportBody, caller: Caller = Depends(authenticate)) -> Response:
    """A user's data, a customer's (with its users'), or with no ids the whole instance's: documents, memories and
    messages with their scope and provenance. The first page starts with a ``header`` record."""
    return json_response(await caller.api.export_data(request_of(ExportData, body)))


# How the routes that stream a whole export are documented: JSON Lines, not a JSON response.
EXPORT_FILE: dict[str, Any] = {"response_class": StreamingResponse, "responses": {200: NDJSON}}


async def export_stream(api: TenantryAPI, customer_id: str | None, user_id: str | None) -> StreamingResponse:
    """The whole export of a user's, a customer's or (no ids) the instance's data, streamed as JSON Lines."""
    # The first call checks the ids before the response starts (an error is then a JSON error, not a cut stream).
    await api.export_data(ExportData(customer_id=customer_id, user_id=user_id, limit=1))
    return StreamingResponse(_export_lines(api, customer_id, user_id), media_type="application/x-ndjson")


async def _export_lines(api: TenantryAPI, customer_id: str | None, user_id: str | None) -> AsyncIterator[bytes]:
    """The whole export as JSON Lines, a page at a time."""
    cursor: str | None = None
    while True:
        page = await api.export_data(ExportData(customer_id=customer_id, user_id=user_id, cursor=cursor))
        yield "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in page.records).encode()
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


@router.get("/v1/data/export.jsonl", summary="The whole JSON Lines export", **EXPORT_FILE)
async def export_file(
    ids: Annotated[ScopeIdsQuery, Query()], caller: Caller = Depends(authenticate)
) -> StreamingResponse:
    """Streams every record of the export (``application/x-ndjson``), for ``curl ... > backup.jsonl``."""
    return await export_stream(caller.api, ids.customer_id, ids.user_id)


@router.post("/v1/data/import", response_model=ImportReport, summary="Write exported records into this instance")
async def import_records(body: ImportBody, caller: Caller = Depends(authenticate)) -> Response:
    """Each record goes to its own scope; what is already there (same document id in its scope, same memory or
    message id) is skipped, so importing a file twice writes it once. The report lists each skipped record's line
    and why."""
    return json_response(await caller.api.import_data(ImportData(records=body.records, lines=body.lines)))
