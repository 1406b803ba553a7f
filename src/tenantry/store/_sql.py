"""SQL shared by the SQL backends: the one scope filter, metadata filters, FTS query text, row mapping.

``scope_filter`` is the only function that turns a read chain into a WHERE clause; every memory query of every
backend is built with it (tested in ``tests/test_scope.py`` and by the conformance suite's isolation property).
"""

from __future__ import annotations

import json
import re
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import Literal

from ..errors import InvalidInputError
from ..scope import ReadChain
from ..scope import Scope
from ..scope import ScopeLevel
from .base import SearchFilters

__all__ = [
    "DialectName",
    "dumps",
    "fts_terms",
    "loads",
    "metadata_filter",
    "parse_ts",
    "scope_filter",
    "search_filter",
    "to_ts",
]

DialectName = Literal["sqlite", "postgres"]
_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "contains")
_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,64}(\.[A-Za-z0-9_\-]{1,64}){0,3}$")


def _ph(dialect: DialectName) -> str:
    return "?" if dialect == "sqlite" else "%s"


def scope_filter(chain: ReadChain, *, alias: str = "m", dialect: DialectName = "sqlite") -> tuple[str, list[Any]]:
    """WHERE clause (parenthesised) restricting ``alias``'s rows to the scopes of ``chain``.

    Every table holding tenant rows has ``instance_id, customer_id, level, user_id`` (``conversations`` derives its
    ``level`` from its ids), so this one function scopes every query, deletions included. With
    ``chain.descendants`` a CUSTOMER scope also matches the USER scopes under it (the erasure of a customer).
    A chain with no scope and no ``whole_instance`` flag yields a clause that matches nothing (fail closed).
    """
    p = _ph(dialect)
    if chain.whole_instance:
        return f"({alias}.instance_id = {p})", [chain.instance_id]
    parts: list[str] = []
    params: list[Any] = []
    for s in chain.scopes:
        clause, args = _one_scope(s, alias, p, descendants=chain.descendants)
        parts.append(clause)
        params.extend(args)
    if not parts:
        return "(1 = 0)", []
    return "(" + " OR ".join(parts) + ")", params


def _one_scope(s: Scope, a: str, p: str, *, descendants: bool) -> tuple[str, list[Any]]:
    if s.level is ScopeLevel.USER:
        return (
            f"({a}.instance_id = {p} AND {a}.customer_id = {p} AND {a}.level = 'user' AND {a}.user_id = {p})",
            [s.instance_id, s.customer_id, s.user_id],
        )
    if s.level is ScopeLevel.CUSTOMER:
        levels = "IN ('customer', 'user')" if descendants else "= 'customer'"
        return (
            f"({a}.instance_id = {p} AND {a}.customer_id = {p} AND {a}.level {levels})",
            [s.instance_id, s.customer_id],
        )
    return (f"({a}.instance_id = {p} AND {a}.customer_id = '' AND {a}.level = {p})", [s.instance_id, s.level.value])


def search_filter(filters: SearchFilters, *, dialect: DialectName = "sqlite") -> tuple[str, list[Any]]:
    """`` AND ...`` conditions for :class:`~tenantry.store.base.SearchFilters` (types, superseded, ``as_of``,
    conversation, metadata) on alias ``m``; ``("", [])`` when there is nothing to filter. Same semantics on every
    backend; it comes after :func:`scope_filter`, never instead of it."""
    p = _ph(dialect)
    clauses: list[str] = []
    params: list[Any] = []
    if filters.types:
        if dialect == "sqlite":
            clauses.append(f"m.memory_type IN ({','.join('?' * len(filters.types))})")
            params.extend(filters.types)
        else:
            clauses.append("m.memory_type = ANY(%s)")
            params.append(list(filters.types))
    if not filters.include_superseded:
        clauses.append("m.superseded_by IS NULL")
    if filters.as_of is not None:
        as_of = filters.as_of if filters.as_of.tzinfo else filters.as_of.replace(tzinfo=UTC)
        ts: Any = to_ts(as_of) if dialect == "sqlite" else as_of  # SQLite stores ISO text, PostgreSQL timestamptz
        clauses.append(f"m.created_at <= {p} AND (m.valid_until IS NULL OR m.valid_until > {p})")
        params.extend([ts, ts])
    if filters.conversation_id:
        clauses.append(f"m.conversation_id = {p}")
        params.append(filters.conversation_id)
    meta, meta_params = metadata_filter(filters.metadata, dialect=dialect)
    if meta:
        clauses.append(meta)
        params.extend(meta_params)
    return (" AND " + " AND ".join(clauses)) if clauses else "", params


def metadata_filter(
    filters: dict[str, Any] | None, *, alias: str = "m", dialect: DialectName = "sqlite"
) -> tuple[str, list[Any]]:
    """AND of conditions on the JSON ``metadata`` column. Values: ``{"k": v}`` (eq) or ``{"k": {"op": v}}``.

    Same semantics on every backend: comparisons are numeric when the value is a number, text otherwise; a missing
    key matches only ``ne`` and ``nin``; ``contains`` is substring for text and membership for arrays.
    """
    if not filters:
        return "", []
    if not isinstance(filters, dict):
        raise InvalidInputError("metadata filters must be an object of {key: value | {op: value}}")
    p = _ph(dialect)
    clauses: list[str] = []
    params: list[Any] = []
    for key, spec in filters.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise InvalidInputError(f"invalid metadata filter key {key!r}")
        conds = spec if isinstance(spec, dict) and spec and all(k in _OPS for k in spec) else {"eq": spec}
        if isinstance(spec, dict) and spec and not all(k in _OPS for k in spec):
            bad = [k for k in spec if k not in _OPS]
            raise InvalidInputError(f"unknown filter operator(s) {bad}; use one of {', '.join(_OPS)}")
        for op, value in conds.items():
            clause, args = _condition(alias, key, op, value, p, dialect)
            clauses.append(clause)
            params.extend(args)
    return " AND ".join(clauses), params


