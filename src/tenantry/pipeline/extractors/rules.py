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

This module holds the control flow and the making of drafts (content, subject, dates, provenance). What a clause
states is decided by the matchers of ``_matchers.py``, with the patterns of ``_patterns.py`` and the words of
``_lexicon.py``; ``_render.py`` rewrites pronouns and verbs.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import Literal

from ..base import DocumentInput
from ..base import MemoryDraft
from ..base import MemoryType
from ..base import Segment
from ..dates import TimeExpression
from ..dates import find_time_expressions
from ..dates import period_end
from ..split import role_for_label
from ..split import split_sentences
from . import _lexicon as L
from . import _patterns as P
from . import _render as R
from ._matchers import FactHit
from ._matchers import is_episode
from ._matchers import is_past_verb
from ._matchers import is_question
from ._matchers import match_emotion
from ._matchers import match_facts
from ._matchers import match_preference
from ._matchers import match_request
from ._matchers import org_fact
from ._matchers import preference_category
from ._matchers import rescheduled

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
    return _draft(ctx, "episode", content, 0.5, event_date=ctx.ref, rule="caption")


def _prepare(sentence: str, mode: Mode) -> str:
    """Canonicalise a chat sentence: capital "I", restored apostrophes, no leading interjections or tag question."""
    s = sentence.strip()
    if mode != "document":
        for rx, repl in P.CHAT_FIXES[:3]:
            s = rx.sub(repl, s)
        s = _APOSTROPHE_FIX.sub(lambda m: m.group(1)[:-1] + "'t", s)
    s = P.THE_REFERENT.sub(lambda m: m.group(1).capitalize(), s)  # "the user's ..." speaks of "User"
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


def _analyse(clause: str, ctx: _Ctx) -> list[MemoryDraft]:
    if not clause or P.FILLER.match(clause):
        return []
    if ctx.mode == "assistant":
        return _analyse_assistant(clause, ctx)
    if ctx.mode == "person":
        request = _request_preference(clause, ctx)
        if request is not None:
            return [request]
    if is_question(clause):
        return []
    exprs = find_time_expressions(clause, ctx.ref)
    if ctx.mode == "document":  # "reply within 2 business days" in a policy is a rule, not a date
        exprs = [e for e in exprs if not (e.kind == "relative" and e.preposition == "within")]
    content = _render(clause, exprs, ctx)
    drafts: list[MemoryDraft] = []
    # In an organisation's document "we"/"our" is the organisation, not a person.
    first_person = bool((R.SINGULAR_PRONOUN if ctx.mode == "document" else R.PRONOUN).search(clause))
    if not first_person and (ctx.mode == "document" or ctx.seg.speaker is None):
        drafts.extend(_document_drafts(clause, exprs, content, ctx))
        return drafts
    facts = _fact_drafts(clause, content, exprs, ctx)
    if not facts and clause.startswith("Our "):  # "Our Q3 revenue was $1.2M" said in a meeting: the team's fact
        org = org_fact(clause, exprs, ctx.doc)
        if org is not None:
            facts = [_fact_draft(ctx, _render(clause, exprs, ctx, rewrite_first_person=False), org, 0.7, "org_fact")]
    drafts.extend(facts)
    drafts.extend(_preference_drafts(clause, content, ctx))
    emotion = match_emotion(clause, situations=ctx.mode == "person")
    if emotion is not None:
        drafts.append(
            _draft(ctx, "emotion", content, emotion[1], category=emotion[0], event_date=ctx.ref, rule="emotion")
        )
    dated = [e for e in exprs if e.date is not None]
    if is_episode(clause) and not rescheduled(clause, dated):
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
    if is_question(clause):
        return []
    exprs = find_time_expressions(clause, ctx.ref)
    if re.match(r"^(?:Our|We)\b", clause):
        content = _render(clause, exprs, ctx, rewrite_first_person=False)
        fact = org_fact(clause, exprs, ctx.doc)
        if fact is not None:
            drafts.append(_fact_draft(ctx, content, fact, 0.7, "org_fact"))
    dated = [e for e in exprs if e.date is not None]
    if dated and re.search(r"\b(?:your?|our|we)\b", clause, re.I):
        content = R.rewrite_you(_render(clause, exprs, ctx, rewrite_first_person=False), ctx.user_name)
        drafts.append(_temporal_draft(clause, content, dated, ctx, subject=ctx.user_name))
    return drafts


