"""The units every write is kept in, before any typed extraction: passages of a document, and what is not worth
keeping (content-free chatter).

A document that is not a chat becomes passages (:mod:`.passages`), each stored verbatim as a ``fact`` memory with
``metadata["kind"] == "passage"``, its heading path and its character span, and ``source_evidence`` =
``["<document_id>@<start>-<end>"]``. The typed extractors then read the passages' sentences, list items and table
rows as segments whose id is that same evidence id, so every typed memory of a document links to its passage.
A chat keeps one unit per turn (the turn extractor's memories); a turn or a note that says nothing but greetings,
thanks or acknowledgements ("Noted!", "thanks", "ok") is not kept as a memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ..types import content_hash
from .base import MemoryDraft
from .base import Segment
from .passages import Passage
from .passages import split_passages
from .split import normalize_text

__all__ = [
    "ENGINE_METADATA",
    "document_text",
    "fold_identical",
    "is_chatter",
    "merge_caller_metadata",
    "passage_evidence",
    "passage_units",
]

# Metadata keys the engine reads back at query time: the caller's metadata never overrides them.
ENGINE_METADATA = frozenset(
    {"kind", "turn", "dated", "headings", "span", "unit", "lead", "_embed_text", "_lexical_text"}
)
LEAD_CHARS = 400  # the text between two passages (their heading lines) kept with the second, up to this length
_TEXT_FIELDS = ("text", "content", "body", "document")
_CHATTER = re.compile(
    r"^(?:(?:hi|hey|hello|hiya|yo|bye|goodbye|good ?night|good (?:morning|afternoon|evening)|"
    r"thanks(?: a lot| so much)?|thank you(?: (?:so|very) much)?|thx|ty|ok|okay|k|sure|noted|got it|understood|"
    r"will do|sounds good|great|cool|"
    r"nice|awesome|perfect|alright|all right|np|no problem|no worries|you're welcome|welcome|my pleasure|cheers|lol|"
    r"haha|hmm|yep|yup|yeah|indeed|of course|absolutely|glad to help|happy to help|anytime|see you|see ya|"
    r"take care|talk soon|have a (?:nice|good|great) (?:day|one|evening)|bye for now|"
    r"(?:hi|hey|hello|thanks|thank you|bye)[\s,]+(?:there|all|everyone|guys|[A-Z][a-z]+))"
    r"[\s,!.?~:)(\-\u2600-\u27bf\U0001f300-\U0001faff]*)+$",
    re.IGNORECASE,
)
_SPEAKER_PREFIX = re.compile(r"^[^:\n]{1,40}\bsaid on [^:]{1,40}:\s*|^[A-Z][\w .'-]{0,30}:\s+")
_BULLET = re.compile(r"^\s*(?:[-*+•·▪‣◦]|\d{1,3}[.)]|[a-zA-Z][.)])\s+")
_CELL = re.compile(r"\s*\|\s*")


def is_chatter(text: str) -> bool:
    """True for a text that is only greetings, thanks or acknowledgements ("Assistant: Noted!", "thanks :)")."""
    body = _SPEAKER_PREFIX.sub("", text.strip(), count=1).strip()
    return not body or bool(_CHATTER.match(body))


def document_text(document: Any) -> str:
    """The text of a document that is not a list of messages, every value of it kept.

    A string is itself. A mapping with a text field (``text``, ``content``, ``body``, ``document``) is its other
    fields as ``key: value`` lines, a blank line, then the text; a mapping without one is all its fields as
    ``key: value`` lines (nested keys joined with ``.``); any other value is its JSON.
    """
    if document is None or isinstance(document, str):
        return document or ""
    if isinstance(document, Mapping):
        body_key = next((k for k in _TEXT_FIELDS if isinstance(document.get(k), str)), None)
        lines = [f"{k}: {v}" for k, v in _flat_items(document, "") if k != body_key]
        if body_key is None:
            return "\n".join(lines)
        return "\n".join(lines) + ("\n\n" if lines else "") + str(document[body_key])
    try:
        return json.dumps(document, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(document)


def _flat_items(value: Mapping[str, Any], prefix: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping):
            out.extend(_flat_items(item, f"{name}."))
        elif isinstance(item, list | tuple):
            out.append((name, ", ".join(v if isinstance(v, str) else json.dumps(v, default=str) for v in item)))
        elif item is not None:
            out.append((name, item if isinstance(item, str) else json.dumps(item, default=str)))
    return out


def passage_evidence(document_id: str, passage: Passage) -> str:
    """The provenance id of a passage: its document and character span (``"<document_id>@<start>-<end>"``)."""
    return f"{document_id}@{passage.start}-{passage.end}"


def _unit_text(raw: str, kind: str) -> str:
    """A unit as the typed extractors read it: normalised, list marker dropped, table cells joined."""
    if kind == "item":
        raw = _BULLET.sub("", raw, count=1)
    elif kind == "row":
        cells = [c for c in _CELL.split(raw.strip().strip("|")) if c and not set(c) <= set("-: ")]
        raw = ", ".join(cells)
    return normalize_text(raw)


def passage_units(text: str, document_id: str) -> tuple[list[MemoryDraft], list[Segment]]:
    """The passages of ``text`` as memory drafts, and the segments the typed extractors read (one per sentence, list
    item or table row; code is kept in its passage but not read). Chatter-only passages are left out."""
    drafts: list[MemoryDraft] = []
    segments: list[Segment] = []
    before = 0  # where the passage before ends
    for n, passage in enumerate(split_passages(text)):
        lead, before = text[before : passage.start], passage.end
        content = passage.content.strip()
        if not content or is_chatter(content):
            continue
        evidence = passage_evidence(document_id, passage)
        path = " / ".join(passage.headings)
        searchable = f"{path}\n{content}" if path else content
        drafts.append(
            MemoryDraft(
                memory_type="fact",
                content=content,
                confidence=0.9,
                temporal_category="perpetual",
                source_evidence=[evidence],
                metadata={
                    "kind": "passage",
                    "headings": list(passage.headings),
                    "span": [passage.start, passage.end],
                    "unit": n,
                    # what joins it to the passage before, verbatim (white space, the headings of a new section)
                    **({"lead": lead} if n and len(lead) <= LEAD_CHARS else {}),
                    "_embed_text": searchable,
                    "_lexical_text": searchable,
                },
            )
        )
        for unit in passage.units:
            if unit.kind == "code":
                continue
            unit_text = _unit_text(text[unit.start : unit.end], unit.kind)
            if unit_text:
                segments.append(Segment(id=evidence, text=unit_text))
    return drafts, segments


def merge_caller_metadata(drafts: list[MemoryDraft], caller: Mapping[str, Any]) -> None:
    """Give every draft of a write the metadata its caller gave (the engine's own keys, :data:`ENGINE_METADATA`,
    are never overridden)."""
    if not caller:
        return
    given = {k: v for k, v in caller.items() if k not in ENGINE_METADATA}
    for d in drafts:
        d.metadata = {**d.metadata, **given}


def fold_identical(units: list[MemoryDraft], typed: list[MemoryDraft]) -> list[MemoryDraft]:
    """The units of a write, less those a typed memory of the same write restates word for word ("User prefers dark
    mode." kept as a preference): stored once, as the typed memory, which gets the unit's heading path and span."""
    if not units or not typed:
        return units
    by_text: dict[tuple[str, str], MemoryDraft] = {}
    for d in typed:
        for evidence in d.source_evidence:
            by_text.setdefault((evidence, content_hash(d.content)), d)
    kept: list[MemoryDraft] = []
    for unit in units:
        twin = by_text.get((unit.source_evidence[0], content_hash(unit.content))) if unit.source_evidence else None
        if twin is None:
            kept.append(unit)
            continue
        for key in ("headings", "span"):
            if key in unit.metadata:
                twin.metadata.setdefault(key, unit.metadata[key])
    return kept
