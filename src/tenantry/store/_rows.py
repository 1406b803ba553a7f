"""Rows of both SQL backends: the column lists the shared plans select and insert, and row → record converters.

Each converter reads its columns by position, in the order of its column list, and accepts what either driver
returns (SQLite: ISO text and JSON text; PostgreSQL: ``datetime`` and decoded ``jsonb``). Memory rows are decoded by
each backend itself (``_sqlite_rows`` / ``_pg_rows``): that is the hot path of every search.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

import numpy as np

from ..scope import Relationship
from ..scope import Scope
from ..scope import ScopeLevel
from ..types import Vectors
from ._sql import loads
from ._sql import parse_ts
from .base import ConversationRecord
from .base import InstanceRecord
from .base import JobRecord
from .base import KeyRecord
from .base import MessageRecord
from .base import NewMemory

if TYPE_CHECKING:
    from ._plan import Dialect

__all__ = [
    "CONVERSATION_COLS",
    "INSTANCE_COLS",
    "JOB_COLS",
    "KEY_COLS",
    "NEW_MEMORY_COLS",
    "MEMORY_COLS",
    "MESSAGE_COLS",
    "conversation",
    "flat",
    "instance",
    "job",
    "key",
    "memory_values",
    "message",
]

INSTANCE_COLS = "instance_id, name, relationship, client_id, created_at, archived, embedder, dimensions"
KEY_COLS = "key_id, instance_id, name, prefix, created_at, revoked_at, last_used_at"
_KEY_FIELDS = KEY_COLS.split(", ")
JOB_COLS = (
    "ingestion_id, instance_id, customer_id, level, user_id, document_id, kind, status, payload, attempts, "
    "queued_at, started_at, completed_at, memory_ids, error_message, claim, failures"
)
# A conversation with its message count and last message time (alias ``c``).
CONVERSATION_COLS = (
    "c.instance_id, c.conversation_id, c.customer_id, c.user_id, c.created_at, "
    "(SELECT count(*) FROM messages x WHERE x.instance_id = c.instance_id AND x.conversation_id = c.conversation_id), "
    "(SELECT max(x.recorded_at) FROM messages x WHERE x.instance_id = c.instance_id "
    "AND x.conversation_id = c.conversation_id)"
)
MESSAGE_COLS = "message_id, conversation_id, role, content, recorded_at, session_id, metadata"
# A memory row as ``_sqlite_rows._memory`` / ``_pg_rows._memory`` decode it (alias ``m``).
MEMORY_COLS = (
    "m.rowid, m.memory_id, m.instance_id, m.customer_id, m.level, m.user_id, m.memory_type, m.content, m.category, "
    "m.confidence, m.event_date, m.valid_until, m.temporal_category, m.source_evidence, m.entities, m.subject, "
    "m.attribute, m.metadata, m.document_id, m.conversation_id, m.created_at, m.updated_at, m.superseded_by, "
    "m.mention_count"
)
# What both schemas store for a new memory; each backend adds its search columns (``Dialect.insert_memories``).
NEW_MEMORY_COLS = (
    "instance_id, customer_id, level, user_id, memory_id, memory_type, content, content_hash, category, "
    "confidence, event_date, valid_until, temporal_category, source_evidence, entities, subject, attribute, "
    "metadata, document_id, conversation_id, ingestion_id, created_at"
)


def _at(value: Any) -> datetime:
    """A ``NOT NULL`` timestamp column."""
    at = parse_ts(value)
    if at is None:
        raise ValueError("a NOT NULL timestamp column returned NULL")
    return at


def instance(r: Sequence[Any]) -> InstanceRecord:
    return InstanceRecord(r[0], r[1], Relationship(r[2]), r[3], _at(r[4]), bool(r[5]), r[6], r[7])


def key(r: Sequence[Any]) -> KeyRecord:
    values = (*r[:4], _at(r[4]), parse_ts(r[5]), parse_ts(r[6]))
    return KeyRecord(**dict(zip(_KEY_FIELDS, values, strict=True)))


def job(r: Sequence[Any]) -> JobRecord:
    scope = Scope(r[1], ScopeLevel(r[3]), r[2], r[4])
    payload, memory_ids = dict(loads(r[8])), list(loads(r[13]))
    times = _at(r[10]), parse_ts(r[11]), parse_ts(r[12])
    return JobRecord(
        r[0], r[1], scope, r[5], r[6], r[7], payload, int(r[9]), *times, memory_ids, r[14], r[15], int(r[16])
    )


def conversation(r: Sequence[Any]) -> ConversationRecord:
    return ConversationRecord(r[0], r[1], r[2], r[3], _at(r[4]), int(r[5]), parse_ts(r[6]))


def message(r: Sequence[Any]) -> MessageRecord:
    return MessageRecord(r[0], r[1], r[2], r[3], _at(r[4]), r[5], dict(loads(r[6])))


def memory_values(
    d: Dialect,
    scope: Scope,
    mem: NewMemory,
    *,
    document_id: str | None,
    conversation_id: str | None,
    ingestion_id: str | None,
    created_at: datetime,
) -> tuple[Any, ...]:
    """The values of :data:`NEW_MEMORY_COLS` for ``mem``, adapted to the backend of ``d``."""
    m = mem.draft
    return (
        *(scope.instance_id, scope.customer_id, scope.level.value, scope.user_id),
        *(mem.memory_id, m.memory_type, m.content, mem.content_hash, m.category, float(m.confidence)),
        *(d.ts(m.event_date), d.ts(m.valid_until), m.temporal_category, d.js(m.source_evidence), d.js(m.entities)),
        *(m.subject, m.attribute, d.js(m.metadata), document_id, conversation_id, ingestion_id, d.ts(created_at)),
    )


def flat(vector: Vectors) -> Vectors:
    """A vector as one float32 row."""
    return np.asarray(vector, dtype=np.float32).reshape(-1)
