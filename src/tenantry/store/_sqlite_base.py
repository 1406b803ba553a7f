"""The SQLite backend's plumbing: connections, the single writer thread and the reader pool, migrations, the plan
runner, and the dialect hooks of the SQLite schema (``memories_fts`` and ``memory_vectors`` rows beside each memory,
keyed by the integer ``scope_key`` of its scope)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from typing import TypeVar
from typing import cast

from ..errors import ConfigurationError
from ..errors import ConflictError
from ..errors import StoreUnavailableError
from ..scope import Scope
from ..types import Vectors
from . import migrations
from ._audit import AuditBuffer
from ._audit import AuditEntry
from ._plan import Dialect
from ._plan import Op
from ._plan import Plan
from ._plan import PlanStore
from ._plan import Result
from ._plan import scope_key
from ._rows import NEW_MEMORY_COLS
from ._rows import flat
from ._sql import dumps
from ._sql import to_ts
from ._sqlite_rows import _now
from .base import NewMemory

__all__ = ["SQLiteDialect", "drive"]

T = TypeVar("T")


class SQLiteDialect(Dialect):
    name = "sqlite"
    p = "?"
    json_key = "json_extract({column}, '$.{key}')"
    json_as_text = "{column}"
    text_as_json = "{expr}"
    ts = staticmethod(to_ts)
    js = staticmethod(dumps)

    def open_scope(self, scope: Scope) -> Plan[int]:
        key = scope_key(scope)
        found = yield Op(
            "SELECT scope_key FROM scopes WHERE instance_id=? AND customer_id=? AND level=? AND user_id=?", key
        )
        if found.first is None:
            found = yield Op(
                "INSERT INTO scopes (instance_id, customer_id, level, user_id) VALUES (?,?,?,?) RETURNING scope_key",
                key,
            )
        assert found.first is not None
        return int(found.first[0])

    def insert_memories(self, handle: int, rows: list[tuple[Any, ...]], memories: Sequence[NewMemory]) -> Plan[None]:
        for row, mem in zip(rows, memories, strict=True):
            inserted = yield Op(
                f"INSERT INTO memories ({NEW_MEMORY_COLS}, scope_key) VALUES ({self.marks(len(row) + 1)})",
                (*row, handle),
            )
            rowid = inserted.lastrowid
            yield Op(
                "INSERT INTO memories_fts (rowid, content, skey, mtype) VALUES (?,?,?,?)",
                (rowid, mem.fts_text or mem.draft.content, f"k{handle}", mem.draft.memory_type),
            )
            yield Op(
                "INSERT INTO memory_vectors (rowid, scope_key, vec) VALUES (?,?,?)",
                (rowid, handle, flat(mem.vector).tobytes()),
            )

    def rewrite_memory(self, rowid: int, where: str, params: list[Any], text: str, vector: Vectors) -> Plan[None]:
        yield Op("UPDATE memories_fts SET content = ? WHERE rowid = ?", (text, rowid))
        yield Op("UPDATE memory_vectors SET vec = ? WHERE rowid = ?", (flat(vector).tobytes(), rowid))

    def forget_memories(self, rowids: list[int]) -> Plan[None]:
        yield Op("DELETE FROM memories_fts WHERE rowid = ?", [(r,) for r in rowids], many=True)
        yield Op("DELETE FROM memory_vectors WHERE rowid = ?", [(r,) for r in rowids], many=True)

    def relabel_memory(self, rowid: int, where: str, params: list[Any], text: str) -> Plan[None]:
        yield Op("UPDATE memories_fts SET content = ? WHERE rowid = ?", (text, rowid))


def drive(conn: sqlite3.Connection, plan: Plan[T]) -> T:
    """Run ``plan`` on ``conn`` (inside the caller's transaction)."""
    try:
        op = next(plan)
        while True:
            if op.many:
                cur = conn.executemany(op.sql, op.params)
                op = plan.send(Result([], cur.rowcount))
            else:
                cur = conn.execute(op.sql, op.params)
                rows = cur.fetchall()
                op = plan.send(Result(rows, cur.rowcount, cur.lastrowid))
    except StopIteration as done:
        return cast(T, done.value)


class _SQLiteBase(PlanStore):
    """Connections and transactions of the SQLite backend (datasette's pattern: one writer thread owns the only
    write connection; reads run on a small pool of threads, each with its own connection)."""

    dialect: Dialect = SQLiteDialect()

    def __init__(self, dsn: str, *, read_threads: int = 4) -> None:
        self.dsn = dsn
        from . import sqlite_path

        path = sqlite_path(dsn)
        if path == ":memory:":
            self._target = f"file:tenantry-{uuid.uuid4().hex}?mode=memory&cache=shared"
            self._uri = True
        else:
            self._target = path
            self._uri = False
            where = Path(path).parent
            try:
                where.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot create the directory {where} of the SQLite database {path}: {exc.strerror or exc}"
                ) from None
        self._read_threads = read_threads
        self._writer: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._write_conn: sqlite3.Connection | None = None
        self._keepalive: sqlite3.Connection | None = None
        self._all_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._audit = AuditBuffer(self._write_audit)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._target, uri=self._uri, check_same_thread=False, timeout=30.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA secure_delete = ON")  # deleted content and freed pages are overwritten with zeros
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

    async def _run(self, plan: Plan[T], *, instance_id: str | None, write: bool = True) -> T:
        return await (self._write if write else self._read)(lambda conn: drive(conn, plan))

    async def _scrub(self, *, full: bool) -> None:
        """After a deletion (cheap enough here to run after every one: ≈0.3 s at 100k memories): merge the FTS5
        index into one segment (a deleted row's tokens stay in the segments
        until they are rewritten; this SQLite has no FTS5 ``secure-delete``), then checkpoint the write-ahead log
        into the database and truncate it (its frames hold the pages as they were). ``secure_delete`` zeroes what
        the rewrite frees."""

        def optimize(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')")

        await self._write(optimize)
        if self._uri:
            return  # an in-memory database has no files

        def checkpoint() -> None:
            conn = self._write_conn
            assert conn is not None
            for _ in range(50):  # a reader's open snapshot holds back a full checkpoint: wait for it to end
                busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if not busy:
                    return
                time.sleep(0.02)
            raise StoreUnavailableError("sqlite: the write-ahead log could not be truncated (readers kept it busy)")

        assert self._writer is not None
        await asyncio.get_running_loop().run_in_executor(self._writer, checkpoint)

    async def _write_audit(self, rows: list[AuditEntry]) -> None:
        d = self.dialect
        audit = Op(
            "INSERT INTO audit_log (instance_id, at, action, detail) VALUES (?,?,?,?)",
            [(i, d.ts(at), action, d.js(detail)) for i, at, action, detail in rows],
            many=True,
        )
        await self._write(lambda conn: conn.executemany(audit.sql, audit.params))

    async def open(self) -> None:
        if self._writer is not None:
            return
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tenantry-sqlite-w")
        self._readers = ThreadPoolExecutor(max_workers=self._read_threads, thread_name_prefix="tenantry-sqlite-r")

        def init() -> None:
            if self._uri:
                # An in-memory database lives as long as one connection to it is open.
                self._keepalive = self._connect()
            try:
                self._write_conn = self._connect()
            except sqlite3.OperationalError as exc:
                raise ConfigurationError(f"cannot open the SQLite database {self._target}: {exc}") from None
            self._migrate(self._write_conn)

        await asyncio.get_running_loop().run_in_executor(self._writer, init)

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
        for version, sql in migrations.SQLITE:
            conn.execute("BEGIN IMMEDIATE")
            if conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone():
                conn.execute("ROLLBACK")  # applied (possibly by another process that migrated concurrently)
                continue
            try:
                for stmt in [s for s in sql.split(";\n") if s.strip()]:
                    conn.execute(stmt)
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, to_ts(_now())))
            except sqlite3.OperationalError as exc:
                conn.execute("ROLLBACK")
                if "fts5" in str(exc).lower():
                    raise ConfigurationError("this Python's SQLite has no FTS5 module") from exc
                raise
            conn.execute("COMMIT")

    async def close(self) -> None:
        if self._writer is None:
            return
        await self._audit.aclose()
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
