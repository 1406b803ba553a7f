"""Find time expressions in English text and resolve them against a reference datetime.

Pure functions, no I/O, deterministic. Relative expressions ("yesterday", "last weekend", "two weeks ago") are
resolved against the *document's* time, not the ingest time, so a conversation replayed years later still dates
its events correctly. Every expression also carries a self-contained ``replacement`` ("on 7 May 2023", "the week
before 8 May 2023") that an extractor can substitute into a memory's content.

Conventions (documented because tests and extractors rely on them):

* day granularity -> that day at 00:00 (or at the stated time of day);
* week granularity -> the reference day shifted by whole weeks ("last week" = reference - 7 days);
* weekend -> the Saturday of that weekend; month -> the 1st of the month; year -> 1 January;
* "next <weekday>" / "on <weekday>" -> the first such day strictly after the reference day unless the sentence
  reads as past tense; "last <weekday>" -> the last such day strictly before it;
* a day without a year ("May 8th") -> the nearest occurrence, or the previous/next one when the sentence reads as
  past/future;
* the result is timezone-aware UTC when the reference is aware (the calendar day is taken in the reference's own
  zone), else naive.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import Literal

__all__ = [
    "Granularity",
    "Tense",
    "TimeExpression",
    "find_time_expressions",
    "format_day",
    "guess_tense",
    "parse_datetime_loose",
    "period_end",
]

Granularity = Literal["day", "week", "month", "year"]
Tense = Literal["past", "future"]

MONTH_NAMES = tuple("January February March April May June July August September October November December".split())
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTH_INDEX = {name[:3].lower(): i for i, name in enumerate(MONTH_NAMES, 1)}
_NUMBER_WORDS = {
    w: i for i, w in enumerate("one two three four five six seven eight nine ten eleven twelve".split(), 1)
} | {"a": 1, "an": 1}
# Vague quantities: resolved to a plausible number but flagged approximate so the rendering stays vague too.
_VAGUE_NUMBERS = {"a couple": 2, "a couple of": 2, "couple of": 2, "a few": 3, "few": 3, "several": 3}
_SEASONS = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}

_MONTH_WORDS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|"
    r"nov(?:ember)?|dec(?:ember)?"
)
_MON = r"(?P<mon>" + _MONTH_WORDS + r")(?:\.(?=\s?\d))?"
_WD = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_NUM = (
    r"(?P<n>\d{1,3}|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a couple(?: of)?|a few|few|"
    r"several)"
)
_UNIT = r"(?P<u>day|week|month|year)s?"
_TIME = r"(?:\d{1,2}:\d{2}(?:\s*[ap](?:\.m\.|m\b))?|\d{1,2}\s*[ap](?:\.m\.|m\b)|noon|midnight)"
_PREP = r"(?:(?P<prep>on|in|by|since|until|till|before|after|from|during|through|starting|of)\s+)?"
# A day and month may be preceded by a weekday ("Friday, 12 May") and followed by a year ("12 May, 2023").
_WEEKDAY_BEFORE = r"(?:" + _WD + r",?\s+)?"
_YEAR_AFTER = r"(?:,?\s+(?P<y>\d{4})\b)?"

_I = re.IGNORECASE


def _after_prep(body: str) -> re.Pattern[str]:
    """A date pattern that may be introduced by a preposition (group ``prep``: "on", "by", "since", ...)."""
    return re.compile(r"\b" + _PREP + body, _I)


_TRIGGER = re.compile(
    r"\d|yesterday|today|tonight|tomorrow|week|month|year|ago|day|night|morning|afternoon|evening|"
    r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|summer|winter|spring|autumn|fall|recent|lately|nowadays",
    _I,
)
_RX_ISO = _after_prep(
    r"(?P<y>\d{4})[-/](?P<mo>\d{1,2})[-/](?P<d>\d{1,2})"
    r"(?:[T ](?P<H>\d{1,2}):(?P<M>\d{2})(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?![\d/-])"
)
_RX_US = _after_prep(r"(?P<mo>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4}|\d{2})(?![\d/])")
_RX_DMY = _after_prep(
    _WEEKDAY_BEFORE + r"(?:the\s+)?(?P<d>\d{1,2})(?:st|nd|rd|th)?(?:\s+of)?\s+" + _MON + r"(?![a-z])" + _YEAR_AFTER
)
_RX_MDY = _after_prep(
    _WEEKDAY_BEFORE + _MON + r"\s+(?:the\s+)?(?P<d>\d{1,2})(?:st|nd|rd|th)?\b(?![:%.]\d|\s*%)" + _YEAR_AFTER
)
_RX_MY = _after_prep(_MON + r",?\s+(?:of\s+)?(?P<y>\d{4})\b")
_RX_MONTH = re.compile(
    r"\b(?P<q>in|since|until|till|by|during|last|next|this|before|after|from|through|of|early|late|mid-?)\s+"
    r"(?:(?:early|late|mid-?)\s*)?" + _MON + r"(?![a-z])(?!\s+\d)",
    _I,
)
_RX_YEAR = re.compile(
    r"\b(?P<q>in|since|until|till|by|during|of|from|before|after|early|late|mid-?|back in|the year)\s+"
    r"(?P<y>(?:19|20)\d{2})\b(?![-/]\d)",
    _I,
)
_RX_DAYWORD = _after_prep(
    r"(?P<w>the day before yesterday|the day after tomorrow|yesterday|today|tonight|tomorrow|"
    r"this (?:morning|afternoon|evening)|last night|earlier today|later today)\b"
)
_RX_REL_UNIT = re.compile(
    r"\b(?P<q>last|next|this past|this coming|this|past|coming|previous|following)\s+"
    r"(?P<u>week|weekend|month|year|spring|summer|fall|autumn|winter)\b",
    _I,
)
_RX_REL_WD = re.compile(
    r"\b(?:(?P<q>last|next|this past|this coming|this|coming|on|by|until|till|before|after|since|from)\s+)?"
    r"(?P<wd>" + _WD + r")\b(?!\s*(?:-|–|to|through|thru|and)\s*" + _WD + r")",
    _I,
)
_RX_WD_RANGE_BEFORE = re.compile(_WD + r"\s*(?:-|–|to|through|thru|and)\s*$", _I)
_PREPOSITIONS = frozenset(("on", "in", "by", "since", "until", "till", "before", "after", "from", "during", "through"))
_RX_AGO = re.compile(r"\b" + _NUM + r"\s+" + _UNIT + r"\s+(?P<dir>ago|from now|later|earlier|back)\b", _I)
_RX_IN = re.compile(
    r"\b(?P<q>in|within)\s+(?:the\s+next\s+)?"
    + _NUM
    + r"\s+(?:more\s+)?(?P<biz>business\s+|working\s+)?"
    + _UNIT
    + r"(?!\s+(?:ago|of|from|after|before|later))\b",
    _I,
)
_RX_END = _after_prep(
    r"the\s+(?P<pos>end|beginning|start|middle)\s+of\s+(?:the\s+)?(?P<q>this|next|last)?\s*(?P<u>week|month|year)\b"
)
_RX_ORDINAL = _after_prep(
    r"the\s+(?P<d>\d{1,2})(?:st|nd|rd|th)\b(?!\s+(?:of\s+)?(?:" + _MONTH_WORDS + r")\b)"
    r"(?!\s+(?:century|anniversary|birthday|floor|place|time|times|grade|row|street|avenue|round|edition|"
    r"amendment|percentile|largest|biggest|best|most|day|week|month|year|person|member|customer|employee)\b)"
)
_RX_VAGUE = re.compile(r"\b(?P<w>the other day|recently|lately|these days|nowadays)\b", _I)

_RX_TIME_AFTER = re.compile(r"^,?\s*(?:at\s+|@\s*|around\s+)?(?P<t>" + _TIME + r")", _I)
_RX_TIME_AFTER_BARE = re.compile(r"^,?\s*at\s+(?P<t>\d{1,2})\b(?![:.]?\d)", _I)
_RX_TIME_BEFORE = re.compile(r"(?:at\s+)?(?P<t>" + _TIME + r")\s*(?:on\s+)?,?\s*$", _I)
_RX_TIME_PARTS = re.compile(r"(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ap>[ap])?|(?P<word>noon|midnight)", _I)
_RX_PREP_BEFORE = re.compile(
    r"\b(?P<p>since|until|till|by|from|before|after|on|starting|through|of|for|at|to|than|as of|no later than)\s*$", _I
)
_RX_ITS = re.compile(r"\b(?:it's|it is|its|today is|today's)\s+(?:already\s+|finally\s+)?$", _I)
_RX_EVERY = re.compile(r"\b(?:every|each)\s*$", _I)

# Future markers: future and scheduling words, a date moved to later, an intention, the present progressive.
_MOVED_TO = r"(?:moved|pushed|rescheduled|postponed|slipped|bumped|delayed)\s+(?:back\s+)?(?:to|until)"
_INTEND_TO = r"(?:agreed|decided|promised|planned|need|needs|want|wants|have|has|hope|hoping|expect|expecting)\s+to"
_PROGRESSIVE = r"(?:'m|am|'re|are)\s+(?!\w+ing\s+(?:to|about)\b)\w+ing"  # "I'm flying" (not "I'm thinking about")
_FUTURE = re.compile(
    r"\b(?:will|won't|shall|going to|gonna|'ll|plan(?:s|ning)? to|scheduled|upcoming|due|expires?|renews?|"
    r"leaves?|leaving|starts?|begins?|can't wait|looking forward|coming up|is on|are on|is at|next|tomorrow|soon|"
    r"see you|flying|heading|arrives?|deadline|" + _MOVED_TO + "|" + _INTEND_TO + "|" + _PROGRESSIVE + r")\b",
    _I,
)
# Past markers strong enough to win over a future-looking verb ("was supposed to arrive on Monday").
_STRONG_PAST = re.compile(r"\b(?:was|were)\s+supposed\s+to\b|\b(?:did|didn't|ago|yesterday|last)\b", _I)
_PAST_IRREGULAR = (
    "was|were|did|had|went|got|came|saw|made|took|met|left|ran|bought|told|said|gave|found|began|felt|broke|won|"
    "lost|spent|ate|drank|wrote|sold|paid|brought|thought|heard|sent|flew|drove|rode|swam|sang|fell|kept|built|"
    "taught|caught|slept|held|threw|wore|chose|forgot|became|grew|knew|stood|sat|led|read|hit|quit|sought|fought|"
    "dug|hung|won|shot|split|spread|struck|swore|tore|woke|overcame"
)
_PAST = re.compile(r"\b(?:" + _PAST_IRREGULAR + r"|[a-z]{2,}ed)\b|\bago\b|\blast\b|\byesterday\b", _I)
_ED_NOT_PAST = frozenset(
    "excited interested tired worried scared married based located called named used supposed concerned bored "
    "stressed confused frustrated overwhelmed thrilled pleased relieved disappointed embarrassed annoyed amazed "
    "surprised scheduled planned expected need needed booked allergic red bed wed shed feed seed speed indeed "
    "hundred limited detailed advanced experienced qualified skilled talented dedicated required included "
    "reserved automated ".split()
)


@dataclass(frozen=True, slots=True)
class TimeExpression:
    """A time expression found in a text.

    Attributes:
        text: the matched text (including a leading preposition such as "on"/"by" when there is one).
        start: start offset of the match in the searched text.
        end: end offset of the match.
        date: the resolved datetime, or ``None`` for vague expressions ("recently").
        granularity: precision of ``date``.
        replacement: a self-contained rendering to substitute for ``text`` ("on 7 May 2023").
        preposition: the preposition that introduced it ("by", "until", ...), lower-cased, if any.
        kind: "explicit" (a written calendar date), "relative" or "vague".
    """

    text: str
    start: int
    end: int
    date: datetime | None
    granularity: Granularity
    replacement: str
    preposition: str | None = None
    kind: str = "relative"


@dataclass(slots=True)
class _Ctx:
    text: str
    ref: date
    tense: Tense | None
    tz: timezone | None


@dataclass(slots=True)
class _Res:
    """A resolver's answer: the date, its granularity, the core rendering and the default preposition."""

    day: date | None
    gran: Granularity
    core: str
    default_prep: str = "on"
    kind: str = "relative"
    hour: int | None = None
    minute: int = 0
    prep: str | None = None  # written preposition, rendered before ``core``
    reported: str | None = None  # preposition already inside ``core`` ("within ..."), reported only
    evening: bool = False  # "tonight at 8" means 20:00


