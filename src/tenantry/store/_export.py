"""Export and import (restore) of a scope's rows in the :mod:`tenantry.dataformat` records, written once for both
SQL backends.

Export reads one kind of row at a time (documents, then memories, then messages), a page per call, in key order
after a cursor, always through the scope filter. Restore writes a batch of records in one transaction; each record
is inserted unless it is already there (same document id in its scope, same memory id, same message id): a second
import of the same file changes nothing. What a record could not be restored for is returned with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from typing import Any

from ..dataformat import DocumentLine
from ..dataformat import MemoryLine
from ..dataformat import MessageLine
from ..dataformat import Record
from ..dataformat import ScopeRef
from ..scope import ReadChain
from ..scope import Scope
from ..types import MemoryDraft
from ..types import Vectors
from ..types import content_hash
from . import _rows
from ._conversations import _add_messages_plan
from ._conversations import _bind_plan
from ._plan import Dialect
from ._plan import Op
from ._plan import Plan
from ._plan import PlanStore
from ._plan import bump
from ._plan import scope_key
from ._sql import loads
from ._sql import parse_ts
from .base import MessageRecord
from .base import NewMemory

__all__ = ["ExportMixin"]

# The exported fields of each kind, in the order they are selected (after the scope's three columns).
_DOCUMENT_FIELDS = (
    "document_id document_type content content_hash document_created_at conversation_id created_at metadata"
).split()
_MEMORY_FIELDS = (
    "memory_id memory_type content confidence category event_date valid_until temporal_category subject attribute "
    "entities metadata document_id conversation_id ingestion_id source_evidence superseded_by mention_count "
    "created_at updated_at"
).split()
_MESSAGE_FIELDS = "conversation_id message_id role content session_id metadata recorded_at".split()


def _columns(alias: str, names: Sequence[str]) -> str:
    """The scope's columns (of ``m``), then the columns ``names`` of the table ``alias``."""
    return ", ".join(["m.customer_id, m.level, m.user_id", *(f"{alias}.{n}" for n in names)])


_DOCUMENT_COLS = _columns("m", _DOCUMENT_FIELDS)
_MEMORY_COLS = _columns("m", [*_MEMORY_FIELDS, "rowid"])  # the cursor last
_MESSAGE_COLS = _columns("x", [*_MESSAGE_FIELDS, "message_pk"])


def _json_list(value: Any) -> list[Any]:
    return list(loads(value) or [])


def _json_dict(value: Any) -> dict[str, Any]:
    return dict(loads(value) or {})


# How a column's value (either driver's) becomes the record's; the other fields are taken as they are.
_DECODE: dict[str, Callable[[Any], Any]] = {
    "confidence": lambda v: min(1.0, max(0.0, float(v))),
    "mention_count": lambda v: max(1, int(v)),
    "entities": _json_list,
    "source_evidence": _json_list,
    "metadata": _json_dict,
    "created_at": _rows._at,
    "recorded_at": _rows._at,
    "document_created_at": parse_ts,
    "event_date": parse_ts,
    "valid_until": parse_ts,
    "updated_at": parse_ts,
}


def _scope(r: Sequence[Any]) -> ScopeRef:
    return ScopeRef(level=r[1], customer_id=r[0], user_id=r[2])


def _fields(names: Sequence[str], r: Sequence[Any]) -> dict[str, Any]:
    """The fields ``names`` of the row ``r``, decoded."""
    return {n: _DECODE[n](v) if n in _DECODE else v for n, v in zip(names, r[3 : 3 + len(names)], strict=True)}


