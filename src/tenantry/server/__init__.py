"""The tenantry HTTP server (FastAPI): the ``maximem-synap`` wire API, tenantry extras and the admin API.

``create_app`` and ``ServerSettings`` are imported lazily so that ``tenantry.server.commands`` (loaded by every
CLI start) does not pull in FastAPI.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServerSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "ServerSettings":
        from .config import ServerSettings

        return ServerSettings
    raise AttributeError(name)
