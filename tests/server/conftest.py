from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.server.helpers import ADMIN_TOKEN
from tests.server.helpers import ThreadServer

from tenantry.server.config import ServerSettings
from tenantry.settings import Settings

ServerFactory = Callable[..., ThreadServer]


@pytest.fixture
def thread_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """Factory: ``thread_server(**server_settings)`` → a started uvicorn server over a fresh SQLite file."""
    started: list[ThreadServer] = []

    def make(**server: Any) -> ThreadServer:
        server.setdefault("admin_token", ADMIN_TOKEN)
        db = tmp_path / f"srv{len(started)}.db"
        s = ThreadServer(
            Settings(dsn=f"sqlite:///{db}", embedder="hashing", extractor="rules", workers=1),
            ServerSettings(**server),
        ).start()
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()
