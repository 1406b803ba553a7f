"""Edits of stored data outside ingestion, written once for both SQL backends: rewrite one memory, delete memories
by id, and erase what a scope subtree (or one of its conversations) holds.

Every statement is scoped by ``_sql.scope_filter`` (through ``Dialect.scoped``), deletions included: an erasure
takes a :class:`~tenantry.scope.ReadChain` built by ``ReadChain.subtree`` and removes exactly the rows that chain
reads, on every table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from typing import Any

from ..scope import ReadChain
from ..scope import Scope
from ..scope import ScopeLevel
from ..types import content_hash
from ._plan import Dialect
from ._plan import Op
from ._plan import Plan
from ._plan import PlanStore
from ._plan import RolledBack
from ._plan import ScopeKey
from ._plan import audit
from ._plan import bump
from ._plan import rolled_back
from ._plan import scope_key
from ._sql import loads
from .base import Audit
from .base import EraseOptions
from .base import MemoryEdit
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


def erase_plan(
    d: Dialect, chain: ReadChain, conversation_id: str | None, *, audited: bool = True, pseudonymise: bool = False
) -> Plan[dict[str, int]]:
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
    yield Op(f"DELETE FROM compactions WHERE {bound}", bound_params)
    receipt["conversations"] = (yield Op(f"DELETE FROM conversations AS m WHERE {rows}", rows_params)).rowcount
    if pseudonymise and conversation_id is None:
        yield from _pseudonymise(d, chain)
    if audited:
        yield from audit(d, chain.instance_id, "data.delete", {"counts": receipt})
    return receipt


def pseudonym(instance_id: str, label: str) -> str:
    """What an erased scope's label becomes in the audit log: the same for every entry (they still correlate),
    not reversible to the id."""
    return "erased:" + hashlib.sha256(f"{instance_id}|{label}".encode()).hexdigest()[:16]


def _pseudonymise(d: Dialect, chain: ReadChain) -> Plan[None]:
    """Replace the erased scopes' labels in the instance's past audit entries by their :func:`pseudonym` (a
    customer's erasure covers its users, each ``customer:<c>/user:<u>`` label by its own pseudonym). Ids are of a
    restricted charset, so a label is matched exactly, as the JSON string it is stored as."""
    p, text = d.p, d.json_as_text.format(column="detail")
    labels: list[Scope] = []
    for s in chain.scopes:
        labels.append(s)
        if chain.descendants and s.level is ScopeLevel.CUSTOMER:
            users = yield Op(  # the scope rows stay after an erasure (they carry the cache versions)
                f"SELECT user_id FROM scopes WHERE instance_id = {p} AND customer_id = {p} AND level = 'user'",
                (s.instance_id, s.customer_id),
            )
            labels += [Scope(s.instance_id, ScopeLevel.USER, s.customer_id, str(r[0])) for r in users.rows]
    for s in labels:
        old, new = f'"{s.path}"', f'"{pseudonym(s.instance_id, s.path)}"'
        yield Op(
            f"UPDATE audit_log SET detail = {d.text_as_json.format(expr=f'replace({text}, {p}, {p})')} "
            f"WHERE instance_id = {p} AND {_contains(d, text)}",
            (old, new, s.instance_id, old),
        )


def _contains(d: Dialect, text: str) -> str:
    return f"instr({text}, {d.p}) > 0" if d.name == "sqlite" else f"strpos({text}, {d.p}) > 0"


def _delete_plan(d: Dialect, chain: ReadChain, memory_ids: list[str], record: Audit | None) -> Plan[int]:
    """Delete memories by id, and the text they came from: their source documents, the document in their jobs'
    payloads, the recorded message a turn memory was made of; the memories left from those documents get their
    own text back as lexical text (it quoted the turns around them)."""
    p = d.p
    where, params = d.scoped(chain)
    among, ids = d.any_of("m.memory_id", memory_ids)
    found = yield Op(
        f"SELECT m.instance_id, m.customer_id, m.level, m.user_id, m.document_id FROM memories m "
        f"WHERE {among} AND {where}",
        [*ids, *params],
    )
    n = yield from delete_memory_rows(d, f"{among} AND {where}", [*ids, *params])
    sources = {(Scope(r[0], ScopeLevel(r[2]), r[1], r[3]), r[4]) for r in found.rows if r[4]}
    for scope, document_id in sorted(sources, key=lambda x: (scope_key(x[0]), x[1])):
        one, one_params = d.scoped(ReadChain.single(scope))
        of_doc = [*one_params, document_id]
        yield Op(f"DELETE FROM documents AS m WHERE {one} AND m.document_id = {p}", of_doc)
        yield Op(f"UPDATE ingestions AS m SET payload = {p} WHERE {one} AND m.document_id = {p}", [d.js({}), *of_doc])
        if document_id.startswith("msg-"):
            yield Op(
                f"DELETE FROM messages WHERE instance_id = {p} AND message_id = {p}",
                (scope.instance_id, document_id.removeprefix("msg-")),
            )
        left = yield Op(f"SELECT m.rowid, m.content FROM memories m WHERE {one} AND m.document_id = {p}", of_doc)
        for rowid, content in left.rows:
            yield from d.relabel_memory(int(rowid), one, one_params, f"{content} {content}")
    if record is not None and n:
        yield from audit(d, chain.instance_id, record.action, {**record.detail, "deleted": n})
    return n


def _update_plan(d: Dialect, chain: ReadChain, memory_id: str, edit: MemoryEdit, record: Audit | None) -> Plan[bool]:
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
    meta = loads(locked.first[0]) if edit.metadata is None else edit.metadata  # the whole new metadata
    yield Op(
        f"UPDATE memories AS m SET content = {p}, content_hash = {p}, metadata = {p}, updated_at = {p} "
        f"WHERE {one} AND m.rowid = {p}",
        [edit.content, content_hash(edit.content), d.js(meta), d.ts(datetime.now(UTC)), *one_params, rowid],
    )
    yield from d.rewrite_memory(rowid, one, one_params, edit.content, edit.vector)
    yield from bump(d, [scope_key(scope)])
    if record is not None:
        yield from audit(d, chain.instance_id, record.action, record.detail)
    return True


class _EditsMixin(PlanStore):
    """Memory updates and deletions every SQL backend shares."""

    async def delete_memories(self, chain: ReadChain, memory_ids: list[str], *, audit: Audit | None = None) -> int:
        if not memory_ids:
            return 0
        plan = _delete_plan(self.dialect, chain, memory_ids, audit)
        n = await self._run(plan, instance_id=chain.instance_id)
        if n:
            await self._scrub(full=False)
        return n

    async def update_memory(
        self, chain: ReadChain, memory_id: str, edit: MemoryEdit, *, audit: Audit | None = None
    ) -> MemoryRecord | None:
        plan = _update_plan(self.dialect, chain, memory_id, edit, audit)
        if not await self._run(plan, instance_id=chain.instance_id):
            return None
        return await self.get_memory(chain, memory_id)

    async def delete_scope_data(
        self, chain: ReadChain, *, conversation_id: str | None = None, options: EraseOptions = EraseOptions()
    ) -> dict[str, int]:
        if not options.dry_run:
            plan = erase_plan(self.dialect, chain, conversation_id, pseudonymise=options.pseudonymise)
            receipt = await self._run(plan, instance_id=chain.instance_id)
            await self._scrub(full=True)
            return receipt
        try:  # the same plan, in a transaction that is rolled back: the counts of the real erasure, nothing erased
            await self._run(
                rolled_back(erase_plan(self.dialect, chain, conversation_id, audited=False)),
                instance_id=chain.instance_id,
            )
        except RolledBack as done:
            counted: dict[str, int] = done.value
            return counted
        raise AssertionError("unreachable: a rolled-back plan always raises")  # pragma: no cover
