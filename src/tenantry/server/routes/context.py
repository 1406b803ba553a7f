"""``/v1/context/{conversation|user|customer|client}/fetch`` and the tenantry unified ``/v1/context/fetch``.

Responses carry the typed lists under ``context`` (what the Synap client reads), ``ttl_seconds`` (≥ 1) and the
engine's ``metadata``. Items leave out null fields (the Synap client rejects ``"metadata": null`` and needs a string
``temporal_category`` when present). The tenantry extras ``explain``, ``filters``, ``token_budget``,
``include_world`` and ``as_of`` are accepted on every route.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from ...scope import validate_id
from ..deps import Caller, ServerState, authenticate, get_state
from ..errors import ERROR_RESPONSES
from ..schemas import (
    ClientFetchBody,
    ContextEnvelope,
    ConversationFetchBody,
    CustomerFetchBody,
    FetchBody,
    UnifiedContextEnvelope,
    UnifiedFetchBody,
    UserFetchBody,
)
from ._common import context_envelope, json_response, merge_scope_path

__all__ = ["router"]

router = APIRouter(tags=["context"], responses=ERROR_RESPONSES)


def _search_args(body: FetchBody) -> dict[str, Any]:
    return {
        "search_query": body.search_query,
        "max_results": body.max_results,
        "types": body.types,
        "mode": body.mode,
        "filters": body.filters,
        "as_of": body.as_of,
        "token_budget": body.token_budget,
        "explain": body.explain,
    }


def _ok(state: ServerState, caller: Caller, resp: Any, *, keep_conversation: bool = True) -> Response:
    env = context_envelope(
        resp,
        ttl=state.settings.context_ttl_seconds,
        correlation_id=caller.correlation_id,
        keep_conversation=keep_conversation,
    )
    return json_response(env, exclude_none=True)


@router.post("/v1/context/user/fetch", response_model=ContextEnvelope, summary="User context")
async def fetch_user(
    body: UserFetchBody, caller: Caller = Depends(authenticate), state: ServerState = Depends(get_state)
) -> Response:
    """That exact user's memories + their customer's + the client's (+ world with ``include_world``)."""
    customer_id, user_id = merge_scope_path(body.scope, body.customer_id, body.user_id)
    resp = await state.svc.fetch_user(
        caller.instance, user_id, customer_id=customer_id, include_world=body.include_world, **_search_args(body)
    )
    return _ok(state, caller, resp)


@router.post("/v1/context/customer/fetch", response_model=ContextEnvelope, summary="Customer context")
async def fetch_customer(
    body: CustomerFetchBody, caller: Caller = Depends(authenticate), state: ServerState = Depends(get_state)
) -> Response:
    """The customer's shared memories + the client's; never a user's. 404 for a customer never written to."""
    customer_id, _ = merge_scope_path(body.scope, body.customer_id, None)
    resp = await state.svc.fetch_customer(
        caller.instance, customer_id, include_world=body.include_world, **_search_args(body)
    )
    return _ok(state, caller, resp)


@router.post("/v1/context/client/fetch", response_model=ContextEnvelope, summary="Client context")
async def fetch_client(
    body: ClientFetchBody, caller: Caller = Depends(authenticate), state: ServerState = Depends(get_state)
) -> Response:
    """Memories shared by every customer and user of the instance (+ world with ``include_world``)."""
    resp = await state.svc.fetch_client(caller.instance, include_world=body.include_world, **_search_args(body))
    return _ok(state, caller, resp)


@router.post("/v1/context/conversation/fetch", response_model=ContextEnvelope, summary="Conversation context")
async def fetch_conversation(
    body: ConversationFetchBody, caller: Caller = Depends(authenticate), state: ServerState = Depends(get_state)
) -> Response:
    """Recent turns + the user context of the (customer, user) the conversation is bound to. Ids passed must match
    that binding (400 ``conversation_scope_mismatch``)."""
    customer_id, user_id = merge_scope_path(body.scope, body.customer_id, body.user_id)
    resp = await state.svc.fetch_conversation(
        caller.instance,
        body.conversation_id,
        user_id=user_id,
        customer_id=customer_id,
        include_world=body.include_world,
        recent_turns=body.recent_turns,
        **_search_args(body),
    )
    return _ok(state, caller, resp, keep_conversation=body.include_conversation_context)


@router.post("/v1/context/fetch", response_model=UnifiedContextEnvelope, summary="Unified context (tenantry)")
async def fetch_unified(
    body: UnifiedFetchBody, caller: Caller = Depends(authenticate), state: ServerState = Depends(get_state)
) -> Response:
    """One call across conversation → user → customer (→ client when listed in ``scopes``), de-duplicated, with
    ``scope_map`` and a prompt-ready ``formatted_context``."""
    # Checked before the engine builds its sub-fetches (a bad id there would leave a sub-fetch coroutine unawaited).
    for name in ("conversation_id", "user_id", "customer_id"):
        validate_id(getattr(body, name), name)
    resp = await state.svc.fetch(
        caller.instance,
        conversation_id=body.conversation_id,
        user_id=body.user_id,
        customer_id=body.customer_id,
        search_query=body.search_query,
        max_results=body.max_results,
        types=body.types,
        mode=body.mode,
        scopes=body.scopes,
        include_conversation_context=body.include_conversation_context,
        include_scope_labels=body.include_scope_labels,
        include_world=body.include_world,
        token_budget=body.token_budget,
        explain=body.explain,
    )
    base = context_envelope(resp, ttl=state.settings.context_ttl_seconds, correlation_id=caller.correlation_id)
    env = UnifiedContextEnvelope(
        **dict(base),
        scope_map=resp.scope_map,
        formatted_context=resp.formatted_context,
        scopes_queried=resp.scopes_queried,
        total_items=resp.total_items,
        conversation_context_for_prompt=resp.conversation_context_for_prompt,
    )
    return json_response(env, exclude_none=True)
