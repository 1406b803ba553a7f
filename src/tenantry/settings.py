"""Settings read from ``TENANTRY_*`` environment variables (or passed as keywords)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "default_dsn"]


def default_dsn(home: Path) -> str:
    return f"sqlite:///{home / 'tenantry.db'}"


class Settings(BaseSettings):
    """Engine settings. ``dsn`` picks the backend: ``sqlite:///path`` (default) or ``postgresql://...``."""

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
    dedup_threshold: float = Field(default=0.95, gt=0, le=1)
    url: str | None = None  # remote mode: base URL of a tenantry server
    api_key: str | None = None

    def resolved_dsn(self) -> str:
        return self.dsn or default_dsn(self.home)
