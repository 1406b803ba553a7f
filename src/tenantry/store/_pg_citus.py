"""Citus: the distributed layout of the PostgreSQL schema (``tenantry db distribute``), what a database's layout is
(``tenantry db check``), and the rule every key must follow for it (docs/postgres.md, "Citus").

The layout is declared in ``migrations`` (``POSTGRES_DISTRIBUTION``, reference and local tables). Distributing is
idempotent: a table already laid out as wanted is left alone; one laid out differently is reported, never moved
(``alter_distributed_table`` rewrites every row: an operator's decision). Everything here runs as the login role of
the DSN, the owner of the tables (``create_distributed_table`` needs ownership, not superuser).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import sql

from ..errors import ConfigurationError
from . import migrations
from ._pg_rows import Conn

__all__ = [
    "Key",
    "Placement",
    "citus_version",
    "current_layout",
    "distributed_as",
    "is_distributed",
    "distribute",
    "key_violations",
    "layout_findings",
    "nologin_advice",
    "nologin_roles",
    "schema_keys",
    "wanted_layout",
]

LAYOUTS = tuple(migrations.POSTGRES_DISTRIBUTION)


@dataclass(frozen=True, slots=True)
class Placement:
    """How one table is laid out: ``kind`` is ``distributed`` (by ``column``), ``reference``, ``local`` (a Citus
    local table on the coordinator) or ``plain`` (not in the Citus metadata)."""

    kind: str
    column: str | None = None

    def __str__(self) -> str:
        return f"distributed by {self.column}" if self.kind == "distributed" else self.kind


@dataclass(frozen=True, slots=True)
class Key:
    """A primary key or unique index of the schema, its columns in order (expressions as ``None``)."""

    table: str
    name: str
    columns: tuple[str | None, ...]


def wanted_layout(by: str) -> dict[str, Placement]:
    """The placement of every table for ``--by instance`` or ``--by customer``."""
    if by not in migrations.POSTGRES_DISTRIBUTION:
        raise ValueError(f"unknown layout {by!r}: use one of {', '.join(LAYOUTS)}")
    out = {t: Placement("reference") for t in migrations.POSTGRES_REFERENCE_TABLES}
    out.update({t: Placement("local") for t in migrations.POSTGRES_LOCAL_TABLES})
    out.update({t: Placement("distributed", c) for t, c in migrations.POSTGRES_DISTRIBUTION[by].items()})
    return out


def key_violations(keys: Sequence[Key], layout: Mapping[str, Placement]) -> list[str]:
    """What in ``keys`` breaks the Citus rules of ``layout``: a key of a distributed table must include its
    distribution column (Citus enforces uniqueness shard by shard) and, in this schema, lead with ``instance_id``
    (every tenant query filters on it first). Reference and local tables may have any key."""
    out: list[str] = []
    for key in keys:
        where = layout.get(key.table)
        if where is None or where.kind != "distributed":
            continue
        if where.column not in key.columns:
            out.append(f"{key.table}: key {key.name} {list(key.columns)} lacks the distribution column {where.column}")
        elif key.columns[0] != "instance_id":
            out.append(f"{key.table}: key {key.name} {list(key.columns)} is not led by instance_id")
    return out


async def schema_keys(conn: Conn) -> list[Key]:
    """Every primary key and unique index of the tables of the current schema."""
    cur = await conn.execute(
        "SELECT c.relname, i.relname, array(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, n) "
        "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum ORDER BY k.n) "
        "FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE (x.indisunique OR x.indisprimary) AND c.relnamespace = current_schema()::regnamespace "
        "AND c.relkind IN ('r', 'p') ORDER BY 1, 2"
    )
    return [Key(str(r[0]), str(r[1]), tuple(r[2])) for r in await cur.fetchall()]


async def citus_version(conn: Conn) -> str | None:
    """The version of the ``citus`` extension installed in this database, or ``None``."""
    cur = await conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'citus'")
    row = await cur.fetchone()
    return str(row[0]) if row else None


async def is_distributed(conn: Conn, table: str) -> bool:
    """Whether ``table`` is a distributed (hash) table of Citus."""
    if await citus_version(conn) is None:
        return False
    cur = await conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = to_regclass(%s) AND partmethod = 'h')",
        (table,),
    )
    row = await cur.fetchone()
    return bool(row and row[0])


async def current_layout(conn: Conn) -> dict[str, Placement]:
    """The placement of every table of the layout as the Citus metadata records it (``plain`` when absent)."""
    names = list(wanted_layout("instance"))
    out = dict.fromkeys(names, Placement("plain"))
    if await citus_version(conn) is None:
        return out
    cur = await conn.execute(
        "SELECT c.relname, p.partmethod, p.repmodel, "
        "CASE WHEN p.partmethod = 'h' THEN column_to_column_name(p.logicalrelid, p.partkey) END "
        "FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(%s)",
        (names,),
    )
    for table, method, repmodel, column in await cur.fetchall():
        if method == "h":
            out[table] = Placement("distributed", column)
        else:
            out[table] = Placement("reference" if repmodel == "t" else "local")
    return out


async def nologin_roles(conn: Conn) -> list[str]:
    """The store's roles that cannot log in (Citus opens its worker connections as the transaction's role)."""
    cur = await conn.execute(
        "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s) AND NOT rolcanlogin ORDER BY rolname",
        ([migrations.POSTGRES_APP_ROLE, migrations.POSTGRES_ADMIN_ROLE],),
    )
    return [str(r[0]) for r in await cur.fetchall()]


def nologin_advice(roles: Sequence[str]) -> str:
    return (
        f"role(s) {', '.join(roles)} cannot log in, and Citus connects to the workers as the transaction's role. "
        "As a superuser run: " + " ".join(f"ALTER ROLE {r} LOGIN;" for r in roles)
    )


async def _coordinator_known(conn: Conn) -> bool:
    cur = await conn.execute("SELECT EXISTS (SELECT 1 FROM pg_dist_node WHERE groupid = 0)")
    row = await cur.fetchone()
    return bool(row and row[0])


async def _worker_count(conn: Conn) -> int:
    cur = await conn.execute(
        "SELECT count(*) FROM pg_dist_node WHERE groupid <> 0 AND noderole = 'primary' AND isactive"
    )
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def distribute(
    conn: Conn, *, by: str = "instance", shard_count: int | None = None, say: Callable[[str], None] = lambda _: None
) -> list[str]:
    """Lay the database behind ``conn`` (autocommit, the owner role, migrations applied) out for Citus; returns the
    tables it changed (none when it already was). Raises ``ConfigurationError`` when it is not a Citus coordinator,
    when the roles cannot log in, or when a table is already laid out differently."""
    version = await citus_version(conn)
    if version is None:
        raise ConfigurationError(
            "this database has no citus extension: `tenantry db distribute` needs a Citus coordinator "
            "(as a superuser, on every node: CREATE EXTENSION citus; then add the workers on the coordinator)"
        )
    nologin = await nologin_roles(conn)
    if nologin:
        raise ConfigurationError(nologin_advice(nologin))
    want, have = wanted_layout(by), await current_layout(conn)
    if any(w.kind == "local" and have[t] != w for t, w in want.items()) and not await _coordinator_known(conn):
        raise ConfigurationError(
            "the coordinator is not in the Citus metadata, so the queue cannot be kept as a Citus local table on it. "
            "As a superuser, on the coordinator: SELECT citus_set_coordinator_host('<its host name>', <port>);"
        )
    wrong = [f"{t} is {have[t]} (wanted: {w})" for t, w in want.items() if have[t].kind != "plain" and have[t] != w]
    if wrong:
        raise ConfigurationError(
            f"the database is already laid out differently from --by {by}: {'; '.join(wrong)}. Changing the "
            "distribution rewrites every row; do it yourself with alter_distributed_table() if you mean to"
        )
    bad = key_violations(await schema_keys(conn), want)
    if bad:
        raise ConfigurationError("keys Citus cannot enforce: " + "; ".join(bad))
    say(f"Citus {version}, {await _worker_count(conn)} worker(s); layout --by {by}")
    changed: list[str] = []
    groups: dict[str, str] = {}  # distribution column -> first table of its co-location group
    for table, w in want.items():
        if have[table] == w:
            if w.kind == "distributed" and w.column:
                groups.setdefault(w.column, table)
            continue
        ident = sql.Literal(table)
        if w.kind == "reference":
            q = sql.SQL("SELECT create_reference_table({})").format(ident)
        elif w.kind == "local":
            q = sql.SQL("SELECT citus_add_local_table_to_metadata({})").format(ident)
        else:
            assert w.column is not None
            first = groups.setdefault(w.column, table)
            if first == table:
                shards = sql.SQL(", shard_count => {}").format(sql.Literal(shard_count)) if shard_count else sql.SQL("")
                q = sql.SQL("SELECT create_distributed_table({}, {}, colocate_with => 'none'{})").format(
                    ident, sql.Literal(w.column), shards
                )
            else:
                q = sql.SQL("SELECT create_distributed_table({}, {}, colocate_with => {})").format(
                    ident, sql.Literal(w.column), sql.Literal(first)
                )
        say(f"{table}: {w} ...")
        await _place(conn, table, q)
        changed.append(table)
    return changed


async def _place(conn: Conn, table: str, create: sql.Composed) -> None:
    """Run ``create`` (a Citus function that moves ``table``'s rows into shards) in one transaction. Citus copies
    the rows with ``COPY``, which a table with forced row-level security refuses even to its owner: the force is
    lifted for the copy and set again (it then holds on the shards too) before the transaction commits."""
    cur = await conn.execute("SELECT relforcerowsecurity FROM pg_class WHERE oid = to_regclass(%s)", (table,))
    row = await cur.fetchone()
    forced = bool(row and row[0])
    ident = sql.Identifier(table)
    async with conn.transaction():
        if forced:
            await conn.execute(sql.SQL("ALTER TABLE {} NO FORCE ROW LEVEL SECURITY").format(ident))
        await conn.execute(create)
        if forced:
            await conn.execute(sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(ident))


async def distributed_as(conn: Conn) -> str | None:
    """The layout (``instance`` or ``customer``) the database is distributed in, tables still ``plain`` aside (a
    migration created them after ``tenantry db distribute``); ``None`` when it is not distributed, or laid out in
    a way neither layout explains."""
    if await citus_version(conn) is None:
        return None
    have = await current_layout(conn)
    placed = {t: p for t, p in have.items() if p.kind != "plain"}
    if not any(p.kind == "distributed" for p in placed.values()):
        return None
    for by in LAYOUTS:
        want = wanted_layout(by)
        if all(want.get(t) == p for t, p in placed.items()):
            return by
    return None


async def layout_findings(conn: Conn) -> list[tuple[str, str, str]]:
    """``tenantry db check`` lines about Citus: whether the server is one, and the layout of this database."""
    version = await citus_version(conn)
    if version is None:
        return [("ok", "citus", "not a Citus database (plain PostgreSQL): nothing to distribute")]
    out = [("ok", "citus", f"Citus {version}, {await _worker_count(conn)} active worker(s)")]
    have = await current_layout(conn)
    for by in LAYOUTS:
        want = wanted_layout(by)
        if have == want:
            out.append(("ok", "layout", f"distributed --by {by} (queue local, instances and keys reference tables)"))
            break
    else:
        if all(p.kind == "plain" for p in have.values()):
            out.append(("warn", "layout", "not distributed yet: run `tenantry db distribute [--by instance|customer]`"))
        else:
            laid = ", ".join(f"{t}: {p}" for t, p in sorted(have.items()))
            out.append(("fail", "layout", f"partly distributed or laid out by hand ({laid})"))
    nologin = await nologin_roles(conn)
    out.append(("fail", "roles", nologin_advice(nologin)) if nologin else ("ok", "roles", "both roles can log in"))
    return out
