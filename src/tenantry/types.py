"""Plain types and the one content hash, shared by the pipeline and the store.

Neutral ground: nothing here imports another module of ours, so the store can use these without importing the
pipeline (``tenantry.pipeline.base`` re-exports the types unchanged for plug-in authors).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["MEMORY_TYPES", "MemoryDraft", "MemoryType", "Vectors", "content_hash"]

MemoryType = Literal["fact", "preference", "episode", "emotion", "temporal_event"]
MEMORY_TYPES: tuple[MemoryType, ...] = ("fact", "preference", "episode", "emotion", "temporal_event")
Vectors = npt.NDArray[np.float32]


@dataclass(slots=True)
class MemoryDraft:
    """One extracted memory before it is reconciled, embedded and stored."""

    memory_type: MemoryType
    content: str  # self-contained statement, speaker named, relative dates resolved
    confidence: float = 0.7  # 0..1 (preferences: strength; emotions: intensity; episodes: significance)
    category: str | None = None  # preference category (food, ...) / emotion type (frustrated, ...)
    event_date: datetime | None = None
    valid_until: datetime | None = None
    temporal_category: str | None = None  # "perpetual" | "temporal_fact" | "episode"
    source_evidence: list[str] = field(default_factory=list)  # Segment ids
    entities: list[str] = field(default_factory=list)  # normalised names mentioned
    subject: str | None = None  # who/what it is about (speaker name, "user", ...)
    attribute: str | None = None  # slot for contradiction detection, e.g. "lives_in"; same (subject, attribute) in
    #                               the same scope with a different value supersedes the older memory
    metadata: dict[str, Any] = field(default_factory=dict)


def content_hash(text: str) -> str:
    """The identity of a text for deduplication: SHA-1 of the lowercased text with whitespace runs folded to one
    space (so "Likes  tea" and "likes tea" are the same memory). Used by ingestion and by memory updates alike."""
    return hashlib.sha1(" ".join(text.lower().split()).encode()).hexdigest()
