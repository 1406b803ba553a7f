from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.fakes import EchoExtractor

from tenantry.pipeline.embedders.hashing import HashingEmbedder
from tenantry.scope import Relationship
from tenantry.service import AsyncMemoryService
from tenantry.settings import Settings
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


ServiceFactory = Callable[..., Any]


@pytest.fixture
async def make_service(tmp_path: Path) -> AsyncIterator[ServiceFactory]:
    """Factory: ``await make_service(relationship="b2b")`` → (service, instance) on a fresh SQLite file."""
    made: list[AsyncMemoryService] = []

    async def create(
        relationship: str = "b2b", *, name: str = "test", **settings: Any
    ) -> tuple[AsyncMemoryService, Any]:
        dsn = f"sqlite:///{tmp_path / f'{name}-{len(made)}.db'}"
        s = Settings(dsn=dsn, embedder="hashing", extractor="rules", **settings)
        store = SQLiteStore(dsn)
        await store.open()
        svc = AsyncMemoryService(s, store, HashingEmbedder(), EchoExtractor())
        made.append(svc)
        inst = await svc.create_instance(name, Relationship(relationship))
        return svc, inst

    yield create
    for svc in made:
        await svc.close(drain=False)