def _page_plan(
    d: Dialect, chain: ReadChain, kind: str, after: Sequence[Any] | None, limit: int
) -> Plan[tuple[list[Record], list[Any] | None]]:
    """Up to ``limit`` rows of ``kind`` after the key ``after``; returns them and the key of the last one."""
    p = d.p
    where, params = d.scoped(chain)
    if kind == "document":
        key = "(m.customer_id, m.level, m.user_id, m.document_id)"
        sql = f"SELECT {_DOCUMENT_COLS} FROM documents m WHERE {where}"
        order = "m.customer_id, m.level, m.user_id, m.document_id"
        if after is not None:
            sql += f" AND {key} > ({d.marks(4)})"
    elif kind == "memory":
        sql, order = f"SELECT {_MEMORY_COLS} FROM memories m WHERE {where}", "m.rowid"
        if after is not None:
            sql += f" AND m.rowid > {p}"
    else:
        sql = (
            f"SELECT {_MESSAGE_COLS} FROM messages x JOIN conversations m ON m.instance_id = x.instance_id "
            f"AND m.conversation_id = x.conversation_id WHERE {where}"
        )
        order = "x.message_pk"
        if after is not None:
            sql += f" AND x.message_pk > {p}"
    found = yield Op(f"{sql} ORDER BY {order} LIMIT {p}", [*params, *(after or ()), limit])
    rows = found.rows
    if kind == "document":
        out: list[Record] = [DocumentLine(scope=_scope(r), **_fields(_DOCUMENT_FIELDS, r)) for r in rows]
        last = list(rows[-1][:4]) if rows else None  # the scope and the document id
    elif kind == "memory":
        out = [MemoryLine(scope=_scope(r), **_fields(_MEMORY_FIELDS, r)) for r in rows]
        last = [int(rows[-1][-1])] if rows else None
    else:
        out = [MessageLine(scope=_scope(r), **_fields(_MESSAGE_FIELDS, r)) for r in rows]
        last = [int(rows[-1][-1])] if rows else None
    return out, last


def _restore_plan(
    d: Dialect, instance_id: str, records: Sequence[tuple[Record, Vectors | None]]
) -> Plan[list[str | None]]:
    """Write each record unless it is there already (one transaction). ``records`` carry a memory's vector."""
    now = datetime.now(UTC)
    outcomes: list[str | None] = []
    touched: list[tuple[str, str, str, str]] = []
    for record, vector in records:
        scope = record.scope.within(instance_id)
        key = scope_key(scope)
        if isinstance(record, DocumentLine):
            outcome = yield from _restore_document(d, scope, record, now)
        elif isinstance(record, MemoryLine):
            assert vector is not None
            outcome = yield from _restore_memory(d, scope, record, vector)
            touched.append(key)
        else:
            outcome = yield from _restore_message(d, scope, record)
        outcomes.append(outcome)
    yield from bump(d, touched, create=True)
    return outcomes


def _restore_document(d: Dialect, scope: Scope, r: DocumentLine, now: datetime) -> Plan[str | None]:
    key = scope_key(scope)
    inserted = yield Op(
        "INSERT INTO documents (instance_id, customer_id, level, user_id, document_id, document_type, content, "
        f"content_hash, document_created_at, conversation_id, created_at, metadata) VALUES ({d.marks(12)}) "
        "ON CONFLICT (instance_id, customer_id, level, user_id, document_id) DO NOTHING RETURNING 1",
        (
            *key,
            *(r.document_id, r.document_type, r.content, r.content_hash or content_hash(r.content)),
            *(d.ts(r.document_created_at), r.conversation_id, d.ts(r.created_at), d.js(r.metadata)),
        ),
    )
    if not inserted.rows:
        return f"document {r.document_id} is already in {r.scope.label}"
    # An ingestion row, so that a later write of the same document_id in this scope is the same document (the
    # queue's idempotency) and not a second copy of it. It holds no content.
    yield Op(
        "INSERT INTO ingestions (ingestion_id, instance_id, customer_id, level, user_id, document_id, content_hash, "
        f"kind, status, payload, queued_at, completed_at) VALUES ({d.marks(12)}) "
        "ON CONFLICT (instance_id, customer_id, level, user_id, document_id) DO NOTHING",
        (
            f"import-{content_hash(repr((*key, r.document_id)))}",
            *key,
            *(r.document_id, r.content_hash or content_hash(r.content), "import", "completed"),
            *(d.js({"imported": True}), d.ts(now), d.ts(now)),
        ),
    )
    return None


