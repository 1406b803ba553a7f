"""Edits of stored data outside ingestion, written once for both SQL backends: rewrite one memory, delete memories
by id, and erase what a scope subtree (or one of its conversations) holds.

Every statement is scoped by ``_sql.scope_filter`` (through ``Dialect.scoped``), deletions included: an erasure
takes a :class:`~tenantry.scope.ReadChain` built by ``ReadChain.subtree`` and removes exactly the rows that chain
reads, on every table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from typing import Any

from ..scope import ReadChain
from ..scope import Scope
from ..scope import ScopeLevel
from ..types import Vectors
from ..types import content_hash
from ._plan import Dialect
from ._plan import Op
from ._plan import Plan
from ._plan import PlanStore
from ._plan import ScopeKey
from ._plan import bump
from ._plan import scope_key
from ._sql import loads
from .base import MemoryRecord

__all__ = ["RECEIPT_KEYS", "delete_memory_rows", "erase_plan"]

RECEIPT_KEYS = ("memories", "documents", "ingestions", "messages", "conversations")


def delete_memory_rows(d: Dialect, where: str, params: Sequence[Any]) -> Plan[int]:
    """Delete the memories ``where`` selects (alias ``m``), with what is stored beside them; bump their scopes."""
    gone = yield Op(
        f"DELETE FROM memories AS m WHERE {where} RETURNING rowid, instance_id, customer_id, level, user_id", params
    )
    if gone.rows:
        yield from d.forget_memories([int(r[0]) for r in gone.rows])
        keys: list[ScopeKey] = [(r[1], r[2], r[3], r[4]) for r in gone.rows]
        yield from bump(d, keys)
    return len(gone.rows)


def erase_plan(d: Dialect, chain: ReadChain, conversation_id: str | None) -> Plan[dict[str, int]]:
    """Delete every row ``chain`` reads: memories (and their search rows), documents, ingestions (their payloads
    hold the documents), conversations with their messages and transcripts. With ``conversation_id``, only the rows
    of that conversation inside the chain. Returns the receipt: rows deleted per kind (:data:`RECEIPT_KEYS`).

    Ingestions go first: a worker still processing one of them then finds its claim gone and stores nothing."""
    where, params = d.scoped(chain)

    def inside(column: str) -> tuple[str, list[Any]]:
        if conversation_id is None:
            return where, params
        return f"{where} AND {column} = {d.p}", [*params, conversation_id]

    receipt = dict.fromkeys(RECEIPT_KEYS, 0)
    jobs, jobs_params = inside(d.json_text("m.payload", "conversation_id"))
    receipt["ingestions"] = (yield Op(f"DELETE FROM ingestions AS m WHERE {jobs}", jobs_params)).rowcount
    rows, rows_params = inside("m.conversation_id")
    receipt["memories"] = yield from delete_memory_rows(d, rows, rows_params)
    receipt["documents"] = (yield Op(f"DELETE FROM documents AS m WHERE {rows}", rows_params)).rowcount
    bound = f"instance_id = {d.p} AND conversation_id IN (SELECT m.conversation_id FROM conversations m WHERE {rows})"
    bound_params = [chain.instance_id, *rows_params]
    receipt["messages"] = (yield Op(f"DELETE FROM messages WHERE {bound}", bound_params)).rowcount
    yield Op(f"DELETE FROM transcripts WHERE {bound}", bound_params)
    receipt["conversations"] = (yield Op(f"DELETE FROM conversations AS m WHERE {rows}", rows_params)).rowcount
    return receipt


def _delete_plan(d: Dialect, chain: ReadChain, memory_ids: list[str]) -> Plan[int]:
    where, params = d.scoped(chain)
    among, ids = d.any_of("m.memory_id", memory_ids)
    return (yield from delete_memory_rows(d, f"{among} AND {where}", [*ids, *params]))


def _update_plan(
    d: Dialect, chain: ReadChain, memory_id: str, content: str, vector: Vectors, metadata: dict[str, Any] | None
) -> Plan[bool]:
    p = d.p
    where, params = d.scoped(chain)
    found = yield Op(
        "SELECT m.rowid, m.instance_id, m.customer_id, m.level, m.user_id FROM memories m "
        f"WHERE m.memory_id = {p} AND {where}",
        [memory_id, *params],
    )
    row = found.first
    if row is None:
        return False
    rowid, scope = int(row[0]), Scope(row[1], ScopeLevel(row[3]), row[2], row[4])
    # Locked within its own partition: a chain may span several shards on Citus, where a locking read must not.
    one, one_params = d.scoped(ReadChain.single(scope))
    locked = yield Op(
        f"SELECT m.metadata FROM memories m WHERE {one} AND m.rowid = {p}{d.for_update}", [*one_params, rowid]
    )
    if locked.first is None:
        return False  # deleted in between
    meta = {**loads(locked.first[0]), **(metadata or {})}
    yield Op(
        f"UPDATE memories AS m SET content = {p}, content_hash = {p}, metadata = {p}, updated_at = {p} "
        f"WHERE {one} AND m.rowid = {p}",
        [content, content_hash(content), d.js(meta), d.ts(datetime.now(UTC)), *one_params, rowid],
    )
    yield from d.rewrite_memory(rowid, one, one_params, content, vector)
    yield from bump(d, [scope_key(scope)])
    return True


class _EditsMixin(PlanStore):
    """Memory updates and deletions every SQL backend shares."""

    async def delete_memories(self, chain: ReadChain, memory_ids: list[str]) -> int:
        if not memory_ids:
            return 0
        return await self._run(_delete_plan(self.dialect, chain, memory_ids), instance_id=chain.instance_id)

    async def update_memory(
        self, chain: ReadChain, memory_id: str, *, content: str, vector: Vectors, metadata: dict[str, Any] | None
    ) -> MemoryRecord | None:
        plan = _update_plan(self.dialect, chain, memory_id, content, vector, metadata)
        if not await self._run(plan, instance_id=chain.instance_id):
            return None
        return await self.get_memory(chain, memory_id)

    async def delete_scope_data(self, chain: ReadChain, *, conversation_id: str | None = None) -> dict[str, int]:
        return await self._run(erase_plan(self.dialect, chain, conversation_id), instance_id=chain.instance_id)
