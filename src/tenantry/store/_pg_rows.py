"""Row mapping of the PostgreSQL backend: SELECT column lists, row → record converters, parameter adapters, the
cached vector partition."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from ..scope import ReadChain, Relationship, Scope, ScopeLevel
from ..types import Vectors
from ._sql import dumps, parse_ts
from .base import InstanceRecord, JobRecord, KeyRecord, MemoryRecord

Conn = AsyncConnection[tuple[Any, ...]]
_MEMORY_COLS = (
    "m.rowid, m.memory_id, m.instance_id, m.customer_id, m.level, m.user_id, m.memory_type, m.content, m.category, "
    "m.confidence, m.event_date, m.valid_until, m.temporal_category, m.source_evidence, m.entities, m.subject, "
    "m.attribute, m.metadata, m.document_id, m.conversation_id, m.created_at, m.updated_at, m.superseded_by, "
    "m.mention_count"
)
_JOB_COLS = (
    "ingestion_id, instance_id, customer_id, level, user_id, document_id, kind, status, payload, attempts, "
    "queued_at, started_at, completed_at, memory_ids, error_message, claim"
)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | str | None) -> datetime | None:
    dt = parse_ts(value)
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _json(value: Any) -> Jsonb:
    return Jsonb(value, dumps=dumps)


def _scope_of(row: Sequence[Any], offset: int = 0) -> Scope:
    return Scope(row[offset], ScopeLevel(row[offset + 2]), row[offset + 1], row[offset + 3])


def _memory(row: Sequence[Any]) -> MemoryRecord:
    return MemoryRecord(
        rowid=int(row[0]),
        memory_id=row[1],
        scope=_scope_of(row, 2),
        memory_type=row[6],
        content=row[7],
        category=row[8],
        confidence=float(row[9]),
        event_date=row[10],
        valid_until=row[11],
        temporal_category=row[12],
        source_evidence=list(row[13]),
        entities=list(row[14]),
        subject=row[15],
        attribute=row[16],
        metadata=dict(row[17]),
        document_id=row[18],
        conversation_id=row[19],
        created_at=row[20],
        updated_at=row[21],
        superseded_by=row[22],
        mention_count=int(row[23]),
    )


def _job(row: Sequence[Any]) -> JobRecord:
    return JobRecord(
        ingestion_id=row[0],
        instance_id=row[1],
        scope=Scope(row[1], ScopeLevel(row[3]), row[2], row[4]),
        document_id=row[5],
        kind=row[6],
        status=row[7],
        payload=dict(row[8]),
        attempts=int(row[9]),
        queued_at=row[10],
        started_at=row[11],
        completed_at=row[12],
        memory_ids=list(row[13]),
        error_message=row[14],
        claim=row[15],
    )


def _instance(row: DictRow) -> InstanceRecord:
    return InstanceRecord(
        instance_id=row["instance_id"],
        name=row["name"],
        relationship=Relationship(row["relationship"]),
        client_id=row["client_id"],
        created_at=row["created_at"],
        archived=bool(row["archived"]),
        embedder=row["embedder"],
        dimensions=row["dimensions"],
    )


def _key(row: DictRow) -> KeyRecord:
    return KeyRecord(
        key_id=row["key_id"],
        instance_id=row["instance_id"],
        name=row["name"],
        prefix=row["prefix"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )


def _route(chain: ReadChain) -> tuple[str, list[Any]]:
    """Explicit top-level instance predicate: lets the planner (and Citus) prune to the chain's instance(s)."""
    ids = sorted({chain.instance_id, *(s.instance_id for s in chain.scopes)})
    if len(ids) == 1:
        return "m.instance_id = %s", ids
    return "m.instance_id = ANY(%s)", [ids]


def _scope_key(s: Scope) -> tuple[str, str, str, str]:
    return (s.instance_id, s.customer_id, s.level.value, s.user_id)


@dataclass(slots=True)
class _Cached:
    version: int
    rowids: list[int]
    matrix: Vectors
