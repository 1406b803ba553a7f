"""The Python SDK: one class, two transports (embedded engine or a remote tenantry server).

Namespaces and parameters follow the ``maximem-synap`` client, so code written for it runs by changing the import::

    from tenantry import MaximemSynapSDK   # alias of Tenantry

    sdk = MaximemSynapSDK()                  # embedded: TENANTRY_DSN, default ~/.tenantry/tenantry.db
    await sdk.initialize()
    r = await sdk.memories.create(document="User: I'm vegan", customer_id="acme", user_id="u1")
    await sdk.memories.wait_for_completion(r.ingestion_id)
    ctx = await sdk.user.context.fetch(user_id="u1", customer_id="acme", search_query=["diet"])

Every namespace method is a thin call ``transport.call(op, **params)``; the embedded transport maps ``op`` to the
:class:`~tenantry.service.AsyncMemoryService` method of the same name, the remote one to an HTTP route. So the two
modes share every line of behaviour but the wire.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from .errors import AuthenticationError, InvalidInputError
from .models import (
    BatchCreateResponse,
    ContextForPromptResponse,
    ContextResponse,
    CreateMemoryResponse,
    Memory,
    MemoryPage,
    MemoryStatusResponse,
    UnifiedContextResponse,
)
from .scope import Relationship
from .settings import Settings

__all__ = ["MaximemSynapSDK", "Tenantry", "Transport"]

C = TypeVar("C")


class Transport(Protocol):
    """What the SDK needs from a transport. ``call`` raises :mod:`tenantry.errors` classes only."""

    async def open(self) -> dict[str, Any]: ...  # returns {"instance_id", "client_id", ...}

    async def close(self) -> None: ...

    async def call(self, op: str, /, **params: Any) -> Any: ...


class EmbeddedTransport:
    """Runs the engine in-process over ``settings.resolved_dsn()``; starts the ingestion workers."""

    def __init__(self, settings: Settings, *, relationship: Relationship = Relationship.B2B) -> None:
        self.settings = settings
        self.relationship = relationship
        self.service: Any = None
        self.instance: Any = None

    async def open(self) -> dict[str, Any]:
        from .service import AsyncMemoryService

        self.service = await AsyncMemoryService.open(self.settings)
        try:
            self.instance = await self.service.instance(self.settings.instance, create=self.relationship)
        except BaseException:
            await self.service.close(drain=False)
            raise
        self.service.start_workers()
        return {"instance_id": self.instance.instance_id, "client_id": self.instance.client_id, "mode": "embedded"}

    async def close(self) -> None:
        if self.service is not None:
            await self.service.close(drain=True)
            self.service = None

    async def call(self, op: str, /, **params: Any) -> Any:
        if self.service is None:
            raise AuthenticationError("SDK not initialized: await sdk.initialize() first", code="not_initialized")
        return await getattr(self.service, op)(self.instance, **params)


def _drop_none(**kw: Any) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if v is not None}


class _Namespace:
    def __init__(self, sdk: Tenantry) -> None:
        self._sdk = sdk

    async def _call(self, op: str, /, **params: Any) -> Any:
        return await self._sdk._transport_call(op, **params)


class MemoriesNamespace(_Namespace):
    async def create(
        self,
        document: str | dict[str, Any] | list[Any],
        user_id: str | None = None,
        customer_id: str | None = None,
        document_type: str = "ai-chat-conversation",
        document_id: str | None = None,
        document_created_at: datetime | str | None = None,
        mode: str = "long-range",
        metadata: dict[str, Any] | None = None,
    ) -> CreateMemoryResponse:
        """Queue a document for extraction; returns at once with ``ingestion_id`` and ``status="queued"``."""
        result: CreateMemoryResponse = await self._call(
            "create_memory",
            document=document,
            **_drop_none(
                user_id=user_id,
                customer_id=customer_id,
                document_type=document_type,
                document_id=document_id,
                document_created_at=document_created_at,
                mode=mode,
                metadata=metadata,
            ),
        )
        return result

    async def batch_create(
        self, documents: Sequence[dict[str, Any] | Any], fail_fast: bool = False
    ) -> BatchCreateResponse:
        docs = [d.model_dump(exclude_none=True) if hasattr(d, "model_dump") else d for d in documents]
        result: BatchCreateResponse = await self._call("batch_create", documents=docs, fail_fast=fail_fast)
        return result

    async def create_from_file(
        self,
        user_id: str | None = None,
        customer_id: str | None = None,
        file_path: str | os.PathLike[str] | None = None,
        text: str | None = None,
        document_type: str | None = None,
        mode: str = "long-range",
        metadata: dict[str, Any] | None = None,
    ) -> CreateMemoryResponse:
        if (file_path is None) == (text is None):
            raise InvalidInputError("give exactly one of file_path or text")
        if file_path is not None:
            path = Path(file_path)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise InvalidInputError(f"cannot read {path}: {exc}") from exc
            document_type = document_type or ("email" if path.suffix == ".eml" else "document")
        return await self.create(
            text or "",
            user_id=user_id,
            customer_id=customer_id,
            document_type=document_type or "document",
            mode=mode,
            metadata=metadata,
        )

    async def status(self, ingestion_id: Any) -> MemoryStatusResponse:
        result: MemoryStatusResponse = await self._call("ingestion_status", ingestion_id=str(ingestion_id))
        return result

    async def wait_for_completion(
        self, ingestion_id: Any, timeout_seconds: float = 300, poll_interval_seconds: float = 0.1
    ) -> MemoryStatusResponse:
        """Poll until the job is ``completed``, ``failed`` or ``partial_success``; ``DeadlineExceededError`` after
        ``timeout_seconds``."""
        from .errors import DeadlineExceededError

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        while True:
            st = await self.status(ingestion_id)
            if st.status in ("completed", "failed", "partial_success"):
                return st
            if loop.time() > deadline:
                raise DeadlineExceededError(f"ingestion {ingestion_id} still {st.status} after {timeout_seconds}s")
            await asyncio.sleep(poll_interval_seconds)

    async def get(self, memory_id: Any, user_id: str | None = None, customer_id: str | None = None) -> Memory:
        result: Memory = await self._call(
            "get_memory", memory_id=str(memory_id), **_drop_none(user_id=user_id, customer_id=customer_id)
        )
        return result

    async def update(
        self,
        memory_id: Any,
        document: str,
        merge_strategy: str = "smart-merge",
        document_type: str | None = None,
        metadata: dict[str, Any] | None = None,
        user_id: str | None = None,
        customer_id: str | None = None,
    ) -> Memory:
        result: Memory = await self._call(
            "update_memory",
            memory_id=str(memory_id),
            document=document,
            merge_strategy=merge_strategy,
            **_drop_none(document_type=document_type, metadata=metadata, user_id=user_id, customer_id=customer_id),
        )
        return result

    async def delete(
        self, memory_id: Any, user_id: str | None = None, customer_id: str | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            "delete_memory", memory_id=str(memory_id), **_drop_none(user_id=user_id, customer_id=customer_id)
        )
        return result

    async def list(
        self,
        user_id: str | None = None,
        customer_id: str | None = None,
        page: int = 1,
        page_size: int = 20,
        types: Sequence[str] | None = None,
    ) -> MemoryPage:
        result: MemoryPage = await self._call(
            "list_memories",
            page=page,
            page_size=page_size,
            **_drop_none(user_id=user_id, customer_id=customer_id, types=list(types) if types else None),
        )
        return result


def _fetch_params(
    search_query: Sequence[str] | str | None,
    max_results: int,
    types: Sequence[str] | None,
    mode: str,
    extra: dict[str, Any],
) -> dict[str, Any]:
    q = [search_query] if isinstance(search_query, str) else (list(search_query) if search_query else None)
    return {
        "search_query": q,
        "max_results": max_results,
        "types": list(types) if types else None,
        "mode": mode,
        **{k: v for k, v in extra.items() if v is not None},
    }


class ConversationContextNamespace(_Namespace):
    async def fetch(
        self,
        conversation_id: str,
        search_query: Sequence[str] | str | None = None,
        max_results: int = 10,
        types: Sequence[str] | None = None,
        mode: str = "fast",
        user_id: str | None = None,
        customer_id: str | None = None,
        **extra: Any,
    ) -> ContextResponse:
        """Recent turns of the conversation + the user context of the (customer, user) it is bound to."""
        extra.pop("precision_level", None)
        result: ContextResponse = await self._call(
            "fetch_conversation",
            conversation_id=conversation_id,
            **_drop_none(user_id=user_id, customer_id=customer_id),
            **_fetch_params(search_query, max_results, types, mode, extra),
        )
        return result

    async def get_context_for_prompt(self, conversation_id: str, style: str = "structured") -> ContextForPromptResponse:
        res = await self.fetch(conversation_id, max_results=1)
        turns = res.conversation_context.recent_turns if res.conversation_context else []
        from .models import RecentMessage

        return ContextForPromptResponse(
            available=bool(turns),
            formatted_context="\n".join(f"{t['role']}: {t['content']}" for t in turns) or None,
            recent_messages=[
                RecentMessage(role=t["role"], content=t["content"], timestamp=t.get("timestamp")) for t in turns
            ],
            recent_message_count=len(turns),
            total_message_count=len(turns),
        )


class ConversationNamespace(_Namespace):
    def __init__(self, sdk: Tenantry) -> None:
        super().__init__(sdk)
        self.context = ConversationContextNamespace(sdk)

    async def record_message(
        self,
        conversation_id: str,
        role: str,
        content: str,
        user_id: str | None = None,
        customer_id: str | None = None,
        session_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        res: list[dict[str, Any]] = await self._call(
            "record_messages",
            messages=[
                _drop_none(
                    conversation_id=conversation_id,
                    role=role,
                    content=content,
                    user_id=user_id,
                    customer_id=customer_id,
                    session_id=session_id,
                    metadata=metadata,
                )
            ],
        )
        return res[0]

    async def record_messages_batch(self, messages: Sequence[dict[str, Any]]) -> dict[str, Any]:
        res: list[dict[str, Any]] = await self._call("record_messages", messages=list(messages))
        return {"total": len(messages), "succeeded": len(res), "failed": len(messages) - len(res), "results": res}

    async def ingest_transcript(
        self,
        conversation_id: str,
        user_id: str | None,
        transcript: str | Sequence[dict[str, Any]],
        customer_id: str | None = None,
        conversation_type: str | None = None,
        metadata: dict[str, Any] | None = None,
        started_at: datetime | str | None = None,
        **_ignored: Any,
    ) -> dict[str, Any]:
        t = transcript if isinstance(transcript, str) else [dict(x) for x in transcript]
        res: dict[str, Any] = await self._call(
            "ingest_transcript",
            conversation_id=conversation_id,
            transcript=t,
            **_drop_none(
                user_id=user_id,
                customer_id=customer_id,
                conversation_type=conversation_type,
                metadata=metadata,
                started_at=started_at,
            ),
        )
        return res


class _ScopedContext(_Namespace):
    def __init__(self, sdk: Tenantry, op: str) -> None:
        super().__init__(sdk)
        self._op = op


class UserContextNamespace(_ScopedContext):
    async def fetch(
        self,
        user_id: str,
        customer_id: str | None = None,
        search_query: Sequence[str] | str | None = None,
        max_results: int = 10,
        types: Sequence[str] | None = None,
        mode: str = "fast",
        conversation_id: str | None = None,
        **extra: Any,
    ) -> ContextResponse:
        """The user's memories + their customer's + the client's (+ world with ``include_world=True``)."""
        for k in ("precision_level", "context_mode", "include_profile", "last_n_conversations"):
            extra.pop(k, None)
        result: ContextResponse = await self._call(
            "fetch_user",
            user_id=user_id,
            **_drop_none(customer_id=customer_id),
            **_fetch_params(search_query, max_results, types, mode, extra),
        )
        return result


