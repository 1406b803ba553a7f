"""Split a document into segments: chat turns, or sentences of prose.

A chat document (by type, by shape — a list of messages — or because its lines look like ``Speaker: text``) gives
one segment per turn; anything else gives one segment per sentence, bullets and paragraphs included. Text is NFKC
normalised, typographic quotes are straightened and whitespace is collapsed, so that downstream regexes see one
canonical form.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

from .base import Segment
from .dates import parse_datetime_loose

__all__ = [
    "CHAT_DOCUMENT_TYPES",
    "normalize_text",
    "role_for_label",
    "split_document",
    "split_sentences",
]

CHAT_DOCUMENT_TYPES = frozenset(
    {"ai-chat-conversation", "human-chat-conversation", "meeting-transcript", "support-ticket", "chat", "conversation"}
)
_USER_LABELS = frozenset({"user", "human", "customer", "client", "me", "caller", "patient", "student", "member"})
_ASSISTANT_LABELS = frozenset(
    "assistant ai bot agent chatbot support model gpt chatgpt claude gemini copilot system representative rep "
    "helpdesk".split()
) | {"support agent", "ai assistant"}
# Lines that look like "Label: text" in e-mails and documents without being speaker turns.
_NOT_SPEAKERS = frozenset(
    "note notes subject date from to cc bcc re fwd sent time location where when attendees agenda summary http "
    "https tl;dr tldr ps p.s warning important tip example question answer status priority title description "
    "update reminder deadline reason result results step phone email address price total cost website url source "
    "edit caution disclaimer".split()
) | {"action items"}

_QUOTES = str.maketrans({"‘": "'", "’": "'", "ʼ": "'", "“": '"', "”": '"', "«": '"', "»": '"', "\u00a0": " "})
_WS = re.compile(r"[ \t\f\v\u200b]+")
_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TURN = re.compile(
    r"^\s*(?:\[(?P<ts>[^\]\n]{1,40})\]\s*)?(?:[*_]{1,2})?(?P<label>(?:[A-Z][\w'.&-]*|user|assistant|human|ai|bot|agent)"
    r"(?: [A-Z][\w'.&-]*){0,3})(?:\s*\((?P<ts2>[^)\n]{1,40})\))?(?:[*_]{1,2})?\s*:(?:[*_]{1,2})?(?:\s+(?P<text>.*))?$"
)
_BULLET = re.compile(r"^\s*(?:[-*•·▪‣◦]|\d{1,3}[.)]|[a-zA-Z][.)])\s+")
_HEADING = re.compile(r"^\s*#{1,6}\s+")
_PARAGRAPH = re.compile(r"\n\s*\n")
_BOUNDARY = re.compile(r"([.!?…]+)([\"')\]]*)\s+")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs etc e.g i.e eg ie inc ltd co corp jan feb mar apr jun jul aug sep sept oct nov dec "
    "approx dept est fig mt ave rd blvd ft hr hrs min mins sec lbs oz pp vol gen col lt sgt capt gov rep sen "
    "u.s u.k a.m p.m ph.d m.d b.a m.a cf al resp".split()
)
_DOTTED = re.compile(r"^(?:[a-z]\.)+[a-z]$", re.IGNORECASE)
# Abbreviations that often end a sentence too: they only block a split when the next word is not capitalised.
_TERMINAL_ABBREVIATIONS = frozenset("etc inc ltd co corp a.m p.m jr sr".split())
# "No. 5" is an abbreviation, "I said no. Then ..." is not.
_NUMBER_ABBREVIATIONS = frozenset(("no", "nos", "vol", "pp", "fig"))


def normalize_text(text: str) -> str:
    """NFKC-normalise, straighten quotes, drop control characters and collapse spaces (newlines are kept).

    Args:
        text: any text.

    Returns:
        The normalised text, stripped.
    """
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = _CTRL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [_WS.sub(" ", line).strip() for line in text.split("\n")]
    return "\n".join(lines).strip()


def role_for_label(label: str | None) -> str | None:
    """Map a speaker label to a chat role.

    Args:
        label: the speaker label ("User", "Assistant", "Caroline", ...).

    Returns:
        "user", "assistant", or ``None`` for a named person.
    """
    if not label:
        return None
    key = label.strip().lower()
    if key in _USER_LABELS:
        return "user"
    if key in _ASSISTANT_LABELS or key.startswith(("gpt-", "support ")):
        return "assistant"
    return None


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences.

    Does not split after common abbreviations ("Dr.", "e.g.", "U.S."), initials ("J. Smith") or inside numbers
    ("3.5"); does split at newlines.

    Args:
        text: normalised text.

    Returns:
        Non-empty, stripped sentences.
    """
    out: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        start = 0
        for m in _BOUNDARY.finditer(line):
            if m.group(1) == "." and _is_abbreviation(line, m.start(), line[m.end() : m.end() + 1]):
                continue
            piece = line[start : m.end()].strip()
            if piece:
                out.append(piece)
            start = m.end()
        rest = line[start:].strip()
        if rest:
            out.append(rest)
    return out


