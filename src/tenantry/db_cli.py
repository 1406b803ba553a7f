"""``tenantry db ...``: schema upgrade and checks, for SQLite and PostgreSQL (``bench-postgres`` is in
:mod:`tenantry.bench.cli`).

Registered on the main CLI with ``register(app)``; every command reads its DSN from ``--dsn`` or, by default, from
``TENANTRY_DSN`` (else the embedded SQLite file under ``TENANTRY_HOME``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated
from typing import Any

import typer

__all__ = ["db_app", "redact_dsn", "register"]

db_app = typer.Typer(
    help="Database schema: upgrade, check, scrub, partition indexes, Citus distribution.", no_args_is_help=True
)

DsnOption = Annotated[
    str | None, typer.Option("--dsn", help="database (default: TENANTRY_DSN, else the embedded SQLite file)")
]
_MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


def _dsn(dsn: str | None) -> str:
    from .settings import Settings

    return dsn or Settings().resolved_dsn()


def _is_pg(dsn: str) -> bool:
    return dsn.startswith(("postgresql:", "postgres:"))


def redact_dsn(dsn: str) -> str:
    """``dsn`` without its password (for logs and messages)."""
    if "@" in dsn and "://" in dsn:
        scheme, rest = dsn.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return dsn


@db_app.command()
def upgrade(dsn: DsnOption = None) -> None:
    """Apply the pending schema migrations (the store also applies them when it opens)."""
    target = _dsn(dsn)
    if _is_pg(target):
        applied, versions = asyncio.run(_pg_upgrade(target))
    else:
        applied, versions = asyncio.run(_sqlite_upgrade(target))
    typer.echo(f"{redact_dsn(target)}: " + (f"applied migrations {applied}" if applied else "already up to date"))
    typer.echo(f"schema versions: {versions}")


async def _pg_upgrade(dsn: str) -> tuple[list[int], list[int]]:
    import psycopg

    from .store.postgres import PostgresStore
    from .store.postgres import migration_status

    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        before, _ = await migration_status(conn)
    store = PostgresStore(dsn, min_size=1, max_size=1)
    await store.open()
    await store.close()
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        after, _ = await migration_status(conn)
    return [v for v in after if v not in before], after


async def _sqlite_upgrade(dsn: str) -> tuple[list[int], list[int]]:
    import sqlite3

    from .store import sqlite_path
    from .store.sqlite import SQLiteStore

    path = sqlite_path(dsn)

    def versions() -> list[int]:
        try:
            with sqlite3.connect(path) as conn:
                return sorted(r[0] for r in conn.execute("SELECT version FROM schema_migrations"))
        except sqlite3.Error:
            return []

    before = versions()
    store = SQLiteStore(dsn)
    await store.open()
    await store.close()
    after = versions()
    return [v for v in after if v not in before], after


@db_app.command()
def check(dsn: DsnOption = None) -> None:
    """Say in plain words what the database is missing (server version, pgvector, roles, privileges, schema)."""
    target = _dsn(dsn)
    typer.echo(f"checking {redact_dsn(target)}")
    if _is_pg(target):
        from .store.postgres import diagnose

        findings = [(f.status, f.topic, f.text) for f in asyncio.run(diagnose(target))]
    elif target.startswith("sqlite:"):
        findings = _sqlite_findings(target)
    else:
        scheme = target.split(":", 1)[0]
        findings = [("fail", "dsn", f"unsupported scheme {scheme!r}: use sqlite:///path or postgresql://...")]
    for status, topic, text in findings:
        typer.echo(f"[{_MARK[status]}] {topic}: {text}")
    failed = sum(1 for f in findings if f[0] == "fail")
    typer.echo("everything tenantry needs is in place" if not failed else f"{failed} problem(s) to fix")
    if failed:
        raise typer.Exit(1)


def _sqlite_findings(dsn: str) -> list[tuple[str, str, str]]:
    import os
    import sqlite3
    from pathlib import Path

    from .store import migrations
    from .store import sqlite_path

    path = Path(sqlite_path(dsn))
    out: list[tuple[str, str, str]] = [("ok", "sqlite", f"SQLite {sqlite3.sqlite_version}")]
    try:
        with sqlite3.connect(":memory:") as conn:
            conn.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
        out.append(("ok", "fts5", "available"))
    except sqlite3.OperationalError:
        out.append(("fail", "fts5", "this Python's SQLite has no FTS5 module (lexical search needs it)"))
    parent = path.parent if str(path) not in ("", ":memory:") else Path(".")
    if path.is_dir():
        out.append(("fail", "file", f"{path} is a directory, not a database file"))
    elif path.exists():
        writable = os.access(path, os.W_OK)
        out.append(("ok" if writable else "fail", "file", f"{path} ({'writable' if writable else 'not writable'})"))
        with sqlite3.connect(path) as conn:
            try:
                done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            except sqlite3.Error:
                done = set()
        pending = [v for v, _ in migrations.SQLITE if v not in done]
        out.append(
            ("warn", "schema", f"migrations pending: {pending}; run `tenantry db upgrade`")
            if pending
            else ("ok", "schema", f"up to date (migrations {sorted(done)})")
        )
    else:
        problem = _cannot_create(parent)
        out.append(
            (
                "fail" if problem else "ok",
                "file",
                f"{path} does not exist yet; "
                + (f"it cannot be created: {problem}" if problem else "it is created on first use"),
            )
        )
    return out


def sqlite_problems(dsn: str) -> list[str]:
    """What would stop the SQLite store of ``dsn`` from opening (what ``db check`` fails on); empty when nothing
    would, or when ``dsn`` is not SQLite."""
    if not dsn.startswith("sqlite"):
        return []
    return [message for status, _, message in _sqlite_findings(dsn) if status == "fail"]


def _cannot_create(directory: Path) -> str | None:
    """Why the store could not create its file in ``directory`` (made with its parents, as the store does), or
    ``None``. Tried for real in the nearest existing ancestor: a permission bit is not the whole story (root, a
    read-only mount, a file where a directory should be)."""
    import tempfile

    ancestor = directory
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{ancestor} is not a directory"
    try:
        with tempfile.NamedTemporaryFile(dir=ancestor, prefix=".tenantry-check-"):
            pass
    except OSError as exc:
        return f"{ancestor} is not writable ({exc.strerror or exc})"
    return None


@db_app.command()
def scrub(dsn: DsnOption = None) -> None:
    """Release now the bytes that deletions left in the database's files.

    SQLite does this after every deletion already (FTS5 merge, write-ahead log truncated; ``secure_delete`` zeroes
    freed pages); this runs it again. PostgreSQL: ``VACUUM FULL`` of the tables that hold text, which a deletion by
    id does not run (it locks each table while rewriting it: seconds at 100k memories); an erasure does."""
    target = _dsn(dsn)

    async def run() -> float:
        import time

        from .store import open_store

        store = open_store(target)
        await store.open()
        try:
            t0 = time.perf_counter()
            await store.scrub()
            return time.perf_counter() - t0
        finally:
            await store.close()

    seconds = asyncio.run(run())
    typer.echo(f"{redact_dsn(target)}: scrubbed in {seconds:.1f}s")


@db_app.command("index-partitions")
def index_partitions(
    dsn: DsnOption = None,
    min_rows: Annotated[int, typer.Option(help="give partitions with at least this many rows an HNSW index")] = 50_000,
) -> None:
    """PostgreSQL: build a partial HNSW index for each scope partition with at least --min-rows memories."""
    target = _dsn(dsn)
    if not _is_pg(target):
        typer.echo("only PostgreSQL has partition indexes; SQLite searches every partition exactly")
        raise typer.Exit(1)

    async def run() -> list[tuple[Any, int, float]]:
        from .store.postgres import PostgresStore

        store = PostgresStore(target, min_size=1, max_size=2)
        await store.open()
        try:
            return await store.index_large_partitions(min_rows=min_rows)
        finally:
            await store.close()

    built = asyncio.run(run())
    for scope, rows, seconds in built:
        typer.echo(f"indexed {scope.instance_id} {scope.source}: {rows} rows in {seconds:.1f}s")
    typer.echo(f"{len(built)} partition index(es) built")


@db_app.command()
def distribute(
    dsn: DsnOption = None,
    by: Annotated[
        str, typer.Option("--by", help="distribution column of the tenant tables: instance (default) or customer")
    ] = "instance",
    shard_count: Annotated[
        int | None, typer.Option(help="shards per distributed table (default: the cluster's citus.shard_count)")
    ] = None,
) -> None:
    """Citus: turn the database into the distributed layout (tenant tables distributed by instance or customer,
    instances and keys reference tables, the queue local on the coordinator). Idempotent; run it on the coordinator
    as the owner role, after the migrations (it applies pending ones first)."""
    target = _dsn(dsn)
    if not _is_pg(target):
        typer.echo("only PostgreSQL (with Citus) can be distributed")
        raise typer.Exit(1)
    if by not in ("instance", "customer"):
        raise typer.BadParameter("use --by instance or --by customer", param_hint="--by")
    from .errors import ConfigurationError

    try:
        changed = asyncio.run(_pg_distribute(target, by, shard_count))
    except ConfigurationError as exc:
        typer.echo(f"{redact_dsn(target)}: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"distributed {', '.join(changed)}" if changed else f"already laid out --by {by}: nothing to do")


async def _pg_distribute(dsn: str, by: str, shard_count: int | None) -> list[str]:
    import psycopg

    from .errors import ConfigurationError
    from .store._pg_citus import distribute as run
    from .store.postgres import PostgresStore

    store = PostgresStore(dsn, min_size=1, max_size=1)  # applies pending migrations, checks the roles
    await store.open()
    await store.close()
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        try:
            return await run(conn, by=by, shard_count=shard_count, say=typer.echo)
        except psycopg.Error as exc:  # Citus refused: each table moves in its own transaction, this one rolled back
            raise ConfigurationError(f"Citus refused it: {str(exc).strip()}") from exc


def register(app: typer.Typer) -> None:
    """Add ``db`` to the main ``tenantry`` CLI."""
    app.add_typer(db_app, name="db")
