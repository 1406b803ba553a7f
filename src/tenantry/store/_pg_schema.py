"""Schema of the PostgreSQL backend: applying the migrations, their status, and the ``tenantry db check``
diagnostics."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from . import migrations
from ._pg_citus import distribute
from ._pg_citus import distributed_as
from ._pg_citus import layout_findings
from ._pg_rows import Conn

log = logging.getLogger("tenantry")

_MIGRATION_LOCK = 0x6D656D73  # "mems": pg_advisory_xact_lock key serialising migrations
_MIN_SERVER = 140000


async def apply_migrations(conn: Conn) -> list[int]:
    """Apply the pending ``migrations.POSTGRES`` entries on ``conn`` (autocommit); returns the versions applied.

    Each version runs in its own transaction under an advisory lock, so concurrent processes migrate once.
    """
    applied: list[int] = []
    for version, ddl in migrations.POSTGRES:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur = await conn.execute("SELECT 1 FROM schema_migrations WHERE version = %s", (version,))
            if await cur.fetchone() is not None:
                continue
            await conn.execute(ddl.encode())  # no params: sent with the simple query protocol (many statements)
            await conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied.append(version)
    if applied:
        by = await distributed_as(conn)
        if by is not None:  # a distributed database: the tables these migrations created join its layout
            placed = await distribute(conn, by=by)
            if placed:
                log.info("tenantry: placed the new table(s) %s in the database's --by %s layout", placed, by)
    return applied


async def migration_status(conn: Conn) -> tuple[list[int], list[int]]:
    """(applied, pending) migration versions of the database behind ``conn``."""
    cur = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
    row = await cur.fetchone()
    done: set[int] = set()
    if row and row[0]:
        cur = await conn.execute("SELECT version FROM schema_migrations")
        done = {int(r[0]) for r in await cur.fetchall()}
    return sorted(done), [v for v, _ in migrations.POSTGRES if v not in done]


# -- diagnostics (``tenantry db check``) -----------------------------------------------------------------------------
@dataclass(slots=True)
class Finding:
    """One line of ``tenantry db check``: ``status`` is ``ok``, ``warn`` or ``fail``."""

    status: str
    topic: str
    text: str


async def diagnose(dsn: str) -> list[Finding]:
    """Check, in plain words, what this DSN needs for tenantry: server version, pgvector, roles, privileges,
    migrations, row-level security, and on Citus the distributed layout. Never changes anything."""
    out: list[Finding] = []
    try:
        conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        return [Finding("fail", "connection", f"cannot connect: {str(exc).strip()}")]
    try:
        await _diagnose(conn, out)
    finally:
        await conn.close()
    return out


async def _one(conn: Conn, query: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    assert row is not None
    return row


async def _diagnose(conn: Conn, out: list[Finding]) -> None:
    def say(status: str, topic: str, text: str) -> None:
        out.append(Finding(status, topic, text))

    version_num, version, db, user, schema = await _one(
        conn,
        "SELECT current_setting('server_version_num')::int, current_setting('server_version'), current_database(), "
        "current_user, current_schema()",
    )
    say("ok", "connection", f"connected to database {db!r} as role {user!r} (schema {schema!r})")
    if version_num < _MIN_SERVER:
        say("fail", "server", f"PostgreSQL {version} is too old: tenantry needs 14 or newer")
    elif version_num < 160000:
        say(
            "warn",
            "server",
            f"PostgreSQL {version}: works; 16+ is recommended (role grants "
            "WITH INHERIT FALSE keep the login role itself out of every policy)",
        )
    else:
        say("ok", "server", f"PostgreSQL {version}")
    is_super, can_create_role, can_bypass = await _one(
        conn, "SELECT rolsuper, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    )
    if is_super:
        say(
            "warn",
            "login role",
            f"{user!r} is a superuser. It works (every transaction switches to "
            "tenantry_app / tenantry_admin, so row-level security applies), "
            "but a dedicated non-superuser owner role is safer",
        )
    elif can_bypass:
        say("warn", "login role", f"{user!r} has BYPASSRLS; tenantry does not need it")
    else:
        say("ok", "login role", f"{user!r} is not a superuser")
    ext = await (
        await conn.execute(
            "SELECT default_version, installed_version FROM pg_available_extensions WHERE name = 'vector'"
        )
    ).fetchone()
    if ext is None:
        say(
            "fail",
            "pgvector",
            "the 'vector' extension is not available on this server: install "
            "pgvector (e.g. the postgresql-<major>-pgvector package, or from "
            "https://github.com/pgvector/pgvector)",
        )
    elif ext[1] is None:
        if is_super:
            say(
                "ok",
                "pgvector",
                f"available ({ext[0]}), not yet installed in {db!r}: "
                "`tenantry db upgrade` will run CREATE EXTENSION vector",
            )
        else:
            say(
                "fail",
                "pgvector",
                f"available ({ext[0]}) but not installed in {db!r}, and this "
                "role cannot install it (it is not a trusted extension). As a "
                f"superuser, in database {db!r}: CREATE EXTENSION vector;",
            )
    else:
        installed = tuple(int(p) for p in str(ext[1]).split(".")[:2])
        status = "ok" if installed >= (0, 8) else "warn"
        note = "" if status == "ok" else " (0.8+ recommended: iterative index scans)"
        say(status, "pgvector", f"installed, version {ext[1]}{note}")
    member = "SET" if version_num >= 160000 else "MEMBER"
    for role in (migrations.POSTGRES_APP_ROLE, migrations.POSTGRES_ADMIN_ROLE):
        exists = (await _one(conn, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s)", (role,)))[0]
        if not exists:
            if is_super or can_create_role:
                say("ok", "roles", f"role {role} does not exist yet; `tenantry db upgrade` creates it")
            else:
                say(
                    "fail",
                    "roles",
                    f"role {role} is missing and {user!r} cannot create roles. As a "
                    f"superuser: CREATE ROLE {role} LOGIN NOINHERIT; GRANT {role} "
                    f"TO {user} WITH INHERIT FALSE, SET TRUE;",
                )
            continue
        can_set = (await _one(conn, f"SELECT pg_has_role(current_user, %s, '{member}')", (role,)))[0]
        if can_set:
            say("ok", "roles", f"{user!r} can SET ROLE {role}")
        else:
            say(
                "fail",
                "roles",
                f"{user!r} cannot SET ROLE {role}. As a superuser: GRANT {role} TO "
                f"{user} WITH INHERIT FALSE, SET TRUE;",
            )
    applied, pending = await migration_status(conn)
    can_create = (await _one(conn, "SELECT has_schema_privilege(current_schema(), 'CREATE')"))[0]
    if pending:
        if can_create or is_super:
            say(
                "warn",
                "schema",
                f"migrations pending: {pending} (applied: {applied or 'none'}); run "
                "`tenantry db upgrade` (the store also applies them on open)",
            )
        else:
            say(
                "fail",
                "schema",
                f"migrations pending: {pending}, and {user!r} has no CREATE "
                f"privilege on schema {schema!r}: GRANT CREATE ON SCHEMA {schema} "
                f"TO {user};",
            )
    else:
        say("ok", "schema", f"up to date (migrations {applied})")
    if applied:
        tables = list(migrations.POSTGRES_RLS_TABLES)
        cur = await conn.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
            "WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(%s)",
            (tables,),
        )
        rls = {r[0]: (r[1], r[2]) for r in await cur.fetchall()}
        bad = [t for t in tables if rls.get(t, (True, True) if pending else (False, False)) != (True, True)]
        if bad:
            say("fail", "row-level security", f"not enabled and forced on: {', '.join(bad)}")
        else:
            say("ok", "row-level security", f"enabled and forced on all {len(tables)} tables")
    for status, topic, text in await layout_findings(conn):
        say(status, topic, text)
