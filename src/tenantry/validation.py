"""Input checks shared by the engine and the HTTP layer: document types, memory-type vocabularies, timestamps,
caller metadata. Pure functions; they raise :class:`~tenantry.errors.InvalidInputError` with a clear message."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from typing import Any

from .errors import InvalidInputError
from .errors import PayloadTooLargeError

__all__ = [
    "DOCUMENT_TYPES",
    "MAX_DOCUMENT_ID",
    "MAX_RESULTS",
    "check_metadata",
    "normalise_types",
    "parse_when",
    "utcnow",
    "validate_document_id",
]

DOCUMENT_TYPES = frozenset(
    {
        "ai-chat-conversation",
        "human-chat-conversation",
        "document",
        "email",
        "pdf",
        "image",
        "audio",
        "meeting-transcript",
        "support-ticket",
        "knowledge-article",
        "note",
    }
)
_TYPE_ALIASES = {
    "fact": "fact",
    "facts": "fact",
    "preference": "preference",
    "preferences": "preference",
    "episode": "episode",
    "episodes": "episode",
    "emotion": "emotion",
    "emotions": "emotion",
    "temporal": "temporal_event",
    "temporal_event": "temporal_event",
    "temporal_events": "temporal_event",
}
_RESERVED_METADATA = frozenset({"instance_id", "client_id", "customer_id", "user_id", "scope", "scope_level"})
MAX_RESULTS = 50
MAX_DOCUMENT_ID = 512


def normalise_types(types: Sequence[str] | str | None) -> tuple[str, ...] | None:
    """Accept both vocabularies (``facts``/``fact``, ``temporal``/``temporal_event``, ``all``)."""
    if types is None:
        return None
    if isinstance(types, str):
        types = [types]
    if not isinstance(types, list | tuple):
        raise InvalidInputError("types must be a list of strings")
    out: list[str] = []
    for t in types:
        if not isinstance(t, str):
            raise InvalidInputError("types must be a list of strings")
        if t.lower() == "all":
            return None
        norm = _TYPE_ALIASES.get(t.lower())
        if norm is None:
            raise InvalidInputError(f"unknown memory type {t!r}; use facts, preferences, episodes, emotions, temporal")
        out.append(norm)
    return tuple(dict.fromkeys(out)) or None


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_when(value: Any, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            from .pipeline.dates import parse_datetime_loose

            dt2 = parse_datetime_loose(value)
            if dt2 is None:
                raise InvalidInputError(f"{name} is not a date/time: {value[:40]!r}") from None
            dt = dt2
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    raise InvalidInputError(f"{name} must be an ISO 8601 string or a datetime")


def validate_document_id(value: object) -> str | None:
    """A caller's document id: any printable text of 1 to 512 characters (URLs, file paths, titles with spaces,
    ``#``, ``|`` ...). Unlike scope ids it is never part of a scope; line breaks and control characters are refused.
    Returns it unchanged, or ``None`` when absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInputError(
            f"document_id must be a string, got {type(value).__name__}", details={"field": "document_id"}
        )
    if len(value) > MAX_DOCUMENT_ID or not value.isprintable() or not value.strip():
        raise InvalidInputError(
            f"document_id must be 1-{MAX_DOCUMENT_ID} printable characters, without line breaks or control "
            f"characters (got {value[:40]!r})",
            details={"field": "document_id"},
        )
    return value


def check_metadata(metadata: Any) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidInputError("metadata must be an object")
    bad = sorted(k for k in metadata if k in _RESERVED_METADATA)
    if bad:
        raise InvalidInputError(
            f"metadata may not carry scope keys ({', '.join(bad)}): pass them as parameters",
            code="scope_in_metadata",
        )
    if len(json.dumps(metadata, default=str)) > 64_000:
        raise PayloadTooLargeError("metadata is larger than 64 KB")
    return metadata
