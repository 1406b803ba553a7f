"""What a clause states, by memory type: the matchers of the rules extractor.

Each matcher is a pure function of a clause's text (and, for organisation facts, of the document's metadata): it
says whether the clause states a fact, a preference, an emotion or an episode, and what it states. Turning a match
into a memory (rendered content, subject, dates, provenance) is ``rules.py``'s business, so the matchers can be
read and tested without a segment or a speaker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..base import DocumentInput
from ..dates import TimeExpression
from . import _lexicon as L
from . import _patterns as P
from . import _render as R

__all__ = [
    "FactHit",
    "is_episode",
    "is_past_verb",
    "is_question",
    "match_emotion",
    "match_facts",
    "match_preference",
    "match_request",
    "org_fact",
    "preference_category",
    "rescheduled",
]

_DETERMINERS = frozenset("the our all each every its their your a an most any new this these those".split())
_PREPOSITION_WORDS = frozenset("for of in on at to with from about by".split())
_ORG_VERB_ATTR = re.compile(r"^(?:located|headquartered|based)\s+in\b", re.I)


@dataclass(slots=True)
class FactHit:
    """An attribute a clause states: ``subject``'s ``attribute`` is ``value``.

    ``attribute`` is ``None`` for a fact with no slot to supersede, ``subject`` is ``None`` for the speaker, and a
    ``perpetual`` fact does not change over time (where one was born, an allergy).
    """

    attribute: str | None
    value: str
    perpetual: bool
    subject: str | None = None


def is_question(clause: str) -> bool:
    """A question states nothing to remember ("Do you like sushi?"), whatever it matches."""
    stripped = clause.rstrip()
    return stripped.endswith("?") or bool(P.QUESTION_START.match(stripped))


# ------------------------------------------------------------------------------------------------ facts


def match_facts(clause: str) -> list[FactHit]:
    """The attributes a clause states about a person (name, job, home, family, ...); the first is the primary one."""
    hits: list[FactHit] = []
    for rx in P.NAME_RULES:
        m = rx.search(clause)
        if m and m["v"].lower() not in L.STOP_CAPS and m["v"].lower() not in L.MONTH_WEEKDAY:
            if not re.fullmatch(L.DEMONYMS, m["v"].split()[0]):
                hits.append(FactHit("name", m["v"], True))
                break
    for rx in P.REL_NAME_RULES:
        m = rx.search(clause)
        if m and m["v"].lower() not in L.STOP_CAPS and m["v"].lower() not in L.MONTH_WEEKDAY:
            hits.append(FactHit(f"{R.norm_rel(m['rel'])}.name", m["v"], True))
            break
    m = P.BIRTHDAY_RULE.search(clause) if "birthday" in clause.lower() else None
    if m:
        rel = m["rel"]
        hits.append(FactHit(f"{R.norm_rel(rel)}.birthday" if rel else "birthday", clause[m.end() :].strip(" .!"), True))
    subjects = [m for m in P.SUBJECT_RX.finditer(clause)]
    for attr, rx, perpetual in P.FACT_RULES:
        for subject in subjects:
            m = rx.match(clause, subject.end())
            if m is None:
                continue
            hit = _fact_hit(attr, subject, m, perpetual)
            if hit is not None:
                hits.append(hit)
                break
    if not hits:
        hit = _my_thing_is(clause)
        if hit is not None:
            hits.append(hit)
    if hits and re.search(r"\bused\s+to\b", clause):
        for h in hits:  # a past habit or state: keep it, but it must not supersede the current value
            h.attribute, h.perpetual = None, False
    return hits


def _fact_hit(attr: str, subject: re.Match[str], m: re.Match[str], perpetual: bool) -> FactHit | None:
    groups = m.groupdict()
    name = subject["name"]
    rel = subject["rel"]
    if name and name.lower() in L.STOP_CAPS and name.lower() not in {"mom", "dad", "mum"} | P.REFERENTS:
        return None
    if name and name.lower() in ("mom", "dad", "mum"):
        rel, name = name.lower(), None
    value = (groups.get("v") or "").strip()
    if groups.get("n"):
        value = f"{value} named {groups['n']}"
    attribute = f"{R.norm_rel(rel)}.{attr}" if rel else attr
    if attr in P.NO_SLOT:
        return FactHit(None, value, perpetual, subject=name.lower() if name else None)
    return FactHit(attribute, value, perpetual, subject=name.lower() if name else None)


def _my_thing_is(clause: str) -> FactHit | None:
    m = P.MY_THING_IS.match(clause)
    if m is None:
        return None
    words = m["k"].lower().split()
    if words[0] in P.MY_THING_BLOCKLIST or re.fullmatch(L.RELATIONS, words[0]) or re.fullmatch(L.PETS, words[0]):
        return None
    head: list[str] = []
    for w in words:
        if w in _PREPOSITION_WORDS:
            break
        head.append(w)
    if any(w in P.MY_THING_BLOCKLIST for w in head):
        return None
    value = m["v"].strip()
    if " " not in value and not re.search(r"[\d@A-Z]", value) and not (set(head) & P.MY_THING_SINGLE_WORD_KEYS):
        return None  # "My legs are dead": a passing state, not an attribute
    return FactHit(R.slug(" ".join(head)), value, False)


def org_fact(clause: str, exprs: list[TimeExpression], doc: DocumentInput) -> FactHit | None:
    """A concrete statement about an organisation or thing: "Our refund window is 30 days"."""
    m = P.ORG_FACT.match(clause)
    if m is None:
        return None
    subj = m["subj"].strip()
    words = subj.split()
    if not words:
        return None
    first = words[0].lower().strip(",")
    if first in P.ORG_SUBJECT_STOP and not (first == "we" and P.WE_BUSINESS_VERBS.match(clause)):
        return None
    if P.META_WORDS.search(subj) or is_question(clause):
        return None
    verb = " ".join(m["verb"].lower().split())
    passive = verb.startswith(("was ", "were "))
    if any(e.date is not None and e.granularity == "day" for e in exprs) and not passive:
        return None  # "The workshop takes place on 12 August": a dated event, not a standing fact
    stripped = clause
    for e in reversed(exprs):
        if e.date is not None:
            stripped = stripped[: e.start] + " " + stripped[e.end :]
    proper_subject = words[0][:1].isupper() and first not in _DETERMINERS and first not in L.STOP_CAPS
    dated_passive = passive and any(e.date is not None for e in exprs)
    if not (P.INFORMATIVE.search(stripped) or _has_proper_noun(stripped) or proper_subject or dated_passive):
        return None
    rest = m["rest"]
    noun = " ".join(w for w in (x.lower().strip(",") for x in words) if w not in _DETERMINERS)
    if verb in ("was founded", "were founded", "was established"):
        attribute: str | None = "founded"
    elif _ORG_VERB_ATTR.match(rest):
        attribute = "located_in"
    elif passive:
        attribute = verb.split()[-1]
    elif verb in ("cost", "costs"):
        attribute = f"{R.slug(noun)}_price" if noun else "price"
    elif verb in ("is", "are") and 0 < len(noun.split()) <= 4:
        attribute = R.slug(noun)
    else:
        attribute = None
    subject: str | None
    if first in ("our", "we"):
        org = doc.metadata.get("organization") if isinstance(doc.metadata, dict) else None
        subject = str(org).lower() if org else "organization"
    else:
        subject = noun or None
    return FactHit(attribute, rest.strip(" ."), False, subject=subject)


def _has_proper_noun(text: str) -> bool:
    for m in P.PROPER_TOKEN.finditer(text):
        w = m.group(0).lower()
        if w not in L.STOP_CAPS and w not in L.MONTH_WEEKDAY:
            return True
    return False


# ------------------------------------------------------------------------------------------------ preferences


def match_preference(clause: str) -> tuple[str, float, str, str | None] | None:
    """(polarity, strength, object text, named holder) of a stated preference, if the clause states one."""
    low = clause.lower()
    fav = P.FAVORITE.search(clause) if ("fav" in low or "go-to" in low or "preferred" in low) else None
    if fav:
        return "positive", 0.9, (fav["obj"] or fav["obj2"] or "").strip(), fav["holder"]
    subjects = list(P.PREF_SUBJECT_RX.finditer(clause))
    for rx, polarity, strength in P.PREF_RULES:
        s_match = next((sm for sm in subjects if rx.match(clause, sm.end())), None)
        if s_match is None:
            continue
        m = rx.match(clause, s_match.end())
        assert m is not None
        holder = s_match["pname"]
        if (
            holder
            and holder.lower() not in P.REFERENTS
            and (holder.lower() in L.STOP_CAPS or holder.lower() in L.MONTH_WEEKDAY)
        ):
            continue
        obj = clause[m.end() :].strip()
        if len(obj.strip(" .!")) < 2 or P.PREF_OBJECT_STOP.match(obj):
            return None
        if re.match(
            r"(?:know|knew|forget|forgot|remember|feel|felt|think|thought|seem|wonder|say|said|mean|"
            r"understand|realize|realise|been|was|were|did|do|get\s+to)\b",
            obj,
            re.I,
        ):
            return None  # "I always forget ...", "I never know ...": habits of mind, not preferences
        if re.search(r"\b(?:really|so|absolutely)\b", clause[: m.end()], re.I):
            strength = min(0.95, strength + 0.05)
        return polarity, strength, obj, holder
    if P.BEST_FOR_ME.search(clause):
        return "positive", 0.75, clause, None
    return None


def match_request(clause: str) -> str | None:
    """The instruction of a standing request ("Please use metric units" -> "use metric units"), if it is one."""
    m = P.REQUEST.match(clause.rstrip(" .!"))
    body: str | None = None
    if m:
        body = m["v1"] or m["v2"]
    else:
        q = P.REQUEST_QUESTION.match(clause.strip()) or P.REQUEST_IMPERATIVE.match(clause.strip())
        if q and q["v"]:
            body = re.sub(r",?\s*please\s*[.!]?$", "", q["v"].strip(), flags=re.I)
    return body or None


def preference_category(text: str) -> str | None:
    """The first preference category (food, travel, ...) with a keyword in ``text``."""
    for category, rx in L.CATEGORY_RX:
        if rx.search(text):
            return category
    return None


# ------------------------------------------------------------------------------------------------ emotions


def match_emotion(clause: str, *, situations: bool) -> tuple[str, float] | None:
    """(emotion type, intensity) of a feeling the speaker expresses about themselves.

    ``situations``: whether an adjective describing a situation ("work has been so stressful") counts as the
    speaker's feeling, as it does in a person's own words but not in a document.
    """
    if P.EMOTION_CHITCHAT.search(clause):
        return None
    m = P.EMOTION_FEEL.search(clause)
    if m:
        kind = L.EMOTIONS.get(" ".join(m["emo"].lower().split()), "other")
        if m["neg"]:
            if kind not in L.POSITIVE_EMOTIONS:
                return None  # "I'm not worried" expresses no feeling worth remembering
            return "disappointed", 0.55
        return kind, _intensity(f"{m['mods']} {m['mods2']}", m["emo"], clause)
    m = P.EMOTION_MAKES.search(clause)
    if m:
        kind = L.EMOTIONS.get(" ".join(m["emo"].lower().split()), "other")
        return kind, _intensity(m["mods"], m["emo"], clause)
    m = P.EMOTION_PHRASAL.search(clause)
    if m:
        phrase = m["phr"].lower()
        for prefix, kind, base in P.PHRASAL_TYPES:
            if phrase.startswith(prefix):
                return kind, min(0.95, base + (0.05 if "!" in clause else 0.0))
    if situations:
        m = P.EMOTION_SITUATION.match(clause)
        if m:
            kind = L.EMOTIONS.get(m["emo"].lower(), "other")
            return kind, _intensity(m["mods"], m["emo"], clause)
    return None


def _intensity(modifiers: str, word: str, clause: str) -> float:
    mods = " ".join(modifiers.lower().replace(",", " ").split())
    value = 0.6
    value += 0.15 * sum(1 for w in mods.split() if w in P.INTENSIFIERS)
    if any(d in mods for d in P.DIMINISHERS):
        value -= 0.2
    if word.lower() in (
        "furious",
        "devastated",
        "terrified",
        "ecstatic",
        "heartbroken",
        "livid",
        "overjoyed",
        "thrilled",
    ):
        value += 0.15
    if "!" in clause:
        value += 0.05
    return round(min(0.95, max(0.3, value)), 3)


# ------------------------------------------------------------------------------------------------ episodes


def is_past_verb(verb: str) -> bool:
    if verb in L.NOT_EPISODE_VERBS or verb == "used":
        return False
    return verb in L.IRREGULAR_PAST or R.ends_ed(verb) and verb not in L.ED_ADJECTIVES


def is_episode(clause: str) -> bool:
    """True when the clause narrates something its subject did or underwent (past tense, not a state)."""
    if P.FUTURE_AUX.search(clause):
        return False
    for m in P.EPISODE_SUBJECT.finditer(clause):
        subject = m["s"]
        first = subject.split()[0].lower()
        if first not in ("i", "we", "my", "our") and first in L.STOP_CAPS:
            continue
        aux = (m["aux"] or "").strip()
        verb, verb2 = m["verb"].lower(), (m["verb2"] or "").lower()
        if aux:
            if verb == "been" and verb2 == "to":
                return True
            perfect = verb in L.PARTICIPLES or (R.ends_ed(verb) and verb not in L.ED_ADJECTIVES)
            stative = verb in P.STATIVE_PERFECT and aux != "had"  # "I've lived in Toronto ...": a state
            if perfect and not stative and verb not in ("been", "got") and verb not in L.NOT_EPISODE_VERBS:
                if not P.DURATION.search(clause):
                    return True
                continue
            if aux == "had" and not perfect:
                return True  # "My mom had knee surgery": "had" is the main verb
            continue
        if verb in ("was", "were"):
            if verb2 in ("in", "at", "on", "there", "back", "out", "away", "home", "off", "born") or (
                is_past_verb(verb2) and verb2 not in ("was", "were")
            ):
                return True
            continue
        if verb == "grew" and verb2 == "up":
            continue
        if is_past_verb(verb):
            return True
    return False


def rescheduled(clause: str, dated: list[TimeExpression]) -> bool:
    """ "The review moved to February 3" announces a new date; nothing happened yet."""
    return any(P.RESCHEDULED.search(clause[: e.start]) for e in dated)
