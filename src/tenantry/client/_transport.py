"""``RemoteTransport``: the SDK's transport to a tenantry server over HTTP.

Each operation the SDK namespaces send (``transport.call(op, **params)``) maps to one route of
:mod:`tenantry.server`, and each answer is parsed into the same pydantic model the engine returns, so embedded and
remote mode differ only by the wire. Errors come back as the tenantry exception the server's engine raised
(:mod:`tenantry.client._errors`). A 429 is retried (at most ``rate_limit_retries`` times, waiting ``Retry-After``
up to 10 s); nothing else is retried.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import httpx
from pydantic_core import to_jsonable_python

from .._version import __version__
from ..errors import AuthenticationError, InvalidInputError, RateLimitError
from ..models import (
    BatchCreateResponse,
    ContextResponse,
    CreateMemoryResponse,
    Memory,
    MemoryPage,
    MemoryStatusResponse,
    UnifiedContextResponse,
)
from ._errors import error_from_response, transport_error

__all__ = ["RemoteTransport"]

_NIL_UUID = "00000000-0000-0000-0000-000000000000"
_FETCH_KEYS = frozenset({"search_query", "max_results", "types", "mode", "filters", "as_of", "token_budget", "explain"})
_BATCH_KEYS = frozenset(
    {"document", "document_type", "user_id", "customer_id", "document_id", "document_created_at", "mode", "metadata"}
)


def _clean(**kw: Any) -> dict[str, Any]:
    return {k: to_jsonable_python(v) for k, v in kw.items() if v is not None}


def _check_fetch_kwargs(kw: dict[str, Any]) -> None:
    unknown = set(kw) - _FETCH_KEYS
    if unknown:  # the engine's own message, so both modes fail alike
        raise InvalidInputError(f"unknown fetch parameters {sorted(unknown)}")


def _context(data: dict[str, Any]) -> dict[str, Any]:
    ctx = data.get("context") or {}
    return {
        **ctx,
        "conversation_context": data.get("conversation_context"),
        "metadata": data.get("metadata") or {},
    }


class RemoteTransport:
    """HTTP transport of :class:`~tenantry.sdk.Tenantry` (``Tenantry(url=..., api_key=...)``).

    Args:
        url: base URL of the server, e.g. ``http://127.0.0.1:8000`` (a path prefix is kept).
        api_key: the instance's API key (``tn_...``); the key alone decides the instance.
        timeout: seconds per request.
        rate_limit_retries: how often a 429 is retried after its ``Retry-After``.
        transport: an httpx transport (tests: ``httpx.ASGITransport``); default: the network.
    """

    def __init__(
        self,
        url: str,
        api_key: str | None,
        *,
        timeout: float = 30.0,
        rate_limit_retries: int = 2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.rate_limit_retries = rate_limit_retries
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._ops: dict[str, Callable[..., Awaitable[Any]]] = {
            "create_memory": self.create_memory,
            "batch_create": self.batch_create,
            "ingestion_status": self.ingestion_status,
            "get_memory": self.get_memory,
            "update_memory": self.update_memory,
            "delete_memory": self.delete_memory,
            "list_memories": self.list_memories,
            "record_messages": self.record_messages,
            "ingest_transcript": self.ingest_transcript,
            "fetch_user": self.fetch_user,
            "fetch_customer": self.fetch_customer,
            "fetch_client": self.fetch_client,
            "fetch_conversation": self.fetch_conversation,
            "fetch": self.fetch,
            "delete_data": self.delete_data,
        }

    # -- lifecycle ----------------------------------------------------------------------------------------------
    async def open(self) -> dict[str, Any]:
        """Check the key with ``GET /api/v1/auth/whoami``; returns ``{"instance_id", "client_id", ...}``.

        Raises:
            AuthenticationError: no key configured, or the server refuses it.
            ServiceUnavailableError: the server cannot be reached.
        """
        if not self.api_key:
            raise AuthenticationError(
                "remote mode needs an API key: Tenantry(url=..., api_key=...) or TENANTRY_API_KEY",
                code="missing_api_key",
            )
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=self.url,
                headers={"Authorization": f"Bearer {self.api_key}", "User-Agent": f"tenantry-python/{__version__}"},
                timeout=self.timeout,
                transport=self._transport,
            )
        try:
            who: dict[str, Any] = await self._request("GET", "/api/v1/auth/whoami")
        except BaseException:
            await self.close()
            raise
        return {**who, "mode": "remote", "url": self.url}

    async def close(self) -> None:
        """Close the connection pool."""
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    async def call(self, op: str, /, **params: Any) -> Any:
        """Run one SDK operation on the server.

        Raises:
            AuthenticationError: called before ``open``.
            InvalidInputError: an operation that has no remote route.
            TenantryError: whatever the server's engine raised, same class and ``code``.
        """
        if self._http is None:
            raise AuthenticationError("SDK not initialized: await sdk.initialize() first", code="not_initialized")
        handler = self._ops.get(op)
        if handler is None:
            raise InvalidInputError(f"operation {op!r} is not available in remote mode", code="unsupported_operation")
        return await handler(**params)

    async def _request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        assert self._http is not None
        attempt = 0
        while True:
            try:
                resp = await self._http.request(
                    method,
                    path,
                    json=json,
                    params=params,
                    headers={"X-Correlation-ID": f"tn_{uuid.uuid4().hex[:20]}"},
                )
            except httpx.HTTPError as exc:
                raise transport_error(exc, self.url) from exc
            if resp.is_success:
                return resp.json()
            err = error_from_response(resp)
            if isinstance(err, RateLimitError) and attempt < self.rate_limit_retries:
                attempt += 1
                await asyncio.sleep(min(err.retry_after, 10.0))
                continue
            raise err

    # -- memories -----------------------------------------------------------------------------------------------
    async def create_memory(
        self,
        document: Any,
        *,
        document_type: str | None = None,
        user_id: str | None = None,
        customer_id: str | None = None,
        document_id: str | None = None,
        document_created_at: datetime | str | None = None,
        mode: str | None = None,
        metadata: dict[str, Any] | None = None,
        conversation_id: str | None = None,
    ) -> CreateMemoryResponse:
        body = _clean(
            document=document,
            document_type=document_type,
            user_id=user_id,
            customer_id=customer_id,
            document_id=document_id,
            document_created_at=document_created_at,
            mode=mode,
            metadata=metadata,
            conversation_id=conversation_id,
        )
        return CreateMemoryResponse.model_validate(await self._request("POST", "/api/v1/memories/create", json=body))

    async def batch_create(
        self, documents: Sequence[dict[str, Any]], *, fail_fast: bool = False
    ) -> BatchCreateResponse:
        if not isinstance(documents, list | tuple) or not documents:
            raise InvalidInputError("documents must be a non-empty list")
        docs: list[Any] = []
        for i, d in enumerate(documents):
            if isinstance(d, dict) and set(d) - _BATCH_KEYS:
                raise InvalidInputError(f"documents[{i}] has unknown fields {sorted(set(d) - _BATCH_KEYS)}")
            docs.append(to_jsonable_python(d))
        data = await self._request("POST", "/api/v1/memories/batch", json={"documents": docs, "fail_fast": fail_fast})
        results: list[CreateMemoryResponse | dict[str, Any]] = []
        for r in data["results"]:
            if r.get("status") == "failed" and r.get("ingestion_id") == _NIL_UUID:
                results.append(
                    {
                        "index": r.get("index"),
                        "status": "failed",
                        "error_message": r.get("error_message"),
                        "code": r.get("code"),
                    }
                )
            else:
                fields = {
                    k: r[k] for k in ("ingestion_id", "document_id", "status", "queued_at", "error_message") if k in r
                }
                results.append(CreateMemoryResponse.model_validate(fields))
        return BatchCreateResponse(
            batch_id=data["batch_id"],
            total=data["total"],
            succeeded=data["succeeded"],
            failed=data["failed"],
            results=results,
        )

    async def ingestion_status(self, ingestion_id: str) -> MemoryStatusResponse:
        data = await self._request("GET", f"/api/v1/memories/status/{ingestion_id}")
        return MemoryStatusResponse.model_validate(data)

    async def get_memory(self, memory_id: str, *, user_id: str | None = None, customer_id: str | None = None) -> Memory:
        data = await self._request(
            "GET", f"/api/v1/memories/{memory_id}", params=_clean(user_id=user_id, customer_id=customer_id)
        )
        return Memory.model_validate(data)

    async def update_memory(
        self,
        memory_id: str,
        document: str,
        *,
        merge_strategy: str = "smart-merge",
        metadata: dict[str, Any] | None = None,
        user_id: str | None = None,
        customer_id: str | None = None,
        document_type: str | None = None,
    ) -> Memory:
        body = _clean(
            document=document,
            merge_strategy=merge_strategy,
            metadata=metadata,
            user_id=user_id,
            customer_id=customer_id,
            document_type=document_type,
        )
        return Memory.model_validate(await self._request("PATCH", f"/api/v1/memories/{memory_id}", json=body))

    async def delete_memory(
        self, memory_id: str, *, user_id: str | None = None, customer_id: str | None = None
    ) -> dict[str, Any]:
        data: dict[str, Any] = await self._request(
            "DELETE", f"/api/v1/memories/{memory_id}", params=_clean(user_id=user_id, customer_id=customer_id)
        )
        return data

    async def list_memories(
        self,
        *,
        user_id: str | None = None,
        customer_id: str | None = None,
        page: int = 1,
        page_size: int = 20,
        types: Sequence[str] | None = None,
        include_superseded: bool = False,
    ) -> MemoryPage:
        params = _clean(
            user_id=user_id,
            customer_id=customer_id,
            page=page,
            page_size=page_size,
            types=list(types) if types else None,
            include_superseded=include_superseded or None,
        )
        return MemoryPage.model_validate(await self._request("GET", "/api/v1/memories", params=params))

    # -- conversations ------------------------------------------------------------------------------------------
    async def record_messages(
        self, messages: Sequence[dict[str, Any]], *, extract: bool = True
    ) -> list[dict[str, Any]]:
        if not extract:
            raise InvalidInputError("extract=False is not available in remote mode", code="unsupported_operation")
        data = await self._request(
            "POST", "/v1/conversations/messages/batch", json={"messages": to_jsonable_python(list(messages))}
        )
        results: list[dict[str, Any]] = data["results"]
        return results

    async def ingest_transcript(
        self,
        conversation_id: str,
        transcript: str | list[dict[str, Any]],
        *,
        user_id: str | None = None,
        customer_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        conversation_type: str | None = None,
        started_at: datetime | str | None = None,
    ) -> dict[str, Any]:
        body = _clean(
            conversation_id=conversation_id,
            transcript=transcript,
            user_id=user_id,
            customer_id=customer_id,
            metadata=metadata,
            conversation_type=conversation_type,
            started_at=started_at,
        )
        data: dict[str, Any] = await self._request("POST", "/v1/conversations/ingest", json=body)
        return data

    # -- context ------------------------------------------------------------------------------------------------
    async def _fetch(self, path: str, body: dict[str, Any]) -> ContextResponse:
        return ContextResponse.model_validate(_context(await self._request("POST", path, json=body)))

    async def fetch_user(
        self, user_id: str | None, *, customer_id: str | None = None, include_world: bool = False, **kw: Any
    ) -> ContextResponse:
        _check_fetch_kwargs(kw)
        body = _clean(user_id=user_id, customer_id=customer_id, include_world=include_world, **kw)
        return await self._fetch("/v1/context/user/fetch", body)

    async def fetch_customer(
        self, customer_id: str | None, *, include_world: bool = False, **kw: Any
    ) -> ContextResponse:
        _check_fetch_kwargs(kw)
        body = _clean(customer_id=customer_id, include_world=include_world, **kw)
        return await self._fetch("/v1/context/customer/fetch", body)

    async def fetch_client(self, *, include_world: bool = False, **kw: Any) -> ContextResponse:
        _check_fetch_kwargs(kw)
        return await self._fetch("/v1/context/client/fetch", _clean(include_world=include_world, **kw))

    async def fetch_conversation(
        self,
        conversation_id: str,
        *,
        user_id: str | None = None,
        customer_id: str | None = None,
        include_world: bool = False,
        recent_turns: int = 20,
        **kw: Any,
    ) -> ContextResponse:
        _check_fetch_kwargs(kw)
        body = _clean(
            conversation_id=conversation_id,
            user_id=user_id,
            customer_id=customer_id,
            include_world=include_world,
            recent_turns=recent_turns,
            **kw,
        )
        return await self._fetch("/v1/context/conversation/fetch", body)

    async def fetch(
        self,
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
        body = _clean(
            conversation_id=conversation_id,
            user_id=user_id,
            customer_id=customer_id,
            search_query=search_query,
            max_results=max_results,
            types=types,
            mode=mode,
            scopes=list(scopes) if scopes else None,
            include_conversation_context=include_conversation_context,
            include_scope_labels=include_scope_labels,
            include_world=include_world,
            token_budget=token_budget,
            explain=explain,
        )
        data = await self._request("POST", "/v1/context/fetch", json=body)
        extra = {
            k: data[k]
            for k in (
                "scope_map",
                "formatted_context",
                "scopes_queried",
                "total_items",
                "conversation_context_for_prompt",
            )
            if k in data
        }
        return UnifiedContextResponse.model_validate({**_context(data), **extra})

    # -- deletion -----------------------------------------------------------------------------------------------
    async def delete_data(
        self,
        *,
        customer_id: str | None = None,
        user_id: str | None = None,
        conversation_id: str | None = None,
    ) -> dict[str, Any]:
        body = _clean(customer_id=customer_id, user_id=user_id, conversation_id=conversation_id)
        data = await self._request("POST", "/v1/data/delete", json=body)
        return {"receipt_id": data["receipt_id"], "deleted_at": data["deleted_at"], "deleted": data["deleted"]}
