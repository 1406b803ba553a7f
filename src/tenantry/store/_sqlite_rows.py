"""Row mapping of the SQLite backend: memory rows → records (the hot path of every search: interned scopes, a
cheaper JSON decoder), memory type codes. (Rows both backends read alike are mapped in ``_rows``.)"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import fields
from datetime import UTC
from datetime import datetime
from typing import Any

from ..scope import Scope
from ..scope import ScopeLevel
from ._sql import parse_ts
from .base import MemoryRecord

_TYPE_CODE = {"fact": 0, "preference": 1, "episode": 2, "emotion": 3, "temporal_event": 4}


def _now() -> datetime:
    return datetime.now(UTC)


def _epoch(ts: str | None) -> float:
    return parse_ts(ts).timestamp() if ts else float("inf")  # type: ignore[union-attr]


_SCOPES: dict[tuple[str, str, str, str], Scope] = {}  # interned scopes of memory rows (Scope is frozen)
_SCOPES_MAX = 65_536


def _scope_of(row: sqlite3.Row | tuple[Any, ...], offset: int = 0) -> Scope:
    key = (row[offset], row[offset + 1], row[offset + 2], row[offset + 3])
    scope = _SCOPES.get(key)
    if scope is None:
        instance_id, customer_id, level, user_id = key
        scope = Scope(instance_id, ScopeLevel(level), customer_id, user_id)
        if len(_SCOPES) >= _SCOPES_MAX:
            _SCOPES.clear()
        _SCOPES[key] = scope
    return scope


_raw_decode = json.JSONDecoder().raw_decode


def _json(text: str) -> Any:
    """``json.loads`` for the compact JSON the store writes, without its per-call overhead (``loads`` builds no
    decoder but still strips whitespace around the value: text that is not exactly one value goes through it)."""
    try:
        value, end = _raw_decode(text)
    except ValueError:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None  # parse_ts for the ISO text SQLite stores


_RECORD_FIELDS = (
    "rowid memory_id scope memory_type content confidence category event_date valid_until temporal_category "
    "source_evidence entities subject attribute metadata document_id conversation_id created_at updated_at "
    "superseded_by mention_count"
).split()
if [f.name for f in fields(MemoryRecord)] != _RECORD_FIELDS:  # _memory passes the fields by position
    raise RuntimeError("MemoryRecord's fields changed: update _sqlite_rows._memory")


def _memory(row: sqlite3.Row | tuple[Any, ...]) -> MemoryRecord:
    evidence, entities, metadata, created_at = row[13], row[14], row[17], row[20]
    return MemoryRecord(
        row[0],  # rowid (positional: MemoryRecord's field order)
        row[1],  # memory_id
        _scope_of(row, 2),
        row[6],  # memory_type
        row[7],  # content
        row[9],  # confidence
        row[8],  # category
        _ts(row[10]),  # event_date
        _ts(row[11]),  # valid_until
        row[12],  # temporal_category
        [] if evidence == "[]" else _json(evidence),  # most rows hold empty lists/objects: skip the decoder
        [] if entities == "[]" else _json(entities),
        row[15],  # subject
        row[16],  # attribute
        {} if metadata == "{}" else _json(metadata),
        row[18],  # document_id
        row[19],  # conversation_id
        datetime.fromisoformat(created_at) if created_at else _now(),
        _ts(row[21]),  # updated_at
        row[22],  # superseded_by
        row[23],  # mention_count
    )
