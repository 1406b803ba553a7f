"""Run several extractors over the same document and keep their drafts (e.g. ``rules+turns``)."""

from __future__ import annotations

from collections.abc import Sequence

from ..base import DocumentInput
from ..base import Extractor
from ..base import MemoryDraft

__all__ = ["CompositeExtractor"]


class CompositeExtractor:
    """Concatenates the drafts of ``extractors``, in order. Its name joins theirs with ``+``.

    With ``restated_episodes="drop"``, an ``episode`` draft is dropped when a turn memory (an episode draft with
    ``metadata["kind"] == "turn"``, from any of the extractors) restates the same single source turn: the turn
    memory already holds the whole turn, its speaker and its resolved dates, so the shorter episode would only
    repeat part of it (and cost an embedding). Other memory types are always kept.
    """

    def __init__(self, extractors: Sequence[Extractor], *, restated_episodes: str = "keep") -> None:
        if not extractors:
            raise ValueError("a composite extractor needs at least one extractor")
        if restated_episodes not in ("keep", "drop"):
            raise ValueError("restated_episodes must be 'keep' or 'drop'")
        self.extractors = list(extractors)
        self.name = "+".join(e.name for e in self.extractors)
        self.restated_episodes = restated_episodes

    def extract(self, document: DocumentInput) -> list[MemoryDraft]:
        """All drafts of every extractor (each extractor sees the same, unmodified document)."""
        out: list[MemoryDraft] = []
        for ex in self.extractors:
            out.extend(ex.extract(document))
        if self.restated_episodes == "drop":
            turns = {
                d.source_evidence[0] for d in out if d.metadata.get("kind") == "turn" and len(d.source_evidence) == 1
            }
            out = [
                d
                for d in out
                if d.metadata.get("kind") == "turn"
                or d.memory_type != "episode"
                or not (len(d.source_evidence) == 1 and d.source_evidence[0] in turns)
            ]
        return out
