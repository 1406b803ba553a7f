"""What plug-in authors implement: splitters' output, extractors and embedders. No import of ours is needed
beyond these plain types; a plug-in only has to match the Protocols structurally."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any
from typing import Protocol
from typing import runtime_checkable

from ..types import MEMORY_TYPES
from ..types import MemoryDraft
from ..types import MemoryType
from ..types import Vectors

__all__ = [
    "MEMORY_TYPES",
    "DocumentInput",
    "Embedder",
    "Extractor",
    "MemoryDraft",
    "MemoryType",
    "Segment",
    "Vectors",
]


@dataclass(slots=True)
class Segment:
    """One unit of a document: a chat turn, or a sentence of a prose document.

    ``id`` is the provenance id kept in ``source_evidence``: the caller's turn id when the document was sent as
    structured messages (e.g. ``"D1:3"``), else ``"t<n>"`` for turns / ``"s<n>"`` for sentences (1-based).
    """

    id: str
    text: str
    speaker: str | None = None
    role: str | None = None  # "user" | "assistant" | None
    timestamp: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. {"caption": "..."} for a shared photo


@dataclass(slots=True)
class DocumentInput:
    """What an extractor receives: the normalised document, already split into segments."""

    document_id: str
    document_type: str
    segments: list[Segment]
    created_at: datetime  # reference time for relative dates ("yesterday" = created_at - 1 day)
    metadata: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Extractor(Protocol):
    """Turns a document into typed memory drafts. Must be deterministic for the default (offline) extractor."""

    name: str

    def extract(self, document: DocumentInput) -> list[MemoryDraft]: ...


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of ``dimensions`` columns. Called from a worker thread."""

    name: str
    dimensions: int

    def embed(self, texts: Sequence[str]) -> Vectors: ...
