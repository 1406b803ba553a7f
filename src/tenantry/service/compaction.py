"""Conversation compaction (SPEC §6): an extractive, structured summary of a conversation's turns, offline.

The turns are split into sentences; each sentence is scored for what it carries: an extracted memory (the instance's
extractor runs over the turns: facts, preferences, dated events), a decision ("we'll", "I booked"), a preference
("I love"), an open question, concrete detail (numbers, names), or the current state (the last turns). Content-free
chatter ("thanks!") scores nothing. The best sentences are kept, verbatim and attributed to their speaker, until the
strategy's share of the original tokens is reached (``conservative`` ~70 %, ``balanced`` ~40 %, ``aggressive``
~15 %, ``adaptive``: ~2000 tokens within those bounds, ``target_tokens``: that many; never below 64 tokens but for a
shorter conversation), and are laid out by section
(facts, preferences, decisions, open questions, current state, other details), each in conversation order.

Each version records its token counts, its compression ratio (compacted / original tokens) and a validation score:
the share of the memories extracted from the covered turns whose content words (stemmed) the compacted text still
states. Versions are kept in the store; a second compaction of a conversation while one runs is a
``ConflictError``. :func:`compact_turns` is the pure algorithm (the ``tenantry eval compaction`` command runs it on
LoCoMo); :class:`Compactions` is the engine's part: versions, the prompt context, automatic compaction.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Any

import Stemmer

from ..contract import CompactConversation
from ..contract import CompactedQuery
from ..contract import CompactionStatusQuery
from ..errors import ConflictError
from ..errors import ContextNotFoundError
from ..errors import InvalidInputError
from ..models import Compaction
from ..models import CompactionStatus
from ..models import CompactionTrigger
from ..pipeline.base import DocumentInput
from ..pipeline.base import Extractor
from ..pipeline.base import Segment
from ..pipeline.split import split_sentences
from ..retrieval.scoring import estimate_tokens
from ..scope import Tenant
from ..store.base import CompactionRecord
from ..validation import utcnow

if TYPE_CHECKING:
    from ._core import AsyncMemoryService

__all__ = [
    "STRATEGY_RATIOS",
    "CompactionResult",
    "Compactions",
    "TurnText",
    "compact_turns",
    "render",
]

STRATEGY_RATIOS = {"conservative": 0.70, "balanced": 0.40, "aggressive": 0.15}
STRATEGIES = (*STRATEGY_RATIOS, "adaptive")
FORMATS = ("structured", "narrative", "injection")
ADAPTIVE_TOKENS = 2000
MIN_TOKENS = 64
SECTIONS = {
    "facts": "Facts",
    "preferences": "Preferences",
    "decisions": "Decisions",
    "open_questions": "Open questions",
    "current_state": "Current state",
    "details": "Other details",
}
_HEADER_RESERVE = 120  # characters kept aside for the section headings
_STALE = timedelta(minutes=10)  # an in-progress compaction older than this was abandoned by its process
MAX_TURNS = 5000  # turns a compaction reads (the latest ones)
VALIDATION_PASS = 0.5

_DECISION = re.compile(
    r"\b(?:I|we)(?:'ll| will| shall|'m going to| am going to|'re going to| are going to| plan to| decided| have "
    r"decided|'ve decided| chose| agreed| booked| ordered| signed up| confirmed| scheduled| settled on)\b"
    r"|\blet'?s\b|\b(?:decided|agreed|confirmed|booked|scheduled|deadline)\b",
    re.IGNORECASE,
)
_PREFERENCE = re.compile(
    r"\bI (?:really |absolutely |truly |do(?:n't| not) |would )?(?:like|love|prefer|enjoy|hate|dislike|adore|"
    r"can't stand|want|need)\b|\bmy fav(?:ou?rite)\b|\bI'm (?:a big )?fan of\b",
    re.IGNORECASE,
)
_SELF_FACT = re.compile(  # what a speaker says about themselves or theirs: "I am allergic", "my sister is a nurse"
    r"\b(?:I(?:'m| am| was| have| had|'ve| work| live| moved| grew up| studied| own)|my \w+(?: \w+)? (?:is|are|was|"
    r"were|has|works|lives))\b",
    re.IGNORECASE,
)
_DETAIL = re.compile(r"\d|(?<=\s)[A-Z][a-z]{2,}")
_WORD = re.compile(r"[^\W_]+")
_STOP = frozenset(
    """a about after again all also am an and any are as at be been being but by can could did do does doing don done
    for from get got had has have having he her here hers him his how i if in into is it its just me more most my no
    not now of on once only or other our out over own really same she so some such than that the their them then there
    these they this those to too up very was we were what when where which while who whom why will with would you
    your yours yeah yes oh wow ok okay thanks thank lol haha hey hi hello great good nice cool sure well that's it's
    i'm you're i've going gonna said says say""".split()
)
_MONTHS = frozenset(
    "january february march april may june july august september october november december".split()
    + "monday tuesday wednesday thursday friday saturday sunday".split()
)
_STEM = Stemmer.Stemmer("english")
_MAX_VERSION = 2**31 - 1  # a version number every backend's integer column holds