def _is_abbreviation(line: str, dot: int, following: str) -> bool:
    """True when the "." at ``dot`` ends an abbreviation or an initial rather than a sentence."""
    j = dot
    while j > 0 and not line[j - 1].isspace() and line[j - 1] not in "(\"'":
        j -= 1
    token = line[j:dot]
    if not token:
        return False
    low = token.lower()
    if low in _NUMBER_ABBREVIATIONS:
        return following.isdigit()
    if low in _TERMINAL_ABBREVIATIONS:
        return not following.isupper()
    if low in _ABBREVIATIONS or _DOTTED.match(token):
        return True
    # A lone capital letter ("J. Smith") is an initial; a lone "I." is a sentence ("...than I.")
    return len(token) == 1 and token.isupper() and token != "I"


def _parse_timestamp(value: Any, created_at: datetime) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        parsed = parse_datetime_loose(value)
        if parsed is not None:
            return parsed
        tm = re.fullmatch(r"\s*(\d{1,2}):(\d{2})(?::\d{2})?\s*([ap]\.?m\.?)?\s*", value, re.IGNORECASE)
        if tm:  # a time of day only ("[10:32] Alice: ..."): it happened on the document's day
            hour, minute = int(tm.group(1)), int(tm.group(2))
            if tm.group(3) and tm.group(3)[0].lower() == "p" and hour < 12:
                hour += 12
            if hour < 24 and minute < 60:
                return created_at.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return None