def format_day(d: date | datetime) -> str:
    """Render a day as "7 May 2023"."""
    return f"{d.day} {MONTH_NAMES[d.month - 1]} {d.year}"


def _fmt_month(d: date) -> str:
    return f"{MONTH_NAMES[d.month - 1]} {d.year}"


def _month_num(token: str | None) -> int | None:
    if not token:
        return None
    return _MONTH_INDEX.get(token[:3].lower())


def _add_months(d: date, n: int) -> date:
    total = d.year * 12 + (d.month - 1) + n
    return date(total // 12, total % 12 + 1, 1)


def _count(token: str) -> tuple[int, bool]:
    """Number for a quantity word; the flag says the quantity is vague ("a few")."""
    t = token.lower().strip()
    if t.isdigit():
        return int(t), False
    if t in _VAGUE_NUMBERS:
        return _VAGUE_NUMBERS[t], True
    return _NUMBER_WORDS.get(t, 1), False


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _pick_year(month: int, day: int, ctx: _Ctx) -> date | None:
    """Year for a day written without one: nearest occurrence, or biased by the sentence's tense."""
    ref = ctx.ref
    options = [_safe_date(ref.year + k, month, day) for k in (-1, 0, 1)]
    valid = [o for o in options if o is not None]
    if not valid:
        return None
    if ctx.tense == "past":
        past = [o for o in valid if o <= ref]
        return max(past) if past else min(valid)
    if ctx.tense == "future":
        fut = [o for o in valid if o >= ref]
        return min(fut) if fut else max(valid)
    return min(valid, key=lambda o: abs((o - ref).days))


def _two_digit_year(y: str) -> int:
    n = int(y)
    if len(y) == 2:
        return 2000 + n if n < 70 else 1900 + n
    return n


# ---------------------------------------------------------------------------------------------- resolvers


def _r_iso(m: re.Match[str], ctx: _Ctx) -> _Res | None:
    d = _safe_date(int(m["y"]), int(m["mo"]), int(m["d"]))
    if d is None or not 1000 <= d.year <= 2999:
        return None
    hour = int(m["H"]) if m["H"] else None
    minute = int(m["M"]) if m["M"] else 0
    if hour is not None and (hour > 23 or minute > 59):
        hour, minute = None, 0
    return _Res(d, "day", _strip_prep(m), default_prep="", kind="explicit", hour=hour, minute=minute)


def _r_us(m: re.Match[str], ctx: _Ctx) -> _Res | None:
    mo, d_ = int(m["mo"]), int(m["d"])
    if mo > 12 >= d_:  # clearly day-first (31/12/2023): accept it rather than fail
        mo, d_ = d_, mo
    d = _safe_date(_two_digit_year(m["y"]), mo, d_)
    return _Res(d, "day", _strip_prep(m), default_prep="", kind="explicit") if d else None


def _r_day_month(m: re.Match[str], ctx: _Ctx) -> _Res | None:
    mo = _month_num(m["mon"])
    if mo is None:
        return None
    day = int(m["d"])
    if m["y"]:
        d = _safe_date(int(m["y"]), mo, day)
        return _Res(d, "day", _strip_prep(m), default_prep="", kind="explicit") if d else None
    if m["mon"].lower() in ("may", "mar") and not m["mon"][0].isupper() and not m["prep"]:
        return None  # "I may 2..." is not a date
    d = _pick_year(mo, day, ctx)
    return _Res(d, "day", format_day(d), default_prep="", kind="explicit") if d else None


def _r_month_year(m: re.Match[str], ctx: _Ctx) -> _Res | None:
    mo = _month_num(m["mon"])
    if mo is None:
        return None
    return _Res(date(int(m["y"]), mo, 1), "month", _strip_prep(m), default_prep="", kind="explicit")


def _r_month(m: re.Match[str], ctx: _Ctx) -> _Res | None:
    mon, q = m["mon"], m["q"].lower()
    mo = _month_num(mon)
    # "may"/"march" lower-cased are nearly always the verb; "of" + month is too often a possessive name.
    if mo is None or (mon.lower() in ("may", "march", "mar") and not mon[0].isupper()) or q == "of":
        return None
    ref = ctx.ref
    this_year = date(ref.year, mo, 1)
    if q == "last":
        d = this_year if mo < ref.month else date(ref.year - 1, mo, 1)
    elif q == "next":
        d = this_year if mo > ref.month else date(ref.year + 1, mo, 1)
    elif q == "this":
        d = this_year
    else:
        d = _pick_year(mo, 1, ctx) or this_year
        if mo == ref.month:
            d = this_year  # "in October" said in October is this October, whatever the tense
    res = _Res(d, "month", f"{m.group(0)} {d.year}", default_prep="", kind="explicit", reported=q)
    if q in ("last", "next", "this"):
        res.core, res.default_prep, res.reported = f"{MONTH_NAMES[mo - 1]} {d.year}", "in", None
    elif q.startswith(("early", "late", "mid")):
        res.default_prep, res.reported = "in", None
    return res


def _r_year(m: re.Match[str], ctx: _Ctx) -> _Res | None:
    q = m["q"].lower()
    reported = q if q in _PREPOSITIONS else None
    return _Res(date(int(m["y"]), 1, 1), "year", m.group(0), default_prep="", kind="explicit", reported=reported)


def _r_dayword(m: re.Match[str], ctx: _Ctx) -> _Res | None:
    w = " ".join(m["w"].lower().split())
    ref = ctx.ref
    offsets = {
        "the day before yesterday": -2,
        "the day after tomorrow": 2,
        "yesterday": -1,
        "last night": -1,
        "tomorrow": 1,
    }
    d = ref + timedelta(days=offsets.get(w, 0))
    if w == "last night" or w == "tonight":
        core = f"the night of {format_day(d)}"
    elif w.startswith("this "):
        core = f"the {w[5:]} of {format_day(d)}"
    else:
        core = format_day(d)
    return _Res(d, "day", core, evening=w in ("last night", "tonight", "this evening", "this afternoon"))


def _weekday_of(q: str, wd: int, ctx: _Ctx) -> date:
    ref = ctx.ref
    back = (ref.weekday() - wd) % 7 or 7
    ahead = (wd - ref.weekday()) % 7 or 7
    if q in ("last", "this past"):
        return ref - timedelta(days=back)
    if q in ("next", "coming", "this coming"):
        return ref + timedelta(days=ahead)
    if q == "this":
        return ref + timedelta(days=wd - ref.weekday())
    if q in ("since", "after") or (ctx.tense == "past" and q not in ("by", "until", "till", "before")):
        return ref - timedelta(days=back)
    return ref + timedelta(days=ahead)


def _r_rel_weekday(m: re.Match[str], ctx: _Ctx) -> _Res | None:
    q = (m["q"] or "").lower()
    before = ctx.text[: m.start()]
    if not q and (_RX_ITS.search(before) or _RX_EVERY.search(before)):
        return None  # "it's Friday" states today's weekday, "every Monday" is a habit: neither is an event date
    if _RX_WD_RANGE_BEFORE.search(before):
        return None  # second day of "Monday through Friday": opening hours, not a date
    wd = _WEEKDAYS.index(m["wd"].lower())
    d = _weekday_of(q, wd, ctx)
    res = _Res(d, "day", f"{m['wd'].capitalize()} {format_day(d)}")
    if q in _PREPOSITIONS:
        res.prep = m["q"]
    return res


def _r_rel_unit(m: re.Match[str], ctx: _Ctx) -> _Res | None:
    q = " ".join(m["q"].lower().split())
    u = m["u"].lower()
    step = (
        -1
        if q in ("last", "past", "previous", "this past")
        else 1
        if q in ("next", "coming", "following", "this coming")
        else 0
    )
    ref = ctx.ref
    if u == "week":
        d = ref + timedelta(days=7 * step)
        rel = {-1: "the week before", 0: "the week of", 1: "the week after"}[step]
        return _Res(d, "week", f"{rel} {format_day(ref)}", default_prep="")
    if u == "weekend":
        monday = ref - timedelta(days=ref.weekday())
        if q == "this past":
            d = ref - timedelta(days=(ref.weekday() - 5) % 7 or 7)
        else:
            d = monday + timedelta(days=5 + 7 * step)
        return _Res(d, "week", f"the weekend of {format_day(d)}")
    if u == "month":
        d = _add_months(ref, step)
        return _Res(d, "month", _fmt_month(d), default_prep="in")
    if u == "year":
        return _Res(date(ref.year + step, 1, 1), "year", str(ref.year + step), default_prep="in")
    start = _SEASONS[u]
    year = ref.year + step
    if step == 0 and ctx.tense == "past" and start > ref.month:
        year -= 1
    return _Res(date(year, start, 1), "month", f"the {u} of {year}", default_prep="in")


def _r_ago(m: re.Match[str], ctx: _Ctx) -> _Res | None:
    n, vague = _count(m["n"])
    u = m["u"].lower()
    direction = m["dir"].lower()
    sign = 1 if direction in ("from now", "later") else -1
    return _shift(n * sign, u, vague, m.group(0).rsplit(" ", 2 if direction == "from now" else 1)[0], ctx)


def _r_in(m: re.Match[str], ctx: _Ctx) -> _Res | None:
    n, vague = _count(m["n"])
    u = m["u"].lower()
    ref = ctx.ref
    if m["q"].lower() == "within" or m["biz"]:
        d = _add_business_days(ref, n) if m["biz"] and u == "day" else _shift(n, u, False, "", ctx).day
        if d is None:
            return None
        core = f"{m.group(0)} of {format_day(ref)}"
        return _Res(d, "day" if u == "day" else "week", core, default_prep="", reported=m["q"].lower())
    return _shift(n, u, vague, m.group(0)[len(m["q"]) :].strip(), ctx)


def _add_business_days(d: date, n: int) -> date:
    while n > 0:
        d += timedelta(days=1)
        if d.weekday() < 5:
            n -= 1
    return d


def _shift(n: int, unit: str, vague: bool, phrase: str, ctx: _Ctx) -> _Res:
    """Resolve "<n> <unit>" before (n < 0) or after (n > 0) the reference day."""
    ref = ctx.ref
    rel = "before" if n < 0 else "after"
    vague_core = f"{phrase} {rel} {format_day(ref)}"
    if unit == "day":
        d = ref + timedelta(days=n)
        if vague:
            return _Res(d, "week", vague_core, default_prep="")
        return _Res(d, "day", format_day(d))
    if unit == "week":
        return _Res(ref + timedelta(days=7 * n), "week", vague_core, default_prep="")
    if unit == "month":
        d = _add_months(ref, n)
        return _Res(d, "month", vague_core if vague else _fmt_month(d), default_prep="" if vague else "in")
    y = ref.year + n
    return _Res(date(y, 1, 1), "year", vague_core if vague else str(y), default_prep="" if vague else "in")


def _r_end(m: re.Match[str], ctx: _Ctx) -> _Res | None:
    pos, u = m["pos"].lower(), m["u"].lower()
    q = (m["q"] or "this").lower()
    step = {"this": 0, "next": 1, "last": -1}[q]
    ref = ctx.ref
    if u == "month":
        first = _add_months(ref, step)
        last = _add_months(first, 1) - timedelta(days=1)
        d = {"end": last, "middle": first.replace(day=15)}.get(pos, first)
        return _Res(d, "day", f"the {pos} of {_fmt_month(first)}", default_prep="at")
    if u == "year":
        y = ref.year + step
        d = {"end": date(y, 12, 31), "middle": date(y, 7, 1)}.get(pos, date(y, 1, 1))
        return _Res(d, "day", f"the {pos} of {y}", default_prep="at")
    monday = ref - timedelta(days=ref.weekday()) + timedelta(days=7 * step)
    d = {"end": monday + timedelta(days=4), "middle": monday + timedelta(days=2)}.get(pos, monday)
    return _Res(d, "day", f"the {pos} of the week of {format_day(monday)}", default_prep="at")


def _r_ordinal(m: re.Match[str], ctx: _Ctx) -> _Res | None:
    day = int(m["d"])
    ref = ctx.ref
    d = _safe_date(ref.year, ref.month, day)
    if d is None:
        return None
    if ctx.tense == "past" and d > ref:
        d = _safe_date(*_ym(_add_months(ref, -1)), day)
    elif ctx.tense != "past" and d < ref:
        d = _safe_date(*_ym(_add_months(ref, 1)), day)
    return _Res(d, "day", format_day(d)) if d else None


def _ym(d: date) -> tuple[int, int]:
    return d.year, d.month


def _r_vague(m: re.Match[str], ctx: _Ctx) -> _Res | None:
    if m["w"].lower() == "the other day":
        return _Res(ctx.ref - timedelta(days=2), "week", f"a few days before {format_day(ctx.ref)}", default_prep="")
    return _Res(None, "week", m.group(0), default_prep="", kind="vague")


def _strip_prep(m: re.Match[str]) -> str:
    prep = m.groupdict().get("prep")
    text = m.group(0)
    return text[len(prep) :].strip() if prep else text


# Priority breaks ties between overlapping matches of equal length: explicit calendar dates win.
_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str], _Ctx], _Res | None], int], ...] = (
    (_RX_ISO, _r_iso, 0),
    (_RX_US, _r_us, 0),
    (_RX_DMY, _r_day_month, 1),
    (_RX_MDY, _r_day_month, 1),
    (_RX_MY, _r_month_year, 2),
    (_RX_END, _r_end, 2),
    (_RX_DAYWORD, _r_dayword, 3),
    (_RX_REL_UNIT, _r_rel_unit, 3),
    (_RX_AGO, _r_ago, 3),
    (_RX_IN, _r_in, 3),
    (_RX_MONTH, _r_month, 4),
    (_RX_YEAR, _r_year, 5),
    (_RX_REL_WD, _r_rel_weekday, 6),
    (_RX_ORDINAL, _r_ordinal, 6),
    (_RX_VAGUE, _r_vague, 7),
)


