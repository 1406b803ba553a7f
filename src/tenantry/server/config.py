"""Settings of the HTTP server (``TENANTRY_*`` environment variables), separate from the engine's
:class:`~tenantry.settings.Settings`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings
from pydantic_settings import SettingsConfigDict

__all__ = ["ServerSettings"]


class ServerSettings(BaseSettings):
    """HTTP-layer knobs.

    Attributes:
        admin_token: bearer token of the admin API (``TENANTRY_ADMIN_TOKEN``); unset = admin API disabled.
        max_request_bytes: largest accepted request body; larger ones get 413.
        rate_limit_per_second: sustained requests per second per API key (token bucket); 0 turns limiting off.
        rate_limit_burst: bucket size (requests a key may send at once after being idle).
        key_cache_seconds: how long a verified API key is remembered in process (revocations through this server's
            admin API take effect at once; revocations by another process within this many seconds).
        grpc_port: port of the Synap client's gRPC stream (``synap.v1.SynapService/Listen``; ``server/stream.py``);
            ``None`` or 0: not served. ``tenantry serve`` serves it on 50051 unless told otherwise.
        grpc_host: interface the gRPC stream binds (``tenantry serve``: its ``--host``).
    """

    model_config = SettingsConfigDict(env_prefix="TENANTRY_", extra="ignore")

    admin_token: str | None = None
    max_request_bytes: int = Field(default=8_000_000, ge=1024)
    rate_limit_per_second: float = Field(default=50.0, ge=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    key_cache_seconds: float = Field(default=2.0, ge=0)
    grpc_port: int | None = Field(default=None, ge=0, le=65535)
    grpc_host: str = "127.0.0.1"