@dataclass(frozen=True, slots=True)
class TurnText:
    """One turn of a conversation: its id (message id, or a caller's turn id), who said it, what was said."""

    turn_id: str
    role: str
    text: str
    speaker: str | None = None
    timestamp: datetime | None = None

    @property
    def label(self) -> str:
        return self.speaker or ("User" if self.role == "user" else "Assistant")


@dataclass(slots=True)
class Unit:
    """One sentence of the conversation, scored."""

    turn: int  # 0-based index of its turn
    order: int  # position in the conversation
    text: str
    section: str
    score: float
    size: int  # characters of its line in the compacted text


@dataclass(slots=True)
class CompactionResult:
    """What :func:`compact_turns` made: the kept sentences by section, and the figures."""

    strategy: str
    original_tokens: int
    compacted_tokens: int
    validation_score: float | None
    sections: dict[str, list[dict[str, Any]]]  # section -> [{content, speaker, turn, turn_id}]
    turns: int

    @property
    def ratio(self) -> float:
        return self.compacted_tokens / self.original_tokens if self.original_tokens else 0.0

    def kept(self) -> list[dict[str, Any]]:
        """Every kept sentence, in conversation order."""
        return sorted((u for units in self.sections.values() for u in units), key=lambda u: u["order"])


def _content_words(text: str, skip: frozenset[str] = frozenset()) -> set[str]:
    words = (w.lower() for w in _WORD.findall(text))
    return {
        _STEM.stemWord(w)
        for w in words
        if len(w) > 2 and w not in _STOP and w not in skip and w not in _MONTHS and not w.isdigit()
    }


def _target_tokens(strategy: str, original: int, target_tokens: int | None) -> int:
    """The compacted size to aim at. A share of a short conversation would be too small to say anything (a heading
    alone is a few tokens): no strategy aims below ``MIN_TOKENS`` (or the whole conversation, when shorter)."""
    if target_tokens is not None:
        return min(target_tokens, original)
    if strategy == "adaptive":
        low, high = STRATEGY_RATIOS["aggressive"] * original, STRATEGY_RATIOS["conservative"] * original
        return int(min(max(ADAPTIVE_TOKENS, low), high, original))
    return int(min(max(STRATEGY_RATIOS[strategy] * original, MIN_TOKENS), original))


def _line(label: str, text: str) -> str:
    return f"- {label}: {text}"