def guess_tense(text: str) -> Tense | None:
    """Rough tense of a sentence, used to pick which way ambiguous dates ("on Friday", "May 8") resolve.

    Args:
        text: the sentence.

    Returns:
        "future" when a future marker is present (will, going to, next, scheduled, ...), "past" when a past-tense
        verb is present, else ``None``.
    """
    if _STRONG_PAST.search(text):
        return "past"
    if _FUTURE.search(text):
        return "future"
    for m in _PAST.finditer(text):
        word = m.group(0).lower()
        if word.endswith("ed") and word in _ED_NOT_PAST:
            continue
        return "past"
    return None


def _as_datetime(d: date, hour: int | None, minute: int, tz: timezone | None) -> datetime:
    return datetime(d.year, d.month, d.day, hour or 0, minute, tzinfo=tz)


def _time_of_day(token: str, evening: bool = False) -> tuple[int, int] | None:
    m = _RX_TIME_PARTS.search(token)
    if m is None:
        return None
    if m["word"]:
        return (12, 0) if m["word"].lower() == "noon" else (0, 0)
    hour, minute = int(m["h"]), int(m["m"] or 0)
    ap = (m["ap"] or "").lower()
    if ap == "p" and hour < 12:
        hour += 12
    elif ap == "a" and hour == 12:
        hour = 0
    elif not ap and evening and hour < 12:
        hour += 12
    if hour > 23 or minute > 59:
        return None
    return hour, minute


