"""Row mapping of the SQLite backend: SELECT column lists, row → record converters, the cached vector partition."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ..pipeline.base import Vectors
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


@dataclass(slots=True)
class _Partition:
    version: int
    rowids: np.ndarray  # int64
    matrix: Vectors
    types: np.ndarray  # int8 type code
    live_until: np.ndarray  # float64 epoch of valid_until (inf = open); superseded rows are not cached
    nbytes: int


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


def _json_list(text: str) -> Any:
    return [] if text == "[]" else json.loads(text)  # most rows hold an empty list: skip the decoder


def _json_dict(text: str) -> Any:
    return {} if text == "{}" else json.loads(text)


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None  # parse_ts for the ISO text SQLite stores


def _memory(row: sqlite3.Row | tuple[Any, ...]) -> MemoryRecord:
    created_at = row[20]
    return MemoryRecord(
        rowid=row[0],
        memory_id=row[1],
        scope=_scope_of(row, 2),
        memory_type=row[6],
        content=row[7],
        category=row[8],
        confidence=row[9],
        event_date=_ts(row[10]),
        valid_until=_ts(row[11]),
        temporal_category=row[12],
        source_evidence=_json_list(row[13]),
        entities=_json_list(row[14]),
        subject=row[15],
        attribute=row[16],
        metadata=_json_dict(row[17]),
        document_id=row[18],
        conversation_id=row[19],
        created_at=datetime.fromisoformat(created_at) if created_at else _now(),
        updated_at=_ts(row[21]),
        superseded_by=row[22],
        mention_count=row[23],
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
