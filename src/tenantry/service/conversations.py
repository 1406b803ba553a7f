"""Conversations: recorded turns (short-term context, also queued for long-term extraction), whole transcripts, the
binding of a conversation to the (customer, user) of its first write, and the turns formatted for a prompt."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

from ..contract import CreateMemory
from ..contract import IngestTranscript
from ..contract import PromptContextQuery
from ..contract import RecordMessages
from ..contract import TurnsQuery
from ..errors import InvalidInputError
from ..errors import TranscriptConflictError
from ..models import ContextForPromptResponse
from ..models import RecentMessage
from ..models import RecordedMessage
from ..models import TranscriptIngestion
from ..models import Turn
from ..pipeline.split import split_document
from ..scope import Target
from ..scope import Tenant
from ..scope import resolve_target
from ..scope import validate_id
from ..store.base import ConversationRecord
from ..store.base import MessageRecord
from ..validation import check_metadata
from ..validation import utcnow

if TYPE_CHECKING:
    from ._core import AsyncMemoryService

__all__ = ["Conversations", "format_turns"]

MAX_ADDRESSABLE_TURNS = 5000
MAX_MESSAGES = 500  # turns recorded in one call
_LABEL = {"user": "User", "assistant": "Assistant"}


def format_turns(turns: list[RecentMessage], style: str) -> str | None:
    """Turns as prompt text: ``structured`` (``User: ...`` lines), ``bullet_points`` or ``narrative``."""
    if not turns:
        return None
    if style == "bullet_points":
        return "\n".join(f"- {_LABEL.get(t.role, t.role)}: {t.content}" for t in turns)
    if style == "narrative":
        return " ".join(f"The {t.role} said: {t.content}" for t in turns)
    return "\n".join(f"{_LABEL.get(t.role, t.role)}: {t.content}" for t in turns)


def _mismatch(conversation_id: str) -> InvalidInputError:
    return InvalidInputError(
        f"conversation {conversation_id} is bound to another customer/user than the ids passed; a conversation is "
        "bound to the (customer_id, user_id) of its first write",
        code="conversation_scope_mismatch",
    )


class Conversations:
    def __init__(self, svc: AsyncMemoryService) -> None:
        self._svc = svc

    # -- bindings -------------------------------------------------------------------------------------------------
    async def bind(self, target: Target, conversation_id: str) -> None:
        """Bind ``conversation_id`` to ``target``'s scope on its first write; a later write naming another
        (customer, user) is refused."""
        scope = target.write_scope
        conv = await self._svc.store.bind_conversation(
            target.instance_id, conversation_id, scope.customer_id, scope.user_id
        )
        if (conv.customer_id, conv.user_id) != (scope.customer_id, scope.user_id):
            raise _mismatch(conversation_id)

    @staticmethod
    def _binding(tenant: Tenant, conv: ConversationRecord) -> Target:
        return resolve_target(tenant, customer_id=conv.customer_id or None, user_id=conv.user_id or None)

    async def bound_target(
        self, tenant: Tenant, conversation_id: str, *, customer_id: object = None, user_id: object = None
    ) -> tuple[Target, ConversationRecord | None]:
        """What a read of a conversation addresses: the (customer, user) it is bound to, or, for a conversation
        never written, the ids passed. Ids passed with a bound conversation must resolve to its binding."""
        validate_id(conversation_id, "conversation_id", required=True)
        passed = resolve_target(tenant, customer_id=customer_id, user_id=user_id)
        conv = await self._svc.store.get_conversation(tenant.instance_id, conversation_id)
        if conv is None:
            return passed, None
        bound = self._binding(tenant, conv)
        if (customer_id is not None or user_id is not None) and passed.write_scope != bound.write_scope:
            raise _mismatch(conversation_id)
        return bound, conv

    async def writer_target(
        self, tenant: Tenant, conversation_id: str, *, customer_id: object, user_id: object
    ) -> Target:
        """Where a turn of ``conversation_id`` is written: its binding when no ids are passed, else the ids passed
        (binding the conversation to them on its first write)."""
        if customer_id is None and user_id is None:
            conv = await self._svc.store.get_conversation(tenant.instance_id, conversation_id)
            if conv is not None:
                return self._binding(tenant, conv)
        target = resolve_target(tenant, customer_id=customer_id, user_id=user_id)
        await self.bind(target, conversation_id)
        return target

    # -- writes ---------------------------------------------------------------------------------------------------
    async def record(self, tenant: Tenant, request: RecordMessages) -> list[RecordedMessage]:
        """Store turns (short-term context) and, with ``extract``, queue each for extraction into the long-term
        memory of the conversation's scope. All or nothing: an invalid message fails the whole call."""
        if len(request.messages) > MAX_MESSAGES:
            raise InvalidInputError(f"at most {MAX_MESSAGES} messages per call", details={"field": "messages"})
        records: list[tuple[MessageRecord, Target]] = []
        for m in request.messages:
            conversation_id = validate_id(m.conversation_id, "conversation_id", required=True) or ""
            if m.role not in ("user", "assistant"):
                raise InvalidInputError("role must be 'user' or 'assistant'", details={"field": "role"})
            if not isinstance(m.content, str) or not m.content.strip():
                raise InvalidInputError("content must be a non-empty string", details={"field": "content"})
            self._svc.memories.check_document(m.content)
            meta = check_metadata(m.metadata)
            target = await self.writer_target(tenant, conversation_id, customer_id=m.customer_id, user_id=m.user_id)
            session_id = validate_id(m.session_id, "session_id") or f"{conversation_id}-s1"
            rec = MessageRecord(str(uuid.uuid4()), conversation_id, m.role, m.content, utcnow(), session_id, meta)
            records.append((rec, target))
        await self._svc.store.add_messages(tenant.instance_id, [rec for rec, _ in records])
        out = await self._numbered(tenant, [rec for rec, _ in records])
        if request.extract:
            for rec, target in records:
                await self._svc.memories.create(
                    target,
                    CreateMemory(document=f"{_LABEL[rec.role]}: {rec.content}", conversation_id=rec.conversation_id),
                    document_id=f"msg-{rec.message_id}",
                )
        return out

    async def _numbered(self, tenant: Tenant, records: list[MessageRecord]) -> list[RecordedMessage]:
        """Each recorded turn with its 1-based position in its conversation (the Synap client keeps it for its local
        turn archive): the conversation's count after the write, minus the turns of this call still to come."""
        totals: dict[str, int] = {}
        for cid in {r.conversation_id for r in records}:
            conv = await self._svc.store.get_conversation(tenant.instance_id, cid)
            totals[cid] = conv.message_count if conv is not None else 0
        remaining = Counter(r.conversation_id for r in records)
        out: list[RecordedMessage] = []
        for r in records:
            position = totals[r.conversation_id] - remaining[r.conversation_id] + 1
            remaining[r.conversation_id] -= 1
            out.append(
                RecordedMessage(
                    message_id=r.message_id,
                    conversation_id=r.conversation_id,
                    session_id=r.session_id or "",
                    recorded_at=r.recorded_at,
                    conversation_message_count=position,
                )
            )
        return out

    async def ingest_transcript(self, tenant: Tenant, request: IngestTranscript) -> TranscriptIngestion:
        """One-shot transcript push; idempotent on (conversation, transcript): the same again → ``duplicate`` with
        the first ``ingestion_id``; a different one → ``TranscriptConflictError``. The ids must match the
        conversation's binding before anything about its transcript is said."""
        conversation_id = validate_id(request.conversation_id, "conversation_id", required=True) or ""
        target = resolve_target(tenant, customer_id=request.customer_id, user_id=request.user_id)
        document, digest_src = self._transcript_document(request.transcript)
        self._svc.memories.check_document(document)
        meta = dict(check_metadata(request.metadata))
        if request.conversation_type:
            meta["conversation_type"] = str(request.conversation_type)[:64]
        if request.analysis is not None:
            meta.setdefault("analysis", request.analysis)
        if request.ended_at:
            meta.setdefault("ended_at", str(request.ended_at))
        await self.bind(target, conversation_id)
        digest = hashlib.sha256(digest_src.encode()).hexdigest()
        store = self._svc.store
        prior = await store.transcript_ingestion(tenant.instance_id, conversation_id)
        if prior is not None:
            if prior[0] != digest:
                raise TranscriptConflictError(
                    f"conversation {conversation_id} already has a different transcript", code="transcript_conflict"
                )
            job = await store.get_job(tenant.instance_id, prior[1])
            return TranscriptIngestion(
                conversation_id=conversation_id,
                external_conversation_id=conversation_id,
                ingestion_id=prior[1],
                status="duplicate",
                turns_recorded=0,
                summary_status="already_compacted",
                queued_at=job.queued_at if job else utcnow(),
            )
        resp = await self._svc.memories.create(
            target,
            CreateMemory(
                document=document,
                document_created_at=request.started_at,
                metadata=meta,
                conversation_id=conversation_id,
            ),
            document_id=f"transcript-{conversation_id}",
            kind="transcript",
        )
        await store.save_transcript(tenant.instance_id, conversation_id, digest, resp.ingestion_id)
        segs = split_document(document, "ai-chat-conversation", created_at=utcnow())
        await store.add_messages(
            tenant.instance_id,
            [
                MessageRecord(
                    str(uuid.uuid4()), conversation_id, "user" if s.role == "user" else "assistant", s.text, utcnow()
                )
                for s in segs
            ],
        )
        return TranscriptIngestion(
            conversation_id=conversation_id,
            external_conversation_id=conversation_id,
            ingestion_id=resp.ingestion_id,
            status="queued",
            turns_recorded=len(segs),
            summary_status="skipped",
            queued_at=resp.queued_at,
        )

    @staticmethod
    def _transcript_document(transcript: object) -> tuple[str | dict[str, Any], str]:
        """The document a transcript is stored as, and the text its idempotency hash is taken over."""
        if isinstance(transcript, str):
            return transcript, transcript.strip()
        if not isinstance(transcript, list | tuple):
            raise InvalidInputError("transcript must be a string or a list of turns")
        turns = []
        for t in transcript:
            if not isinstance(t, Mapping) or not isinstance(t.get("content"), str):
                raise InvalidInputError("each transcript turn must be an object with role and content")
            turns.append(
                {
                    "role": t.get("role"),
                    "speaker": t.get("speaker"),
                    "content": t["content"],
                    "timestamp": t.get("timestamp"),
                }
            )
        return {"messages": turns}, json.dumps(turns, sort_keys=True, default=str)

    # -- reads ----------------------------------------------------------------------------------------------------
    async def recent(self, tenant: Tenant, conversation_id: str, limit: int) -> list[RecentMessage]:
        """The latest ``limit`` turns, oldest first."""
        msgs = await self._svc.store.recent_messages(tenant.instance_id, conversation_id, limit=limit)
        return [
            RecentMessage(role=m.role, content=m.content, timestamp=m.recorded_at, message_id=m.message_id)
            for m in msgs
        ]

    async def turns(self, tenant: Tenant, request: TurnsQuery) -> list[Turn]:
        """Turns from the 1-based position ``start`` (at most the latest 5000 turns are addressable)."""
        if isinstance(request.start, bool) or not isinstance(request.start, int) or request.start < 1:
            raise InvalidInputError("start must be an integer ≥ 1", details={"field": "start"})
        if isinstance(request.limit, bool) or not isinstance(request.limit, int) or not 1 <= request.limit <= 500:
            raise InvalidInputError("limit must be between 1 and 500", details={"field": "limit"})
        await self.bound_target(
            tenant, request.conversation_id, customer_id=request.customer_id, user_id=request.user_id
        )
        msgs = await self.recent(tenant, request.conversation_id, MAX_ADDRESSABLE_TURNS)
        window = msgs[request.start - 1 : request.start - 1 + request.limit]
        return [
            Turn(
                role=m.role,
                content=m.content,
                timestamp=m.timestamp or utcnow(),
                message_id=m.message_id or "",
                position=request.start + i,
            )
            for i, m in enumerate(window)
        ]

    async def context_for_prompt(self, tenant: Tenant, request: PromptContextQuery) -> ContextForPromptResponse:
        """The latest turns, formatted (no compaction is kept yet: ``available`` says whether there are turns)."""
        if request.style not in ("structured", "narrative", "bullet_points"):
            raise InvalidInputError("style must be structured, narrative or bullet_points", details={"field": "style"})
        if isinstance(request.limit, bool) or not isinstance(request.limit, int) or not 1 <= request.limit <= 200:
            raise InvalidInputError("limit must be between 1 and 200", details={"field": "limit"})
        _, conv = await self.bound_target(
            tenant, request.conversation_id, customer_id=request.customer_id, user_id=request.user_id
        )
        turns = await self.recent(tenant, request.conversation_id, request.limit) if conv is not None else []
        return ContextForPromptResponse(
            formatted_context=format_turns(turns, request.style),
            available=bool(turns),
            recent_messages=turns,
            recent_message_count=len(turns),
            total_message_count=conv.message_count if conv is not None else 0,
        )