class CustomerContextNamespace(_ScopedContext):
    async def fetch(
        self,
        customer_id: str,
        search_query: Sequence[str] | str | None = None,
        max_results: int = 10,
        types: Sequence[str] | None = None,
        mode: str = "fast",
        conversation_id: str | None = None,
        **extra: Any,
    ) -> ContextResponse:
        """The customer's shared memories + the client's; never a user's."""
        extra.pop("precision_level", None)
        result: ContextResponse = await self._call(
            "fetch_customer", customer_id=customer_id, **_fetch_params(search_query, max_results, types, mode, extra)
        )
        return result


class ClientContextNamespace(_ScopedContext):
    async def fetch(
        self,
        search_query: Sequence[str] | str | None = None,
        max_results: int = 10,
        types: Sequence[str] | None = None,
        mode: str = "fast",
        conversation_id: str | None = None,
        **extra: Any,
    ) -> ContextResponse:
        extra.pop("precision_level", None)
        result: ContextResponse = await self._call(
            "fetch_client", **_fetch_params(search_query, max_results, types, mode, extra)
        )
        return result


class _Holder(Generic[C]):
    """``sdk.user`` / ``sdk.customer`` / ``sdk.client``: each carries a ``context`` namespace."""

    def __init__(self, context: C) -> None:
        self.context = context


