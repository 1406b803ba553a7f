"""SQLite backend: one file in WAL mode, FTS5 for lexical search, exact vector search per scope partition.

Concurrency follows datasette: every write goes through one writer thread that owns the only write connection;
reads run on a small pool of threads, each with its own connection. Vectors are float32 BLOBs; each scope's
vectors (and the rows searches decode) are cached per ``scopes.version`` in ``_sqlite_cache``, checked on every read
so several processes sharing the file stay coherent.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..errors import ConfigurationError, ConflictError, StoreUnavailableError
from ..scope import ReadChain, Relationship, Scope
from ..types import Vectors, content_hash
from . import migrations
from ._sql import dumps, fts_terms, parse_ts, scope_filter, search_filter, to_ts
from ._sqlite_cache import PartitionCache, Parts, lexical_hits, read_records, vector_hits
from ._sqlite_rows import _MEMORY_COLS, _TYPE_CODE, _instance, _job, _key, _memory, _now
from .base import (
    AsyncStore,
    ConversationRecord,
    InstanceRecord,
    JobRecord,
    KeyRecord,
    MemoryRecord,
    MessageRecord,
    ProcessedJob,
    SearchFilters,
    candidate_ids,
)

__all__ = ["SQLiteStore"]

T = TypeVar("T")


class SQLiteStore(AsyncStore):
    """Storage in one SQLite file. ``dsn`` is ``sqlite:///path/to/file.db`` or ``sqlite:///:memory:``."""

    def __init__(
        self,
        dsn: str,
        *,
        read_threads: int = 4,
        cache_bytes: int = 512 * 1024 * 1024,
        vocabulary_tokens: int = 2_000_000,
    ) -> None:
        self.dsn = dsn
        path = dsn.removeprefix("sqlite://")
        if path.startswith("/") and not path.startswith("//"):
            path = path[1:] if path.startswith("/:memory:") else path
        if path in (":memory:", "/:memory:", ""):
            self._target = f"file:tenantry-{uuid.uuid4().hex}?mode=memory&cache=shared"
            self._uri = True
        else:
            self._target = path
            self._uri = False
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._read_threads = read_threads
        self._writer: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._write_conn: sqlite3.Connection | None = None
        self._keepalive: sqlite3.Connection | None = None
        self._all_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._cache = PartitionCache(cache_bytes, vocabulary_tokens=vocabulary_tokens)
        self._audit_buf: list[tuple[str, str | None, str, str]] = []
        self._audit_task: asyncio.Task[None] | None = None

    # -- plumbing -------------------------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._target, uri=self._uri, check_same_thread=False, timeout=30.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA foreign_keys = ON")
        if not self._uri:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        with self._conns_lock:
            self._all_conns.append(conn)
        return conn

    def _reader_conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._readers is None:
            raise StoreUnavailableError("the store is closed")

        def run() -> T:
            try:
                return fn(self._reader_conn())
            except sqlite3.OperationalError as exc:
                raise StoreUnavailableError(f"sqlite: {exc}") from exc

        return await asyncio.get_running_loop().run_in_executor(self._readers, run)

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._writer is None:
            raise StoreUnavailableError("the store is closed")

        def run() -> T:
            conn = self._write_conn
            assert conn is not None
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        try:
            return await asyncio.get_running_loop().run_in_executor(self._writer, run)
        except sqlite3.IntegrityError as exc:
            raise ConflictError(f"sqlite integrity error: {exc}") from exc
        except sqlite3.OperationalError as exc:
            raise StoreUnavailableError(f"sqlite: {exc}") from exc

    async def open(self) -> None:
        if self._writer is not None:
            return
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tenantry-sqlite-w")
        self._readers = ThreadPoolExecutor(max_workers=self._read_threads, thread_name_prefix="tenantry-sqlite-r")
        loop = asyncio.get_running_loop()

        def init() -> None:
            if self._uri:
                # An in-memory database lives as long as one connection to it is open.
                self._keepalive = self._connect()
            self._write_conn = self._connect()
            self._migrate(self._write_conn)

        await loop.run_in_executor(self._writer, init)

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
        done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        for version, sql in migrations.SQLITE:
            if version in done:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                for stmt in [s for s in sql.split(";\n") if s.strip()]:
                    conn.execute(stmt)
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, to_ts(_now())))
            except sqlite3.OperationalError as exc:
                conn.execute("ROLLBACK")
                if "fts5" in str(exc).lower():
                    raise ConfigurationError("this Python's SQLite has no FTS5 module") from exc
                if "already exists" in str(exc):  # another process migrated concurrently
                    continue
                raise
            conn.execute("COMMIT")

    async def close(self) -> None:
        if self._writer is None:
            return
        if self._audit_task is not None and not self._audit_task.done():
            self._audit_task.cancel()
        await self.flush_audit()
        writer, readers = self._writer, self._readers
        self._writer = self._readers = None
        writer.shutdown(wait=True)
        assert readers is not None
        readers.shutdown(wait=True)
        with self._conns_lock:
            for conn in self._all_conns:
                conn.close()
            self._all_conns.clear()
        self._write_conn = self._keepalive = None
        self._local = threading.local()

    # -- instances and keys ---------------------------------------------------------------------------------------
    async def create_instance(self, name: str, relationship: Relationship) -> InstanceRecord:
        rec = InstanceRecord.new(name, relationship, _now())

        def run(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM instances WHERE name = ?", (name,)).fetchone():
                raise ConflictError(f"an instance named {name!r} already exists", code="instance_exists")
            conn.execute(
                "INSERT INTO instances (instance_id, name, relationship, client_id, created_at) VALUES (?,?,?,?,?)",
                (rec.instance_id, name, relationship.value, rec.client_id, to_ts(rec.created_at)),
            )

        await self._write(run)
        return rec

    async def get_instance(self, ref: str) -> InstanceRecord | None:
        def run(conn: sqlite3.Connection) -> InstanceRecord | None:
            row = conn.execute("SELECT * FROM instances WHERE instance_id = ? OR name = ?", (ref, ref)).fetchone()
            return _instance(row) if row else None

        return await self._read(run)

    async def list_instances(self, *, include_archived: bool = False) -> list[InstanceRecord]:
        def run(conn: sqlite3.Connection) -> list[InstanceRecord]:
            sql = (
                "SELECT * FROM instances" + ("" if include_archived else " WHERE archived = 0") + " ORDER BY created_at"
            )
            return [_instance(r) for r in conn.execute(sql)]

        return await self._read(run)

    async def archive_instance(self, instance_id: str) -> None:
        await self._write(
            lambda c: c.execute("UPDATE instances SET archived = 1 WHERE instance_id = ?", (instance_id,))
        )

    async def set_instance_embedder(self, instance_id: str, embedder: str, dimensions: int) -> None:
        await self._write(
            lambda c: c.execute(
                "UPDATE instances SET embedder = ?, dimensions = ? WHERE instance_id = ?",
                (embedder, dimensions, instance_id),
            )
        )

    async def create_key(self, instance_id: str, name: str, key_hash: str, prefix: str) -> KeyRecord:
        rec = KeyRecord(f"key_{uuid.uuid4().hex[:16]}", instance_id, name, prefix, _now())
        await self._write(
            lambda c: c.execute(
                "INSERT INTO api_keys (key_id, instance_id, name, key_hash, prefix, created_at) VALUES (?,?,?,?,?,?)",
                (rec.key_id, instance_id, name, key_hash, prefix, to_ts(rec.created_at)),
            )
        )
        return rec

    async def find_key(self, key_hash: str) -> tuple[KeyRecord, InstanceRecord] | None:
        def run(conn: sqlite3.Connection) -> tuple[KeyRecord, InstanceRecord] | None:
            row = conn.execute(
                "SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL", (key_hash,)
            ).fetchone()
            if row is None:
                return None
            inst = conn.execute("SELECT * FROM instances WHERE instance_id = ?", (row["instance_id"],)).fetchone()
            return (_key(row), _instance(inst)) if inst else None

        return await self._read(run)

    async def list_keys(self, instance_id: str) -> list[KeyRecord]:
        return await self._read(
            lambda c: [
                _key(r)
                for r in c.execute("SELECT * FROM api_keys WHERE instance_id = ? ORDER BY created_at", (instance_id,))
            ]
        )

    async def revoke_key(self, key_id: str) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL", (to_ts(_now()), key_id)
            )
            return cur.rowcount == 1

        return await self._write(run)

    # -- ingestion queue ------------------------------------------------------------------------------------------
    async def enqueue(self, job: JobRecord, *, content_hash: str) -> tuple[JobRecord, bool]:
        s = job.scope

        def run(conn: sqlite3.Connection) -> tuple[JobRecord, bool]:
            row = conn.execute(
                "SELECT * FROM ingestions WHERE instance_id=? AND customer_id=? AND level=? AND user_id=? "
                "AND document_id=?",
                (s.instance_id, s.customer_id, s.level.value, s.user_id, job.document_id),
            ).fetchone()
            if row is not None:
                return _job(row), False
            conn.execute(
                "INSERT INTO ingestions (ingestion_id, instance_id, customer_id, level, user_id, document_id, "
                "content_hash, kind, status, payload, queued_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    job.ingestion_id,
                    s.instance_id,
                    s.customer_id,
                    s.level.value,
                    s.user_id,
                    job.document_id,
                    content_hash,
                    job.kind,
                    job.status,
                    dumps(job.payload),
                    to_ts(job.queued_at),
                ),
            )
            return job, True

        return await self._write(run)

    async def claim_jobs(
        self, worker_id: str, *, limit: int, lease_seconds: float, max_attempts: int
    ) -> list[JobRecord]:
        claim = f"{worker_id}:{uuid.uuid4().hex[:12]}"

        def run(conn: sqlite3.Connection) -> list[JobRecord]:
            now = time.time()
            # Jobs whose worker died too often are given up on, with the reason.
            conn.execute(
                "UPDATE ingestions SET status = 'failed', completed_at = ?, claim = NULL, error_message = "
                "COALESCE(error_message, '') || 'gave up after ' || attempts || ' attempts (worker lost)' "
                "WHERE status = 'processing' AND lease_until < ? AND attempts >= ?",
                (to_ts(_now()), now, max_attempts),
            )
            rows = conn.execute(
                "UPDATE ingestions SET status = 'processing', claim = ?, lease_until = ?, attempts = attempts + 1, "
                "started_at = COALESCE(started_at, ?) WHERE ingestion_id IN (SELECT ingestion_id FROM ingestions "
                "WHERE status = 'queued' OR (status = 'processing' AND lease_until < ?) ORDER BY queued_at LIMIT ?) "
                "RETURNING *",
                (claim, now + lease_seconds, to_ts(_now()), now, limit),
            ).fetchall()
            return sorted((_job(r) for r in rows), key=lambda j: j.queued_at)

        return await self._write(run)

    async def complete_job(self, result: ProcessedJob) -> None:
        await self._write(lambda conn: self._complete(conn, result))

    async def complete_jobs(self, results: Sequence[ProcessedJob]) -> list[tuple[ProcessedJob, str]]:
        """One write transaction for the batch; each job in a savepoint, so a job whose writes fail is rolled back
        alone and returned with the error, and the others commit."""

        def run(conn: sqlite3.Connection) -> list[tuple[ProcessedJob, str]]:
            failed: list[tuple[ProcessedJob, str]] = []
            for result in results:
                conn.execute("SAVEPOINT job")
                try:
                    self._complete(conn, result)
                except Exception as exc:
                    if not conn.in_transaction:  # SQLite rolled the whole transaction back (I/O error, disk full)
                        raise
                    conn.execute("ROLLBACK TO job")
                    failed.append((result, f"{type(exc).__name__}: {exc}"))
                conn.execute("RELEASE job")
            return failed

        return await self._write(run) if results else []

    def _complete(self, conn: sqlite3.Connection, result: ProcessedJob) -> None:
        s = result.scope
        now = to_ts(_now())
        if result.claim is not None:
            owned = conn.execute(
                "SELECT 1 FROM ingestions WHERE ingestion_id = ? AND status = 'processing' AND claim = ?",
                (result.ingestion_id, result.claim),
            ).fetchone()
            if owned is None:
                return  # the lease expired and another worker took the job over: its result wins
        skey = self._scope_key(conn, s)
        for mem in result.new:
            d = mem.draft
            cur = conn.execute(
                "INSERT INTO memories (memory_id, instance_id, customer_id, level, user_id, scope_key, memory_type,"
                " content, content_hash, category, confidence, event_date, valid_until, temporal_category, "
                "source_evidence, entities, subject, attribute, metadata, document_id, conversation_id, "
                "ingestion_id, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    mem.memory_id,
                    s.instance_id,
                    s.customer_id,
                    s.level.value,
                    s.user_id,
                    skey,
                    d.memory_type,
                    d.content,
                    mem.content_hash,
                    d.category,
                    d.confidence,
                    to_ts(d.event_date),
                    to_ts(d.valid_until),
                    d.temporal_category,
                    dumps(d.source_evidence),
                    dumps(d.entities),
                    d.subject,
                    d.attribute,
                    dumps(d.metadata),
                    result.document_id,
                    result.conversation_id,
                    result.ingestion_id,
                    now,
                ),
            )
            rowid = cur.lastrowid
            conn.execute(
                "INSERT INTO memories_fts (rowid, content, skey, mtype) VALUES (?,?,?,?)",
                (rowid, mem.fts_text or d.content, f"k{skey}", d.memory_type),
            )
            conn.execute(
                "INSERT INTO memory_vectors (rowid, scope_key, vec) VALUES (?,?,?)",
                (rowid, skey, np.asarray(mem.vector, dtype=np.float32).tobytes()),
            )
        for rowid, evidence, confidence in result.merged:
            row = conn.execute(
                "SELECT source_evidence FROM memories WHERE rowid = ? AND scope_key = ?", (rowid, skey)
            ).fetchone()
            if row is None:
                continue
            merged = list(dict.fromkeys(json.loads(row[0]) + evidence))
            conn.execute(
                "UPDATE memories SET source_evidence = ?, confidence = ?, mention_count = mention_count + 1, "
                "updated_at = ? WHERE rowid = ? AND scope_key = ?",
                (dumps(merged), confidence, now, rowid, skey),
            )
        for rowid, new_id in result.superseded:
            conn.execute(
                "UPDATE memories SET superseded_by = ?, valid_until = COALESCE(valid_until, ?), updated_at = ? "
                "WHERE rowid = ? AND scope_key = ?",
                (new_id, now, now, rowid, skey),
            )
        if result.document is not None:
            doc = result.document
            conn.execute(
                "INSERT OR REPLACE INTO documents (instance_id, customer_id, level, user_id, document_id, "
                "document_type, content, content_hash, document_created_at, conversation_id, created_at, metadata)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    s.instance_id,
                    s.customer_id,
                    s.level.value,
                    s.user_id,
                    result.document_id,
                    doc.get("document_type", "document"),
                    doc.get("content", ""),
                    doc.get("content_hash", ""),
                    doc.get("document_created_at"),
                    result.conversation_id,
                    now,
                    dumps(doc.get("metadata", {})),
                ),
            )
        conn.execute("UPDATE scopes SET version = version + 1 WHERE scope_key = ?", (skey,))
        if result.claim is None:
            return  # a direct (operator) write: no job row to complete
        conn.execute(
            "UPDATE ingestions SET status = ?, completed_at = ?, memory_ids = ?, error_message = ?, claim = NULL, "
            "lease_until = NULL WHERE ingestion_id = ?",
            (result.status, now, dumps(result.memory_ids), result.error_message, result.ingestion_id),
        )

    async def fail_job(self, ingestion_id: str, error: str, *, final: bool, claim: str | None = None) -> None:
        def run(conn: sqlite3.Connection) -> None:
            if final:
                conn.execute(
                    "UPDATE ingestions SET status = 'failed', completed_at = ?, error_message = ?, claim = NULL, "
                    "lease_until = NULL WHERE ingestion_id = ? AND (claim = ? OR ? IS NULL)",
                    (to_ts(_now()), error[:2000], ingestion_id, claim, claim),
                )
            else:
                conn.execute(
                    "UPDATE ingestions SET status = 'queued', error_message = ?, claim = NULL, lease_until = NULL "
                    "WHERE ingestion_id = ? AND (claim = ? OR ? IS NULL)",
                    (error[:2000], ingestion_id, claim, claim),
                )

        await self._write(run)

    async def get_job(self, instance_id: str, ingestion_id: str) -> JobRecord | None:
        def run(conn: sqlite3.Connection) -> JobRecord | None:
            row = conn.execute(
                "SELECT * FROM ingestions WHERE instance_id = ? AND ingestion_id = ?", (instance_id, ingestion_id)
            ).fetchone()
            return _job(row) if row else None

        return await self._read(run)

    async def count_jobs(self, *, statuses: tuple[str, ...] = ("queued", "processing")) -> int:
        marks = ",".join("?" * len(statuses))
        return await self._read(
            lambda c: int(
                c.execute(f"SELECT count(*) FROM ingestions WHERE status IN ({marks})", statuses).fetchone()[0]
            )
        )

    # -- scope keys and the vector cache --------------------------------------------------------------------------
    @staticmethod
    def _scope_key(conn: sqlite3.Connection, s: Scope) -> int:
        row = conn.execute(
            "SELECT scope_key FROM scopes WHERE instance_id=? AND customer_id=? AND level=? AND user_id=?",
            (s.instance_id, s.customer_id, s.level.value, s.user_id),
        ).fetchone()
        if row:
            return int(row[0])
        cur = conn.execute(
            "INSERT INTO scopes (instance_id, customer_id, level, user_id) VALUES (?,?,?,?)",
            (s.instance_id, s.customer_id, s.level.value, s.user_id),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

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
                f"SELECT {_MEMORY_COLS} FROM memories m WHERE {where} AND m.attribute = ? "
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

    async def search_vectors_with_records(
        self,
        chain: ReadChain,
        vectors: Sequence[Vectors],
        *,
        limit: int,
        filters: SearchFilters,
        rowids: Sequence[int] = (),
    ) -> tuple[list[list[tuple[int, float]]], dict[int, MemoryRecord]]:
        """One round trip to a reader thread: the vector searches and the records of their hits and of ``rowids``."""
        qs = [np.asarray(v, dtype=np.float32).reshape(-1) for v in vectors]
        where, params = scope_filter(chain)

        def run(conn: sqlite3.Connection) -> tuple[list[list[tuple[int, float]]], dict[int, MemoryRecord]]:
            parts = self._chain_parts(conn, chain)
            hits = self._vector_hits(conn, chain, qs, limit, filters, parts)
            return hits, self._cache.records(conn, where, params, parts, candidate_ids(rowids, hits))

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
                f"SELECT {_MEMORY_COLS} FROM memories m WHERE m.memory_id = ? AND {where}", [memory_id, *params]
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
                f"SELECT {_MEMORY_COLS} FROM memories m WHERE {where}{extra} ORDER BY m.rowid DESC LIMIT ? OFFSET ?",
                [*params, *extra_params, limit, offset],
            ).fetchall()
            return [_memory(r) for r in rows], int(total)

        return await self._read(run)

    @staticmethod
    def _delete_rows(conn: sqlite3.Connection, rows: Iterable[tuple[int, int]]) -> int:
        n = 0
        keys: set[int] = set()
        for rowid, skey in rows:
            conn.execute("DELETE FROM memories_fts WHERE rowid = ?", (rowid,))
            conn.execute("DELETE FROM memory_vectors WHERE rowid = ?", (rowid,))
            conn.execute("DELETE FROM memories WHERE rowid = ?", (rowid,))
            keys.add(skey)
            n += 1
        for k in keys:
            conn.execute("UPDATE scopes SET version = version + 1 WHERE scope_key = ?", (k,))
        return n

    async def delete_memories(self, chain: ReadChain, memory_ids: list[str]) -> int:
        if not memory_ids:
            return 0
        where, params = scope_filter(chain)

        def run(conn: sqlite3.Connection) -> int:
            rows = conn.execute(
                f"SELECT m.rowid, m.scope_key FROM memories m WHERE m.memory_id IN "
                f"({','.join('?' * len(memory_ids))}) AND {where}",
                [*memory_ids, *params],
            ).fetchall()
            return self._delete_rows(conn, [(r[0], r[1]) for r in rows])

        return await self._write(run)

    async def update_memory(
        self, chain: ReadChain, memory_id: str, *, content: str, vector: Vectors, metadata: dict[str, Any] | None
    ) -> MemoryRecord | None:
        where, params = scope_filter(chain)

        def run(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                f"SELECT m.rowid, m.scope_key, m.memory_type, m.metadata FROM memories m "
                f"WHERE m.memory_id = ? AND {where}",
                [memory_id, *params],
            ).fetchone()
            if row is None:
                return None
            rowid, skey = row[0], row[1]
            meta = json.loads(row[3])
            if metadata:
                meta.update(metadata)
            conn.execute(
                "UPDATE memories SET content = ?, content_hash = ?, metadata = ?, updated_at = ? WHERE rowid = ?",
                (content, content_hash(content), dumps(meta), to_ts(_now()), rowid),
            )
            conn.execute("UPDATE memories_fts SET content = ? WHERE rowid = ?", (content, rowid))
            conn.execute(
                "UPDATE memory_vectors SET vec = ? WHERE rowid = ?",
                (np.asarray(vector, dtype=np.float32).tobytes(), rowid),
            )
            conn.execute("UPDATE scopes SET version = version + 1 WHERE scope_key = ?", (skey,))
            return int(rowid)

        rowid = await self._write(run)
        if rowid is None:
            return None
        return await self.get_memory(chain, memory_id)

    async def customer_exists(self, instance_id: str, customer_id: str) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "SELECT 1 FROM scopes WHERE instance_id = ? AND customer_id = ? UNION ALL "
                    "SELECT 1 FROM conversations WHERE instance_id = ? AND customer_id = ? LIMIT 1",
                    (instance_id, customer_id, instance_id, customer_id),
                ).fetchone()
                is not None
            )

        return await self._read(run)

    # -- conversations --------------------------------------------------------------------------------------------
    async def bind_conversation(
        self, instance_id: str, conversation_id: str, customer_id: str, user_id: str
    ) -> ConversationRecord:
        def run(conn: sqlite3.Connection) -> ConversationRecord:
            conn.execute(
                "INSERT OR IGNORE INTO conversations (instance_id, conversation_id, customer_id, user_id, created_at) "
                "VALUES (?,?,?,?,?)",
                (instance_id, conversation_id, customer_id, user_id, to_ts(_now())),
            )
            row = conn.execute(
                "SELECT * FROM conversations WHERE instance_id = ? AND conversation_id = ?",
                (instance_id, conversation_id),
            ).fetchone()
            return ConversationRecord(
                row["instance_id"],
                row["conversation_id"],
                row["customer_id"],
                row["user_id"],
                parse_ts(row["created_at"]) or _now(),
            )

        return await self._write(run)

    async def get_conversation(self, instance_id: str, conversation_id: str) -> ConversationRecord | None:
        def run(conn: sqlite3.Connection) -> ConversationRecord | None:
            row = conn.execute(
                "SELECT c.*, (SELECT count(*) FROM messages x WHERE x.instance_id = c.instance_id AND "
                "x.conversation_id = c.conversation_id) AS n, (SELECT max(recorded_at) FROM messages x WHERE "
                "x.instance_id = c.instance_id AND x.conversation_id = c.conversation_id) AS last "
                "FROM conversations c WHERE c.instance_id = ? AND c.conversation_id = ?",
                (instance_id, conversation_id),
            ).fetchone()
            if row is None:
                return None
            return ConversationRecord(
                row["instance_id"],
                row["conversation_id"],
                row["customer_id"],
                row["user_id"],
                parse_ts(row["created_at"]) or _now(),
                message_count=row["n"],
                last_message_at=parse_ts(row["last"]),
            )

        return await self._read(run)

    async def add_messages(self, instance_id: str, messages: list[MessageRecord]) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO messages (message_id, instance_id, conversation_id, role, content, session_id, metadata, "
                "recorded_at) VALUES (?,?,?,?,?,?,?,?)",
                [
                    (
                        m.message_id,
                        instance_id,
                        m.conversation_id,
                        m.role,
                        m.content,
                        m.session_id,
                        dumps(m.metadata),
                        to_ts(m.recorded_at),
                    )
                    for m in messages
                ],
            )

        await self._write(run)

    async def recent_messages(self, instance_id: str, conversation_id: str, *, limit: int) -> list[MessageRecord]:
        def run(conn: sqlite3.Connection) -> list[MessageRecord]:
            rows = conn.execute(
                "SELECT * FROM messages WHERE instance_id = ? AND conversation_id = ? ORDER BY message_pk DESC LIMIT ?",
                (instance_id, conversation_id, limit),
            ).fetchall()
            return [
                MessageRecord(
                    r["message_id"],
                    r["conversation_id"],
                    r["role"],
                    r["content"],
                    parse_ts(r["recorded_at"]) or _now(),
                    r["session_id"],
                    json.loads(r["metadata"]),
                )
                for r in reversed(rows)
            ]

        return await self._read(run)

    async def transcript_ingestion(self, instance_id: str, conversation_id: str) -> tuple[str, str] | None:
        def run(conn: sqlite3.Connection) -> tuple[str, str] | None:
            row = conn.execute(
                "SELECT digest, ingestion_id FROM transcripts WHERE instance_id = ? AND conversation_id = ?",
                (instance_id, conversation_id),
            ).fetchone()
            return (row[0], row[1]) if row else None

        return await self._read(run)

    async def save_transcript(self, instance_id: str, conversation_id: str, digest: str, ingestion_id: str) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO transcripts (instance_id, conversation_id, digest, ingestion_id, created_at) "
                "VALUES (?,?,?,?,?)",
                (instance_id, conversation_id, digest, ingestion_id, to_ts(_now())),
            )
        )

    # -- deletion and audit ---------------------------------------------------------------------------------------
    async def delete_scope_data(
        self, instance_id: str, *, customer_id: str | None, user_id: str | None, conversation_id: str | None
    ) -> dict[str, int]:
        def run(conn: sqlite3.Connection) -> dict[str, int]:
            receipt: dict[str, int] = {}
            conds = ["instance_id = ?"]
            params: list[Any] = [instance_id]
            if customer_id is not None:
                conds.append("customer_id = ?")
                params.append(customer_id)
            if user_id is not None:
                conds.append("user_id = ?")
                params.append(user_id)
            if conversation_id is not None:
                conds.append("conversation_id = ?")
                params.append(conversation_id)
            where = " AND ".join(conds)
            rows = conn.execute(f"SELECT rowid, scope_key FROM memories WHERE {where}", params).fetchall()
            receipt["memories"] = self._delete_rows(conn, [(r[0], r[1]) for r in rows])
            receipt["documents"] = conn.execute(f"DELETE FROM documents WHERE {where}", params).rowcount
            if conversation_id is None:
                receipt["ingestions"] = conn.execute(f"DELETE FROM ingestions WHERE {where}", params).rowcount
            conv_conds = ["instance_id = ?"]
            conv_params: list[Any] = [instance_id]
            for col, val in (("customer_id", customer_id), ("user_id", user_id), ("conversation_id", conversation_id)):
                if val is not None:
                    conv_conds.append(f"{col} = ?")
                    conv_params.append(val)
            conv_where = " AND ".join(conv_conds)
            conv_ids = [
                r[0] for r in conn.execute(f"SELECT conversation_id FROM conversations WHERE {conv_where}", conv_params)
            ]
            n_msgs = 0
            for cid in conv_ids:
                n_msgs += conn.execute(
                    "DELETE FROM messages WHERE instance_id = ? AND conversation_id = ?", (instance_id, cid)
                ).rowcount
                conn.execute(
                    "DELETE FROM transcripts WHERE instance_id = ? AND conversation_id = ?", (instance_id, cid)
                )
            receipt["messages"] = n_msgs
            receipt["conversations"] = conn.execute(
                f"DELETE FROM conversations WHERE {conv_where}", conv_params
            ).rowcount
            return receipt

        return await self._write(run)

    async def audit(self, instance_id: str, action: str, *, detail: dict[str, Any]) -> None:
        """Record an audit entry (ids, counts, timings; never content). Entries are buffered and written in batches
        by a background task (at most ~1 s or 500 entries late), so reads do not queue behind the single writer."""
        self._audit_buf.append((instance_id, to_ts(_now()), action, dumps(detail)))
        if len(self._audit_buf) >= 500 or (self._audit_task is None or self._audit_task.done()):
            if self._audit_task is None or self._audit_task.done():
                self._audit_task = asyncio.get_running_loop().create_task(self._flush_audit_later())

    async def _flush_audit_later(self) -> None:
        await asyncio.sleep(1.0 if len(self._audit_buf) < 500 else 0)
        await self.flush_audit()

    async def flush_audit(self) -> None:
        rows, self._audit_buf = self._audit_buf, []
        if rows and self._writer is not None:
            await self._write(
                lambda c: c.executemany(
                    "INSERT INTO audit_log (instance_id, at, action, detail) VALUES (?,?,?,?)", rows
                )
            )

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
                    f"SELECT {_MEMORY_COLS} FROM memories m WHERE {where} AND m.superseded_by IS NULL "
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
