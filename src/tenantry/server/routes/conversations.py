"""``/v1/conversations/...``: record turns, ingest a transcript, the prompt context of a conversation, compaction.

Compaction is **not implemented** by this server (the engine keeps raw turns only). The routes answer honestly:
``POST /v1/conversations/compact`` → 404 ``compaction_not_implemented``; ``GET .../compacted`` → 404
``compaction_not_found`` (the Synap client returns ``None``); ``GET .../compaction/status`` → 200 with
``status: "not_available"``. ``get_context_for_prompt`` returns the raw recent turns.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Query
from fastapi import Response

from ...contract import IngestTranscript
from ...contract import Message
from ...contract import PromptContextQuery
from ...contract import RecordMessages
from ...contract import TurnsQuery
from ...errors import ContextNotFoundError
from ...models import ContextForPromptResponse
from ...models import RecordedMessage
from ...models import TranscriptIngestion
from ...scope import validate_id
from ..deps import Caller
from ..deps import authenticate
from ..errors import ERROR_RESPONSES
from ..schemas import CompactBody
from ..schemas import CompactionStatusWire
from ..schemas import IdPath
from ..schemas import IngestBody
from ..schemas import MessageBody
from ..schemas import MessagesBatchBody
from ..schemas import PromptParams
from ..schemas import RecordBatchWire
from ..schemas import TurnsParams
from ..schemas import TurnsWire
from ._common import json_response
from ._common import merge_scope_path
from ._common import request_of

__all__ = ["router"]

router = APIRouter(tags=["conversations"], responses=ERROR_RESPONSES)


def _message(m: MessageBody) -> Message:
    customer_id, user_id = merge_scope_path(m.scope, m.customer_id, m.user_id)
    return request_of(Message, m, customer_id=customer_id, user_id=user_id)


@router.post(
    "/v1/conversations/messages",
    response_model=RecordedMessage,
    summary="Record one turn",
    responses={
        200: {
            "links": {
                "TurnsOfTheConversation": {
                    "operationId": "conversation_messages_v1_conversations__conversation_id__messages_get",
                    "parameters": {"conversation_id": "$response.body#/conversation_id"},
                }
            }
        }
    },
)
async def record_message(body: MessageBody, caller: Caller = Depends(authenticate)) -> Response:
    """Store a turn as short-term context and queue it for extraction. The first write binds the conversation to
    its (customer, user); later writes naming other ids are refused."""
    (rec,) = await caller.api.record_messages(RecordMessages(messages=[_message(body)]))
    return json_response(rec)


@router.post("/v1/conversations/messages/batch", response_model=RecordBatchWire, summary="Record several turns")
async def record_messages_batch(body: MessagesBatchBody, caller: Caller = Depends(authenticate)) -> Response:
    """All or nothing: an invalid message fails the whole batch with 400. ``extract: false`` (tenantry) records
    the turns as short-term context only."""
    request = RecordMessages(messages=[_message(m) for m in body.messages], extract=body.extract)
    recs = await caller.api.record_messages(request)
    return json_response(RecordBatchWire(total=len(body.messages), succeeded=len(recs), failed=0, results=recs))


@router.post("/v1/conversations/ingest", response_model=TranscriptIngestion, summary="Ingest a whole transcript")
async def ingest(body: IngestBody, caller: Caller = Depends(authenticate)) -> Response:
    """Idempotent per conversation: the same transcript again → ``duplicate`` with the first ``ingestion_id``;
    a different one → 409 ``transcript_conflict``. Ids that do not match the conversation's binding → 400."""
    customer_id, user_id = merge_scope_path(body.scope, body.customer_id, body.user_id)
    transcript = body.transcript if isinstance(body.transcript, str) else [t.model_dump() for t in body.transcript]
    request = request_of(IngestTranscript, body, customer_id=customer_id, user_id=user_id, transcript=transcript)
    return json_response(await caller.api.ingest_transcript(request))


@router.get(
    "/v1/conversations/{conversation_id}/context-for-prompt",
    response_model=ContextForPromptResponse,
    summary="Recent turns, ready for a prompt",
)
async def context_for_prompt(
    conversation_id: IdPath, params: Annotated[PromptParams, Query()], caller: Caller = Depends(authenticate)
) -> Response:
    """No compaction exists, so this is the latest raw turns (``available`` is false for an unknown or empty
    conversation). Ids, when passed, must match the conversation's binding."""
    request = request_of(PromptContextQuery, params, conversation_id=conversation_id)
    return json_response(await caller.api.context_for_prompt(request), exclude_none=True)


@router.get(
    "/v1/conversations/{conversation_id}/messages",
    summary="Turns of a conversation, oldest first (the Synap client's backfill)",
    response_model=TurnsWire,
)
async def conversation_messages(
    conversation_id: IdPath, params: Annotated[TurnsParams, Query()], caller: Caller = Depends(authenticate)
) -> Response:
    """``{"turns": [{role, content, timestamp, message_id, position}]}`` (at most the latest 5000 turns are kept
    addressable). Ids, when passed, must match the conversation's binding."""
    turns = await caller.api.conversation_turns(request_of(TurnsQuery, params, conversation_id=conversation_id))
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
