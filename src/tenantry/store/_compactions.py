"""Versions of a conversation's compaction, written once for both SQL backends.

A compaction is begun as the conversation's next version with status ``in_progress`` (the partial unique index
``compactions_running`` lets one row per conversation have it: a second, concurrent begin inserts nothing and is
told so), then finished as ``completed`` or ``failed``. A row left ``in_progress`` by a process that died is
abandoned (marked failed) by the next begin after ``stale_before``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._plan import Dialect
from ._plan import Op
from ._plan import Plan
from ._plan import PlanStore
from ._sql import loads
from ._sql import parse_ts
from .base import CompactionRecord

_FIELDS = (
    "instance_id conversation_id version compaction_id strategy trigger status created_at completed_at message_count "
    "original_tokens compacted_tokens compression_ratio validation_score body error_message"
).split()
_COLS = ", ".join("trigger_type" if f == "trigger" else f for f in _FIELDS)


def _record(r: Sequence[Any]) -> CompactionRecord:
    """A row of ``_COLS`` (timestamps are text on SQLite, the body is JSON text there)."""
    values = dict(zip(_FIELDS, r, strict=True))
    values["created_at"], values["completed_at"] = parse_ts(values["created_at"]), parse_ts(values["completed_at"])
    values["body"] = loads(values["body"]) or {}
    return CompactionRecord(**values)


def _begin_plan(d: Dialect, rec: CompactionRecord, stale_before: Any) -> Plan[CompactionRecord | None]:
    p, key = d.p, (rec.instance_id, rec.conversation_id)
    yield Op(
        "UPDATE compactions SET status = 'failed', error_message = 'abandoned: its process stopped before it "
        f"finished' WHERE instance_id = {p} AND conversation_id = {p} AND status = 'in_progress' "
        f"AND created_at < {p}",
        (*key, d.ts(stale_before)),
    )
    top = yield Op(f"SELECT max(version) FROM compactions WHERE instance_id = {p} AND conversation_id = {p}", key)
    version = int(top.first[0] or 0) + 1 if top.first else 1
    yield Op(
        "INSERT INTO compactions (instance_id, conversation_id, version, compaction_id, strategy, trigger_type, "
        f"status, created_at, message_count) VALUES ({d.marks(9)}) ON CONFLICT DO NOTHING",
        (*key, version, rec.compaction_id, rec.strategy, rec.trigger, "in_progress", d.ts(rec.created_at), 0),
    )
    found = yield Op(
        f"SELECT {_COLS} FROM compactions WHERE instance_id = {p} AND compaction_id = {p}",
        (rec.instance_id, rec.compaction_id),
    )
    return _record(found.first) if found.first else None


def _finish_plan(d: Dialect, rec: CompactionRecord) -> Plan[None]:
    p = d.p
    yield Op(
        f"UPDATE compactions SET status = {p}, completed_at = {p}, message_count = {p}, original_tokens = {p}, "
        f"compacted_tokens = {p}, compression_ratio = {p}, validation_score = {p}, body = {p}, error_message = {p} "
        f"WHERE instance_id = {p} AND compaction_id = {p}",
        (
            rec.status,
            d.ts(rec.completed_at),
            rec.message_count,
            rec.original_tokens,
            rec.compacted_tokens,
            rec.compression_ratio,
            rec.validation_score,
            d.js(rec.body),
            rec.error_message,
            rec.instance_id,
            rec.compaction_id,
        ),
    )


def _get_plan(
    d: Dialect, instance_id: str, conversation_id: str, version: int | None, completed: bool
) -> Plan[CompactionRecord | None]:
    p = d.p
    where = f"instance_id = {p} AND conversation_id = {p}"
    params: list[Any] = [instance_id, conversation_id]
    if version is not None:
        where += f" AND version = {p}"
        params.append(version)
    if completed:
        where += " AND status = 'completed'"
    found = yield Op(f"SELECT {_COLS} FROM compactions WHERE {where} ORDER BY version DESC LIMIT 1", params)
    return _record(found.first) if found.first else None


class _CompactionsMixin(PlanStore):
    """Compaction versions every SQL backend shares."""

    async def begin_compaction(self, rec: CompactionRecord, *, stale_before: Any) -> CompactionRecord | None:
        return await self._run(_begin_plan(self.dialect, rec, stale_before), instance_id=rec.instance_id)

    async def finish_compaction(self, rec: CompactionRecord) -> None:
        await self._run(_finish_plan(self.dialect, rec), instance_id=rec.instance_id)

    async def get_compaction(
        self, instance_id: str, conversation_id: str, *, version: int | None = None, completed: bool = True
    ) -> CompactionRecord | None:
        plan = _get_plan(self.dialect, instance_id, conversation_id, version, completed)
        return await self._run(plan, instance_id=instance_id, write=False)
