"""SQLite backend: one file in WAL mode, FTS5 for lexical search, exact vector search per scope partition.

Concurrency follows datasette: every write goes through one writer thread that owns the only write connection;
reads run on a small pool of threads, each with its own connection (``_sqlite_base``). Vectors are float32 BLOBs;
each scope's vectors (and the rows searches decode) are cached per ``scopes.version`` in ``_sqlite_cache``, checked
on every read so several processes sharing the file stay coherent.

Layout: this module holds ``SQLiteStore`` itself (claiming, batched completion, searches and memory reads); the
behaviours both SQL backends share come from ``_admin``, ``_queue``, ``_edits`` and ``_conversations``, run by the
plan runner and dialect hooks of ``_sqlite_base``.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Sequence

import numpy as np

from ..scope import ReadChain
from ..scope import Scope
from ..types import Vectors
from ._admin import _AdminMixin
from ._compactions import _CompactionsMixin
from ._conversations import _ConversationsMixin
from ._edits import _EditsMixin
from ._export import ExportMixin
from ._queue import _QueueMixin
from ._queue import complete_plan
from ._rows import JOB_COLS
from ._rows import MEMORY_COLS
from ._rows import job
from ._sql import fts_terms
from ._sql import scope_filter
from ._sql import search_filter
from ._sql import to_ts
from ._sqlite_base import _SQLiteBase
from ._sqlite_base import drive
from ._sqlite_cache import PartitionCache
from ._sqlite_cache import Parts
from ._sqlite_cache import lexical_hits
from ._sqlite_cache import read_records
from ._sqlite_cache import vector_hits
from ._sqlite_rows import _TYPE_CODE
from ._sqlite_rows import _memory
from ._sqlite_rows import _now
from .base import JobRecord
from .base import MemoryRecord
from .base import ProcessedJob
from .base import SearchFilters
from .base import VectorHits
from .base import VectorSearch
from .base import candidate_ids

__all__ = ["SQLiteStore"]


class SQLiteStore(
    _AdminMixin, _QueueMixin, _EditsMixin, _ConversationsMixin, _CompactionsMixin, ExportMixin, _SQLiteBase
):
    """Storage in one SQLite file. ``dsn`` is ``sqlite:///path/to/file.db`` or ``sqlite:///:memory:``."""

    def __init__(
        self,
        dsn: str,
        *,
        read_threads: int = 4,
        cache_bytes: int = 512 * 1024 * 1024,
        vocabulary_tokens: int = 2_000_000,
    ) -> None:
        super().__init__(dsn, read_threads=read_threads)
        self._cache = PartitionCache(cache_bytes, vocabulary_tokens=vocabulary_tokens)

    # -- ingestion queue ------------------------------------------------------------------------------------------
    async def claim_jobs(self, worker_id: str, *, limit: int, lease_seconds: float) -> list[JobRecord]:
        claim = f"{worker_id}:{uuid.uuid4().hex[:12]}"

        def run(conn: sqlite3.Connection) -> list[JobRecord]:
            now = time.time()
            # A job whose worker died (its lease ran out) is claimed again, however often that happened: only the
            # attempts that raised (``failures``, counted by ``fail_job``) count against ``max_attempts``.
            rows = conn.execute(
                "UPDATE ingestions SET status = 'processing', claim = ?, lease_until = ?, attempts = attempts + 1, "
                "started_at = COALESCE(started_at, ?) WHERE ingestion_id IN (SELECT ingestion_id FROM ingestions "
                "WHERE status = 'queued' OR (status = 'processing' AND lease_until < ?) ORDER BY queued_at LIMIT ?) "
                f"RETURNING {JOB_COLS}",
                (claim, now + lease_seconds, to_ts(_now()), now, limit),
            ).fetchall()
            return sorted((job(r) for r in rows), key=lambda j: j.queued_at)

        return await self._write(run)

    async def complete_jobs(self, results: Sequence[ProcessedJob]) -> list[tuple[ProcessedJob, str]]:
        """One write transaction for the batch; each job in a savepoint, so a job whose writes fail is rolled back
        alone and returned with the error, and the others commit."""

        def run(conn: sqlite3.Connection) -> list[tuple[ProcessedJob, str]]:
            failed: list[tuple[ProcessedJob, str]] = []
            for result in results:
                conn.execute("SAVEPOINT job")
                try:
                    drive(conn, complete_plan(self.dialect, result))
                except Exception as exc:
                    if not conn.in_transaction:  # SQLite rolled the whole transaction back (I/O error, disk full)
                        raise
                    conn.execute("ROLLBACK TO job")
                    failed.append((result, f"{type(exc).__name__}: {exc}"))
                conn.execute("RELEASE job")
            return failed

        return await self._write(run) if results else []

    # -- scope keys and the vector cache --------------------------------------------------------------------------
    @staticmethod
    def _chain_keys(conn: sqlite3.Connection, chain: ReadChain) -> list[tuple[int, int]]:
        """(scope_key, version) of the chain's scopes that hold data; resolved through the one scope filter."""
        where, params = scope_filter(chain, alias="s")
        return [(r[0], r[1]) for r in conn.execute(f"SELECT scope_key, version FROM scopes s WHERE {where}", params)]

    async def scope_vectors(self, scope: Scope) -> tuple[list[int], Vectors]:
        chain = ReadChain.single(scope)

        def run(conn: sqlite3.Connection) -> tuple[list[int], Vectors]:
            keys = self._chain_keys(conn, chain)
            if not keys:
                return [], np.zeros((0, 1), dtype=np.float32)
            part = self._cache.partition(conn, chain, *keys[0])
            return part.rowids.tolist(), part.matrix

        return await self._read(run)

    async def scope_memories_by_rowid(self, scope: Scope, rowids: list[int]) -> list[MemoryRecord]:
        found = await self.get_memories(ReadChain.single(scope), rowids)
        return [found[r] for r in rowids if r in found]

    async def find_by_attribute(self, scope: Scope, subject: str | None, attribute: str) -> list[MemoryRecord]:
        where, params = scope_filter(ReadChain.single(scope))

        def run(conn: sqlite3.Connection) -> list[MemoryRecord]:
            rows = conn.execute(
                f"SELECT {MEMORY_COLS} FROM memories m WHERE {where} AND m.attribute = ? "
                "AND m.superseded_by IS NULL AND (m.subject IS ? OR m.subject = ?)",
                [*params, attribute, subject, subject],
            ).fetchall()
            return [_memory(r) for r in rows]

        return await self._read(run)

    # -- search ---------------------------------------------------------------------------------------------------
    async def search_lexical(
        self, chain: ReadChain, query: str, *, limit: int, filters: SearchFilters
    ) -> list[tuple[int, float]]:
        """BM25 over the chain's cached partitions, with statistics from the chain's own data (``_lexical``).
        Searches of history (``include_superseded`` or ``as_of``) need rows the partitions do not hold: they go to
        FTS5, whose statistics are the whole table's."""
        terms = fts_terms(query)
        if not terms:
            return []
        if filters.include_superseded or filters.as_of is not None:
            return await self._read(lambda conn: self._fts_hits(conn, chain, terms, limit, filters))

        def run(conn: sqlite3.Connection) -> list[tuple[int, float]]:
            parts = self._chain_parts(conn, chain)
            self._cache.index_lexical(conn, parts)
            type_codes, allowed = self._row_filters(conn, chain, filters)
            stems = self._cache.vocabulary.query_stems(terms)
            return lexical_hits(parts, stems, limit, type_codes=type_codes, allowed=allowed)

        return await self._read(run)

    def _fts_hits(
        self, conn: sqlite3.Connection, chain: ReadChain, terms: list[str], limit: int, filters: SearchFilters
    ) -> list[tuple[int, float]]:
        keys = [k for k, _ in self._chain_keys(conn, chain)]
        if not keys:
            return []
        where, params = scope_filter(chain)
        extra, extra_params = search_filter(filters)
        text = " OR ".join(f'"{t}"' for t in terms)
        match = f"skey : ({' OR '.join(f'k{k}' for k in keys)}) AND content : ({text})"
        rows = conn.execute(
            f"SELECT f.rowid, bm25(memories_fts, 1.0, 0.0, 0.0) AS r FROM memories_fts f "
            f"JOIN memories m ON m.rowid = f.rowid WHERE memories_fts MATCH ? AND {where}{extra} "
            f"ORDER BY r LIMIT ?",
            [match, *params, *extra_params, limit],
        ).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]

    async def search_vector(
        self, chain: ReadChain, vector: Vectors, *, limit: int, filters: SearchFilters
    ) -> list[tuple[int, float]]:
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        return await self._read(lambda conn: self._vector_hits(conn, chain, [q], limit, filters)[0])

    async def search_vectors_with_records(self, chain: ReadChain, search: VectorSearch) -> VectorHits:
        """One round trip to a reader thread: the vector searches and the records of their hits and of
        ``search.rowids``."""
        qs = [np.asarray(v, dtype=np.float32).reshape(-1) for v in search.vectors]
        where, params = scope_filter(chain)

        def run(conn: sqlite3.Connection) -> VectorHits:
            parts = self._chain_parts(conn, chain)
            hits = self._vector_hits(conn, chain, qs, search.limit, search.filters, parts)
            return hits, self._cache.records(conn, where, params, parts, candidate_ids(search.rowids, hits))

        return await self._read(run)

    def _chain_parts(self, conn: sqlite3.Connection, chain: ReadChain) -> Parts:
        """(scope_key, cached partition) of each of the chain's scopes that hold data."""
        return [
            (key, self._cache.partition(conn, chain, key, version)) for key, version in self._chain_keys(conn, chain)
        ]

    def _vector_hits(
        self,
        conn: sqlite3.Connection,
        chain: ReadChain,
        qs: list[np.ndarray],
        limit: int,
        filters: SearchFilters,
        parts: Parts | None = None,
    ) -> list[list[tuple[int, float]]]:
        """(rowid, cosine) best first, per query vector, over the cached partitions of the chain's scopes."""
        as_of = filters.as_of.timestamp() if filters.as_of else time.time()
        type_codes, allowed = self._row_filters(conn, chain, filters)
        if parts is None:
            parts = self._chain_parts(conn, chain)
        return vector_hits(parts, qs, limit, as_of=as_of, type_codes=type_codes, allowed=allowed)

    @staticmethod
    def _row_filters(
        conn: sqlite3.Connection, chain: ReadChain, filters: SearchFilters
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(type codes, allowed rowids) restricting a search over cached partitions; ``None``: no restriction. The
        filters partitions cannot answer (metadata, conversation, history) are resolved in SQL."""
        type_codes = np.array([_TYPE_CODE[t] for t in filters.types if t in _TYPE_CODE]) if filters.types else None
        allowed: np.ndarray | None = None
        if filters.metadata or filters.conversation_id or filters.include_superseded or filters.as_of is not None:
            where, params = scope_filter(chain)
            extra, extra_params = search_filter(filters)
            rows = conn.execute(f"SELECT m.rowid FROM memories m WHERE {where}{extra}", [*params, *extra_params])
            allowed = np.fromiter((r[0] for r in rows), dtype=np.int64)
        return type_codes, allowed

    async def get_memories(self, chain: ReadChain, rowids: list[int]) -> dict[int, MemoryRecord]:
        if not rowids:
            return {}
        where, params = scope_filter(chain)
        return await self._read(lambda conn: read_records(conn, where, params, rowids))

    async def get_memory(self, chain: ReadChain, memory_id: str) -> MemoryRecord | None:
        where, params = scope_filter(chain)

        def run(conn: sqlite3.Connection) -> MemoryRecord | None:
            row = conn.execute(
                f"SELECT {MEMORY_COLS} FROM memories m WHERE m.memory_id = ? AND {where}", [memory_id, *params]
            ).fetchone()
            return _memory(row) if row else None

        return await self._read(run)

    async def list_memories(
        self, chain: ReadChain, *, offset: int, limit: int, filters: SearchFilters
    ) -> tuple[list[MemoryRecord], int]:
        where, params = scope_filter(chain)
        extra, extra_params = search_filter(filters)

        def run(conn: sqlite3.Connection) -> tuple[list[MemoryRecord], int]:
            total = conn.execute(
                f"SELECT count(*) FROM memories m WHERE {where}{extra}", [*params, *extra_params]
            ).fetchone()[0]
            rows = conn.execute(
                f"SELECT {MEMORY_COLS} FROM memories m WHERE {where}{extra} ORDER BY m.rowid DESC LIMIT ? OFFSET ?",
                [*params, *extra_params, limit, offset],
            ).fetchall()
            return [_memory(r) for r in rows], int(total)

        return await self._read(run)

    # -- retrieval helpers (tenantry.retrieval) ------------------------------------------------------------------
    async def memories_at_turns(self, chain: ReadChain, keys: list[tuple[str, int]]) -> list[MemoryRecord]:
        """Live memories of ``chain`` whose (document_id, ``metadata.turn``) is one of ``keys`` (the memories of
        given turns of given documents; the ingestion runner sets ``metadata.turn`` for chat documents)."""
        if not keys:
            return []
        where, params = scope_filter(chain)
        wanted = set(keys)
        docs = sorted({d for d, _ in keys})
        turns = sorted({t for _, t in keys})

        def run(conn: sqlite3.Connection) -> list[MemoryRecord]:
            out: list[MemoryRecord] = []
            for start in range(0, len(docs), 200):
                chunk = docs[start : start + 200]
                rows = conn.execute(
                    f"SELECT {MEMORY_COLS} FROM memories m WHERE {where} AND m.superseded_by IS NULL "
                    f"AND m.document_id IN ({','.join('?' * len(chunk))}) "
                    f"AND json_extract(m.metadata, '$.turn') IN ({','.join('?' * len(turns))})",
                    [*params, *chunk, *turns],
                ).fetchall()
                for r in rows:
                    rec = _memory(r)
                    if (rec.document_id, rec.metadata.get("turn")) in wanted:
                        out.append(rec)
            return out

        return await self._read(run)
