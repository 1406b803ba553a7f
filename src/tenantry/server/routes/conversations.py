"""``/v1/conversations/...``: record turns, ingest a transcript, the prompt context of a conversation (its latest
compaction + the newer raw turns), compaction (``service/compaction.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Query
from fastapi import Response

from ...contract import CompactConversation
from ...contract import CompactedQuery
from ...contract import CompactionStatusQuery
from ...contract import IngestTranscript
from ...contract import Message
from ...contract import PromptContextQuery
from ...contract import RecordMessages
from ...contract import TurnsQuery
from ...models import Compaction
from ...models import CompactionStatus
from ...models import CompactionTrigger
from ...models import ContextForPromptResponse
from ...models import RecordedMessage
from ...models import TranscriptIngestion
from ..deps import Caller
from ..deps import authenticate
from ..errors import ERROR_RESPONSES
from ..schemas import CompactBody
from ..schemas import CompactedParams
from ..schemas import IdPath
from ..schemas import IngestBody
from ..schemas import MessageBody
from ..schemas import MessagesBatchBody
from ..schemas import PromptParams
from ..schemas import RecordBatchWire
from ..schemas import ScopeIdsQuery
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
    """The latest compaction (``context_block``, ``compaction_id``, its figures) + the raw turns newer than it (the
    latest ``limit``); without one, the latest raw turns. ``available`` is false for an unknown or empty
    conversation. Ids, when passed, must match the conversation's binding."""
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


@router.post("/v1/conversations/compact", summary="Compact a conversation", response_model=CompactionTrigger)
async def compact(body: CompactBody, caller: Caller = Depends(authenticate)) -> Response:
    """Compact the conversation's turns now (offline, extractive: it answers when it is done, ``status:
    completed``; ``already_compacted`` when the latest compaction covers every turn and ``force`` is false). 404
    ``conversation_empty`` for a conversation with no turns; 409 ``compaction_running`` while another compaction of
    it runs."""
    return json_response(await caller.api.compact_conversation(request_of(CompactConversation, body)))


@router.get(
    "/v1/conversations/{conversation_id}/compacted", summary="A compaction of a conversation", response_model=Compaction
)
async def compacted(
    conversation_id: IdPath, params: Annotated[CompactedParams, Query()], caller: Caller = Depends(authenticate)
) -> Response:
    """The latest completed compaction (or ``version``), in ``format``: ``structured``, ``narrative`` or
    ``injection``. 404 ``compaction_not_found`` when there is none (the Synap client's ``get_compacted`` then
    returns ``None``)."""
    request = request_of(CompactedQuery, params, conversation_id=conversation_id)
    return json_response(await caller.api.get_compaction(request))


@router.get("/v1/conversations/{conversation_id}/compaction/status", response_model=CompactionStatus, summary="Status")
async def compaction_status(
    conversation_id: IdPath, params: Annotated[ScopeIdsQuery, Query()], caller: Caller = Depends(authenticate)
) -> Response:
    """The latest compaction's state: ``completed``, ``in_progress``, ``failed``, or ``not_compacted``."""
    request = request_of(CompactionStatusQuery, params, conversation_id=conversation_id)
    return json_response(await caller.api.compaction_status(request))
