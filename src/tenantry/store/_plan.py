"""Store behaviours written once, run by each SQL backend.

A behaviour (complete a job, erase a scope, bind a conversation, ...) is a *plan*: a generator that yields one
:class:`Op` (a statement with its parameters) at a time and receives its :class:`Result`; what it returns is the
behaviour's result. The logic, the branches on what was read, and the SQL that both schemas share are written once,
in ``_queue``, ``_edits``, ``_conversations`` and ``_admin``; each backend only drives plans inside one of its
transactions (SQLite: the writer thread or a reader, synchronously; PostgreSQL: a pool connection, asynchronously),
as httpx drives one ``Auth.auth_flow`` from both its sync and its async client.

What differs between the schemas lives in small :class:`Dialect` hooks: placeholders and parameter adapters, the
top-level instance predicate PostgreSQL adds for Citus, row locks, and how a memory's lexical and vector rows are
stored (SQLite: ``memories_fts`` and ``memory_vectors`` tables keyed by ``scope_key``; PostgreSQL: a generated
``tsvector`` and a ``vector`` column of the row itself).
"""

from __future__ import annotations

from collections.abc import Generator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import TypeVar

from ..scope import ReadChain
from ..scope import Scope
from ..types import Vectors
from ._audit import AuditBuffer
from ._audit import AuditEntry
from ._sql import DialectName
from ._sql import scope_filter
from .base import AsyncStore
from .base import NewMemory

__all__ = [
    "Dialect",
    "Op",
    "Plan",
    "PlanStore",
    "Result",
    "RolledBack",
    "ScopeKey",
    "audit",
    "bump",
    "rolled_back",
    "scope_key",
]

T = TypeVar("T")
ScopeKey = tuple[str, str, str, str]  # (instance_id, customer_id, level, user_id): a scope as the tables key it


@dataclass(frozen=True, slots=True)
class Op:
    """One statement of a plan. ``many``: ``params`` is a sequence of parameter rows (one execution each)."""

    sql: str
    params: Sequence[Any] = ()
    many: bool = False


@dataclass(frozen=True, slots=True)
class Result:
    """What an :class:`Op` gave: its rows (empty for a statement without a result set), its row count, and (SQLite)
    the rowid of the row it inserted."""

    rows: list[Sequence[Any]]
    rowcount: int
    lastrowid: int | None = None

    @property
    def first(self) -> Sequence[Any] | None:
        return self.rows[0] if self.rows else None


Plan = Generator[Op, Result, T]


def scope_key(s: Scope) -> ScopeKey:
    return (s.instance_id, s.customer_id, s.level.value, s.user_id)