def _memories(extractor: Extractor | None, turns: Sequence[TurnText], created_at: datetime) -> list[tuple[int, str]]:
    """(turn index, content) of each memory ``extractor`` draws from the turns; one episode per turn (the turn
    restated, ``metadata.kind == "turn"``) is not a memory of its own here."""
    if extractor is None or not turns:
        return []
    segments = [
        Segment(id=f"c{i}", text=t.text, speaker=t.speaker, role=t.role, timestamp=t.timestamp)
        for i, t in enumerate(turns)
    ]
    doc = DocumentInput("compaction", "human-chat-conversation", segments, created_at)
    out: list[tuple[int, str]] = []
    for draft in extractor.extract(doc):
        if draft.metadata.get("kind") == "turn" or draft.memory_type == "episode":
            continue
        for ev in draft.source_evidence[:1]:
            if ev.startswith("c") and ev[1:].isdigit():
                out.append((int(ev[1:]), draft.content))
    return out


def _score_units(turns: Sequence[TurnText], memories: list[tuple[int, str]]) -> list[tuple[Unit, TurnText]]:
    by_turn: dict[int, list[str]] = {}
    for turn, content in memories:
        by_turn.setdefault(turn, []).append(content)
    recent_from = len(turns) - min(6, max(2, len(turns) // 20))
    units: list[tuple[Unit, TurnText]] = []
    order = 0
    for i, t in enumerate(turns):
        sentences = split_sentences(t.text) or [t.text.strip()]
        owned = [_content_words(m) for m in by_turn.get(i, [])]
        carriers: dict[int, int] = {}
        for words in owned:  # each memory is carried by the sentence that states most of it
            best = max(range(len(sentences)), key=lambda s: len(words & _content_words(sentences[s])))
            carriers[best] = carriers.get(best, 0) + 1
        for s, text in enumerate(sentences):
            if not text.strip():
                continue
            words = _content_words(text)
            size = len(_line(t.label, text.strip())) + 1
            if len(words) < 2 and not _DETAIL.search(text) and not carriers.get(s):
                # content-free chatter ("Thanks!"): kept only to fill a generous budget
                units.append((Unit(i, order, text.strip(), "details", 0.01, size), t))
                order += 1
                continue
            score, section = 0.2 + 0.1 * min(len(words), 12) / 12, "details"
            if _DETAIL.search(text):
                score += 0.6
            if _SELF_FACT.search(text):
                score, section = score + 0.9, "facts"
            if text.rstrip().endswith("?"):
                score, section = score + 0.8, "open_questions"
            if _PREFERENCE.search(text):
                score, section = score + 1.4, "preferences"
            if _DECISION.search(text):
                score, section = score + 1.6, "decisions"
            if carriers.get(s):
                score += 2.0 + 0.3 * (carriers[s] - 1)
                section = section if section in ("preferences", "decisions") else "facts"
            if i >= recent_from:
                score, section = score + 3.0, "current_state"
            units.append((Unit(i, order, text.strip(), section, score, size), t))
            order += 1
    return units


def _validation(
    memories: list[tuple[int, str]], kept: Sequence[dict[str, Any]], turns: Sequence[TurnText]
) -> float | None:
    """Share of the memories still stated: a kept sentence of the memory's own turn holds at least 60 % of its
    content words (stemmed; speaker names, dates and stopwords aside)."""
    if not memories:
        return None
    names = frozenset(w.lower() for t in turns for w in _WORD.findall(t.label)) | {"user", "assistant"}
    by_turn: dict[int, list[set[str]]] = {}
    for u in kept:
        by_turn.setdefault(u["turn"] - 1, []).append(_content_words(u["content"], names))
    stated = 0
    for turn, content in memories:
        words = _content_words(content, names)
        if not words or any(len(words & have) >= 0.6 * len(words) for have in by_turn.get(turn, ())):
            stated += 1
    return stated / len(memories)


def compact_turns(
    turns: Sequence[TurnText],
    *,
    strategy: str = "balanced",
    target_tokens: int | None = None,
    extractor: Extractor | None = None,
    created_at: datetime | None = None,
) -> CompactionResult:
    """The extractive, structured compaction of ``turns`` (pure; deterministic for a deterministic extractor).

    Raises:
        InvalidInputError: an unknown strategy, or ``target_tokens`` below 1.
    """
    if strategy not in STRATEGIES:
        raise InvalidInputError(f"strategy must be one of {', '.join(STRATEGIES)}", details={"field": "strategy"})
    if target_tokens is not None and (isinstance(target_tokens, bool) or target_tokens < 1):
        raise InvalidInputError("target_tokens must be a positive integer", details={"field": "target_tokens"})
    raw = "\n".join(f"{t.label}: {t.text}" for t in turns)
    original = estimate_tokens(raw) if turns else 0
    memories = _memories(extractor, turns, created_at or utcnow())
    scored = _score_units(turns, memories)
    target = _target_tokens(strategy, original, target_tokens)
    budget = len(raw) * target // original if original else 0  # in characters: tokens are ≈ 4 characters
    budget -= min(_HEADER_RESERVE, budget // 10)
    used, kept, seen = 0, [], set()
    for unit, turn in sorted(scored, key=lambda ut: (-ut[0].score, -ut[0].order)):
        said = (turn.label, unit.text.lower())
        if said not in seen and used + unit.size <= budget:  # a sentence said again is kept once (its latest)
            kept.append((unit, turn))
            seen.add(said)
            used += unit.size
    while True:
        result = _laid_out(strategy, original, kept, len(turns))
        text = render(result, "structured")
        result.compacted_tokens = estimate_tokens(text) if text else 0
        if result.compacted_tokens <= target or not kept:
            break
        kept.remove(min(kept, key=lambda ut: (ut[0].score, ut[0].order)))  # headings ran over: drop the least
    result.validation_score = _validation(memories, result.kept(), turns)
    return result


def _laid_out(strategy: str, original: int, kept: list[tuple[Unit, TurnText]], turns: int) -> CompactionResult:
    sections: dict[str, list[dict[str, Any]]] = {}
    for unit, turn in sorted(kept, key=lambda ut: ut[0].order):
        entry = {"content": unit.text, "speaker": turn.label, "turn": unit.turn + 1, "turn_id": turn.turn_id}
        sections.setdefault(unit.section, []).append({**entry, "order": unit.order})
    return CompactionResult(strategy, original, 0, None, sections, turns)


def render(result: CompactionResult, fmt: str, *, compaction_id: str | None = None) -> str:
    """The compaction as text: ``structured`` (a heading per section, a line per kept sentence), ``narrative``
    (a paragraph per section) or ``injection`` (the structured text framed for a prompt: the ``context_block``)."""
    parts: list[str] = []
    for key, title in SECTIONS.items():
        units = result.sections.get(key)
        if not units:
            continue
        if fmt == "narrative":
            parts.append(f"{title}: " + " ".join(f"{u['speaker']} said: {u['content']}" for u in units))
        else:
            parts.append(f"### {title}\n" + "\n".join(_line(u["speaker"], u["content"]) for u in units))
    body = "\n\n".join(parts)
    if fmt != "injection" or not body:
        return body
    ident = f' compaction_id="{compaction_id}"' if compaction_id else ""
    return (
        f'<earlier_conversation{ident} turns="1-{result.turns}" strategy="{result.strategy}">\n'
        "Summary of the earlier turns of this conversation (sentences kept verbatim, by topic):\n"
        f"{body}\n</earlier_conversation>"
    )


def _result_of(rec: CompactionRecord) -> CompactionResult:
    return CompactionResult(
        rec.strategy,
        rec.original_tokens,
        rec.compacted_tokens,
        rec.validation_score,
        rec.body.get("sections", {}),
        rec.message_count,
    )


def context_block(rec: CompactionRecord) -> str:
    """The framed compaction a prompt carries in place of the turns it covers."""
    return render(_result_of(rec), "injection", compaction_id=rec.compaction_id)


class Compactions:
    """The engine's compaction part: versions of a conversation's compaction, kept in the store."""

    def __init__(self, svc: AsyncMemoryService) -> None:
        self._svc = svc

    async def _turns(self, tenant: Tenant, conversation_id: str) -> list[TurnText]:
        msgs = await self._svc.store.recent_messages(tenant.instance_id, conversation_id, limit=MAX_TURNS)
        return [TurnText(m.message_id, m.role, m.content, timestamp=m.recorded_at) for m in msgs]

    async def compact(
        self, tenant: Tenant, request: CompactConversation, *, trigger: str = "manual_api"
    ) -> CompactionTrigger:
        """Compact the conversation's turns now (the offline compaction takes milliseconds to a second or two).

        Raises:
            InvalidInputError: an unknown strategy, a bad ``target_tokens``, ids that do not match the binding.
            ContextNotFoundError: the conversation has no turns.
            ConflictError: another compaction of the conversation is in progress.
        """
        strategy = request.strategy or "adaptive"
        if strategy not in STRATEGIES:
            raise InvalidInputError(f"strategy must be one of {', '.join(STRATEGIES)}", details={"field": "strategy"})
        n = request.target_tokens
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise InvalidInputError("target_tokens must be a positive integer", details={"field": "target_tokens"})
        _, conv = await self._svc.conversations.bound_target(
            tenant, request.conversation_id, customer_id=request.customer_id, user_id=request.user_id
        )
        if conv is None or conv.message_count == 0:
            raise ContextNotFoundError(
                f"conversation {request.conversation_id} has no turns to compact", code="conversation_empty"
            )
        store, cid = self._svc.store, request.conversation_id
        previous = await store.get_compaction(tenant.instance_id, cid)
        if previous is not None and not request.force and previous.message_count >= conv.message_count:
            return self._trigger(previous, status="already_compacted", trigger=trigger)
        now = utcnow()
        rec = CompactionRecord(tenant.instance_id, cid, str(uuid.uuid4()), strategy, trigger, now)
        begun = await store.begin_compaction(rec, stale_before=now - _STALE)
        if begun is None:
            raise ConflictError(f"a compaction of conversation {cid} is already in progress", code="compaction_running")
        try:
            turns = await self._turns(tenant, cid)
            extractor = self._svc.extractor
            result = await asyncio.get_running_loop().run_in_executor(
                None,
                lambda: compact_turns(turns, strategy=strategy, target_tokens=n, extractor=extractor, created_at=now),
            )
        except BaseException as exc:
            begun.status, begun.completed_at, begun.error_message = "failed", utcnow(), f"{type(exc).__name__}: {exc}"
            await store.finish_compaction(begun)
            raise
        begun.status, begun.completed_at = "completed", utcnow()
        begun.message_count, begun.original_tokens = result.turns, result.original_tokens
        begun.compacted_tokens, begun.compression_ratio = result.compacted_tokens, round(result.ratio, 4)
        begun.validation_score = None if result.validation_score is None else round(result.validation_score, 4)
        begun.body = {"sections": result.sections}
        await store.finish_compaction(begun)
        await store.audit(
            tenant.instance_id,
            "conversation.compact",
            detail={"conversation_id": cid, "version": begun.version, "turns": result.turns, "trigger": trigger},
        )
        return self._trigger(begun, status="completed", trigger=trigger, previous=previous)

    @staticmethod
    def _trigger(
        rec: CompactionRecord, *, status: str, trigger: str, previous: CompactionRecord | None = None
    ) -> CompactionTrigger:
        return CompactionTrigger.model_validate(
            {
                "compaction_id": rec.compaction_id,
                "conversation_id": rec.conversation_id,
                "status": status,
                "trigger_type": trigger,
                "initiated_at": rec.created_at,
                "version": rec.version,
                "strategy_used": rec.strategy,
                "compression_ratio": rec.compression_ratio,
                "validation_score": rec.validation_score,
                "previous_compaction_id": previous.compaction_id if previous is not None else None,
            }
        )

    async def get(self, tenant: Tenant, request: CompactedQuery) -> Compaction:
        """A completed version (default the latest), rendered in ``request.format``.

        Raises:
            ContextNotFoundError: no such compaction of the conversation.
        """
        if request.format not in FORMATS:
            raise InvalidInputError(f"format must be one of {', '.join(FORMATS)}", details={"field": "format"})
        v = request.version
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= _MAX_VERSION):
            raise InvalidInputError(
                f"version must be an integer from 1 to {_MAX_VERSION:,}", details={"field": "version"}
            )
        await self._svc.conversations.bound_target(
            tenant, request.conversation_id, customer_id=request.customer_id, user_id=request.user_id
        )
        rec = await self._svc.store.get_compaction(tenant.instance_id, request.conversation_id, version=v)
        if rec is None:
            which = f"version {v}" if v is not None else "compaction"
            raise ContextNotFoundError(
                f"conversation {request.conversation_id} has no {which}", code="compaction_not_found"
            )
        sections = rec.body.get("sections", {})
        score = rec.validation_score
        current = sections.get("current_state", [])
        return Compaction(
            conversation_id=rec.conversation_id,
            compaction_id=rec.compaction_id,
            version=rec.version,
            strategy_used=rec.strategy,  # type: ignore[arg-type]  # one of STRATEGIES, checked when it was made
            format=request.format,
            formatted_context=render(_result_of(rec), request.format, compaction_id=rec.compaction_id),
            original_token_count=rec.original_tokens,
            compacted_token_count=rec.compacted_tokens,
            compression_ratio=rec.compression_ratio or 0.0,
            validation_score=score,
            validation_passed=None if score is None else score >= VALIDATION_PASS,
            quality_warning=score is not None and score < VALIDATION_PASS,
            compacted_message_count=rec.message_count,
            facts=sections.get("facts", []),
            decisions=sections.get("decisions", []),
            preferences=sections.get("preferences", []),
            open_questions=sections.get("open_questions", []),
            current_state={"summary": " ".join(u["content"] for u in current), "turns": current},
            created_at=rec.created_at,
            completed_at=rec.completed_at,
        )

    async def status(self, tenant: Tenant, request: CompactionStatusQuery) -> CompactionStatus:
        await self._svc.conversations.bound_target(
            tenant, request.conversation_id, customer_id=request.customer_id, user_id=request.user_id
        )
        store, cid = self._svc.store, request.conversation_id
        latest = await store.get_compaction(tenant.instance_id, cid, completed=False)
        if latest is None:
            return CompactionStatus(conversation_id=cid, status="not_compacted")
        done = latest if latest.status == "completed" else await store.get_compaction(tenant.instance_id, cid)
        return CompactionStatus(
            conversation_id=cid,
            status=latest.status,
            compaction_id=latest.compaction_id,
            completed_at=done.completed_at if done else None,
            compression_ratio=done.compression_ratio if done else None,
            validation_score=done.validation_score if done else None,
            estimated_completion_seconds=1 if latest.status == "in_progress" else None,
            error_message=latest.error_message,
            latest_version=latest.version,
            latest_created_at=latest.created_at,
        )

    async def latest(self, tenant: Tenant, conversation_id: str) -> CompactionRecord | None:
        return await self._svc.store.get_compaction(tenant.instance_id, conversation_id)

    async def auto(self, tenant: Tenant, conversation_ids: Sequence[str]) -> None:
        """Compact (``adaptive``) each conversation whose turns newer than its latest compaction pass
        ``Settings.compaction_threshold_tokens`` (0: never). One already being compacted is left to that run."""
        threshold = self._svc.settings.compaction_threshold_tokens
        if threshold <= 0:
            return
        store = self._svc.store
        for cid in dict.fromkeys(conversation_ids):
            conv = await store.get_conversation(tenant.instance_id, cid)
            latest = await self.latest(tenant, cid)
            newer = (conv.message_count if conv else 0) - (latest.message_count if latest is not None else 0)
            if newer <= 0:
                continue
            fresh = await store.recent_messages(tenant.instance_id, cid, limit=min(newer, MAX_TURNS))
            if sum(estimate_tokens(m.content) for m in fresh) < threshold:
                continue
            try:
                await self.compact(tenant, CompactConversation(conversation_id=cid), trigger="auto_threshold")
            except ConflictError:
                continue
