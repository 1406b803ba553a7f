"""Text rendering for the rules extractor: pronoun rewriting, verb agreement, entity spotting.

Turning "I love my dog" into "Maya loves Maya's dog" is what makes a memory readable on its own; it is kept apart
from the matching logic of ``rules.py``.
"""

from __future__ import annotations

import re

from . import _lexicon as L
from . import _patterns as P

__all__ = [
    "PRONOUN",
    "SINGULAR_PRONOUN",
    "conjugate",
    "ends_ed",
    "entities",
    "mentions",
    "norm_rel",
    "rewrite_first",
    "rewrite_you",
    "slug",
    "to_first_person",
]

_MODALS = frozenset(
    "can could will would should might must may shall can't couldn't won't wouldn't shouldn't mustn't did didn't "
    "was wasn't had hadn't used ought".split()
)
_NOT_VERBS = frozenset(
    "and or but too myself as in on at the a an to if when so not also just really still only even".split()
)
PRONOUN = re.compile(
    r"(?<![\w'])(?P<p>I|me|Me|my|My|mine|Mine|myself|Myself|we|We|us|Us|our|Our|ours|Ours|ourselves|Ourselves)"
    r"(?P<c>'m|'ve|'d|'ll|'re|'s)?(?![\w'])"
)
_YOU = re.compile(r"(?<![\w'])(?P<p>you|You|your|Your|yours|Yours|yourself|Yourself)(?P<c>'re|'ve|'d|'ll)?(?![\w'])")
_FOLLOWING_VERB = re.compile(r"(?P<adv>(?:\s+" + L.ADVERBS + r")*)\s+(?P<verb>[A-Za-z][a-z']*)")
_COMPOUND_SUBJECT = re.compile(r"\b(?:and|or)\s+$")
_TO_FIRST_PERSON = (
    (re.compile(r"\byou're\b", re.I), "I'm"),
    (re.compile(r"\byou've\b", re.I), "I've"),
    (re.compile(r"\byou'll\b", re.I), "I'll"),
    (re.compile(r"\byou'd\b", re.I), "I'd"),
    (re.compile(r"\byou are\b", re.I), "I am"),
    (re.compile(r"\byou were\b", re.I), "I was"),
    (re.compile(r"\byourself\b", re.I), "myself"),
    (re.compile(r"\byours\b", re.I), "mine"),
    (re.compile(r"\byour\b", re.I), "my"),
    (re.compile(r"\byou\b", re.I), "I"),
)
_SLUG = re.compile(r"[^a-z0-9]+")
_PLURAL = frozenset(("we", "us", "our", "ours", "ourselves"))
SINGULAR_PRONOUN = re.compile(r"(?<![\w'])(?:I|me|Me|my|My|mine|Mine|myself|Myself)(?:'m|'ve|'d|'ll|'s)?(?![\w'])")


def ends_ed(word: str) -> bool:
    """Regular past form: "moved", "started"; not "need", "feed", "bed"."""
    return len(word) > 3 and word.endswith("ed") and not word.endswith("eed")


def mentions(text: str, name: str) -> bool:
    return name.lower() in text.lower()


