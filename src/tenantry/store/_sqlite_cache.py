"""The SQLite store's per-scope cache, and the reads it serves.

Each scope that holds data gets a partition: its live (not superseded) vectors as one float32 matrix, their rowids,
type codes and expiry times, for exact vector search in numpy; the postings of their lexical text (the FTS5 row: the
content, or the content with its searchable context), for tenant-local BM25 (:mod:`._lexical`); and the decoded rows
searches have read from it. A partition belongs to one ``scopes.version``: every write to a scope's memories bumps
that version, so a reader that finds another version rebuilds the partition (several processes sharing the file stay
coherent). Partitions are evicted least recently used beyond a byte budget.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import numpy as np

from ..scope import ReadChain
from ..types import Vectors
from ._lexical import LexicalIndex
from ._lexical import Vocabulary
from ._lexical import best_first
from ._lexical import bm25_hits
from ._rows import MEMORY_COLS
from ._sql import scope_filter
from ._sqlite_rows import _TYPE_CODE
from ._sqlite_rows import _epoch
from ._sqlite_rows import _memory
from .base import MemoryRecord

__all__ = ["PartitionCache", "lexical_hits", "read_records", "vector_hits"]


@dataclass(slots=True)
class _Partition:
    version: int
    rowids: np.ndarray  # int64, ascending
    matrix: Vectors
    types: np.ndarray  # int8 type code
    live_until: np.ndarray  # float64 epoch of valid_until (inf = open); superseded rows are not cached
    nbytes: int
    # Postings of the rows' lexical text, built by the first lexical search of this version (ingestion reads the
    # vectors of the scopes it writes to and never needs them).
    lexical: LexicalIndex | None = None
    # Decoded rows of this partition, filled as searches read them; valid as long as the partition (same version).
    records: dict[int, MemoryRecord] = field(default_factory=dict)


Parts = list[tuple[int, _Partition]]  # (scope_key, partition) of each scope of a read chain


def read_records(conn: sqlite3.Connection, where: str, params: list[Any], rowids: list[int]) -> dict[int, MemoryRecord]:
    """The rows of ``rowids`` that pass ``where`` (the chain's scope filter), by rowid.

    The ids drive the join (CROSS JOIN fixes the order): one primary-key lookup per id, each row then checked by the
    scope filter. With ``rowid IN (...) AND <scope filter>`` SQLite scans every row of the chain's scopes through the
    scope index instead."""
    if not rowids:
        return {}
    rows = conn.execute(
        f"SELECT {MEMORY_COLS} FROM json_each(?) ids CROSS JOIN memories m ON m.rowid = ids.value WHERE {where}",
        [json.dumps([int(r) for r in rowids]), *params],
    ).fetchall()
    return {r[0]: _memory(r) for r in rows}


def _eligible(
    part: _Partition, *, as_of: float, type_codes: np.ndarray | None, allowed: np.ndarray | None
) -> np.ndarray:
    """Mask of the partition's rows live at ``as_of``, of ``type_codes`` and in ``allowed`` (``None``: any)."""
    mask: np.ndarray = part.live_until > as_of
    if type_codes is not None:
        mask &= np.isin(part.types, type_codes)
    if allowed is not None:
        mask &= np.isin(part.rowids, allowed)
    return mask


def lexical_hits(
    parts: Parts,
    stems: list[str],
    limit: int,
    *,
    type_codes: np.ndarray | None,
    allowed: np.ndarray | None,
) -> list[tuple[int, float]]:
    """(rowid, BM25) best first over ``parts`` for the query ``stems``; statistics from the parts only. Like FTS5
    and PostgreSQL, lexical search keeps expired memories (the vector search drops them)."""
    if not stems:
        return []
    entries: list[tuple[np.ndarray, LexicalIndex, np.ndarray | None]] = []
    for _, p in parts:
        if not len(p.rowids):
            continue
        if p.lexical is None:
            raise RuntimeError("lexical search of a partition without postings: call PartitionCache.index_lexical")
        mask = None
        if type_codes is not None or allowed is not None:
            mask = _eligible(p, as_of=-np.inf, type_codes=type_codes, allowed=allowed)
        entries.append((p.rowids, p.lexical, mask))
    return bm25_hits(entries, stems, limit)


def vector_hits(
    parts: Parts,
    qs: list[np.ndarray],
    limit: int,
    *,
    as_of: float,
    type_codes: np.ndarray | None,
    allowed: np.ndarray | None,
) -> list[list[tuple[int, float]]]:
    """(rowid, cosine) best first, per query vector, over ``parts``: rows live at ``as_of``, of ``type_codes`` and in
    ``allowed`` (``None``: no restriction)."""
    out: list[list[tuple[int, float]]] = []
    for q in qs:
        ids: list[np.ndarray] = []
        sims: list[np.ndarray] = []
        for _, part in parts:
            if not len(part.rowids) or part.matrix.shape[1] != q.shape[0]:
                continue
            s = part.matrix @ q
            mask = _eligible(part, as_of=as_of, type_codes=type_codes, allowed=allowed)
            ids.append(part.rowids[mask])
            sims.append(s[mask])
        out.append(best_first(ids, sims, limit))
    return out


class PartitionCache:
    """Partitions by scope key, least recently used first; thread-safe (the store's reader threads share it)."""

    def __init__(self, max_bytes: int, *, vocabulary_tokens: int = 2_000_000) -> None:
        self._parts: OrderedDict[int, _Partition] = OrderedDict()
        self._lock = threading.Lock()
        self._max_bytes = max_bytes
        self._used = 0
        self.vocabulary = Vocabulary(vocabulary_tokens)

    def partition(self, conn: sqlite3.Connection, chain_one: ReadChain, key: int, version: int) -> _Partition:
        """The partition of scope ``key`` at ``version`` (``chain_one``: the read chain of that one scope)."""
        with self._lock:
            part = self._parts.get(key)
            if part is not None and part.version == version:
                self._parts.move_to_end(key)
                return part
        where, params = scope_filter(chain_one)
        rows = conn.execute(
            f"SELECT m.rowid, m.memory_type, m.valid_until, v.vec FROM memories m JOIN memory_vectors v "
            f"ON v.rowid = m.rowid WHERE {where} AND m.scope_key = ? AND m.superseded_by IS NULL ORDER BY m.rowid",
            [*params, key],
        ).fetchall()
        if rows:
            matrix = np.frombuffer(b"".join(r[3] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        else:
            matrix = np.zeros((0, 1), dtype=np.float32)
        part = _Partition(
            version=version,
            rowids=np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
            matrix=matrix,
            types=np.fromiter((_TYPE_CODE.get(r[1], 9) for r in rows), dtype=np.int8, count=len(rows)),
            live_until=np.fromiter((_epoch(r[2]) for r in rows), dtype=np.float64, count=len(rows)),
            nbytes=matrix.nbytes + len(rows) * 17,
        )
        with self._lock:
            old = self._parts.pop(key, None)
            if old is not None:
                self._used -= old.nbytes
            self._parts[key] = part
            self._used += part.nbytes
            while self._used > self._max_bytes and len(self._parts) > 1:
                _, evicted = self._parts.popitem(last=False)
                self._used -= evicted.nbytes
        return part

    def index_lexical(self, conn: sqlite3.Connection, parts: Parts) -> None:
        """Give each of ``parts`` its postings (read from the FTS5 rows: the same text FTS5 indexes), if it has none."""
        for key, part in parts:
            if part.lexical is not None or not len(part.rowids):
                continue
            ids = part.rowids.tolist()
            text = dict(
                conn.execute(
                    "SELECT f.rowid, f.content FROM json_each(?) ids CROSS JOIN memories_fts f ON f.rowid = ids.value",
                    [json.dumps(ids)],
                ).fetchall()
            )
            vocabulary = self.vocabulary
            if vocabulary.full:  # bound its memory: a fresh vocabulary; older partitions keep theirs until rebuilt
                with self._lock:
                    if self.vocabulary is vocabulary:
                        self.vocabulary = Vocabulary(vocabulary.max_tokens)
                    vocabulary = self.vocabulary
            lexical = vocabulary.index([text.get(r, "") for r in ids])
            with self._lock:
                if part.lexical is not None:  # another reader indexed it meanwhile
                    continue
                part.lexical = lexical
                if self._parts.get(key) is part:  # still the cached partition: count what it now holds
                    part.nbytes += lexical.nbytes
                    self._used += lexical.nbytes

    def records(
        self, conn: sqlite3.Connection, where: str, params: list[Any], parts: Parts, rowids: list[int]
    ) -> dict[int, MemoryRecord]:
        """``read_records`` through the partitions' record caches: a row of one of ``parts`` (live rows of the
        chain's scopes at the versions just checked) is decoded once per partition version; other rows (e.g.
        superseded ones) are read every time. Cached records are shared between calls: callers must not mutate
        them (the engine and the presentation copy what they change)."""
        out: dict[int, MemoryRecord] = {}
        missing: list[int] = []
        for r in rowids:
            for _, part in parts:
                rec = part.records.get(r)
                if rec is not None:
                    out[r] = rec
                    break
            else:
                missing.append(r)
        if not missing:
            return out
        fetched = read_records(conn, where, params, missing)
        out.update(fetched)
        if fetched:
            ids = np.fromiter(fetched, dtype=np.int64, count=len(fetched))
            for key, part in parts:
                inside = ids[np.isin(ids, part.rowids, assume_unique=True)]
                if not len(inside):
                    continue
                added = 0
                for r in inside.tolist():
                    rec = fetched[r]
                    part.records[r] = rec
                    added += 400 + len(rec.content)  # rough size of a decoded record
                with self._lock:
                    if self._parts.get(key) is part:  # still the cached partition: count what it now holds
                        part.nbytes += added
                        self._used += added
        return out
