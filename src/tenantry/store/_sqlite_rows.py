"""Row mapping of the SQLite backend: SELECT column lists, row → record converters, the cached vector partition."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from ..scope import Relationship, Scope, ScopeLevel
from ._sql import parse_ts
from .base import InstanceRecord, JobRecord, KeyRecord, MemoryRecord

_MEMORY_COLS = (
    "m.rowid, m.memory_id, m.instance_id, m.customer_id, m.level, m.user_id, m.memory_type, m.content, m.category, "
    "m.confidence, m.event_date, m.valid_until, m.temporal_category, m.source_evidence, m.entities, m.subject, "
    "m.attribute, m.metadata, m.document_id, m.conversation_id, m.created_at, m.updated_at, m.superseded_by, "
    "m.mention_count"
)
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


def _job(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        ingestion_id=row["ingestion_id"],
        instance_id=row["instance_id"],
        scope=Scope(row["instance_id"], ScopeLevel(row["level"]), row["customer_id"], row["user_id"]),
        document_id=row["document_id"],
        kind=row["kind"],
        status=row["status"],
        payload=json.loads(row["payload"]),
        attempts=row["attempts"],
        queued_at=parse_ts(row["queued_at"]) or _now(),
        started_at=parse_ts(row["started_at"]),
        completed_at=parse_ts(row["completed_at"]),
        memory_ids=json.loads(row["memory_ids"]),
        error_message=row["error_message"],
        claim=row["claim"],
    )


def _instance(row: sqlite3.Row) -> InstanceRecord:
    return InstanceRecord(
        instance_id=row["instance_id"],
        name=row["name"],
        relationship=Relationship(row["relationship"]),
        client_id=row["client_id"],
        created_at=parse_ts(row["created_at"]) or _now(),
        archived=bool(row["archived"]),
        embedder=row["embedder"],
        dimensions=row["dimensions"],
    )


def _key(row: sqlite3.Row) -> KeyRecord:
    return KeyRecord(
        key_id=row["key_id"],
        instance_id=row["instance_id"],
        name=row["name"],
        prefix=row["prefix"],
        created_at=parse_ts(row["created_at"]) or _now(),
        revoked_at=parse_ts(row["revoked_at"]),
        last_used_at=parse_ts(row["last_used_at"]),
    )
