""":class:`TenantryStore`: a LangGraph ``BaseStore`` (sync ``batch`` and async ``abatch``) over tenantry, embedded
or against a server (the same arguments as :class:`~tenantry.sdk.Tenantry`).

Namespaces map to scopes by this rule (the rest of the namespace is free):

==========================================  =====================================
namespace                                    scope
==========================================  =====================================
``("customer", C, "user", U, ...)``          user ``U`` of customer ``C`` (b2b)
``("user", U, ...)``                         user ``U`` (b2c)
``("customer", C, ...)``                     customer ``C``'s shared memories
anything else                                the client scope (the whole instance)
==========================================  =====================================

An item is one memory of that scope, written verbatim (no extraction): its text is what search matches (the value's
fields as ``key: value`` lines), and its metadata keeps the value exactly as put, with the namespace and key, so
``get`` returns the same dict. ``search`` takes a natural-language ``query`` (tenantry's hybrid lexical + vector
ranking) and a ``filter`` on the value's top-level fields (``$eq $ne $gt $gte $lt $lte``, applied by the store
before ranking); ``limit + offset`` is at most 50. ``delete`` and ``list_namespaces`` (``prefix``, ``suffix``,
``max_depth``) work too. No TTL (``supports_ttl`` is false).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Iterable
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

from langgraph.store.base import BaseStore
from langgraph.store.base import GetOp
from langgraph.store.base import Item
from langgraph.store.base import ListNamespacesOp
from langgraph.store.base import MatchCondition
from langgraph.store.base import Op
from langgraph.store.base import PutOp
from langgraph.store.base import Result
from langgraph.store.base import SearchItem
from langgraph.store.base import SearchOp

from ..errors import MemoryNotFoundError
from ..sync import SyncTenantry

__all__ = ["TenantryStore", "scope_of"]

_FIELD = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_OPS = {"$eq": "eq", "$ne": "ne", "$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}
_MAX = 50  # results one search can return (tenantry's max_results)


def scope_of(namespace: tuple[str, ...]) -> tuple[str | None, str | None, int]:
    """(customer_id, user_id, how many leading elements name the scope) of a namespace (module docstring)."""
    ns = namespace
    if len(ns) >= 4 and ns[0] == "customer" and ns[2] == "user":
        return ns[1], ns[3], 4
    if len(ns) >= 2 and ns[0] == "user":
        return None, ns[1], 2
    if len(ns) >= 2 and ns[0] == "customer":
        return ns[1], None, 2
    return None, None, 0


def _text(value: Mapping[str, Any]) -> str:
    """What search matches: the value's fields as ``key: value`` lines (nested values as JSON)."""
    lines = [f"{k}: {v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}" for k, v in value.items()]
    return "\n".join(lines) or "{}"


def _filters(namespace: tuple[str, ...], flt: dict[str, Any] | None) -> dict[str, Any]:
    """tenantry metadata filters for a namespace prefix and a LangGraph value filter."""
    out: dict[str, Any] = {f"langgraph.n{i}": part for i, part in enumerate(namespace)}
    for field, cond in (flt or {}).items():
        if not _FIELD.match(field):
            raise ValueError(f"filter field {field!r}: letters, digits, _ and - only")
        if isinstance(cond, dict) and cond and all(k in _OPS for k in cond):
            out[f"langgraph.value.{field}"] = {_OPS[k]: v for k, v in cond.items()}
        elif isinstance(cond, dict):
            raise ValueError(f"filter on {field!r}: operators are {', '.join(_OPS)}")
        else:
            out[f"langgraph.value.{field}"] = cond
    return out


def _item(meta: dict[str, Any], score: float | None = None) -> Item:
    lg = meta["langgraph"]
    args = {
        "value": lg["value"],
        "key": lg["key"],
        "namespace": tuple(lg["namespace"]),
        "created_at": datetime.fromisoformat(lg["created_at"]),
        "updated_at": datetime.fromisoformat(lg["updated_at"]),
    }
    return SearchItem(**args, score=score) if score is not None else Item(**args)


def _matches(ns: tuple[str, ...], cond: MatchCondition) -> bool:
    path = tuple(cond.path)
    if len(ns) < len(path):
        return False
    pairs = (
        zip(ns, path, strict=False) if cond.match_type == "prefix" else zip(reversed(ns), reversed(path), strict=False)
    )
    return all(p == "*" or k == p for k, p in pairs)


