"""``/v1/conversations/...``: record turns, ingest a transcript, the prompt context of a conversation, compaction.

Compaction is **not implemented** by this server (the engine keeps raw turns only). The routes answer honestly:
``POST /v1/conversations/compact`` → 404 ``compaction_not_implemented``; ``GET .../compacted`` → 404
``compaction_not_found`` (the Synap client returns ``None``); ``GET .../compaction/status`` → 200 with
``status: "not_available"``. ``get_context_for_prompt`` returns the raw recent turns.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from ...errors import ContextNotFoundError
from ...scope import validate_id
from ..deps import Caller, ServerState, authenticate, get_state
from ..errors import ERROR_RESPONSES
from ..schemas import (
    CompactBody,
    CompactionStatusWire,
    ContextForPromptWire,
    IdPath,
    IngestBody,
    IngestWire,
    MessageBody,
    MessagesBatchBody,
    RecordBatchWire,
    RecordedMessage,
    Turn,
    TurnsWire,
    WireRecentMessage,
)
from ._common import json_response, merge_scope_path

__all__ = ["router"]

router = APIRouter(tags=["conversations"], responses=ERROR_RESPONSES)


def _message_dict(m: MessageBody) -> dict[str, Any]:
    customer_id, user_id = merge_scope_path(m.scope, m.customer_id, m.user_id)
    return {
        "conversation_id": m.conversation_id,
        "role": m.role,
        "content": m.content,
        "user_id": user_id,
        "customer_id": customer_id,
        "session_id": m.session_id,
        "metadata": m.metadata,
    }


async def _record(state: ServerState, caller: Caller, messages: list[MessageBody]) -> list[RecordedMessage]:
    out = await state.svc.record_messages(caller.instance, [_message_dict(m) for m in messages])
    # Number each message within its conversation (the Synap client keeps it for its local turn archive).
    totals: dict[str, int] = {}
    for cid in {o["conversation_id"] for o in out}:
        conv = await state.svc.store.get_conversation(caller.instance.instance_id, cid)
        totals[cid] = conv.message_count if conv is not None else 0
    remaining = Counter(o["conversation_id"] for o in out)
    recorded: list[RecordedMessage] = []
    for o in out:
        cid = o["conversation_id"]
        count = totals[cid] - remaining[cid] + 1
        remaining[cid] -= 1
        recorded.append(RecordedMessage(**o, conversation_message_count=count))
    return recorded


@router.post("/v1/conversations/messages", response_model=RecordedMessage, summary="Record one turn")
async def record_message(
    body: MessageBody, caller: Caller = Depends(authenticate), state: ServerState = Depends(get_state)
) -> Response:
    """Store a turn as short-term context and queue it for extraction. The first write binds the conversation to
    its (customer, user); later writes naming other ids are refused."""
    (rec,) = await _record(state, caller, [body])
    return json_response(rec)


@router.post("/v1/conversations/messages/batch", response_model=RecordBatchWire, summary="Record several turns")
async def record_messages_batch(
    body: MessagesBatchBody, caller: Caller = Depends(authenticate), state: ServerState = Depends(get_state)
) -> Response:
    """All or nothing: an invalid message fails the whole batch with 400."""
    recs = await _record(state, caller, body.messages)
    return json_response(RecordBatchWire(total=len(body.messages), succeeded=len(recs), failed=0, results=recs))


@router.post("/v1/conversations/ingest", response_model=IngestWire, summary="Ingest a whole transcript")
async def ingest(
    body: IngestBody, caller: Caller = Depends(authenticate), state: ServerState = Depends(get_state)
) -> Response:
    """Idempotent per conversation: the same transcript again → ``duplicate`` with the first ``ingestion_id``;
    a different one → 409 ``transcript_conflict``."""
    customer_id, user_id = merge_scope_path(body.scope, body.customer_id, body.user_id)
    transcript: str | list[dict[str, Any]] = (
        body.transcript if isinstance(body.transcript, str) else [t.model_dump() for t in body.transcript]
    )
    metadata = dict(body.metadata or {})
    if body.analysis is not None:
        metadata.setdefault("analysis", body.analysis)
    if body.ended_at:
        metadata.setdefault("ended_at", body.ended_at)
    res = await state.svc.ingest_transcript(
        caller.instance,
        body.conversation_id,
        transcript,
        user_id=user_id,
        customer_id=customer_id,
        metadata=metadata or None,
        conversation_type=body.conversation_type,
        started_at=body.started_at,
    )
    return json_response(IngestWire(**res))


def _format(turns: list[WireRecentMessage], style: str) -> str | None:
    if not turns:
        return None
    label = {"user": "User", "assistant": "Assistant"}
    if style == "bullet_points":
        return "\n".join(f"- {label.get(t.role, t.role)}: {t.content}" for t in turns)
    if style == "narrative":
        return " ".join(f"The {t.role} said: {t.content}" for t in turns)
    return "\n".join(f"{label.get(t.role, t.role)}: {t.content}" for t in turns)


@router.get(
    "/v1/conversations/{conversation_id}/context-for-prompt",
    response_model=ContextForPromptWire,
    summary="Recent turns, ready for a prompt",
)
async def context_for_prompt(
    conversation_id: IdPath,
    style: Literal["structured", "narrative", "bullet_points"] = "structured",
    limit: int = Query(20, ge=1, le=200, description="most recent turns returned"),
    caller: Caller = Depends(authenticate),
    state: ServerState = Depends(get_state),
) -> Response:
    """No compaction exists, so this is the latest raw turns (``available`` is false for an unknown or empty
    conversation)."""
    validate_id(conversation_id, "conversation_id", required=True)
    iid = caller.instance.instance_id
    conv = await state.svc.store.get_conversation(iid, conversation_id)
    msgs = await state.svc.store.recent_messages(iid, conversation_id, limit=limit) if conv is not None else []
    turns = [
        WireRecentMessage(role=m.role, content=m.content, timestamp=m.recorded_at, message_id=m.message_id)
        for m in msgs
    ]
    total = conv.message_count if conv is not None else 0
    wire = ContextForPromptWire(
        formatted_context=_format(turns, style),
        available=bool(turns),
        recent_messages=turns,
        recent_message_count=len(turns),
        compacted_message_count=0,
        total_message_count=total,
    )
    return json_response(wire, exclude_none=True)


@router.get(
    "/v1/conversations/{conversation_id}/messages",
    summary="Turns of a conversation, oldest first (the Synap client's backfill)",
    response_model=TurnsWire,
)
async def conversation_messages(
    conversation_id: IdPath,
    start: int = Query(1, ge=1, description="1-based position of the first turn"),
    limit: int = Query(500, ge=1, le=500),
    caller: Caller = Depends(authenticate),
    state: ServerState = Depends(get_state),
) -> Response:
    """``{"turns": [{role, content, timestamp, message_id, position}]}`` (at most the latest 5000 turns are kept
    addressable)."""
    validate_id(conversation_id, "conversation_id", required=True)
    msgs = await state.svc.store.recent_messages(caller.instance.instance_id, conversation_id, limit=5000)
    window = msgs[start - 1 : start - 1 + limit]
    turns = [
        Turn(role=m.role, content=m.content, timestamp=m.recorded_at, message_id=m.message_id, position=start + i)
        for i, m in enumerate(window)
    ]
    return json_response(TurnsWire(turns=turns))


@router.post("/v1/conversations/compact", summary="Not implemented: compaction", response_model=CompactionStatusWire)
async def compact(body: CompactBody, caller: Caller = Depends(authenticate)) -> Response:
    """Always 404 ``compaction_not_implemented``: this server does not compact conversations."""
    raise ContextNotFoundError(
        "conversation compaction is not implemented by this tenantry server; get_context_for_prompt returns the "
        "raw recent turns",
        code="compaction_not_implemented",
    )


@router.get(
    "/v1/conversations/{conversation_id}/compacted",
    summary="Not implemented: no compaction ever exists",
    response_model=CompactionStatusWire,
)
async def compacted(
    conversation_id: IdPath,
    format: str = "structured",
    version: int | None = None,
    caller: Caller = Depends(authenticate),
) -> Response:
    """Always 404 ``compaction_not_found`` (the Synap client's ``get_compacted`` then returns ``None``)."""
    raise ContextNotFoundError(
        f"no compaction of conversation {conversation_id[:128]}: this server does not compact conversations",
        code="compaction_not_found",
    )


@router.get(
    "/v1/conversations/{conversation_id}/compaction/status",
    response_model=CompactionStatusWire,
    summary="Compaction status (always not_available)",
)
async def compaction_status(conversation_id: IdPath, caller: Caller = Depends(authenticate)) -> Response:
    """``status: not_available``: compaction is not implemented by this server."""
    validate_id(conversation_id, "conversation_id", required=True)
    return json_response(
        CompactionStatusWire(
            conversation_id=conversation_id,
            status="not_available",
            error_message="conversation compaction is not implemented by this tenantry server",
        )
    )
