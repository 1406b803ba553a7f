"""Row mapping of the PostgreSQL backend: memory rows → records, parameter adapters, the instance routing predicate,
the cached vector partition. (Rows both backends read alike are mapped in ``_rows``.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from ..scope import ReadChain
from ..scope import Scope
from ..scope import ScopeLevel
from ..types import Vectors
from ._sql import dumps
from ._sql import parse_ts
from .base import MemoryRecord

Conn = AsyncConnection[tuple[Any, ...]]


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


def _route(chain: ReadChain, alias: str = "m") -> tuple[str, list[Any]]:
    """Explicit top-level instance predicate: lets the planner (and Citus) prune to the chain's instance(s)."""
    ids = sorted({chain.instance_id, *(s.instance_id for s in chain.scopes)})
    if len(ids) == 1:
        return f"{alias}.instance_id = %s", ids
    return f"{alias}.instance_id = ANY(%s)", [ids]


@dataclass(slots=True)
class _Cached:
    version: int
    rowids: list[int]
    matrix: Vectors
