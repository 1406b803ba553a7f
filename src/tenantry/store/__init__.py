"""Storage backends, chosen by DSN scheme: ``sqlite:///path`` or ``postgresql://...``.

SQLite DSNs follow the usual convention: three slashes and a relative path (``sqlite:///data/mem.db``) name a file
relative to the working directory; four slashes (``sqlite:////var/lib/tenantry/mem.db``) an absolute path;
``sqlite:///:memory:`` (or ``sqlite://``) a private in-memory database."""

from __future__ import annotations

from ..errors import ConfigurationError
from .base import AsyncStore

__all__ = ["AsyncStore", "open_store", "sqlite_path"]


def sqlite_path(dsn: str) -> str:
    """The file a ``sqlite:`` DSN names (see the module docstring), or ``":memory:"``.

    >>> sqlite_path("sqlite:///relative.db"), sqlite_path("sqlite:////abs/x.db"), sqlite_path("sqlite://")
    ('relative.db', '/abs/x.db', ':memory:')
    """
    rest = dsn.removeprefix("sqlite:")
    path = rest[3:] if rest.startswith("///") else rest.removeprefix("//")
    return path or ":memory:"


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