class TenantryStore(BaseStore):
    """A LangGraph store on tenantry. Takes :class:`~tenantry.sdk.Tenantry`'s arguments (``dsn=...`` embedded,
    ``url=..., api_key=...`` remote); the SDK runs on a private event-loop thread, so the store serves sync graphs
    (``batch``) and async ones (``abatch``) alike. Close it with :meth:`close`."""

    supports_ttl = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._sync = SyncTenantry(*args, **kwargs)  # the SDK, open, on its own event-loop thread
        self._runner = self._sync._runner
        self.sdk = self._sync.sdk
        self._instance = self.sdk.instance_id or ""

    def close(self) -> None:
        self._sync.close()

    def __enter__(self) -> TenantryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- BaseStore ----------------------------------------------------------------------------------------------
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return self._runner.run(self._batch(list(ops)))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        future = asyncio.run_coroutine_threadsafe(self._batch(list(ops)), self._runner.loop)
        return await asyncio.wrap_future(future)

    async def _batch(self, ops: list[Op]) -> list[Result]:
        results: list[Result] = []
        for op in ops:  # in order: a put then a get of the same key in one batch sees the put
            if isinstance(op, GetOp):
                results.append(await self._get(op.namespace, op.key))
            elif isinstance(op, PutOp):
                await self._put(op.namespace, op.key, op.value)
                results.append(None)
            elif isinstance(op, SearchOp):
                results.append(await self._search(op))
            elif isinstance(op, ListNamespacesOp):
                results.append(await self._list_namespaces(op))
            else:
                raise TypeError(f"unknown store operation {type(op).__name__}")
        return results

    # -- operations ---------------------------------------------------------------------------------------------
    def _memory_id(self, namespace: tuple[str, ...], key: str) -> str:
        digest = hashlib.sha256(json.dumps([self._instance, list(namespace), key]).encode()).hexdigest()
        return f"lg-{digest[:40]}"

    async def _get(self, namespace: tuple[str, ...], key: str) -> Item | None:
        customer_id, user_id, _ = scope_of(namespace)
        try:
            memory = await self.sdk.memories.get(
                self._memory_id(namespace, key), customer_id=customer_id, user_id=user_id
            )
        except MemoryNotFoundError:
            return None
        return _item(memory.metadata)

    async def _put(self, namespace: tuple[str, ...], key: str, value: Mapping[str, Any] | None) -> None:
        customer_id, user_id, _ = scope_of(namespace)
        memory_id = self._memory_id(namespace, key)
        old = await self._get(namespace, key)
        if old is not None:
            await self.sdk.memories.delete(memory_id, customer_id=customer_id, user_id=user_id)
        if value is None:
            return
        now = datetime.now(UTC).isoformat()
        level = "user" if user_id else "customer" if customer_id else "client"
        lg: dict[str, Any] = {f"n{i}": part for i, part in enumerate(namespace)}
        lg |= {"namespace": list(namespace), "key": key, "value": dict(value), "updated_at": now}
        lg["created_at"] = old.created_at.isoformat() if old is not None else now
        record: dict[str, Any] = {
            "kind": "memory",
            "scope": {"level": level, "customer_id": customer_id or "", "user_id": user_id or ""},
            "memory_id": memory_id,
            "memory_type": "fact",
            "content": _text(value),
            "confidence": 1.0,
            "metadata": {"langgraph": lg},
            "created_at": lg["created_at"],
        }
        report = await self.sdk.import_data([record])
        if report.skipped:
            raise ValueError(f"cannot store {namespace}/{key}: {report.skipped[0].reason}")

    async def _search(self, op: SearchOp) -> list[SearchItem]:
        if op.limit + op.offset > _MAX:
            raise ValueError(f"limit + offset is at most {_MAX} on this store")
        customer_id, user_id, named = scope_of(op.namespace_prefix)
        if 0 < len(op.namespace_prefix) < named or (
            op.namespace_prefix[:1] in (("customer",), ("user",)) and not named
        ):
            raise ValueError("a search prefix names its scope whole: ('customer', C[, 'user', U]) or ('user', U)")
        query = [op.query] if op.query else []
        kwargs: dict[str, Any] = {"search_query": query, "max_results": op.limit + op.offset}
        kwargs["filters"] = _filters(op.namespace_prefix, op.filter)
        if user_id:
            ctx = await self.sdk.user.context.fetch(user_id, customer_id, **kwargs)
        elif customer_id:
            ctx = await self.sdk.customer.context.fetch(customer_id, **kwargs)
        else:
            ctx = await self.sdk.client.context.fetch(**kwargs)
        hits = [i for i in ctx.items() if "langgraph" in i.metadata]
        found = [_item(i.metadata, i.score or 0.0) for i in hits]
        return [i for i in found if isinstance(i, SearchItem)][op.offset : op.offset + op.limit]

    async def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        seen: dict[tuple[str, ...], None] = {}
        page = 1
        while True:
            res = await self.sdk.memories.list(page=page, page_size=100, types=["fact"])
            for m in res.data:
                lg = m.metadata.get("langgraph")
                if not isinstance(lg, dict):
                    continue
                ns = tuple(lg["namespace"])
                if all(_matches(ns, c) for c in op.match_conditions or ()):
                    seen[ns[: op.max_depth] if op.max_depth is not None else ns] = None
            if page >= res.total_pages:
                break
            page += 1
        return sorted(seen)[op.offset : op.offset + op.limit]
