"""Context fetches: a read chain (from the caller's resolved target), searched and ranked within a token budget,
and the unified fetch across conversation → user → customer (→ client)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from ..contract import ContextQuery
from ..contract import ConversationContextQuery
from ..contract import UnifiedContextQuery
from ..errors import InvalidInputError
from ..models import ContextForPromptResponse
from ..models import ContextResponse
from ..models import ConversationContext
from ..models import RecentMessage
from ..models import ResponseMetadata
from ..models import UnifiedContextResponse
from ..retrieval.present import format_context
from ..retrieval.present import ranked_items
from ..retrieval.present import to_context_response
from ..scope import ReadChain
from ..scope import Relationship
from ..scope import ScopeLevel
from ..scope import Target
from ..scope import Tenant
from ..scope import resolve_target
from ..scope import validate_id
from ..store.base import SearchFilters
from ..validation import MAX_RESULTS
from ..validation import check_filters
from ..validation import check_text
from ..validation import normalise_types
from ..validation import parse_when
from ..validation import utcnow

if TYPE_CHECKING:
    from ._core import AsyncMemoryService

__all__ = ["Context"]

_LISTS = ("facts", "preferences", "episodes", "emotions", "temporal_events")
RESPONSE_SHAPES = ("by_type", "ranked")
_SCOPES = ("conversation", "user", "customer", "client")
MAX_RECENT_TURNS = 5000


def _queries(search_query: object) -> list[str]:
    if search_query is None:
        return []
    if isinstance(search_query, str):
        return [search_query]
    if isinstance(search_query, list | tuple) and all(isinstance(q, str) for q in search_query):
        queries = list(search_query)
    else:
        raise InvalidInputError("search_query must be a list of strings", details={"field": "search_query"})
    if len(queries) > 16 or any(len(q) > 4000 for q in queries):
        raise InvalidInputError("search_query: at most 16 queries of 4000 characters")
    return [check_text(q, "search_query") for q in queries]


def _check_query(query: ContextQuery) -> list[str]:
    queries = _queries(query.search_query)
    n = query.max_results
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_RESULTS:
        raise InvalidInputError(
            f"max_results must be an integer from 1 to {MAX_RESULTS}", details={"field": "max_results"}
        )
    if query.mode not in ("fast", "accurate"):
        raise InvalidInputError("mode must be 'fast' or 'accurate'", details={"field": "mode"})
    budget = query.token_budget
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
        raise InvalidInputError("token_budget must be a positive integer")
    check_filters(query.filters)
    if query.response_shape not in RESPONSE_SHAPES:
        raise InvalidInputError("response_shape must be 'by_type' or 'ranked'", details={"field": "response_shape"})
    return queries


class Context:
    def __init__(self, svc: AsyncMemoryService) -> None:
        self._svc = svc

    async def search(
        self, chain: ReadChain, query: ContextQuery, *, conversation: ConversationContext | None = None
    ) -> ContextResponse:
        """Search ``chain`` (lexical + vector, fused, re-weighted by scope, confidence and recency), pack the best
        items into the token budget, and audit the read (ids and counts, never content)."""
        t0 = time.perf_counter()
        queries = _check_query(query)
        filters = SearchFilters(
            types=normalise_types(query.types),
            metadata=dict(query.filters) if query.filters is not None else None,
            as_of=parse_when(query.as_of, "as_of"),
        )
        ranked, timings = await self._svc.engine.search(
            chain, queries, k=query.max_results, filters=filters, mode=query.mode
        )
        budget = query.token_budget if query.token_budget is not None else self._svc.settings.token_budget
        resp = to_context_response(ranked, budget=budget, explain=query.explain, shape=query.response_shape)
        resp.conversation_context = conversation
        resp.metadata = ResponseMetadata(
            correlation_id=str(uuid.uuid4()),
            retrieved_at=utcnow(),
            mode=query.mode,
            scopes=[s.source for s in chain.scopes] or ["instance"],
            timing_ms={**timings, "total_ms": (time.perf_counter() - t0) * 1000},
            token_budget=budget,
            tokens_used=resp.metadata.tokens_used,
            truncated=resp.metadata.truncated,
        )
        await self._svc.store.audit(
            chain.instance_id,
            "context.fetch",
            detail={
                "scopes": [s.path for s in chain.scopes] or ["instance"],
                "items": len(resp.items()),
                "ms": round(resp.metadata.timing_ms["total_ms"], 2),
            },
        )
        return resp

    async def user(self, target: Target, query: ContextQuery) -> ContextResponse:
        """That exact user's memories + their customer's + the client's (+ world with ``include_world``)."""
        return await self.search(target.context(include_world=query.include_world), query)

    async def customer(self, target: Target, query: ContextQuery) -> ContextResponse:
        """The customer's shared memories + the client's; never a user's. A customer with no data is answered like
        any other (its lists hold the client's memories that match, or nothing), not with an error: the Synap client
        logs a warning on every 404 here."""
        return await self.search(target.context(include_world=query.include_world), query)

    async def client(self, target: Target, query: ContextQuery) -> ContextResponse:
        return await self.search(target.context(include_world=query.include_world), query)

    async def conversation(self, tenant: Tenant, query: ConversationContextQuery) -> ContextResponse:
        """The conversation's recent turns + the context of the (customer, user) it is bound to."""
        n = query.recent_turns
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_RECENT_TURNS:
            raise InvalidInputError(
                f"recent_turns must be an integer from 0 to {MAX_RECENT_TURNS}", details={"field": "recent_turns"}
            )
        target, _ = await self._svc.conversations.bound_target(
            tenant, query.conversation_id, customer_id=query.customer_id, user_id=query.user_id
        )
        turns = await self._svc.conversations.recent(tenant, query.conversation_id, n)
        cc = ConversationContext(
            conversation_id=query.conversation_id,
            recent_turns=[t.model_dump(mode="json", exclude={"message_id"}) for t in turns],
        )
        return await self.search(target.context(include_world=query.include_world), query, conversation=cc)

    async def unified(self, tenant: Tenant, query: UnifiedContextQuery) -> UnifiedContextResponse:
        """One call across conversation → user → customer (→ client when listed in ``scopes``), de-duplicated, with
        ``scope_map`` and a prompt-ready ``formatted_context``. A failure of any part is the caller's error: no
        partial answer is returned."""
        conversation_id = validate_id(query.conversation_id, "conversation_id")
        wanted = list(query.scopes) if query.scopes else ["conversation", "user", "customer"]
        bad = set(wanted) - set(_SCOPES)
        if bad:
            raise InvalidInputError(f"unknown scopes {sorted(bad)}")
        _check_query(query)
        # Every target is resolved (and may refuse) before any search starts.
        calls: list[tuple[str, Callable[[], Awaitable[ContextResponse]]]] = []
        if conversation_id and "conversation" in wanted:
            conv_query = ConversationContextQuery(
                **{k: getattr(query, k) for k in ContextQuery.__dataclass_fields__},
                conversation_id=conversation_id,
                customer_id=query.customer_id,
                user_id=query.user_id,
            )
            calls.append(("conversation", partial(self.conversation, tenant, conv_query)))
        if query.user_id and "user" in wanted:
            user = resolve_target(tenant, customer_id=query.customer_id, user_id=query.user_id, level=ScopeLevel.USER)
            calls.append(("user", partial(self.user, user, query)))
        if query.customer_id and "customer" in wanted and tenant.relationship is Relationship.B2B:
            customer = resolve_target(tenant, customer_id=query.customer_id, level=ScopeLevel.CUSTOMER)
            calls.append(("customer", partial(self.search, customer.context(include_world=query.include_world), query)))
        if "client" in wanted:
            calls.append(("client", partial(self.client, Target(tenant), query)))
        if not calls:
            raise InvalidInputError("fetch needs a conversation_id, user_id or customer_id (or scopes=['client'])")
        results = await asyncio.gather(*(call() for _, call in calls), return_exceptions=True)
        parts: list[tuple[str, ContextResponse]] = []
        for (name, _), res in zip(calls, results, strict=True):
            if isinstance(res, BaseException):
                raise res
            parts.append((name, res))
        return self._merge(query, parts)

    @staticmethod
    def _merge(query: UnifiedContextQuery, parts: list[tuple[str, ContextResponse]]) -> UnifiedContextResponse:
        out = UnifiedContextResponse()
        seen: set[str] = set()
        for name, res in parts:
            out.scopes_queried.append(name)
            for field in _LISTS:
                for item in getattr(res, field):
                    if item.id in seen:
                        continue
                    seen.add(item.id)
                    getattr(out, field).append(item)
                    out.scope_map[item.id] = name
            if name == "conversation" and res.conversation_context is not None:
                out.conversation_context = res.conversation_context
        if query.conversation_id and query.include_conversation_context and out.conversation_context is not None:
            turns = out.conversation_context.recent_turns
            out.conversation_context_for_prompt = ContextForPromptResponse(
                available=bool(turns),
                recent_messages=[RecentMessage.model_validate(t) for t in turns],
                recent_message_count=len(turns),
                total_message_count=len(turns),
            )
        if query.response_shape == "ranked":
            out.ranked = ranked_items(out.items())
        out.total_items = len(seen)
        out.formatted_context = format_context(out, include_scope_labels=query.include_scope_labels)
        out.metadata = ResponseMetadata(
            correlation_id=str(uuid.uuid4()), retrieved_at=utcnow(), mode=query.mode, scopes=out.scopes_queried
        )
        return out