def _text_expr(alias: str, key: str, dialect: DialectName) -> str:
    if dialect == "sqlite":
        return f"json_extract({alias}.metadata, '$.{key}')"
    path = ",".join(key.split("."))
    return f"({alias}.metadata #>> '{{{path}}}')"


def _num_expr(alias: str, key: str, dialect: DialectName) -> str:
    if dialect == "sqlite":
        return (
            f"(CASE WHEN json_type({alias}.metadata, '$.{key}') IN ('integer','real') "
            f"THEN json_extract({alias}.metadata, '$.{key}') END)"
        )
    path = ",".join(key.split("."))
    return (
        f"(CASE WHEN jsonb_typeof({alias}.metadata #> '{{{path}}}') = 'number' "
        f"THEN ({alias}.metadata #>> '{{{path}}}')::double precision END)"
    )


def _scalar(value: Any, what: str) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return value
    raise InvalidInputError(f"filter value for {what} must be a string, number or boolean")


def _condition(alias: str, key: str, operator: str, value: Any, p: str, dialect: DialectName) -> tuple[str, list[Any]]:
    text = _text_expr(alias, key, dialect)
    if dialect == "sqlite":
        # json_extract returns 1/0 for booleans; compare on the JSON text form for them.
        text = (
            f"(CASE json_type({alias}.metadata, '$.{key}') WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
            f"ELSE CAST(json_extract({alias}.metadata, '$.{key}') AS TEXT) END)"
        )
    if operator in ("in", "nin"):
        if not isinstance(value, list) or not value:
            raise InvalidInputError(f"operator {operator!r} on {key!r} needs a non-empty list")
        vals = [str(_scalar(v, key)) for v in value]
        marks = ", ".join([p] * len(vals))
        if operator == "in":
            return f"({text} IN ({marks}))", vals
        return f"({text} IS NULL OR {text} NOT IN ({marks}))", vals
    if operator == "contains":
        v = str(_scalar(value, key))
        if dialect == "sqlite":
            return (
                f"(CASE json_type({alias}.metadata, '$.{key}') WHEN 'array' THEN EXISTS (SELECT 1 FROM "
                f"json_each({alias}.metadata, '$.{key}') je WHERE CAST(je.value AS TEXT) = {p}) "
                f"ELSE instr(CAST(json_extract({alias}.metadata, '$.{key}') AS TEXT), {p}) > 0 END)",
                [v, v],
            )
        path = ",".join(key.split("."))
        return (
            f"(CASE jsonb_typeof({alias}.metadata #> '{{{path}}}') WHEN 'array' THEN EXISTS (SELECT 1 FROM "
            f"jsonb_array_elements_text({alias}.metadata #> '{{{path}}}') je WHERE je = {p}) "
            f"ELSE strpos({alias}.metadata #>> '{{{path}}}', {p}) > 0 END)",
            [v, v],
        )
    v = _scalar(value, key)
    sql_op = {"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}.get(operator)
    if sql_op is None:
        raise InvalidInputError(f"unknown filter operator {operator!r}")
    if isinstance(v, int | float) and not isinstance(value, bool):
        expr = _num_expr(alias, key, dialect)
        if operator == "ne":
            return f"({expr} IS NULL OR {expr} <> {p})", [float(v)]
        return f"({expr} {sql_op} {p})", [float(v)]
    if operator == "ne":
        return f"({text} IS NULL OR {text} <> {p})", [str(v)]
    # Text order is byte order on both backends (PostgreSQL would otherwise use the database's collation).
    collate = ' COLLATE "C"' if dialect == "postgres" and operator in ("gt", "gte", "lt", "lte") else ""
    return f"({text}{collate} {sql_op} {p})", [str(v)]


_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9']*")
STOPWORDS = frozenset(
    """a an and are as at be been but by did do does for from had has have he her hers him his how i if in into is it
    its me my of on or our she so than that the their them then there these they this to was we were what when where
    which who whom why will with would you your yours about did does""".split()
)


def fts_terms(query: str, *, max_terms: int = 32) -> list[str]:
    """Query words for an FTS OR-query: lowercased, stopwords dropped, quoted (so no FTS syntax leaks in)."""
    seen: dict[str, None] = {}
    for t in _TOKEN.findall(query.lower()):
        t = t.replace("'", "")
        if t and t not in STOPWORDS and len(t) > 1:
            seen.setdefault(t, None)
    return list(seen)[:max_terms]


def to_ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def parse_ts(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value))


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def loads(value: Any) -> Any:
    """A JSON column's value: SQLite returns the text, PostgreSQL (jsonb) the decoded value."""
    return json.loads(value) if isinstance(value, str) else value