def _restore_memory(d: Dialect, scope: Scope, r: MemoryLine, vector: Vectors) -> Plan[str | None]:
    p = d.p
    # Memory ids are unique per instance (PostgreSQL) or per database (SQLite): this sees what the insert would hit.
    taken = yield Op(
        f"SELECT instance_id, customer_id, level, user_id FROM memories WHERE memory_id = {p}", [r.memory_id]
    )
    if taken.rows:
        here = tuple(taken.rows[0]) == scope_key(scope)
        return f"memory {r.memory_id} is already {'in ' + r.scope.label if here else 'used in this database'}"
    if r.document_id:
        ingested = yield Op(
            f"SELECT kind FROM ingestions WHERE instance_id = {p} AND customer_id = {p} AND level = {p} "
            f"AND user_id = {p} AND document_id = {p}",
            [*scope_key(scope), r.document_id],
        )
        if ingested.rows and ingested.rows[0][0] != "import":
            return f"document {r.document_id} was written to {r.scope.label} here already (not by an import)"
    handle = yield from d.open_scope(scope)
    draft = MemoryDraft(
        memory_type=r.memory_type,
        content=r.content,
        confidence=r.confidence,
        category=r.category,
        event_date=r.event_date,
        valid_until=r.valid_until,
        temporal_category=r.temporal_category,
        source_evidence=list(r.source_evidence),
        entities=list(r.entities),
        subject=r.subject,
        attribute=r.attribute,
        metadata=dict(r.metadata),
    )
    mem = NewMemory(r.memory_id, draft, vector, content_hash(r.content))
    row = _rows.memory_values(
        d,
        scope,
        mem,
        document_id=r.document_id,
        conversation_id=r.conversation_id,
        ingestion_id=r.ingestion_id,
        created_at=r.created_at,
    )
    yield from d.insert_memories(handle, [row], [mem])
    if r.superseded_by or r.updated_at or r.mention_count != 1:
        where, params = d.scoped(ReadChain.single(scope))
        yield Op(
            f"UPDATE memories AS m SET superseded_by = {p}, updated_at = {p}, mention_count = {p} "
            f"WHERE {where} AND m.memory_id = {p}",
            [r.superseded_by, d.ts(r.updated_at), r.mention_count, *params, r.memory_id],
        )
    return None


def _restore_message(d: Dialect, scope: Scope, r: MessageLine) -> Plan[str | None]:
    p = d.p
    yield from _bind_plan(d, scope.instance_id, r.conversation_id, scope.customer_id, scope.user_id)
    bound = yield Op(
        f"SELECT customer_id, user_id FROM conversations WHERE instance_id = {p} AND conversation_id = {p}",
        [scope.instance_id, r.conversation_id],
    )
    if bound.first is None or tuple(bound.first) != (scope.customer_id, scope.user_id):
        return f"conversation {r.conversation_id} is bound to another scope here"
    taken = yield Op(f"SELECT instance_id FROM messages WHERE message_id = {p}", [r.message_id])
    if taken.rows:
        here = taken.rows[0][0] == scope.instance_id
        return f"message {r.message_id} is already {'in conversation ' + r.conversation_id if here else 'used'}"
    message = MessageRecord(r.message_id, r.conversation_id, r.role, r.content, r.recorded_at, r.session_id, r.metadata)
    yield from _add_messages_plan(d, scope.instance_id, [message])
    return None


class ExportMixin(PlanStore):
    """``export_page`` and ``restore`` for every SQL backend."""

    async def export_page(
        self, chain: ReadChain, kind: str, *, after: Sequence[Any] | None, limit: int
    ) -> tuple[list[Record], list[Any] | None]:
        plan = _page_plan(self.dialect, chain, kind, after, limit)
        return await self._run(plan, instance_id=chain.instance_id, write=False)

    async def restore(self, instance_id: str, records: Sequence[tuple[Record, Vectors | None]]) -> list[str | None]:
        return await self._run(_restore_plan(self.dialect, instance_id, records), instance_id=instance_id)
