"""What a write said is spent from the token budget once: a unit (a chat turn's memory, a document's passage) and
the typed memories extracted from it are not both returned when they say the same thing.

Walking the ranking best first:

- a typed memory extracted from a document's passage, when that passage says more and is among the candidates, puts
  the passage in its place (a document's typed memory is one of its sentences: the passage holds it, with what
  surrounds it);
- a typed memory whose sources are all cited by better-ranked items adds nothing and is dropped;
- a unit whose typed memories (ranked anywhere among the candidates) together say what it says — they hold at
  least :data:`SAME` of a turn's content words, :data:`SAME_PASSAGE` of a passage's — is replaced, at its own
  rank, by those typed memories (at most two): when a typed memory answers the question it is the one returned
  ("User is vegetarian", not the turn that said it);
- a chat turn cited by better-ranked typed memories is dropped (one utterance: what was understood of it stands for
  it); a passage is kept unless those typed memories say the same thing (a passage says more than one sentence);
- a passage that repeats a better-ranked passage (:data:`SAME_TEXT` of the shorter one's content words: the same
  paragraph on two pages of a site) is dropped, and so is a passage most of whose content words (:data:`SAID`) the
  better-ranked items already hold between them (pages that reword each other's paragraphs): the slot goes to
  something the caller has not been told.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING

import Stemmer

from ..store._sql import STOPWORDS

if TYPE_CHECKING:
    from .engine import Ranked

__all__ = ["JOIN_WINDOW", "SAME", "SAME_PASSAGE", "content_stems", "join_adjacent", "units_and_typed"]

SAME = 0.6  # share of a turn's content words its typed memories must hold to say the same thing
SAME_PASSAGE = 0.85  # ... of a passage's (several sentences, list items: typed memories rarely hold it all)
MAX_REPLACEMENTS = 2  # typed memories that may stand for one unit
MAX_JOINED = 2  # neighbouring passages returned as one item (3 measured +0.3 pt R@10 for +6 % tokens)
JOIN_WINDOW = 10  # items whose passages may join one of the first k (k-independent below it: rankings nest)
SAME_TEXT = 0.9  # a passage holding this share of a better-ranked passage's content words (or it of its) repeats it
SAID = 0.65  # a passage this share of whose content words the better-ranked items hold between them adds too little
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_TURN_PREFIX = re.compile(r"^[^:\n]{1,80}?\bsaid on [^:]{1,40}:\s*")
Key = tuple[str | None, str]


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("porter")


@lru_cache(maxsize=8192)
def content_stems(text: str) -> frozenset[str]:
    """Porter stems of the content words of ``text`` (stop words and a turn memory's "X said on <day>:" left out)."""
    body = _TURN_PREFIX.sub("", text, count=1).lower()
    words = [w.split("'")[0] for w in _WORD.findall(body)]
    return frozenset(_stemmer().stemWords([w for w in words if w and w not in STOPWORDS]))


def _kind(r: Ranked) -> str | None:
    kind = r.record.metadata.get("kind")
    return kind if kind in ("turn", "passage") else None


def _keys(r: Ranked) -> set[Key]:
    return {(r.record.document_id, e) for e in r.record.source_evidence}


def _says_the_same(unit: Ranked, typed: Sequence[Ranked]) -> bool:
    words = content_stems(unit.record.content)
    if not words or not typed:
        return False
    held: set[str] = set()
    for t in typed:
        held |= content_stems(t.record.content)
    share = SAME if _kind(unit) == "turn" else SAME_PASSAGE
    return len(words & held) >= share * len(words)


def units_and_typed(ranked: list[Ranked], limit: int | None = None) -> list[Ranked]:
    """The ranking with each write's content spent once (see the module docstring); order is kept otherwise. The
    walk stops at ``limit`` items (it is greedy, best first: the first ``n`` items are the same for any larger
    limit)."""
    ranked = _passages_first(ranked)
    by_key: dict[Key, list[int]] = {}  # evidence → positions of the typed memories citing it
    for i, r in enumerate(ranked):
        if _kind(r) is None:
            for key in _keys(r):
                by_key.setdefault(key, []).append(i)
    covered: set[Key] = set()  # sources cited by the items returned so far
    units: set[Key] = set()  # ... by the units returned so far (or stood in for)
    used: set[int] = set()  # typed memories already returned (in their place or a unit's)
    seen_passages: list[frozenset[str]] = []
    said: set[str] = set()  # content words of the first ``told`` items returned (caught up when a passage needs it)
    told = 0
    out: list[Ranked] = []
    for i, r in enumerate(ranked):
        if limit is not None and len(out) >= limit:
            break
        if i in used:
            continue
        keys = _keys(r)
        kind = _kind(r)
        if not keys:
            out.append(r)  # nothing cited: never covered, covers nothing
            continue
        if kind is None:
            if keys <= covered:
                continue
            covered |= keys
            used.add(i)
            out.append(r)
            continue
        # A unit: the typed memories extracted from it (each citing only this unit's sources).
        derived = sorted({j for key in keys for j in by_key.get(key, ()) if _keys(ranked[j]) <= keys})
        before = [ranked[j] for j in derived if j in used]
        after = [j for j in derived if j not in used and j > i and not _keys(ranked[j]) <= covered]
        if keys <= (covered if kind == "turn" else units):
            continue  # a turn already cited, or the same passage again (merged duplicates)
        if before and (kind == "turn" or _says_the_same(r, before)):
            covered |= keys  # already said by better-ranked typed memories
            units |= keys
            continue
        if kind == "passage":
            stems = content_stems(r.record.content)
            if any(len(stems & o) >= SAME_TEXT * max(1, min(len(stems), len(o))) for o in seen_passages):
                continue  # the same text again, from another document (pages repeat each other)
            for x in out[told:]:
                said |= content_stems(x.record.content)
            told = len(out)
            if stems and len(stems & said) >= SAID * len(stems):
                continue  # mostly said already, by the items above it
            seen_passages.append(stems)
        stand_in = after[:MAX_REPLACEMENTS]
        if stand_in and _says_the_same(r, [ranked[j] for j in stand_in]):
            used.update(stand_in)
            out.extend(ranked[j] for j in stand_in)  # (may pass ``limit`` by one: the cut comes after)
        else:
            out.append(r)
        covered |= keys
        units |= keys
    return out


def _passages_first(ranked: list[Ranked]) -> list[Ranked]:
    """A typed memory of a document's passage lifts that passage to its own rank, in its place."""
    passage_at: dict[Key, int] = {}
    for i, r in enumerate(ranked):
        if _kind(r) == "passage":
            for key in _keys(r):
                passage_at.setdefault(key, i)
    order: list[Ranked] = []
    placed: set[int] = set()
    for i, r in enumerate(ranked):
        if i in placed:
            continue
        keys = _keys(r)
        if _kind(r) is None and keys:
            found = {passage_at[k] for k in keys if k in passage_at}
            p = min(found) if found else None
            if p is not None and p > i and keys <= _keys(ranked[p]) and not _says_the_same(ranked[p], [r]):
                order.append(ranked[p])
                placed.add(p)
                continue
        order.append(r)
        placed.add(i)
    return order


def _position(r: Ranked) -> tuple[str, int] | None:
    """(document, passage number) of a passage."""
    meta = r.record.metadata
    unit = meta.get("unit")
    if meta.get("kind") != "passage" or r.record.document_id is None or not isinstance(unit, int):
        return None
    return (r.record.document_id, unit)


def join_adjacent(ranked: list[Ranked], limit: int) -> list[Ranked]:
    """The first ``limit`` items, where passages that follow each other in a document are one item (in document
    order, at the better one's rank; at most :data:`MAX_JOINED` passages): the excerpt reads as the document does,
    with the heading lines where the second passage starts a new section, and ``limit`` items hold more of what was
    asked for.

    A passage ranked within the first ``max(limit, JOIN_WINDOW)`` items joins its neighbour whatever ``limit`` is,
    so the first item of a fetch for 1 is the first item of a fetch for 10 (it used to be the passage alone)."""
    window = max(limit, JOIN_WINDOW)
    out: list[Ranked] = []
    parts: list[list[Ranked]] = []  # per output item, its passages in document order
    heads: list[Ranked] = []  # per output item, the item as ranked (its id, score and rank stay)
    at: dict[tuple[str, int], int] = {}  # passage position -> output item
    for r in ranked:
        if len(out) >= window:
            break
        pos = _position(r)
        if pos is not None:
            doc, unit = pos
            sides = (at.get((doc, unit - 1)), at.get((doc, unit + 1)))
            j = next((x for x in sides if x is not None and len(parts[x]) < MAX_JOINED), None)
            if j is not None:
                parts[j] = sorted([*parts[j], r], key=lambda x: int(x.record.metadata["unit"]))
                at[pos] = j
                out[j] = _joined(heads[j], parts[j])
                continue
            at[pos] = len(out)
        out.append(r)
        parts.append([r])
        heads.append(r)
    return out[:limit]


def _joined(best: Ranked, group: list[Ranked]) -> Ranked:
    """``best``'s item with the content, evidence and span of every passage of ``group`` (document order)."""
    from .engine import Ranked

    first = group[0].record
    starts = [g.record.metadata.get("span", [0, 0])[0] for g in group]
    ends = [g.record.metadata.get("span", [0, 0])[1] for g in group]
    meta = {
        **best.record.metadata,
        "span": [min(starts), max(ends)],
        "joined": [g.record.memory_id for g in group if g.record.memory_id != best.record.memory_id],
    }
    record = replace(
        best.record,
        content=_joined_text(group),
        source_evidence=list(dict.fromkeys(e for g in group for e in g.record.source_evidence)),
        metadata=meta,
        document_id=first.document_id,
    )
    return Ranked(record, best.candidate, best.shadowed)


def _joined_text(group: list[Ranked]) -> str:
    """Passages that follow each other in a document, as the document has them: each with the text that leads to it
    from the one before (``metadata["lead"]``: white space and the heading lines of a new section). A passage stored
    without it (written before it was kept) is preceded by a line break and the headings it is under that the one
    before is not."""
    text = ""
    before: list[str] | None = None
    for g in group:
        meta = g.record.metadata
        path = [str(h) for h in meta.get("headings") or ()]
        lead = meta.get("lead")
        if before is not None:
            if isinstance(lead, str):
                text += lead
            else:
                same = 0
                while same < min(len(path), len(before)) and path[same] == before[same]:
                    same += 1
                text += "".join(f"\n{h}" for h in path[same:]) + "\n"
        text += g.record.content
        before = path
    return text
