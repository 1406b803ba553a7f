"""The default extractor: offline, deterministic, English, rule based.

Each segment is cut into sentences and clauses; each clause is matched against lexical patterns for facts,
preferences, emotions and episodes, and its time expressions are resolved against the segment's (or document's)
time. A clause can give several drafts of different types; all share one rendered ``content``: the clause with
relative dates replaced by calendar dates and first-person pronouns replaced by the speaker's name, so the
memory reads on its own ("Caroline went to a support group on 7 May 2023").

Who is speaking decides what is extracted. A user or a named person gets the full treatment. An assistant turn
only yields facts about the user it restates ("you mentioned you're vegan") and concrete informational
statements (an organisation's policy, a date concerning the user), never its chit-chat. Prose documents yield
organisation facts with concrete content (numbers, names), dated events, and first-person statements of the
author.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ..base import DocumentInput, MemoryDraft, MemoryType, Segment
from ..dates import TimeExpression, find_time_expressions, period_end
from ..split import role_for_label, split_sentences
from . import _lexicon as L
from . import _patterns as P
from . import _render as R

__all__ = ["RulesExtractor"]

_log = logging.getLogger(__name__)

Mode = Literal["person", "assistant", "document"]
_NOTE_TYPES = frozenset({"note", "notes", "journal", "diary", "personal-note", "memo", "user-note"})
_CHAT_TYPES = frozenset(
    {"ai-chat-conversation", "human-chat-conversation", "meeting-transcript", "support-ticket", "chat", "conversation"}
)
_NOT_NAMES = frozenset(
    {"user", "assistant", "human", "ai", "bot", "agent", "customer", "system", "the author", "support"}
)
_MENTIONED = re.compile(
    r"\b(?:(?:you(?:'ve)?\s+(?:mentioned|said|told\s+me|shared|noted|explained|indicated)|as\s+you\s+(?:mentioned|"
    r"said|noted))(?:\s+(?:earlier|before|previously))?(?:\s+that)?,?\s+(?P<c>(?:[^,.;!?]|\.(?=\d))+)|(?:since|given\s+that|"
    r"because|as)\s+(?P<c2>you(?:'re|\s+are|'ve|\s+have|\s+live|\s+work)\b(?:[^,.;!?]|\.(?=\d))+))",
    re.IGNORECASE,
)
_APOSTROPHE_FIX = re.compile(r"\b(dont|cant|wont|didnt|doesnt|isnt|wasnt|havent|hasnt|couldnt|wouldnt)\b", re.I)
_DETERMINERS = frozenset("the our all each every its their your a an most any new this these those".split())
_PREPOSITION_WORDS = frozenset("for of in on at to with from about by".split())
_ORG_VERB_ATTR = re.compile(r"^(?:located|headquartered|based)\s+in\b", re.I)
_HAS_SUBJECT = re.compile(r"\b(?:I|[Ww]e|[Mm]y|[Oo]ur|[Hh]e|[Ss]he|[Tt]hey|[Ii]t|[Tt]his|[Tt]hat)\b")


@dataclass(slots=True)
class _Ctx:
    """What the analysis of one segment needs to know."""

    seg: Segment
    doc: DocumentInput
    name: str  # who "I" is in rendered content
    mode: Mode
    ref: datetime
    user_name: str
    role: str | None


@dataclass(slots=True)
class _FactHit:
    attribute: str | None
    value: str
    perpetual: bool
    subject: str | None = None


class RulesExtractor:
    """Offline, deterministic extractor of facts, preferences, episodes, emotions and dated events.

    Args:
        strict: re-raise unexpected errors instead of logging and skipping the offending sentence. Meant for
            tests; ingestion should not fail a whole document because of one odd sentence.
    """

    name = "rules"

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict

    def extract(self, document: DocumentInput) -> list[MemoryDraft]:
        """Extract memory drafts from a split document.

        Args:
            document: the document and its segments.

        Returns:
            Drafts in segment order, without duplicates (same type and content).
        """
        user_name = _user_name(document)
        drafts: list[MemoryDraft] = []
        seen: set[tuple[str, str]] = set()
        for seg in document.segments:
            try:
                found = _extract_segment(seg, document, user_name)
            except Exception:
                if self.strict:
                    raise
                _log.warning("rules extractor skipped segment %s of %s", seg.id, document.document_id, exc_info=True)
                continue
            for draft in found:
                key = (draft.memory_type, draft.content.lower())
                if key not in seen:
                    seen.add(key)
                    drafts.append(draft)
        return drafts


# ------------------------------------------------------------------------------------------------ segments


def _user_name(document: DocumentInput) -> str:
    for seg in document.segments:
        if seg.role == "user" and seg.speaker and seg.speaker.strip().lower() not in _NOT_NAMES:
            return seg.speaker.strip()
    name = document.metadata.get("user_name") if isinstance(document.metadata, dict) else None
    return str(name) if name else "User"


def _speaker(seg: Segment, document: DocumentInput, user_name: str) -> tuple[str, Mode]:
    role = seg.role or role_for_label(seg.speaker)
    if role == "assistant":
        return (seg.speaker or "Assistant"), "assistant"
    if role == "user":
        named = seg.speaker and seg.speaker.strip().lower() not in _NOT_NAMES
        return (seg.speaker.strip() if seg.speaker and named else user_name), "person"
    if seg.speaker:
        return seg.speaker.strip(), "person"
    doc_type = (document.document_type or "").strip().lower()
    if doc_type in _NOTE_TYPES:
        return user_name, "person"
    if doc_type in _CHAT_TYPES:
        return user_name, "person"
    author = document.metadata.get("author") if isinstance(document.metadata, dict) else None
    return (str(author) if author else "The author"), "document"


def _extract_segment(seg: Segment, document: DocumentInput, user_name: str) -> list[MemoryDraft]:
    name, mode = _speaker(seg, document, user_name)
    ref = seg.timestamp or document.created_at
    ctx = _Ctx(seg, document, name, mode, ref, user_name, seg.role)
    text = P.CAPTION_TAIL.sub("", seg.text)
    out: list[MemoryDraft] = []
    caption = seg.extra.get("caption") if seg.extra else None
    if caption and mode != "assistant":
        out.append(_caption_draft(str(caption), ctx))
    for sentence in split_sentences(text):
        for clause in _clauses(_prepare(sentence, mode)):
            out.extend(_analyse(clause, ctx))
    return out


def _caption_draft(caption: str, ctx: _Ctx) -> MemoryDraft:
    low = caption.lower()
    shown = (
        caption
        if re.match(r"(?:an?|the)\s+(?:photo|picture|image|screenshot|drawing|painting)\b", low)
        else (f"a photo of {caption}")
    )
    content = f"{ctx.name} shared {shown}"
    return _draft(ctx, "episode", content, 0.5, entities_from=content, event_date=ctx.ref, rule="caption")


def _prepare(sentence: str, mode: Mode) -> str:
    """Canonicalise a chat sentence: capital "I", restored apostrophes, no leading interjections or tag question."""
    s = sentence.strip()
    if mode != "document":
        for rx, repl in P.CHAT_FIXES[:3]:
            s = rx.sub(repl, s)
        s = _APOSTROPHE_FIX.sub(lambda m: m.group(1)[:-1] + "'t", s)
    s = P.GREETING_PREFIX.sub("", s)
    s = P.INTERJECTION.sub("", s)
    s = P.TAG_QUESTION.sub(".", s)
    if s.endswith("?") and ", " in s:
        head = s[: s.rindex(", ")]
        if P.STATEMENT_START.match(head):
            s = head + "."  # "I'm running the half in April, wanna join?": keep the statement
    s = s.strip(" -–—")
    return s[:1].upper() + s[1:] if s else s


def _clauses(sentence: str) -> list[str]:
    """Cut at conjunctions that start a new first-person clause; "... and avoid dairy" inherits the subject."""
    if not sentence:
        return []
    out: list[str] = []
    merged: list[str] = []
    begin: int | None = None
    cuts = [(m.start(), m.end()) for m in P.CLAUSE_SPLIT.finditer(sentence)] + [(len(sentence), len(sentence))]
    piece_start = 0
    for cut_start, cut_end in cuts:
        if begin is None:
            begin = piece_start
        last = cut_start == len(sentence)
        # A piece without a subject of its own ("Since 2016, I've ...") stays with the next one, separator included.
        if last or _HAS_SUBJECT.search(sentence[piece_start:cut_start]):
            merged.append(sentence[begin:cut_start])
            begin = None
        piece_start = cut_end
    for part in merged:
        pieces = P.INHERIT_SPLIT.split(part)
        first = pieces[0].strip()
        if first:
            out.append(first)
        inherit = P.INHERITABLE_SUBJECT.match(first)
        for piece in pieces[1:]:
            piece = piece.strip()
            if not piece:
                continue
            if inherit:
                subject = inherit.group(0)
                piece = f"{subject} {piece}" if not piece.startswith("'") else f"{subject}{piece}"
                out.append(piece)
            elif out:
                out[-1] = f"{out[-1]} and {piece}"
    return [c[:1].upper() + c[1:] for c in out if c]


# ------------------------------------------------------------------------------------------------ clauses


def _is_question(clause: str) -> bool:
    stripped = clause.rstrip()
    return stripped.endswith("?") or bool(P.QUESTION_START.match(stripped))


def _analyse(clause: str, ctx: _Ctx) -> list[MemoryDraft]:
    if not clause or P.FILLER.match(clause):
        return []
    if ctx.mode == "assistant":
        return _analyse_assistant(clause, ctx)
    if ctx.mode == "person" and ctx.role == "user":
        request = _request_preference(clause, ctx)
        if request is not None:
            return [request]
    elif ctx.mode == "person":
        request = _request_preference(clause, ctx)
        if request is not None:
            return [request]
    if _is_question(clause):
        return []
    exprs = find_time_expressions(clause, ctx.ref)
    content = _render(clause, exprs, ctx)
    drafts: list[MemoryDraft] = []
    # In an organisation's document "we"/"our" is the organisation, not a person.
    first_person = bool((R.SINGULAR_PRONOUN if ctx.mode == "document" else R.PRONOUN).search(clause))
    if not first_person and (ctx.mode == "document" or ctx.seg.speaker is None):
        drafts.extend(_document_drafts(clause, exprs, content, ctx))
        return drafts
    facts = _fact_drafts(clause, content, exprs, ctx)
    if not facts and clause.startswith("Our "):  # "Our Q3 revenue was $1.2M" said in a meeting: the team's fact
        org = _org_fact(clause, exprs, ctx)
        if org is not None:
            facts = [_fact_draft(ctx, _render(clause, exprs, ctx, rewrite_first_person=False), org, 0.7, "org_fact")]
    drafts.extend(facts)
    drafts.extend(_preference_drafts(clause, content, ctx))
    emotion = _match_emotion(clause, ctx.mode)
    if emotion is not None:
        drafts.append(
            _draft(ctx, "emotion", content, emotion[1], category=emotion[0], event_date=ctx.ref, rule="emotion")
        )
    dated = [e for e in exprs if e.date is not None]
    if _is_episode(clause) and not _rescheduled(clause, dated):
        drafts.append(_episode_draft(clause, content, dated, ctx))
    if dated:
        drafts.append(_temporal_draft(clause, content, dated, ctx))
    return drafts


def _analyse_assistant(clause: str, ctx: _Ctx) -> list[MemoryDraft]:
    """Assistant turns: restated user facts, organisation facts and dates concerning the user only."""
    drafts: list[MemoryDraft] = []
    m = _MENTIONED.search(clause)
    if m:
        restated = R.to_first_person((m["c"] or m["c2"] or "").strip())
        user_ctx = _Ctx(ctx.seg, ctx.doc, ctx.user_name, "person", ctx.ref, ctx.user_name, "user")
        exprs = find_time_expressions(restated, ctx.ref)
        content = _render(restated[:1].upper() + restated[1:], exprs, user_ctx)
        drafts.extend(_fact_drafts(restated, content, exprs, user_ctx))
        drafts.extend(_preference_drafts(restated, content, user_ctx))
        for d in drafts:
            d.confidence = round(d.confidence * 0.9, 3)  # second-hand: slightly less certain
            d.metadata["restated_by"] = "assistant"
        return drafts
    if _is_question(clause):
        return []
    exprs = find_time_expressions(clause, ctx.ref)
    if re.match(r"^(?:Our|We)\b", clause):
        content = _render(clause, exprs, ctx, rewrite_first_person=False)
        fact = _org_fact(clause, exprs, ctx)
        if fact is not None:
            drafts.append(_fact_draft(ctx, content, fact, 0.7, "org_fact"))
    dated = [e for e in exprs if e.date is not None]
    if dated and re.search(r"\b(?:your?|our|we)\b", clause, re.I):
        content = R.rewrite_you(_render(clause, exprs, ctx, rewrite_first_person=False), ctx.user_name)
        drafts.append(_temporal_draft(clause, content, dated, ctx, subject=ctx.user_name))
    return drafts


def _document_drafts(clause: str, exprs: list[TimeExpression], content: str, ctx: _Ctx) -> list[MemoryDraft]:
    drafts: list[MemoryDraft] = []
    hits = [h for h in _match_facts(clause) if h.subject or (h.attribute and "." in h.attribute)]
    fact = hits[0] if hits else _org_fact(clause, exprs, ctx)
    if fact is not None:
        drafts.append(_fact_draft(ctx, content, fact, 0.7, "org_fact" if not hits else "fact", extra=hits or None))
    pref = _match_preference(clause)
    if pref is not None and pref[3]:  # a named person's preference stated in a document ("Jake prefers ...")
        drafts.extend(_preference_drafts(clause, content, ctx))
    dated = [e for e in exprs if e.date is not None]
    if dated:
        m = P.DOC_EPISODE.match(clause)
        passive = m is not None and re.search(r"\b(?:was|were|is|are|be|been|being)\s+$", clause[: m.start("verb")])
        if m and not passive and _is_past_verb(m["verb"].lower()) and not _rescheduled(clause, dated):
            drafts.append(_episode_draft(clause, content, dated, ctx))
        drafts.append(_temporal_draft(clause, content, dated, ctx, subject=None))
    return drafts


# ------------------------------------------------------------------------------------------------ facts


def _match_facts(clause: str) -> list[_FactHit]:
    hits: list[_FactHit] = []
    for rx in P.NAME_RULES:
        m = rx.search(clause)
        if m and m["v"].lower() not in L.STOP_CAPS and m["v"].lower() not in L.MONTH_WEEKDAY:
            if not re.fullmatch(L.DEMONYMS, m["v"].split()[0]):
                hits.append(_FactHit("name", m["v"], True))
                break
    for rx in P.REL_NAME_RULES:
        m = rx.search(clause)
        if m and m["v"].lower() not in L.STOP_CAPS and m["v"].lower() not in L.MONTH_WEEKDAY:
            hits.append(_FactHit(f"{R.norm_rel(m['rel'])}.name", m["v"], True))
            break
    m = P.BIRTHDAY_RULE.search(clause) if "birthday" in clause.lower() else None
    if m:
        rel = m["rel"]
        hits.append(
            _FactHit(f"{R.norm_rel(rel)}.birthday" if rel else "birthday", clause[m.end() :].strip(" .!"), True)
        )
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


def _fact_hit(attr: str, subject: re.Match[str], m: re.Match[str], perpetual: bool) -> _FactHit | None:
    groups = m.groupdict()
    name = subject["name"]
    rel = subject["rel"]
    if name and name.lower() in L.STOP_CAPS and name.lower() not in ("mom", "dad", "mum"):
        return None
    if name and name.lower() in ("mom", "dad", "mum"):
        rel, name = name.lower(), None
    value = (groups.get("v") or "").strip()
    if groups.get("n"):
        value = f"{value} named {groups['n']}"
    attribute = f"{R.norm_rel(rel)}.{attr}" if rel else attr
    return _FactHit(attribute, value, perpetual, subject=name.lower() if name else None)


def _my_thing_is(clause: str) -> _FactHit | None:
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
    return _FactHit(R.slug(" ".join(head)), value, False)


def _fact_drafts(clause: str, content: str, exprs: list[TimeExpression], ctx: _Ctx) -> list[MemoryDraft]:
    hits = _match_facts(clause)
    if not hits:
        return []
    primary = hits[0]
    confidence = 0.6 if primary.subject else 0.8
    return [_fact_draft(ctx, content, primary, confidence, "fact", extra=hits)]


def _org_fact(clause: str, exprs: list[TimeExpression], ctx: _Ctx) -> _FactHit | None:
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
    if P.META_WORDS.search(subj) or _is_question(clause):
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
        org = ctx.doc.metadata.get("organization") if isinstance(ctx.doc.metadata, dict) else None
        subject = str(org).lower() if org else "organization"
    else:
        subject = noun or None
    return _FactHit(attribute, rest.strip(" ."), False, subject=subject)


def _has_proper_noun(text: str) -> bool:
    for m in P.PROPER_TOKEN.finditer(text):
        w = m.group(0).lower()
        if w not in L.STOP_CAPS and w not in L.MONTH_WEEKDAY:
            return True
    return False


# ------------------------------------------------------------------------------------------------ preferences


def _match_preference(clause: str) -> tuple[str, float, str, str | None] | None:
    """(polarity, strength, object text, named holder) of a stated preference, if the clause states one."""
    low = clause.lower()
    fav = P.FAVORITE.search(clause) if ("fav" in low or "go-to" in low or "preferred" in low) else None
    if fav:
        return "positive", 0.9, (fav["obj"] or fav["obj2"] or "").strip(), None
    subjects = list(P.PREF_SUBJECT_RX.finditer(clause))
    for rx, polarity, strength in P.PREF_RULES:
        s_match = next((sm for sm in subjects if rx.match(clause, sm.end())), None)
        if s_match is None:
            continue
        m = rx.match(clause, s_match.end())
        assert m is not None
        holder = s_match["pname"]
        if holder and (holder.lower() in L.STOP_CAPS or holder.lower() in L.MONTH_WEEKDAY):
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


def _preference_drafts(clause: str, content: str, ctx: _Ctx) -> list[MemoryDraft]:
    pref = _match_preference(clause)
    if pref is None:
        return []
    polarity, strength, obj, holder = pref
    category = _category(obj) or _category(clause) or "general"
    rel = re.match(r"^(?:The|Our|My)\s+(?:(?:little|older|younger)\s+)?(" + L.RELATIONS + r")\b", clause)
    if rel and ctx.mode == "person" and content.startswith("The "):
        content = f"{ctx.name}'s {content[4:]}"  # "The kids love ..." in a parent's chat are their kids
    return [
        _draft(
            ctx,
            "preference",
            content,
            strength,
            category=category,
            temporal_category="perpetual",
            rule="preference",
            subject=holder.lower() if holder else "",
            metadata={"polarity": polarity, "object": obj.strip(" .!")},
        )
    ]


def _request_preference(clause: str, ctx: _Ctx) -> MemoryDraft | None:
    """Standing instructions: "Please use metric units", "Never schedule meetings before 10am"."""
    m = P.REQUEST.match(clause.rstrip(" .!"))
    body: str | None = None
    if m:
        body = m["v1"] or m["v2"]
    else:
        q = P.REQUEST_QUESTION.match(clause.strip()) or P.REQUEST_IMPERATIVE.match(clause.strip())
        if q and q["v"]:
            body = re.sub(r",?\s*please\s*[.!]?$", "", q["v"].strip(), flags=re.I)
    if not body:
        return None
    body = re.sub(r"^(?:don't|do\s+not)\s+", "not ", body.strip(), flags=re.I)
    body = body[:1].lower() + body[1:]
    other = "the assistant" if ctx.role == "user" else "others"
    body = re.sub(r"\byour\b", "its" if other == "the assistant" else "their", body)
    body = R.rewrite_first(body, ctx.name)
    content = f"{ctx.name} prefers that {other} {body.rstrip(' .!?')}."
    category = _category(body) or "communication"
    return _draft(
        ctx,
        "preference",
        content,
        0.85,
        category=category,
        temporal_category="perpetual",
        rule="request",
        metadata={"polarity": "negative" if body.startswith(("not ", "never ", "stop ", "avoid ")) else "positive"},
    )


def _category(text: str) -> str | None:
    for category, rx in L.CATEGORY_RX:
        if rx.search(text):
            return category
    return None


# ------------------------------------------------------------------------------------------------ emotions


def _match_emotion(clause: str, mode: Mode) -> tuple[str, float] | None:
    """(emotion type, intensity) of a feeling the speaker expresses about themselves."""
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
    if mode == "person":
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


def _is_past_verb(verb: str) -> bool:
    if verb in L.NOT_EPISODE_VERBS or verb == "used":
        return False
    return verb in L.IRREGULAR_PAST or R.ends_ed(verb) and verb not in L.ED_ADJECTIVES


def _is_episode(clause: str) -> bool:
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
                _is_past_verb(verb2) and verb2 not in ("was", "were")
            ):
                return True
            continue
        if verb == "grew" and verb2 == "up":
            continue
        if _is_past_verb(verb):
            return True
    return False


def _rescheduled(clause: str, dated: list[TimeExpression]) -> bool:
    """ "The review moved to February 3" announces a new date; nothing happened yet."""
    return any(P.RESCHEDULED.search(clause[: e.start]) for e in dated)


def _episode_draft(clause: str, content: str, dated: list[TimeExpression], ctx: _Ctx) -> MemoryDraft:
    confidence = 0.6 + (0.1 if dated else 0.0) + (0.15 if P.SIGNIFICANT.search(clause) else 0.0)
    best = _best_expression(dated)
    return _draft(
        ctx,
        "episode",
        content,
        round(min(0.95, confidence), 3),
        event_date=best.date if best else None,
        temporal_category="episode",
        rule="episode",
        metadata=_time_metadata(best),
    )


# ------------------------------------------------------------------------------------------------ temporal


def _best_expression(dated: list[TimeExpression]) -> TimeExpression | None:
    order = {"day": 0, "week": 1, "month": 2, "year": 3}
    return min(dated, key=lambda e: (order[e.granularity], e.kind != "explicit", e.start)) if dated else None


def _temporal_draft(
    clause: str, content: str, dated: list[TimeExpression], ctx: _Ctx, *, subject: str | None = ""
) -> MemoryDraft:
    best = _best_expression(dated)
    assert best is not None and best.date is not None
    valid_until = None
    deadline = best.preposition in P.DEADLINE_PREPS or bool(
        re.search(
            r"\b(?:due|deadline|expires?|expiry|expiration|valid\s+(?:until|through|thru)|cut-?off)\b", clause, re.I
        )
    )
    if deadline:
        valid_until = period_end(best)
    confidence = 0.8 if best.granularity == "day" else 0.65
    return _draft(
        ctx,
        "temporal_event",
        content,
        confidence,
        event_date=best.date,
        valid_until=valid_until,
        temporal_category="temporal_fact",
        rule="temporal",
        subject=subject,
        metadata={**_time_metadata(best), "deadline": deadline},
    )


def _time_metadata(expr: TimeExpression | None) -> dict[str, object]:
    if expr is None:
        return {}
    return {"time_expression": expr.text, "granularity": expr.granularity}


# ------------------------------------------------------------------------------------------------ rendering


def _render(clause: str, exprs: list[TimeExpression], ctx: _Ctx, *, rewrite_first_person: bool = True) -> str:
    """The clause with dates resolved and "I" replaced by the speaker, as a standalone sentence."""
    text = clause
    for e in reversed(exprs):
        if e.date is not None:
            text = text[: e.start] + e.replacement + text[e.end :]
    if rewrite_first_person and ctx.mode != "assistant":
        text = R.rewrite_first(text, ctx.name, singular_only=ctx.mode == "document")
    text = " ".join(text.split()).strip()
    if not text:
        return text
    text = text[:1].upper() + text[1:]
    if ctx.mode == "person" and not R.mentions(text, ctx.name):
        text = f"{ctx.name} {'said' if ctx.seg.speaker else 'noted'}: {text}"
    return text


# ------------------------------------------------------------------------------------------------ drafts


def _draft(
    ctx: _Ctx,
    memory_type: MemoryType,
    content: str,
    confidence: float,
    *,
    category: str | None = None,
    event_date: datetime | None = None,
    valid_until: datetime | None = None,
    temporal_category: str | None = "episode",
    attribute: str | None = None,
    subject: str | None = "",
    rule: str,
    entities_from: str | None = None,
    metadata: dict[str, object] | None = None,
) -> MemoryDraft:
    exclude = {n.lower() for n in ("User", "The author", "Assistant")}
    who = ctx.name if ctx.mode != "assistant" else ctx.user_name
    meta: dict[str, object] = {"rule": rule, "observed_at": ctx.ref.isoformat(), "extractor": "rules"}
    if ctx.seg.speaker:
        meta["speaker"] = ctx.seg.speaker
    if metadata:
        meta.update(metadata)
    return MemoryDraft(
        memory_type=memory_type,
        content=content,
        confidence=round(confidence, 3),
        category=category,
        event_date=event_date,
        valid_until=valid_until,
        temporal_category=temporal_category,
        source_evidence=[ctx.seg.id],
        entities=R.entities(entities_from or content, exclude),
        subject=(who.lower() if who and ctx.mode != "document" else None) if subject == "" else _lower(subject),
        attribute=attribute,
        metadata=meta,
    )


def _lower(text: str | None) -> str | None:
    return text.lower() if text else None


def _fact_draft(
    ctx: _Ctx, content: str, hit: _FactHit, confidence: float, rule: str, extra: list[_FactHit] | None = None
) -> MemoryDraft:
    attributes = {h.attribute: h.value for h in (extra or [hit]) if h.attribute}
    return _draft(
        ctx,
        "fact",
        content,
        confidence,
        temporal_category="perpetual" if hit.perpetual else "temporal_fact",
        attribute=hit.attribute,
        subject=hit.subject if hit.subject is not None else "",
        rule=rule,
        metadata={"attributes": attributes, "value": hit.value} if attributes else {"value": hit.value},
    )
