"""Conversations, their messages and transcripts, written once for both SQL backends.

A conversation is bound to the (customer_id, user_id) of its first write; its ``level`` column is derived from those
ids by the schema, so ``scope_filter`` scopes conversations like every other table (see ``_edits.erase_plan``).
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from . import _rows
from ._plan import Dialect
from ._plan import Op
from ._plan import Plan
from ._plan import PlanStore
from .base import ConversationRecord
from .base import MessageRecord


def _bind_plan(d: Dialect, instance_id: str, conversation_id: str, customer_id: str, user_id: str) -> Plan[None]:
    yield Op(
        "INSERT INTO conversations (instance_id, conversation_id, customer_id, user_id, created_at) "
        f"VALUES ({d.marks(5)}) ON CONFLICT (instance_id, conversation_id) DO NOTHING",
        (instance_id, conversation_id, customer_id, user_id, d.ts(datetime.now(UTC))),
    )


def _conversation_plan(d: Dialect, instance_id: str, conversation_id: str) -> Plan[ConversationRecord | None]:
    found = yield Op(
        f"SELECT {_rows.CONVERSATION_COLS} FROM conversations c WHERE c.instance_id = {d.p} "
        f"AND c.conversation_id = {d.p}",
        (instance_id, conversation_id),
    )
    return _rows.conversation(found.first) if found.first else None


def _add_messages_plan(d: Dialect, instance_id: str, messages: list[MessageRecord]) -> Plan[None]:
    yield Op(
        "INSERT INTO messages (message_id, instance_id, conversation_id, role, content, session_id, metadata, "
        f"recorded_at) VALUES ({d.marks(8)})",
        [
            (
                m.message_id,
                instance_id,
                m.conversation_id,
                m.role,
                m.content,
                m.session_id,
                d.js(m.metadata),
                d.ts(m.recorded_at),
            )
            for m in messages
        ],
        many=True,
    )


def _recent_plan(d: Dialect, instance_id: str, conversation_id: str, limit: int) -> Plan[list[MessageRecord]]:
    found = yield Op(
        f"SELECT {_rows.MESSAGE_COLS} FROM messages WHERE instance_id = {d.p} AND conversation_id = {d.p} "
        f"ORDER BY message_pk DESC LIMIT {d.p}",
        (instance_id, conversation_id, limit),
    )
    return [_rows.message(r) for r in reversed(found.rows)]


def _transcript_plan(d: Dialect, instance_id: str, conversation_id: str) -> Plan[tuple[str, str] | None]:
    found = yield Op(
        f"SELECT digest, ingestion_id FROM transcripts WHERE instance_id = {d.p} AND conversation_id = {d.p}",
        (instance_id, conversation_id),
    )
    return (found.first[0], found.first[1]) if found.first else None


def _save_transcript_plan(
    d: Dialect, instance_id: str, conversation_id: str, digest: str, ingestion_id: str
) -> Plan[None]:
    yield Op(
        "INSERT INTO transcripts (instance_id, conversation_id, digest, ingestion_id, created_at) "
        f"VALUES ({d.marks(5)})",
        (instance_id, conversation_id, digest, ingestion_id, d.ts(datetime.now(UTC))),
    )


def _customer_plan(d: Dialect, instance_id: str, customer_id: str) -> Plan[bool]:
    found = yield Op(
        f"SELECT 1 FROM scopes WHERE instance_id = {d.p} AND customer_id = {d.p} UNION ALL "
        f"SELECT 1 FROM conversations WHERE instance_id = {d.p} AND customer_id = {d.p} LIMIT 1",
        (instance_id, customer_id, instance_id, customer_id),
    )
    return bool(found.rows)


class _ConversationsMixin(PlanStore):
    """Conversation bindings, messages and transcripts every SQL backend shares."""

    async def bind_conversation(
        self, instance_id: str, conversation_id: str, customer_id: str, user_id: str
    ) -> ConversationRecord:
        d = self.dialect

        def plan() -> Plan[ConversationRecord]:
            yield from _bind_plan(d, instance_id, conversation_id, customer_id, user_id)
            bound = yield from _conversation_plan(d, instance_id, conversation_id)
            assert bound is not None
            return bound

        return await self._run(plan(), instance_id=instance_id)

    async def get_conversation(self, instance_id: str, conversation_id: str) -> ConversationRecord | None:
        plan = _conversation_plan(self.dialect, instance_id, conversation_id)
        return await self._run(plan, instance_id=instance_id, write=False)

    async def add_messages(self, instance_id: str, messages: list[MessageRecord]) -> None:
        if messages:
            await self._run(_add_messages_plan(self.dialect, instance_id, messages), instance_id=instance_id)

    async def recent_messages(self, instance_id: str, conversation_id: str, *, limit: int) -> list[MessageRecord]:
        plan = _recent_plan(self.dialect, instance_id, conversation_id, limit)
        return await self._run(plan, instance_id=instance_id, write=False)

    async def transcript_ingestion(self, instance_id: str, conversation_id: str) -> tuple[str, str] | None:
        plan = _transcript_plan(self.dialect, instance_id, conversation_id)
        return await self._run(plan, instance_id=instance_id, write=False)

    async def save_transcript(self, instance_id: str, conversation_id: str, digest: str, ingestion_id: str) -> None:
        plan = _save_transcript_plan(self.dialect, instance_id, conversation_id, digest, ingestion_id)
        await self._run(plan, instance_id=instance_id)

    async def customer_exists(self, instance_id: str, customer_id: str) -> bool:
        plan = _customer_plan(self.dialect, instance_id, customer_id)
        return await self._run(plan, instance_id=instance_id, write=False)
