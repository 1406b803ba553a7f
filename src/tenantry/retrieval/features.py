"""Switches for the retrieval-quality components, so that each one's contribution can be measured (ablation).

Every component is on by default. ``Settings.ablate`` (``TENANTRY_ABLATE``, a comma-separated list of component
names) turns components off: the service builds the ingestion pipeline, the extractors and the retrieval engine with
``Features(settings.ablate)``. ``tenantry eval locomo --ablate ...`` passes it in the settings of its run.

Components:

``turn-memories``
    the turn extractor's per-turn episode memories ("On 8 May 2023, Caroline said: ...").
``turn-dates``
    the session date and resolved relative dates written into turn memories.
``episode-dedup``
    with ``rules+turns``: a typed episode that restates a single turn is dropped in favour of that turn's memory
    (one embedding less per such turn; off: both are kept).
``neighbours``
    the text of the neighbouring turns (two on each side) added to a memory's lexical index text (ingestion).
``neighbour-scores``
    at query time, a memory gains a share of the score of the memories of the turns next to its own.
``speaker``
    query understanding: memories about the person the question names are preferred.
``temporal``
    query understanding: "when" questions prefer memories that carry a date said in the turn; questions naming a
    period prefer memories of that period.
``score-fusion``
    tuned weighted fusion of normalised BM25 and cosine scores (off: reciprocal-rank fusion, k=60).
``evidence-dedup``
    an item whose source turns are all covered by better-ranked items is dropped from the results; a unit (turn,
    passage) and the typed memories extracted from it are not both returned when they say the same thing; a passage
    repeating a better-ranked one, or mostly said by the items above it, is dropped (``retrieval/overlap.py``).
``passage-join``
    passages that follow each other in a document, both returned, are one item: the document's text from the first
    to the last, a new section's heading lines included.
``entity-expansion``
    accurate mode: a second lexical pass with the names found in the best first-pass results (its weight,
    ``RankingWeights.expansion``, is 0 by default: it measured -0.1 pt R@10 on LoCoMo dev).
``query-decomposition``
    accurate mode: questions naming several people or joined by "and" are also asked part by part.
``passages``
    accurate mode: each returned memory of a chat turn comes with the turns around it (one on each side) joined to
    its content, and their ids added to its ``source_evidence`` (more tokens per item, more evidence per item).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

__all__ = ["COMPONENTS", "Features", "parse_components"]

COMPONENTS: tuple[str, ...] = (
    "turn-memories",
    "turn-dates",
    "episode-dedup",
    "neighbours",
    "neighbour-scores",
    "speaker",
    "temporal",
    "score-fusion",
    "evidence-dedup",
    "passage-join",
    "entity-expansion",
    "query-decomposition",
    "passages",
)


def parse_components(value: str | None) -> frozenset[str]:
    """Parse a comma-separated component list; raises ``ValueError`` on an unknown name."""
    names = frozenset(p.strip() for p in (value or "").split(",") if p.strip())
    unknown = sorted(names - set(COMPONENTS))
    if unknown:
        raise ValueError(f"unknown component(s) {', '.join(unknown)}; known: {', '.join(COMPONENTS)}")
    return names


@dataclass(frozen=True, slots=True)
class Features:
    """Which retrieval components are enabled."""

    disabled: frozenset[str] = field(default_factory=frozenset)

    def on(self, name: str) -> bool:
        """True when component ``name`` is enabled."""
        return name not in self.disabled
