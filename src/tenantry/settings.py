"""Settings read from ``TENANTRY_*`` environment variables (or passed as keywords).

This is the only module that reads the environment (``tests/test_layering.py`` checks it): every other module gets
what it needs from a :class:`Settings` passed down to it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated
from typing import Any

from pydantic import Field
from pydantic import field_validator
from pydantic_settings import BaseSettings
from pydantic_settings import NoDecode
from pydantic_settings import SettingsConfigDict

from .retrieval.features import parse_components

__all__ = ["Settings", "default_dsn", "default_model_cache"]


def default_dsn(home: Path) -> str:
    """``sqlite:////<absolute home>/tenantry.db`` (four slashes: an absolute path)."""
    return f"sqlite:///{home.expanduser().absolute() / 'tenantry.db'}"


def default_model_cache() -> Path:
    """``$XDG_CACHE_HOME/tenantry``, else ``~/.cache/tenantry``: where ``minilm-int8`` builds its model file."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tenantry"


class Settings(BaseSettings):
    """Engine settings. ``dsn`` picks the backend: ``sqlite:///path`` (default) or ``postgresql://...``.

    SQLite paths follow the usual convention (:func:`tenantry.store.sqlite_path`): ``sqlite:///mem.db`` (three
    slashes) is ``mem.db`` in the working directory, ``sqlite:////srv/mem.db`` (four) is the absolute
    ``/srv/mem.db``. The default, ``$TENANTRY_HOME/tenantry.db``, is absolute."""

    model_config = SettingsConfigDict(env_prefix="TENANTRY_", extra="forbid")

    home: Path = Field(default_factory=lambda: Path.home() / ".tenantry")
    dsn: str | None = None
    instance: str = "default"  # name (or inst_ id) used by the embedded SDK
    embedder: str = "minilm-int8"  # minilm-int8 | minilm (fp32 compute) | hashing | <entry point>
    extractor: str = "rules+turns"  # typed extraction + one turn memory per chat turn (docs/retrieval.md)
    workers: int = Field(default=2, ge=0, le=64)  # in-process ingestion workers (0 = enqueue only)
    worker_batch: int = Field(default=16, ge=1, le=512)  # jobs claimed and embedded together
    lease_seconds: float = Field(default=60.0, gt=0)  # a job whose worker died is retried after this
    max_attempts: int = Field(default=3, ge=1)
    poll_interval: float = Field(default=0.05, gt=0)
    max_document_bytes: int = Field(default=1_000_000, ge=1)
    token_budget: int = Field(default=4096, ge=1)
    # Erasing a user or a customer replaces its labels in the instance's past audit entries by a hash (the entries
    # stay, and still correlate with each other, but no longer name the erased scope).
    audit_pseudonymise: bool = True
    dedup_threshold: float = Field(default=0.95, gt=0, le=1)
    url: str | None = None  # remote mode: base URL of a tenantry server
    api_key: str | None = None
    mcp_token: str | None = None  # `tenantry mcp --transport http`: the bearer token its clients must send
    # Retrieval components turned off (ablation, see tenantry/retrieval/features.py); TENANTRY_ABLATE=a,b
    ablate: Annotated[frozenset[str], NoDecode] = frozenset()
    model_cache: Path = Field(default_factory=default_model_cache)  # TENANTRY_MODEL_CACHE

    @field_validator("ablate", mode="before")
    @classmethod
    def _parse_ablate(cls, value: Any) -> Any:
        """A comma-separated list (``"speaker,temporal"``) or a collection of names; unknown names are an error."""
        if isinstance(value, list | tuple | set | frozenset):
            value = ",".join(str(v) for v in value)
        if value is None or isinstance(value, str):
            return parse_components(value)
        return value  # not a list of names: pydantic rejects it

    def resolved_dsn(self) -> str:
        return self.dsn or default_dsn(self.home)
