"""Turn memories: one episode memory per chat turn, restating the turn with its speaker and date.

Typed extraction (facts, preferences, ...) keeps what a rule understood; a turn memory keeps what was said, so a
question about something no rule recognised still finds its turn. The content is self-contained: the speaker is
named, the day the turn was said is written, and relative dates are resolved in place ("yesterday (on 7 May
2023)"). ``source_evidence`` is the turn's id, so the memory's provenance is exactly one turn.

Prose documents (segments without a speaker) give no turn memory unless ``prose=True``; nor does a turn that is only
chatter (greetings, thanks, acknowledgements: :func:`~tenantry.pipeline.units.is_chatter`).
"""

from __future__ import annotations

import re
from datetime import datetime

from ...retrieval.features import Features
from ..base import DocumentInput
from ..base import MemoryDraft
from ..base import Segment
from ..dates import find_time_expressions
from ..dates import format_day
from ..units import is_chatter

__all__ = ["TurnExtractor", "proper_names"]

_NAME = re.compile(r"(?<![\w'])([A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?)")
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|[\"(]\s*)$")
_COMMON_CAPITALISED = frozenset(
    """The A An And But Or So Yes No Oh Wow Hey Hi Hello Thanks Thank Sure Okay Ok Well Also What When Where Why How
    Who Which That This These Those It Its I'm I've I'll I'd We You He She They My Our Your His Her Their Me Us Them
    Just Really Definitely Absolutely Awesome Great Good Nice Cool Sounds Haha Lol Glad Sorry Congrats
    Congratulations Anyway Yeah Yep Totally Not Do Did Does Have Has Had Is Are Was Were Be Been Being Can Could
    Will Would Should Might Must May Let Let's Any Some All Every Each Both Lots Love Take Keep Here There Then Now
    Today Tomorrow Yesterday Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April
    June July August September October November December By For From In On At To Of With If As Since After Before
    Once While Though Although Because Even Still Plus Maybe Hopefully Honestly Actually Right Bye See Talk Catch
    Take Have Enjoy Check Look Keep Stay Hang Dear Mom Dad""".split()
)


def proper_names(text: str) -> list[str]:
    """Capitalised words that are not sentence-initial and not common words (a cheap proper-noun guess)."""
    out: dict[str, None] = {}
    for m in _NAME.finditer(text):
        word = m.group(1)
        if word in _COMMON_CAPITALISED:
            continue
        if _SENTENCE_START.search(text[: m.start()]):
            continue
        out.setdefault(word, None)
    return list(out)


def _resolve_dates(text: str, reference: datetime) -> tuple[str, datetime | None]:
    """Text with each relative date followed by its resolved form; the first resolved date, if any."""
    exprs = find_time_expressions(text, reference)
    first: datetime | None = None
    parts: list[str] = []
    pos = 0
    for e in exprs:
        if e.date is None:
            continue
        if first is None:
            first = e.date
        if e.kind == "explicit":
            continue
        parts.append(text[pos : e.end])
        parts.append(f" ({e.replacement})")
        pos = e.end
    parts.append(text[pos:])
    return "".join(parts), first


class TurnExtractor:
    """One ``episode`` memory per chat turn (``metadata["kind"] == "turn"``)."""

    name = "turns"

    def __init__(self, *, prose: bool = False, min_chars: int = 2, features: Features | None = None) -> None:
        self.prose = prose
        self.min_chars = min_chars
        self.features = features or Features()

    def _draft(self, seg: Segment, index: int, doc: DocumentInput) -> MemoryDraft | None:
        text = seg.text.strip()
        if len(text) < self.min_chars or is_chatter(text):  # "Noted!", "thanks": nothing to remember
            return None
        who = seg.speaker or (seg.role.capitalize() if seg.role else None)
        said_at = seg.timestamp or doc.created_at
        dated = self.features.on("turn-dates")
        resolved, event = _resolve_dates(text, said_at) if dated else (text, None)
        if who:
            content = f"{who} said on {format_day(said_at)}: {resolved}" if dated else f"{who}: {resolved}"
        else:
            content = f"On {format_day(said_at)}: {resolved}" if dated else resolved
        names = proper_names(text)
        entities = list(dict.fromkeys([*(n.lower() for n in names), *([who.lower()] if who else [])]))
        return MemoryDraft(
            memory_type="episode",
            content=content,
            confidence=0.5,
            event_date=event or said_at,
            temporal_category="episode",
            source_evidence=[seg.id],
            entities=entities,
            subject=who,
            metadata={
                "kind": "turn",
                "turn": index,
                "dated": event is not None,
                "_embed_text": f"{who}: {text}" if who else text,  # the date adds nothing to the vector
            },
        )

    def extract(self, document: DocumentInput) -> list[MemoryDraft]:
        """One draft per turn (per sentence too when ``prose``), in document order."""
        if not self.features.on("turn-memories"):
            return []
        out: list[MemoryDraft] = []
        for i, seg in enumerate(document.segments):
            if seg.speaker is None and seg.role is None and not self.prose:
                continue
            draft = self._draft(seg, i, document)
            if draft is not None:
                out.append(draft)
        return out
