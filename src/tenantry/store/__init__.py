"""Storage backends, chosen by DSN scheme: ``sqlite:///path`` or ``postgresql://...``."""

from __future__ import annotations

from ..errors import ConfigurationError
from .base import AsyncStore

__all__ = ["AsyncStore", "open_store"]


def open_store(dsn: str) -> AsyncStore:
    """Build (not yet open) the store for ``dsn``."""
    if dsn.startswith("sqlite:"):
        from .sqlite import SQLiteStore

        return SQLiteStore(dsn)
    if dsn.startswith(("postgresql:", "postgres:")):
        try:
            from .postgres import PostgresStore  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:
            raise ConfigurationError(
                f"the PostgreSQL backend is not available: {exc}. Install tenantry[postgres]."
            ) from exc
        store: AsyncStore = PostgresStore(dsn)
        return store
    raise ConfigurationError(f"unsupported TENANTRY_DSN {dsn.split(':', 1)[0]!r}: use sqlite:///path or postgresql://")
