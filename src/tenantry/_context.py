"""The context-fetch half of :class:`~tenantry.service.AsyncMemoryService`: ``fetch_user``, ``fetch_customer``,
``fetch_client``, ``fetch_conversation`` and the unified ``fetch``, with the query checks and the ranked search
they share, as a mixin the service inherits from.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

from .errors import ContextNotFoundError, InvalidInputError
from .models import (
    ContextForPromptResponse,
    ContextResponse,
    ConversationContext,
    RecentMessage,
    ResponseMetadata,
    UnifiedContextResponse,
)
from .retrieval.engine import RetrievalEngine
from .retrieval.present import format_context, to_context_response
from .scope import ReadChain, Relationship, client_chain, customer_chain, user_chain, validate_id
from .settings import Settings
from .store.base import AsyncStore, InstanceRecord, SearchFilters
from .validation import MAX_RESULTS, normalise_types, parse_when, utcnow

__all__ = ["ContextFetchMixin"]

log = logging.getLogger("tenantry")


class ContextFetchMixin:
    """Read paths of the service: resolve a read chain, search it, audit the fetch. Needs ``settings``, ``store``
    and ``engine`` from the class it is mixed into."""

    settings: Settings
    store: AsyncStore
    engine: RetrievalEngine

    def _validate_fetch(self, search_query: Any, max_results: Any, mode: Any) -> list[str]:
        if search_query is None:
            queries: list[str] = []
        elif isinstance(search_query, str):
            queries = [search_query]
        elif isinstance(search_query, list | tuple) and all(isinstance(q, str) for q in search_query):
            queries = list(search_query)
        else:
            raise InvalidInputError("search_query must be a list of strings", details={"field": "search_query"})
        if len(queries) > 16 or any(len(q) > 4000 for q in queries):
            raise InvalidInputError("search_query: at most 16 queries of 4000 characters")
        if isinstance(max_results, bool) or not isinstance(max_results, int) or not 1 <= max_results <= MAX_RESULTS:
            raise InvalidInputError(
                f"max_results must be an integer from 1 to {MAX_RESULTS}", details={"field": "max_results"}
            )
        if mode not in ("fast", "accurate"):
            raise InvalidInputError("mode must be 'fast' or 'accurate'", details={"field": "mode"})
        return queries

    async def _search_chain(
        self,
        chain: ReadChain,
        *,
        search_query: Any,
        max_results: int,
        types: Any,
        mode: str,
        filters: dict[str, Any] | None,
        as_of: Any,
        token_budget: int | None,
        explain: bool,
        conversation: ConversationContext | None = None,
    ) -> ContextResponse:
        t0 = time.perf_counter()
        queries = self._validate_fetch(search_query, max_results, mode)
        sf = SearchFilters(types=normalise_types(types), metadata=filters, as_of=parse_when(as_of, "as_of"))
        ranked, timings = await self.engine.search(chain, queries, k=max_results, filters=sf, mode=mode)
        budget = token_budget if token_budget is not None else self.settings.token_budget
        if not isinstance(budget, int) or budget < 1:
            raise InvalidInputError("token_budget must be a positive integer")
        resp = to_context_response(ranked, budget=budget, explain=explain)
        resp.conversation_context = conversation
        resp.metadata = ResponseMetadata(
            correlation_id=str(uuid.uuid4()),
            retrieved_at=utcnow(),
            mode=mode,
            scopes=[s.source for s in chain.scopes] or ["instance"],
            timing_ms={**timings, "total_ms": (time.perf_counter() - t0) * 1000},
            token_budget=budget,
            tokens_used=resp.metadata.tokens_used,
            truncated=resp.metadata.truncated,
        )
        return resp

    async def fetch_user(
        self,
        inst: InstanceRecord,
        user_id: str | None,
        *,
        customer_id: str | None = None,
        include_world: bool = False,
        **kw: Any,
    ) -> ContextResponse:
        chain = user_chain(
            inst.instance_id, inst.relationship, user_id=user_id, customer_id=customer_id, include_world=include_world
        )
        return await self._fetch(inst, chain, kw)

    async def fetch_customer(
        self, inst: InstanceRecord, customer_id: str | None, *, include_world: bool = False, **kw: Any
    ) -> ContextResponse:
        chain = customer_chain(
            inst.instance_id, inst.relationship, customer_id=customer_id, include_world=include_world
        )
        assert customer_id is not None
        if not await self.store.customer_exists(inst.instance_id, customer_id):
            raise ContextNotFoundError(f"customer {customer_id} is unknown to this instance", code="customer_not_found")
        return await self._fetch(inst, chain, kw)

    async def fetch_client(self, inst: InstanceRecord, *, include_world: bool = False, **kw: Any) -> ContextResponse:
        return await self._fetch(inst, client_chain(inst.instance_id, include_world=include_world), kw)

    async def fetch_conversation(
        self,
        inst: InstanceRecord,
        conversation_id: str,
        *,
        user_id: str | None = None,
        customer_id: str | None = None,
        include_world: bool = False,
        recent_turns: int = 20,
        **kw: Any,
    ) -> ContextResponse:
        conversation_id = validate_id(conversation_id, "conversation_id", required=True) or ""
        validate_id(user_id, "user_id")
        validate_id(customer_id, "customer_id")
        conv = await self.store.get_conversation(inst.instance_id, conversation_id)
        if conv is not None:
            if (user_id is not None and user_id != conv.user_id) or (
                customer_id is not None
                and customer_id != conv.customer_id
                and not (inst.relationship is Relationship.B2C and not conv.customer_id)
            ):
                raise InvalidInputError(
                    f"conversation {conversation_id} is bound to another customer/user than the ids passed",
                    code="conversation_scope_mismatch",
                )
            cust, user = conv.customer_id or None, conv.user_id or None
        else:
            cust, user = customer_id, user_id
        if user:
            chain = user_chain(
                inst.instance_id, inst.relationship, user_id=user, customer_id=cust, include_world=include_world
            )
        elif cust:
            chain = customer_chain(inst.instance_id, inst.relationship, customer_id=cust, include_world=include_world)
        else:
            chain = client_chain(inst.instance_id, include_world=include_world)
        msgs = await self.store.recent_messages(inst.instance_id, conversation_id, limit=recent_turns)
        cc = ConversationContext(
            conversation_id=conversation_id,
            recent_turns=[{"role": m.role, "content": m.content, "timestamp": m.recorded_at.isoformat()} for m in msgs],
        )
        return await self._fetch(inst, chain, kw, conversation=cc)

    async def _fetch(
        self,
        inst: InstanceRecord,
        chain: ReadChain,
        kw: dict[str, Any],
        conversation: ConversationContext | None = None,
    ) -> ContextResponse:
        allowed = {"search_query", "max_results", "types", "mode", "filters", "as_of", "token_budget", "explain"}
        unknown = set(kw) - allowed
        if unknown:
            raise InvalidInputError(f"unknown fetch parameters {sorted(unknown)}")
        resp = await self._search_chain(
            chain,
            search_query=kw.get("search_query"),
            max_results=kw.get("max_results", 10),
            types=kw.get("types"),
            mode=kw.get("mode", "fast"),
            filters=kw.get("filters"),
            as_of=kw.get("as_of"),
            token_budget=kw.get("token_budget"),
            explain=bool(kw.get("explain", False)),
            conversation=conversation,
        )
        await self.store.audit(
            inst.instance_id,
            "context.fetch",
            detail={
                "scopes": resp.metadata.scopes,
                "items": len(resp.items()),
                "ms": round(resp.metadata.timing_ms.get("total_ms", 0), 2),
            },
        )
        return resp

    async def fetch(
        self,
        inst: InstanceRecord,
        *,
        conversation_id: str | None = None,
        user_id: str | None = None,
        customer_id: str | None = None,
        search_query: Any = None,
        max_results: int = 20,
        types: Any = None,
        mode: str = "fast",
        scopes: Sequence[str] | None = None,
        include_conversation_context: bool = True,
        include_scope_labels: bool = False,
        include_world: bool = False,
        token_budget: int | None = None,
        explain: bool = False,
    ) -> UnifiedContextResponse:
        """One call across conversation → user → customer (→ client) scopes; de-duplicated, with ``scope_map``."""
        conversation_id = validate_id(conversation_id, "conversation_id")
        user_id = validate_id(user_id, "user_id")
        customer_id = validate_id(customer_id, "customer_id")
        wanted = list(scopes) if scopes else ["conversation", "user", "customer"]
        bad = set(wanted) - {"conversation", "user", "customer", "client"}
        if bad:
            raise InvalidInputError(f"unknown scopes {sorted(bad)}")
        common: dict[str, Any] = {
            "search_query": search_query,
            "max_results": max_results,
            "types": types,
            "mode": mode,
            "token_budget": token_budget,
            "explain": explain,
        }
        calls: list[tuple[str, Any]] = []
        if conversation_id and "conversation" in wanted:
            calls.append(
                (
                    "conversation",
                    self.fetch_conversation(
                        inst,
                        conversation_id,
                        user_id=user_id,
                        customer_id=customer_id,
                        include_world=include_world,
                        **common,
                    ),
                )
            )
        if user_id and "user" in wanted:
            calls.append(
                ("user", self.fetch_user(inst, user_id, customer_id=customer_id, include_world=include_world, **common))
            )
        if customer_id and "customer" in wanted and inst.relationship is Relationship.B2B:
            calls.append(
                (
                    "customer",
                    self._fetch(
                        inst,
                        customer_chain(
                            inst.instance_id, inst.relationship, customer_id=customer_id, include_world=include_world
                        ),
                        common,
                    ),
                )
            )
        if "client" in wanted:
            calls.append(("client", self.fetch_client(inst, include_world=include_world, **common)))
        if not calls:
            raise InvalidInputError("fetch needs a conversation_id, user_id or customer_id (or scopes=['client'])")
        results = await asyncio.gather(*(c for _, c in calls), return_exceptions=True)
        out = UnifiedContextResponse()
        seen: set[str] = set()
        for (name, _), res in zip(calls, results, strict=True):
            if isinstance(res, InvalidInputError):
                raise res
            if isinstance(res, BaseException):
                log.warning("unified fetch: %s sub-fetch failed: %s", name, res)
                continue
            out.scopes_queried.append(name)
            for field in ("facts", "preferences", "episodes", "emotions", "temporal_events"):
                for item in getattr(res, field):
                    if item.id in seen:
                        continue
                    seen.add(item.id)
                    getattr(out, field).append(item)
                    out.scope_map[item.id] = name
            if name == "conversation" and res.conversation_context is not None:
                out.conversation_context = res.conversation_context
        if conversation_id and include_conversation_context and out.conversation_context is not None:
            turns = out.conversation_context.recent_turns
            out.conversation_context_for_prompt = ContextForPromptResponse(
                available=bool(turns),
                recent_messages=[
                    RecentMessage(role=t["role"], content=t["content"], timestamp=t.get("timestamp")) for t in turns
                ],
                recent_message_count=len(turns),
                total_message_count=len(turns),
            )
        out.total_items = len(seen)
        out.formatted_context = format_context(out, include_scope_labels=include_scope_labels)
        out.metadata = ResponseMetadata(
            correlation_id=str(uuid.uuid4()), retrieved_at=utcnow(), mode=mode, scopes=out.scopes_queried
        )
        return out
