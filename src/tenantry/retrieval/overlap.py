"""What a write said is spent from the token budget once: a unit (a chat turn's memory, a document's passage) and
the typed memories extracted from it are not both returned when they say the same thing.

Walking the ranking best first:

- a typed memory whose sources are all cited by better-ranked items adds nothing and is dropped;
- a unit whose typed memories (ranked anywhere among the candidates) together say what it says — they hold at
  least :data:`SAME` of a turn's content words, :data:`SAME_PASSAGE` of a passage's — is replaced, at its own
  rank, by those typed memories (at most two): when a typed memory answers the question it is the one returned
  ("User is vegetarian", not the turn that said it);
- a chat turn cited by better-ranked typed memories is dropped (one utterance: what was understood of it stands for
  it); a passage is kept unless those typed memories say the same thing (a passage says more than one sentence).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import Stemmer

from ..store._sql import STOPWORDS

if TYPE_CHECKING:
    from .engine import Ranked

__all__ = ["SAME", "SAME_PASSAGE", "content_stems", "units_and_typed"]

SAME = 0.6  # share of a turn's content words its typed memories must hold to say the same thing
SAME_PASSAGE = 0.85  # ... of a passage's (several sentences, list items: typed memories rarely hold it all)
MAX_REPLACEMENTS = 2  # typed memories that may stand for one unit
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_TURN_PREFIX = re.compile(r"^[^:\n]{1,80}?\bsaid on [^:]{1,40}:\s*")
Key = tuple[str | None, str]


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("porter")


def content_stems(text: str) -> set[str]:
    """Porter stems of the content words of ``text`` (stop words and a turn memory's "X said on <day>:" left out)."""
    body = _TURN_PREFIX.sub("", text, count=1).lower()
    words = [w.split("'")[0] for w in _WORD.findall(body)]
    return set(_stemmer().stemWords([w for w in words if w and w not in STOPWORDS]))


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


def units_and_typed(ranked: list[Ranked]) -> list[Ranked]:
    """The ranking with each write's content spent once (see the module docstring); order is kept otherwise."""
    by_key: dict[Key, list[int]] = {}  # evidence → positions of the typed memories citing it
    for i, r in enumerate(ranked):
        if _kind(r) is None:
            for key in _keys(r):
                by_key.setdefault(key, []).append(i)
    covered: set[Key] = set()  # sources cited by the items returned so far
    units: set[Key] = set()  # ... by the units returned so far (or stood in for)
    used: set[int] = set()  # typed memories already returned (in their place or a unit's)
    out: list[Ranked] = []
    for i, r in enumerate(ranked):
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
        stand_in = after[:MAX_REPLACEMENTS]
        if stand_in and _says_the_same(r, [ranked[j] for j in stand_in]):
            used.update(stand_in)
            out.extend(ranked[j] for j in stand_in)
        else:
            out.append(r)
        covered |= keys
        units |= keys
    return out
