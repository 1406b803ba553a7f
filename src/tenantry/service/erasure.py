"""Erasure: every trace of a user, a customer (with its users) or a conversation, by one store call over the
chain the caller's ids resolve to (never a broader scope), with a receipt of what was removed."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from ..contract import DeleteData
from ..errors import InvalidInputError
from ..models import DeletionReceipt
from ..scope import ReadChain
from ..scope import Tenant
from ..scope import resolve_target
from ..scope import validate_id
from ..store.base import EraseOptions
from ..validation import utcnow

if TYPE_CHECKING:
    from ._core import AsyncMemoryService

__all__ = ["Erasure"]


class Erasure:
    def __init__(self, svc: AsyncMemoryService) -> None:
        self._svc = svc

    async def erase(self, tenant: Tenant, request: DeleteData) -> DeletionReceipt:
        """Delete memories, vectors, lexical index rows, documents, ingestion jobs, messages and bindings.

        With a ``conversation_id``: that conversation's rows only, within the scope it is bound to (ids passed must
        match its binding). Otherwise the user's scope, or the customer's scope and its users' scopes.
        """
        conversation_id = validate_id(request.conversation_id, "conversation_id")
        if conversation_id:
            target, _ = await self._svc.conversations.bound_target(
                tenant, conversation_id, customer_id=request.customer_id, user_id=request.user_id
            )
            chain = target.erasure if target.scope is not None else ReadChain.instance(tenant.instance_id)
        else:
            target = resolve_target(tenant, customer_id=request.customer_id, user_id=request.user_id)
            if target.scope is None:
                raise InvalidInputError("name a customer_id, user_id or conversation_id to delete")
            chain = target.erasure
        options = EraseOptions(dry_run=request.dry_run, pseudonymise=self._svc.settings.audit_pseudonymise)
        # audited in its own transaction
        counts = await self._svc.store.delete_scope_data(chain, conversation_id=conversation_id, options=options)
        receipt_id = str(uuid.uuid4())
        return DeletionReceipt(receipt_id=receipt_id, deleted_at=utcnow(), deleted=counts, dry_run=request.dry_run)

    async def erase_instance(self, tenant: Tenant, *, dry_run: bool = False) -> DeletionReceipt:
        """Operator-only: erase every row of an instance (its keys and its record stay, archived by the caller),
        then release the bytes like any erasure."""
        everything = ReadChain.instance(tenant.instance_id)
        counts = await self._svc.store.delete_scope_data(everything, options=EraseOptions(dry_run=dry_run))
        return DeletionReceipt(receipt_id=str(uuid.uuid4()), deleted_at=utcnow(), deleted=counts, dry_run=dry_run)
