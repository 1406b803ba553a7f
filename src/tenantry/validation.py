"""Input checks shared by the engine and the HTTP layer: document types, memory-type vocabularies, timestamps,
caller metadata. Pure functions; they raise :class:`~tenantry.errors.InvalidInputError` with a clear message."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from typing import Any

from .errors import InvalidInputError
from .errors import PayloadTooLargeError

__all__ = [
    "DOCUMENT_TYPES",
    "MAX_DOCUMENT_ID",
    "MAX_FILTER_KEYS",
    "MAX_FILTER_VALUES",
    "MAX_RESULTS",
    "check_filters",
    "check_json",
    "check_metadata",
    "check_text",
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
MAX_RESULTS = 50
MAX_FILTER_KEYS = 32  # metadata filter keys per fetch
MAX_FILTER_VALUES = 1000  # values of one ``in`` / ``nin`` list
_MAX_DEPTH = 32  # nesting of a JSON value (metadata, structured documents, filters)
# Dates a caller may give (document times, ``as_of``): wide enough for any real document, narrow enough that every
# backend stores and reads them back in any time zone.
EARLIEST = datetime(1000, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 12, 31, tzinfo=UTC)
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
    """A caller's date/time as an aware datetime (``None`` when absent; UTC when it names no zone), within
    ``EARLIEST`` … ``LATEST``."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        check_text(value, name)
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            from .pipeline.dates import parse_datetime_loose

            loose = parse_datetime_loose(value)
            if loose is None:
                raise InvalidInputError(f"{name} is not a date/time: {value[:40]!r}", details={"field": name}) from None
            dt = loose
    else:
        raise InvalidInputError(f"{name} must be an ISO 8601 string or a datetime", details={"field": name})
    out_of_range = InvalidInputError(
        f"{name} must be between {EARLIEST.year:04d}-01-01 and {LATEST.year}-12-31 (UTC)", details={"field": name}
    )
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    try:  # the caller's time zone is kept (relative dates resolve in it); the range is checked in UTC
        in_range = EARLIEST <= dt.astimezone(UTC) <= LATEST
    except (OverflowError, ValueError):
        in_range = False
    if not in_range:
        raise out_of_range
    return dt


_NUL = "\x00"


def check_text(value: str, field: str) -> str:
    """``value`` unchanged when it is valid Unicode text (it can be stored, indexed and sent back as UTF-8).

    Raises:
        InvalidInputError: a lone surrogate (``"\\ud800"``), which no UTF-8 store or JSON answer can carry, or a NUL
            character (U+0000), which PostgreSQL's text and JSON types cannot hold (refused on SQLite too, so a
            write means the same on both backends).
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(
            f"{field} is not valid Unicode text (it holds a lone surrogate)",
            code="invalid_text",
            details={"field": field},
        ) from None
    if _NUL in value:
        raise InvalidInputError(
            f"{field} holds a NUL character (U+0000) at position {value.index(_NUL)}; text cannot contain it",
            code="invalid_text",
            details={"field": field},
        )
    return value


def check_json(value: Any, field: str, *, _depth: int = 0) -> None:
    """``value`` is a JSON value every backend stores and reads back: text without lone surrogates, finite numbers,
    objects with text keys, at most 32 levels deep. Other Python values (dates, UUIDs, ...) are stored as their text.

    Raises:
        InvalidInputError: ``NaN``/``Infinity``, a lone surrogate, a non-text key, or too deep a value.
    """
    if _depth > _MAX_DEPTH:
        raise InvalidInputError(f"{field} is nested more than {_MAX_DEPTH} levels deep", details={"field": field})
    if isinstance(value, str):
        check_text(value, field)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"{field} holds a number that is not finite ({value})", details={"field": field})
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(f"{field} has a key that is not text: {key!r}", details={"field": field})
            check_text(key, field)
            check_json(item, field, _depth=_depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            check_json(item, field, _depth=_depth + 1)


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
    """Caller metadata: an object of JSON values (:func:`check_json`), at most 64 KB. Keys named like scope ids
    (``customer_id``, ``user_id``, ``scope`` ...) are plain caller data: stored and returned as given, never read to
    decide a scope (the scope comes from the typed ids alone)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidInputError("metadata must be an object", details={"field": "metadata"})
    check_json(metadata, "metadata")
    if len(json.dumps(metadata, default=str)) > 64_000:
        raise PayloadTooLargeError("metadata is larger than 64 KB")
    return metadata


def check_filters(filters: Any) -> dict[str, Any] | None:
    """Metadata filters of a fetch: an object of at most 32 keys, JSON values, ``in``/``nin`` lists of at most 1000
    values (the operators themselves are checked where the query is built)."""
    if filters is None:
        return None
    if not isinstance(filters, dict):
        raise InvalidInputError("filters must be an object of {key: value | {op: value}}", details={"field": "filters"})
    if len(filters) > MAX_FILTER_KEYS:
        raise InvalidInputError(f"filters: at most {MAX_FILTER_KEYS} keys", details={"field": "filters"})
    check_json(filters, "filters")
    for spec in filters.values():
        for listed in (spec.get("in"), spec.get("nin")) if isinstance(spec, dict) else ():
            if isinstance(listed, list) and len(listed) > MAX_FILTER_VALUES:
                raise InvalidInputError(
                    f"filters: an in/nin list holds at most {MAX_FILTER_VALUES} values", details={"field": "filters"}
                )
    return filters
