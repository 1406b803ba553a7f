from __future__ import annotations

import os
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from typing import NamedTuple

import pytest
from tests.fakes import EchoExtractor

from tenantry.pipeline.base import Extractor
from tenantry.pipeline.embedders.hashing import HashingEmbedder
from tenantry.scope import Relationship
from tenantry.sdk import Tenantry
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