def _attach_time(text: str, start: int, end: int, res: _Res) -> tuple[int, int]:
    """Extend a date match with an adjacent time of day ("1:56 pm on 8 May", "tomorrow at 7am")."""
    if res.gran != "day" or res.hour is not None:
        return start, end
    after = text[end : end + 24]
    m = _RX_TIME_AFTER.match(after) or _RX_TIME_AFTER_BARE.match(after)
    if m:
        tod = _time_of_day(m["t"], res.evening)
        if tod is not None:
            res.hour, res.minute = tod
            return start, end + m.end()
    before = text[max(0, start - 24) : start]
    m = _RX_TIME_BEFORE.search(before)
    if m:
        tod = _time_of_day(m["t"])
        if tod is not None:
            res.hour, res.minute = tod
            return start - (len(before) - m.start()), end
    return start, end


def _render(res: _Res, prep: str | None, preceded_by_prep: bool) -> str:
    if prep:
        return f"{prep} {res.core}"
    if preceded_by_prep or not res.default_prep:
        return res.core
    return f"{res.default_prep} {res.core}"


def find_time_expressions(
    text: str, reference: datetime, *, tense: Tense | None | Literal["auto"] = "auto"
) -> list[TimeExpression]:
    """Find and resolve the time expressions of a sentence.

    Args:
        text: one sentence (or a short passage).
        reference: the time the text was written (the document's or message's time).
        tense: how to resolve ambiguous dates; "auto" guesses it from ``text``.

    Returns:
        Non-overlapping expressions in text order. Never raises on odd input; returns ``[]`` instead.
    """
    if not text or not _TRIGGER.search(text):
        return []
    tz = UTC if reference.tzinfo is not None else None
    ctx = _Ctx(text, reference.date(), guess_tense(text) if tense == "auto" else tense, tz)
    candidates: list[tuple[int, int, int, re.Match[str], _Res]] = []
    for rx, resolver, prio in _RULES:
        for m in rx.finditer(text):
            try:
                res = resolver(m, ctx)
            except (ValueError, OverflowError, KeyError, IndexError):
                res = None
            if res is not None:
                candidates.append((m.start(), m.end(), prio, m, res))
    candidates.sort(key=lambda c: (-(c[1] - c[0]), c[2], c[0]))
    taken: list[tuple[int, int]] = []
    out: list[TimeExpression] = []
    for start, end, _prio, m, res in candidates:
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        out.append(_finish(text, m, res, start, end, ctx))
    out.sort(key=lambda e: e.start)
    return out


