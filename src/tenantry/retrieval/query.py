"""Query understanding without a language model: who is asked about, whether the question asks for a time, which
period it names, and how it splits into parts.

Everything here is generic string analysis of the question (no knowledge of any data set).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime

from ..pipeline.dates import find_time_expressions
from ..pipeline.dates import period_end
from ..store._sql import STOPWORDS

__all__ = ["QueryPlan", "plan_query", "subqueries"]

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_WHEN = re.compile(
    r"^\s*(?:when\b|since when\b|how long ago\b|what (?:year|month|day|date|time|week|weekend)\b|"
    r"which (?:year|month|day|date|week|weekend)\b|in (?:which|what) (?:year|month)\b)",
    re.IGNORECASE,
)
_WHEN_ANYWHERE = re.compile(r"\b(?:when|what date|which year|what year|how long ago)\b", re.IGNORECASE)
_QUESTION_WORDS = frozenset(
    "what when where who whom whose which why how would could should did does do is are was were has have had can "
    "will may might tell name list describe according".split()
)
_NOT_NAMES = frozenset(
    "I The A An And But Or If In On At To Of For From By With As What When Where Who Whom Whose Which Why How Would "
    "Could Should Did Does Do Is Are Was Were Has Have Had Can Will May Might Tell Name List Describe According "
    "Mr Mrs Ms Dr".split()
)
_MONTHS = frozenset("january february march april may june july august september october november december".split())
_POSSESSIVE = re.compile(r"'s$|s'$")
_AND_NAMES = re.compile(r"\b([A-Z][a-z]+)\s+(?:and|&)\s+([A-Z][a-z]+)\b")


@dataclass(slots=True)
class QueryPlan:
    """What the engine knows about one question."""

    text: str
    names: list[str] = field(default_factory=list)  # lower-cased person/entity names the question mentions
    asks_when: bool = False  # the question asks for a time ("When did ...?")
    period: tuple[datetime, datetime] | None = None  # a calendar period the question names ("in May 2023")
    lexical_text: str = ""  # the text sent to the lexical index (question words and modal "may" removed)


def _names(text: str) -> list[str]:
    out: dict[str, None] = {}
    for m in _WORD.finditer(text):
        w = _POSSESSIVE.sub("", m.group(0))
        if not w or not w[0].isupper() or w in _NOT_NAMES or w.lower() in _MONTHS:
            continue
        if len(w) < 2 or w.isupper() and len(w) > 4:
            continue
        out.setdefault(w.lower(), None)
    return list(out)


def _lexical_text(text: str) -> str:
    words: list[str] = []
    for m in _WORD.finditer(text):
        w = m.group(0)
        lw = w.lower()
        if lw in _QUESTION_WORDS and not (lw == "may" and w[0].isupper() and m.start() > 0):
            continue
        words.append(w)
    nums = re.findall(r"\b\d[\d,.:]*\b", text)
    return " ".join(words + nums)


def plan_query(text: str, *, now: datetime | None = None) -> QueryPlan:
    """Analyse one question."""
    now = now or datetime.now(UTC)
    plan = QueryPlan(text=text)
    plan.names = _names(text)
    plan.asks_when = bool(_WHEN.search(text) or _WHEN_ANYWHERE.search(text))
    for e in find_time_expressions(text, now):
        if e.date is not None and e.kind == "explicit":
            end = period_end(e)
            if end is not None:
                start = e.date if e.date.tzinfo else e.date.replace(tzinfo=UTC)
                plan.period = (start, end if end.tzinfo else end.replace(tzinfo=UTC))
                break
    plan.lexical_text = _lexical_text(text)
    return plan


def subqueries(text: str) -> list[str]:
    """Parts of a question that names several people ("Which city have both Jon and Gina visited?" → one question
    per name). Empty when the question does not split."""
    m = _AND_NAMES.search(text)
    if m is None or m.group(1) in _NOT_NAMES or m.group(2) in _NOT_NAMES:
        return []
    a, b = m.group(1), m.group(2)
    base = text[: m.start()] + "{}" + text[m.end() :]
    base = re.sub(r"\bboth\s+", "", base, flags=re.IGNORECASE)
    return [base.format(a), base.format(b)]


def content_terms(text: str) -> list[str]:
    """Lower-cased content words of ``text`` (stopwords and question words removed)."""
    return [
        w.lower()
        for w in _WORD.findall(text)
        if w.lower() not in STOPWORDS and w.lower() not in _QUESTION_WORDS and len(w) > 2
    ]
