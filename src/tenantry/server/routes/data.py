"""``POST /v1/data/delete``: delete every trace of a user, a customer or a conversation (→ ``service.delete_data``).

Synap-style bodies name a ``scope`` (``user`` | ``customer`` | ``conversation``) and ``confirm`` (the id being
deleted); tenantry's remote SDK sends just the ids. Deletion is synchronous and complete when the call returns.
``dry_run``: the counts the erasure would give (the same statements in a transaction that is rolled back), nothing
deleted.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Response

from ...contract import DeleteData
from ...errors import InvalidInputError
from ...errors import PermissionDeniedError
from ..deps import Caller
from ..deps import authenticate
from ..errors import ERROR_RESPONSES
from ..schemas import DeleteDataBody
from ..schemas import DeleteDataWire
from ._common import json_response

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