def _finish(text: str, m: re.Match[str], res: _Res, start: int, end: int, ctx: _Ctx) -> TimeExpression:
    groups = m.groupdict()
    if res.prep is None and groups.get("prep"):
        res.prep = groups["prep"]
    start, end = _attach_time(text, start, end, res)
    preceding = _RX_PREP_BEFORE.search(text[:start])
    replacement = _render(res, res.prep, preceding is not None)
    if start != m.start() or end != m.end():
        replacement = _with_time(text, start, end, m, replacement)
    day = None if res.day is None else _as_datetime(res.day, res.hour, res.minute, ctx.tz)
    reported = res.prep or res.reported or (preceding["p"] if preceding else None)
    return TimeExpression(
        text=text[start:end],
        start=start,
        end=end,
        date=day,
        granularity=res.gran,
        replacement=replacement,
        preposition=reported.lower() if reported else None,
        kind=res.kind,
    )


def _with_time(text: str, start: int, end: int, m: re.Match[str], replacement: str) -> str:
    """Keep the written time of day next to the rendered date."""
    before = text[start : m.start()].strip()
    after = text[m.end() : end].strip().lstrip(",").strip()
    parts = [p for p in (before, replacement, after) if p]
    return " ".join(parts)


def period_end(expr: TimeExpression) -> datetime | None:
    """Last instant of the period an expression denotes (end of that day, week, month or year).

    Args:
        expr: a resolved expression.

    Returns:
        The end of the period, or ``None`` when ``expr`` has no date.
    """
    if expr.date is None:
        return None
    d = expr.date.replace(hour=0, minute=0, second=0, microsecond=0)
    if expr.granularity == "day":
        nxt = d + timedelta(days=1)
    elif expr.granularity == "week":
        nxt = d + timedelta(days=7 - d.weekday())
    elif expr.granularity == "month":
        nxt = datetime.combine(_add_months(d.date(), 1), d.timetz())
    else:
        nxt = d.replace(year=d.year + 1, month=1, day=1)
    return nxt - timedelta(microseconds=1)


