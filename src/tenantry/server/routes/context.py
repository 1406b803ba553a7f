"""``/v1/context/{conversation|user|customer|client}/fetch`` and the tenantry unified ``/v1/context/fetch``.

Responses carry the typed lists under ``context`` (what the Synap client reads), ``ttl_seconds`` (always ``-1``, see
:data:`~._common.EXPIRED_TTL`: the Synap client's local cache never serves them) and the engine's ``metadata``.
Items leave out null fields (the Synap client rejects ``"metadata": null`` and needs a string ``temporal_category``
when present). The tenantry extras ``explain``, ``filters``, ``token_budget``,
``include_world`` and ``as_of`` are accepted on every route.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Response

from ...contract import ClientContextQuery
from ...contract import ConversationContextQuery
from ...contract import CustomerContextQuery
from ...contract import UnifiedContextQuery
from ...contract import UserContextQuery
from ...models import ContextResponse
from ...models import UnifiedParts
from ..deps import Caller
from ..deps import authenticate
from ..errors import ERROR_RESPONSES
from ..schemas import ClientFetchBody
from ..schemas import ContextEnvelope
from ..schemas import ConversationFetchBody
from ..schemas import CustomerFetchBody
from ..schemas import UnifiedContextEnvelope
from ..schemas import UnifiedFetchBody
from ..schemas import UserFetchBody
from ._common import context_envelope
from ._common import json_response
from ._common import merge_scope_path
from ._common import request_of

__all__ = ["router"]

router = APIRouter(tags=["context"], responses=ERROR_RESPONSES)


def _ok(caller: Caller, resp: ContextResponse, *, keep_conversation: bool = True) -> Response:
    env = context_envelope(resp, correlation_id=caller.correlation_id, keep_conversation=keep_conversation)
    return json_response(env, exclude_none=True)


@router.post("/v1/context/user/fetch", response_model=ContextEnvelope, summary="User context")
async def fetch_user(body: UserFetchBody, caller: Caller = Depends(authenticate)) -> Response:
    """That exact user's memories + their customer's + the client's (+ world with ``include_world``)."""
    customer_id, user_id = merge_scope_path(body.scope, body.customer_id, body.user_id)
    request = request_of(UserContextQuery, body, customer_id=customer_id, user_id=user_id)
    return _ok(caller, await caller.api.fetch_user(request))


@router.post("/v1/context/customer/fetch", response_model=ContextEnvelope, summary="Customer context")
async def fetch_customer(body: CustomerFetchBody, caller: Caller = Depends(authenticate)) -> Response:
    """The customer's shared memories + the client's; never a user's. 404 for a customer never written to."""
    customer_id, _ = merge_scope_path(body.scope, body.customer_id, None)
    request = request_of(CustomerContextQuery, body, customer_id=customer_id)
    return _ok(caller, await caller.api.fetch_customer(request))


@router.post("/v1/context/client/fetch", response_model=ContextEnvelope, summary="Client context")
async def fetch_client(body: ClientFetchBody, caller: Caller = Depends(authenticate)) -> Response:
    """Memories shared by every customer and user of the instance (+ world with ``include_world``)."""
    return _ok(caller, await caller.api.fetch_client(request_of(ClientContextQuery, body)))


@router.post("/v1/context/conversation/fetch", response_model=ContextEnvelope, summary="Conversation context")
async def fetch_conversation(body: ConversationFetchBody, caller: Caller = Depends(authenticate)) -> Response:
    """Recent turns + the user context of the (customer, user) the conversation is bound to. Ids passed must match
    that binding (400 ``conversation_scope_mismatch``)."""
    customer_id, user_id = merge_scope_path(body.scope, body.customer_id, body.user_id)
    request = request_of(ConversationContextQuery, body, customer_id=customer_id, user_id=user_id)
    resp = await caller.api.fetch_conversation(request)
    return _ok(caller, resp, keep_conversation=body.include_conversation_context)


@router.post("/v1/context/fetch", response_model=UnifiedContextEnvelope, summary="Unified context (tenantry)")
async def fetch_unified(body: UnifiedFetchBody, caller: Caller = Depends(authenticate)) -> Response:
    """One call across conversation → user → customer (→ client when listed in ``scopes``), de-duplicated, with
    ``scope_map`` and a prompt-ready ``formatted_context``. A failing part fails the call."""
    resp = await caller.api.fetch(request_of(UnifiedContextQuery, body))
    base = context_envelope(resp, correlation_id=caller.correlation_id)
    env = UnifiedContextEnvelope(**dict(base), **{k: getattr(resp, k) for k in UnifiedParts.model_fields})
    return json_response(env, exclude_none=True)