class Dialect:
    """What the shared plans need to know about one SQL backend. Subclasses fill in the memory storage hooks."""

    name: DialectName
    p: str  # the parameter placeholder
    for_update: str = ""  # row lock suffix for a read that is followed by a write of the same rows
    json_key: str  # SQL template: the text of top-level ``{key}`` of the JSON ``{column}``
    json_as_text: str  # SQL template: the JSON ``{column}`` as text
    text_as_json: str  # SQL template: the text ``{expr}`` as this backend's JSON column value

    def ts(self, value: datetime | None) -> Any:
        """A timestamp as this backend stores it."""
        raise NotImplementedError

    def js(self, value: Any) -> Any:
        """A JSON value as this backend stores it."""
        raise NotImplementedError

    def json_text(self, column: str, key: str) -> str:
        return self.json_key.format(column=column, key=key)

    def any_of(self, expr: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """``expr`` is one of ``values`` (non-empty)."""
        return f"{expr} IN ({self.marks(len(values))})", list(values)

    def scoped(self, chain: ReadChain, alias: str = "m") -> tuple[str, list[Any]]:
        """The WHERE condition restricting ``alias``'s rows to ``chain``: always :func:`~._sql.scope_filter`."""
        return scope_filter(chain, alias=alias, dialect=self.name)

    def marks(self, n: int) -> str:
        return ",".join([self.p] * n)

    # -- how a memory's searchable text and vector are stored ----------------------------------------------------
    def open_scope(self, scope: Scope) -> Plan[Any]:
        """Make ``scope`` ready to receive memories; returns the handle :meth:`insert_memories` takes."""
        raise NotImplementedError

    def insert_memories(self, handle: Any, rows: list[tuple[Any, ...]], memories: Sequence[NewMemory]) -> Plan[None]:
        """Insert ``memories`` of one scope: ``rows`` holds the values of ``NEW_MEMORY_COLS`` for each."""
        raise NotImplementedError

    def rewrite_memory(self, rowid: int, where: str, params: list[Any], text: str, vector: Vectors) -> Plan[None]:
        """Replace the searchable text and the vector of memory ``rowid`` (in ``where``, the scope of its row)."""
        raise NotImplementedError

    def forget_memories(self, rowids: list[int]) -> Plan[None]:
        """Drop what is stored beside the deleted memory rows ``rowids``."""
        raise NotImplementedError

    def relabel_memory(self, rowid: int, where: str, params: list[Any], text: str) -> Plan[None]:
        """Replace the searchable (lexical) text of memory ``rowid`` only; its vector stays."""
        raise NotImplementedError


def audit(d: Dialect, instance_id: str, action: str, detail: dict[str, Any]) -> Plan[None]:
    """The audit row of a write, in the write's own transaction (a write that happened always has its row)."""
    yield Op(
        f"INSERT INTO audit_log (instance_id, at, action, detail) VALUES ({d.marks(4)})",
        (instance_id, d.ts(datetime.now(UTC)), action, d.js(detail)),
    )


class RolledBack(Exception):
    """Raised by :func:`rolled_back` once its plan ran: the transaction is rolled back, ``value`` is what the plan
    returned."""

    def __init__(self, value: Any) -> None:
        super().__init__("rolled back on purpose")
        self.value = value


def rolled_back(plan: Plan[T]) -> Plan[T]:
    """``plan``, then a rollback of everything it did: what it would do, counted and never done (dry runs). The
    runner sees :class:`RolledBack` and returns its ``value``."""
    value = yield from plan
    raise RolledBack(value)


def bump(d: Dialect, keys: Sequence[ScopeKey], *, create: bool = False) -> Plan[None]:
    """Increment the version of each scope (creating it with ``create``), in a fixed order (no deadlock): every
    cache of a scope's rows is keyed by that version. One statement per scope, sent together (``many``)."""
    p, ordered = d.p, sorted(set(keys))
    if not ordered:
        return
    if create:
        yield Op(
            f"INSERT INTO scopes (instance_id, customer_id, level, user_id, version) VALUES ({d.marks(4)}, 1) "
            "ON CONFLICT (instance_id, customer_id, level, user_id) DO UPDATE SET version = scopes.version + 1",
            ordered,
            many=True,
        )
    else:
        yield Op(
            f"UPDATE scopes SET version = version + 1 WHERE instance_id = {p} AND customer_id = {p} "
            f"AND level = {p} AND user_id = {p}",
            ordered,
            many=True,
        )


class PlanStore(AsyncStore):
    """A SQL backend as the shared behaviours see it: a dialect, a transaction runner and an audit writer."""

    dialect: Dialect
    _audit: AuditBuffer

    async def _run(self, plan: Plan[T], *, instance_id: str | None, write: bool = True) -> T:
        """Run ``plan`` in one transaction: a write transaction, or a read one with ``write=False``. PostgreSQL runs
        it as ``tenantry_app`` bound to ``instance_id``, or as ``tenantry_admin`` when that is ``None``."""
        raise NotImplementedError

    async def _write_audit(self, rows: list[AuditEntry]) -> None:
        """Insert buffered audit entries (called by the :class:`~._audit.AuditBuffer`)."""
        raise NotImplementedError

    async def _scrub(self, *, full: bool) -> None:
        """Make the bytes of deleted rows go, after a deletion committed: what a backend keeps of deleted text in
        its files (index segments, freed pages, write-ahead log, dead tuples) is rewritten or released. ``full``:
        whatever it costs (an erasure); otherwise only what is cheap on this backend (a by-id deletion)."""
        raise NotImplementedError

    async def scrub(self) -> None:
        """Release now the bytes every deletion so far left in the files (``tenantry db scrub``)."""
        await self._scrub(full=True)

    async def audit(self, instance_id: str, action: str, *, detail: dict[str, Any]) -> None:
        """Record an audit entry (ids, counts, timings; never content). Entries are buffered and written in batches
        by a background task (at most ~1 s or 500 entries late), so requests do not wait for the write."""
        self._audit.add(instance_id, action, detail)

    async def flush_audit(self) -> None:
        """Write the buffered audit entries now. If the write fails, they stay buffered (and the error is raised)."""
        await self._audit.flush()