class Tenantry:
    """tenantry SDK. Embedded by default; remote when ``url`` (or ``TENANTRY_URL``) is set.

    Args:
        instance_id: embedded: instance name or ``inst_`` id (default ``TENANTRY_INSTANCE`` or ``default``,
            created as ``b2b`` on first use). Remote: ignored (the API key names the instance).
        api_key: remote mode key (or ``TENANTRY_API_KEY``).
        url: base URL of a tenantry server (or ``TENANTRY_URL``).
        dsn: embedded database (or ``TENANTRY_DSN``), e.g. ``sqlite:///data/mem.db``.
        relationship: ``b2b`` or ``b2c`` for an instance created on first use.
        **settings: any other :class:`~tenantry.settings.Settings` field (``workers``, ``embedder`` ...).
    """

    def __init__(
        self,
        instance_id: str = "",
        api_key: str | None = None,
        *,
        url: str | None = None,
        dsn: str | None = None,
        relationship: str = "b2b",
        transport: Transport | None = None,
        **settings: Any,
    ) -> None:
        settings.pop("config", None)
        settings.pop("_force_new", None)
        overrides = _drop_none(dsn=dsn, url=url, api_key=api_key, **settings)
        if instance_id:
            overrides["instance"] = instance_id
        self.settings = Settings(**overrides)
        if transport is None:
            if self.settings.url:
                from .client import RemoteTransport

                transport = RemoteTransport(self.settings.url, self.settings.api_key)
            else:
                transport = EmbeddedTransport(self.settings, relationship=Relationship(relationship))
        self._transport: Transport = transport
        self._initialized = False
        self.instance_id: str | None = None
        self.client_id: str | None = None
        self.memories = MemoriesNamespace(self)
        self.conversation = ConversationNamespace(self)
        self.user = _Holder(UserContextNamespace(self, "fetch_user"))
        self.customer = _Holder(CustomerContextNamespace(self, "fetch_customer"))
        self.client = _Holder(ClientContextNamespace(self, "fetch_client"))

    @property
    def transport(self) -> Transport:
        return self._transport

    async def initialize(self) -> None:
        """Open the store (embedded) or check the key (remote). Idempotent."""
        if self._initialized:
            return
        info = await self._transport.open()
        self.instance_id = info.get("instance_id")
        self.client_id = info.get("client_id")
        self._initialized = True

    async def shutdown(self) -> None:
        """Finish queued ingestion held by this process's workers, then close."""
        if self._initialized:
            await self._transport.close()
            self._initialized = False

    async def __aenter__(self) -> Tenantry:
        await self.initialize()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def _transport_call(self, op: str, /, **params: Any) -> Any:
        if not self._initialized:
            raise AuthenticationError("SDK not initialized: await sdk.initialize() first", code="not_initialized")
        return await self._transport.call(op, **params)

    async def fetch(
        self,
        conversation_id: str | None = None,
        user_id: str | None = None,
        customer_id: str | None = None,
        search_query: Sequence[str] | str | None = None,
        max_results: int = 20,
        types: Sequence[str] | None = None,
        mode: str = "fast",
        scopes: Sequence[str] | None = None,
        include_conversation_context: bool = True,
        include_scope_labels: bool = False,
        **extra: Any,
    ) -> UnifiedContextResponse:
        """One call across conversation, user and customer scopes (client when listed in ``scopes``)."""
        for k in ("precision_level", "context_mode", "include_profile", "last_n_conversations"):
            extra.pop(k, None)
        q = [search_query] if isinstance(search_query, str) else (list(search_query) if search_query else None)
        result: UnifiedContextResponse = await self._transport_call(
            "fetch",
            **_drop_none(
                conversation_id=conversation_id,
                user_id=user_id,
                customer_id=customer_id,
                search_query=q,
                types=list(types) if types else None,
                scopes=list(scopes) if scopes else None,
            ),
            max_results=max_results,
            mode=mode,
            include_conversation_context=include_conversation_context,
            include_scope_labels=include_scope_labels,
            **extra,
        )
        return result

    async def delete_data(
        self, customer_id: str | None = None, user_id: str | None = None, conversation_id: str | None = None
    ) -> dict[str, Any]:
        """Delete every trace of a user, a customer or a conversation; returns a receipt with counts."""
        result: dict[str, Any] = await self._transport_call(
            "delete_data", **_drop_none(customer_id=customer_id, user_id=user_id, conversation_id=conversation_id)
        )
        return result


MaximemSynapSDK = Tenantry