def _content_text(value: Any) -> str:
    """Text of a message's content, which may be a string or a list of parts ({"type": "text", "text": ...})."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return _content_text(value.get("text") or value.get("content"))
    if isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray)):
        return " ".join(_content_text(v) for v in value)
    return str(value)


def _message_segment(msg: Mapping[str, Any], n: int, created_at: datetime) -> Segment | None:
    text = normalize_text(_content_text(msg.get("content", msg.get("text", msg.get("message", msg.get("body"))))))
    speaker_raw = msg.get("speaker") or msg.get("name") or msg.get("author") or msg.get("sender")
    speaker = normalize_text(str(speaker_raw)) if speaker_raw else None
    role_raw = msg.get("role")
    role = role_for_label(str(role_raw)) if role_raw else role_for_label(speaker)
    caption_raw = msg.get("caption") or msg.get("image_caption")
    extra: dict[str, Any] = {}
    if caption_raw:
        caption = normalize_text(str(caption_raw))
        if caption:
            extra["caption"] = caption
            text = f"{text} [shares {caption}]".strip()
    if not text:
        return None
    ts = msg.get("timestamp", msg.get("created_at", msg.get("date_time", msg.get("time"))))
    seg_id = msg.get("id", msg.get("dia_id"))
    return Segment(
        id=str(seg_id) if seg_id not in (None, "") else f"t{n}",
        text=text,
        speaker=speaker or None,
        role=role,
        timestamp=_parse_timestamp(ts, created_at),
        extra=extra,
    )


def _split_messages(messages: Iterable[Any], created_at: datetime) -> list[Segment]:
    segments: list[Segment] = []
    n = 0
    for item in messages:
        n += 1
        if isinstance(item, Mapping):
            seg = _message_segment(item, n, created_at)
            if seg is not None:
                segments.append(seg)
        elif isinstance(item, str):
            turns = _split_turns(normalize_text(item), created_at, force=True)
            for turn in turns:
                turn.id = f"t{n}"
                segments.append(turn)
    return segments


def _turn_label(line: str) -> re.Match[str] | None:
    m = _TURN.match(line)
    if m is None:
        return None
    label = m["label"].strip()
    if label == "I" or label.lower().rstrip(".") in _NOT_SPEAKERS or any(ch.isdigit() for ch in label):
        return None
    return m


def _looks_like_chat(lines: list[str]) -> bool:
    nonempty = [ln for ln in lines if ln.strip()]
    labelled = [m for m in (_turn_label(ln) for ln in nonempty) if m is not None]
    if len(labelled) < 2:
        return False
    labels = {m["label"].strip().lower() for m in labelled}
    return (len(labels) >= 2 or any(role_for_label(x) for x in labels)) and len(labelled) * 10 >= len(nonempty) * 3


def _split_turns(text: str, created_at: datetime, *, force: bool) -> list[Segment]:
    lines = text.split("\n")
    if not force and not _looks_like_chat(lines):
        return []
    turns: list[Segment] = []
    current: list[str] = []
    speaker: str | None = None
    stamp: datetime | None = None

    def flush() -> None:
        body = " ".join(x for x in current if x).strip()
        if body:
            turns.append(
                Segment(
                    id=f"t{len(turns) + 1}", text=body, speaker=speaker, role=role_for_label(speaker), timestamp=stamp
                )
            )

    for line in lines:
        m = _turn_label(line)
        if m is None:
            current.append(line.strip())
            continue
        flush()
        current = [(m["text"] or "").strip()]
        speaker = m["label"].strip()
        raw_ts = m["ts"] or m["ts2"]
        stamp = _parse_timestamp(raw_ts, created_at) if raw_ts else None
    flush()
    return turns


def _prose_units(text: str) -> list[str]:
    """Paragraphs, with bullets and headings as units of their own and wrapped lines joined."""
    units: list[str] = []
    for para in _PARAGRAPH.split(text):
        current: list[str] = []
        in_bullet = False
        for raw in para.split("\n"):
            line = raw.strip()
            if not line:
                continue
            is_bullet = bool(_BULLET.match(line))
            is_heading = bool(_HEADING.match(line))
            if is_bullet or is_heading:
                if current:
                    units.append(" ".join(current))
                line = _HEADING.sub("", _BULLET.sub("", line, count=1), count=1).strip()
                if is_heading:
                    units.append(line)
                    current = []
                else:
                    current = [line]
                in_bullet = is_bullet
                continue
            # A short line without final punctuation is a title: keep it apart from the next line.
            if current and not in_bullet and _is_title(current[-1]) and not line[:1].islower():
                units.append(" ".join(current))
                current = []
            current.append(line)
        if current:
            units.append(" ".join(current))
    return [u for u in units if u]


def _is_title(line: str) -> bool:
    return len(line.split()) <= 8 and not line.rstrip().endswith((".", "!", "?", ",", ";", ":", '"', ")"))


def _flatten(document: Any) -> str:
    """The text of a document that is not a list of messages: a mapping's text field (else all its strings joined),
    any other value serialised as JSON."""
    if document is None or isinstance(document, str):
        return document or ""
    if isinstance(document, Mapping):
        for key in ("text", "content", "body", "document"):
            if isinstance(document.get(key), str):
                return str(document[key])
        return "\n".join(v for v in document.values() if isinstance(v, str))
    try:
        return json.dumps(document, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(document)


def _unique_ids(segments: list[Segment]) -> list[Segment]:
    seen: set[str] = set()
    for seg in segments:
        base = seg.id
        k = 1
        while seg.id in seen:
            k += 1
            seg.id = f"{base}#{k}"
        seen.add(seg.id)
    return segments


def split_document(
    document: str | dict[str, Any] | list[Any], document_type: str, *, created_at: datetime
) -> list[Segment]:
    """Split a document into segments (chat turns or sentences).

    Args:
        document: plain text; a list of message dicts; or ``{"messages": [...]}``. A message has ``content`` (or
            ``text``) and optionally ``id``, ``speaker``, ``role``, ``timestamp`` and ``caption`` (a shared photo's
            description, kept in ``extra["caption"]`` and appended to the text as `` [shares <caption>]``).
        document_type: "ai-chat-conversation", "human-chat-conversation", "meeting-transcript", "support-ticket",
            "document", "email", "note", ...
        created_at: the document's time; dates a time-of-day-only turn stamp ("[10:32] Alice: ...").

    Returns:
        Segments with unique ids: the message id when given, else ``t<n>`` for turns and ``s<n>`` for sentences.
        Never raises on malformed input; empty segments are dropped.
    """
    if isinstance(document, list):
        return _unique_ids(_split_messages(document, created_at))
    if isinstance(document, Mapping) and isinstance(document.get("messages"), list):
        return _unique_ids(_split_messages(document["messages"], created_at))
    text = normalize_text(_flatten(document))
    if not text:
        return []
    is_chat_type = (document_type or "").strip().lower() in CHAT_DOCUMENT_TYPES
    turns = _split_turns(text, created_at, force=is_chat_type)
    if turns and (not is_chat_type or any(t.speaker for t in turns)):
        return _unique_ids(turns)
    segments = [Segment(id="", text=s) for unit in _prose_units(text) for s in split_sentences(unit)]
    for i, seg in enumerate(segments, 1):
        seg.id = f"s{i}"
    return segments