def _document_drafts(clause: str, exprs: list[TimeExpression], content: str, ctx: _Ctx) -> list[MemoryDraft]:
    drafts: list[MemoryDraft] = []
    hits = [h for h in match_facts(clause) if h.subject or (h.attribute and "." in h.attribute)]
    pref = match_preference(clause)
    named_pref = pref is not None and bool(pref[3])  # a named person's preference ("Jake prefers ...")
    fact = hits[0] if hits else None if named_pref else org_fact(clause, exprs, ctx.doc)
    if fact is not None:
        drafts.append(_fact_draft(ctx, content, fact, 0.7, "org_fact" if not hits else "fact", extra=hits or None))
    if named_pref:
        drafts.extend(_preference_drafts(clause, content, ctx))
    dated = [e for e in exprs if e.date is not None]
    if dated:
        m = P.DOC_EPISODE.match(clause)
        passive = m is not None and re.search(r"\b(?:was|were|is|are|be|been|being)\s+$", clause[: m.start("verb")])
        if m and not passive and is_past_verb(m["verb"].lower()) and not rescheduled(clause, dated):
            drafts.append(_episode_draft(clause, content, dated, ctx))
        drafts.append(_temporal_draft(clause, content, dated, ctx, subject=None))
    return drafts


# ------------------------------------------------------------------------------------------------ facts


def _fact_drafts(clause: str, content: str, exprs: list[TimeExpression], ctx: _Ctx) -> list[MemoryDraft]:
    hits = match_facts(clause)
    if not hits:
        return []
    primary = hits[0]
    confidence = 0.6 if primary.subject else 0.8
    return [_fact_draft(ctx, content, primary, confidence, "fact", extra=hits)]


# ------------------------------------------------------------------------------------------------ preferences


def _preference_drafts(clause: str, content: str, ctx: _Ctx) -> list[MemoryDraft]:
    pref = match_preference(clause)
    if pref is None:
        return []
    polarity, strength, obj, holder = pref
    category = preference_category(obj) or preference_category(clause) or "general"
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
    body = match_request(clause)
    if body is None:
        return None
    body = re.sub(r"^(?:don't|do\s+not)\s+", "not ", body.strip(), flags=re.I)
    body = body[:1].lower() + body[1:]
    other = "the assistant" if ctx.role == "user" else "others"
    body = re.sub(r"\byour\b", "its" if other == "the assistant" else "their", body)
    body = R.rewrite_first(body, ctx.name)
    content = f"{ctx.name} prefers that {other} {body.rstrip(' .!?')}."
    category = preference_category(body) or "communication"
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


# ------------------------------------------------------------------------------------------------ episodes


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
    rule: str,
    subject: str | None = "",
    temporal_category: str | None = "episode",
    metadata: dict[str, object] | None = None,
    **fields: Any,
) -> MemoryDraft:
    """A draft of the context's segment: its evidence, the entities of ``content``, the rule that matched and when.

    ``subject`` "" stands for the speaker (none in a document). ``fields`` are passed on to :class:`MemoryDraft`
    as they are (``category``, ``event_date``, ``valid_until``, ``attribute``).
    """
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
        temporal_category=temporal_category,
        source_evidence=[ctx.seg.id],
        entities=R.entities(content, exclude),
        subject=(who.lower() if who and ctx.mode != "document" else None) if subject == "" else _lower(subject),
        metadata=meta,
        **fields,
    )


def _lower(text: str | None) -> str | None:
    return text.lower() if text else None


def _fact_draft(
    ctx: _Ctx, content: str, hit: FactHit, confidence: float, rule: str, extra: list[FactHit] | None = None
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