def conjugate(verb: str) -> str:
    low = verb.lower()
    irregular = {
        "am": "is",
        "have": "has",
        "do": "does",
        "go": "goes",
        "be": "is",
        "don't": "doesn't",
        "haven't": "hasn't",
        "'m": "is",
    }
    if low in irregular:
        return irregular[low]
    if low in _MODALS or low in L.IRREGULAR_PAST or ends_ed(low) or low.endswith("'t") or low in _NOT_VERBS:
        return verb
    if not low.isalpha():
        return verb
    if low.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def rewrite_first(text: str, name: str, *, singular_only: bool = False) -> str:
    """Replace first-person pronouns by ``name``, fixing the verb agreement of "I" ("I love" -> "Maya loves").

    Args:
        text: the clause.
        name: who "I" is.
        singular_only: leave "we"/"our" alone (in an organisation's document they mean the organisation).

    Returns:
        The rewritten text.
    """
    out: list[str] = []
    pos = 0
    possessive = f"{name}'s"
    for m in PRONOUN.finditer(text):
        if m.start() < pos:
            continue
        out.append(text[pos : m.start()])
        pos = m.end()
        p, c = m["p"].lower(), m["c"] or ""
        if singular_only and p in _PLURAL:
            out.append(m.group(0))
            continue
        at_start = not text[: m.start()].strip() or text[: m.start()].rstrip().endswith((".", "!", "?", ":"))
        who = name if at_start or not name.startswith("The ") else name[:1].lower() + name[1:]
        poss = possessive if at_start or not name.startswith("The ") else possessive[:1].lower() + possessive[1:]
        if p == "i":
            out.append(_rewrite_i(text, m, c, who))
            if not c:
                follow = _FOLLOWING_VERB.match(text, m.end())
                # "my husband and I love" keeps the plural; "I used to play" keeps the infinitive
                if follow and not _COMPOUND_SUBJECT.search(text[: m.start()]) and "used" not in follow["adv"]:
                    out.append(follow["adv"] + " " + conjugate(follow["verb"]))
                    pos = follow.end()
        elif p in ("me",):
            out.append(who)
        elif p in ("my", "mine", "our", "ours"):
            out.append(poss + ({"'s": " is"}.get(c, "")))
        elif p in ("myself",):
            out.append("themself")
        elif p in ("ourselves",):
            out.append("themselves")
        elif p in ("we", "us"):
            verb = {"'re": " are", "'ve": " have", "'ll": " will", "'d": " would", "'s": " us"}.get(c, "")
            out.append(f"{who} and others{verb}")
        else:
            out.append(m.group(0))
    out.append(text[pos:])
    return "".join(out)


def _rewrite_i(text: str, m: re.Match[str], contraction: str, who: str) -> str:
    if contraction == "'m":
        return f"{who} is"
    if contraction == "'ve":
        return f"{who} has"
    if contraction == "'ll":
        return f"{who} will"
    if contraction == "'d":
        nxt = _FOLLOWING_VERB.match(text, m.end())
        verb = nxt["verb"].lower() if nxt else ""
        return f"{who} had" if verb in L.PARTICIPLES and verb not in ("like", "love") else f"{who} would"
    if contraction == "'s":
        return f"{who}'s"
    return who


def rewrite_you(text: str, user: str) -> str:
    """Assistant text: "your order" -> "User's order", "you're" -> "User is"."""

    def repl(m: re.Match[str]) -> str:
        p, c = m["p"].lower(), m["c"] or ""
        if p in ("your", "yours"):
            return f"{user}'s"
        if p == "yourself":
            return "themself"
        suffix = {"'re": " is", "'ve": " has", "'ll": " will", "'d": " would"}.get(c, "")
        return f"{user}{suffix}"

    return _YOU.sub(repl, text)


def to_first_person(text: str) -> str:
    for rx, repl in _TO_FIRST_PERSON:
        text = rx.sub(repl, text)
    return text


def slug(text: str) -> str:
    return _SLUG.sub("_", text.lower()).strip("_")


def norm_rel(rel: str | None) -> str:
    return slug(rel or "")


def entities(text: str, exclude: set[str]) -> list[str]:
    """Capitalised names, places and organisations in ``text``, lower-cased (simple heuristics)."""
    found: list[str] = []
    for m in P.ENTITY_RUN.finditer(text):
        tokens = m.group(0).split()
        while tokens and (tokens[0].lower().strip(".'") in L.STOP_CAPS or tokens[0].lower() in L.MONTH_WEEKDAY):
            tokens.pop(0)
        while tokens and tokens[-1].lower() in ("of", "de", "la", "van", "von", "der", "&"):
            tokens.pop()
        if not tokens:
            continue
        if tokens[-1].endswith(".") and tokens[-1] not in P.TITLE_ABBREVIATIONS:
            tokens[-1] = tokens[-1][:-1]
        phrase = " ".join(tokens)
        phrase = re.sub(r"'s$", "", phrase)
        low = phrase.lower()
        if not low or low in exclude or low in L.MONTH_WEEKDAY or low in L.STOP_CAPS:
            continue
        if low == "i" or (len(low) < 2):
            continue
        if low not in found:
            found.append(low)
    return found