_RX_LOOSE_TIME = re.compile(r"\b(?P<t>\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?|\d{1,2}\s*[ap]\.?m\.?)(?![\d/-])", _I)


def parse_datetime_loose(s: str) -> datetime | None:
    """Parse a date or datetime written in a common human or machine format.

    Understands ISO 8601 ("2023-05-08T13:56:00Z"), "1:56 pm on 8 May, 2023", "8 May, 2023", "May 8, 2023 10:30",
    "05/08/2023" (US order) and "May 2023". A written year is required.

    Args:
        s: the text.

    Returns:
        The datetime (aware only when an ISO string carried an offset), or ``None`` when nothing parses.
    """
    if not isinstance(s, str):
        return None
    s = s.strip()
    if not s or len(s) > 200:
        return None
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00") if s.endswith("Z") else s)
    except ValueError:
        pass
    ctx = _Ctx(s, date(2000, 1, 1), None, None)
    for rx, resolver in (
        (_RX_ISO, _r_iso),
        (_RX_US, _r_us),
        (_RX_DMY, _r_day_month),
        (_RX_MDY, _r_day_month),
        (_RX_MY, _r_month_year),
    ):
        m = rx.search(s)
        if m is None or (rx in (_RX_DMY, _RX_MDY) and not m["y"]):
            continue
        try:
            res = resolver(m, ctx)
        except (ValueError, OverflowError, KeyError, IndexError):
            res = None
        if res is None or res.day is None:
            continue
        hour, minute = res.hour, res.minute
        if hour is None:
            rest = s[: m.start()] + " " + s[m.end() :]
            t = _RX_LOOSE_TIME.search(rest)
            tod = _time_of_day(t["t"]) if t else None
            if tod is not None:
                hour, minute = tod
        return _as_datetime(res.day, hour, minute, None)
    return None
