"""The Python SDK: one class, two transports (the embedded engine or a remote tenantry server).

Namespaces and parameters follow the ``maximem-synap`` client, so code written for it runs by changing the import::

    from tenantry import MaximemSynapSDK   # alias of Tenantry

    sdk = MaximemSynapSDK()                 # embedded: TENANTRY_DSN, default ~/.tenantry/tenantry.db
    await sdk.initialize()
    r = await sdk.memories.create(document="User: I'm vegan", customer_id="acme", user_id="u1")
    await sdk.memories.wait_for_completion(r.ingestion_id)
    ctx = await sdk.user.context.fetch(user_id="u1", customer_id="acme", search_query=["diet"])

Every namespace method builds one request model of :mod:`tenantry.contract` and calls the matching typed method of
the SDK's :class:`~tenantry.contract.TenantryAPI`: :class:`~tenantry.service.api.EmbeddedAPI` in-process, or
:class:`~tenantry.client.RemoteAPI` over HTTP. So the two modes share every line of behaviour but the wire.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any
from typing import BinaryIO
from typing import TypedDict
from uuid import UUID

from pydantic import BaseModel
from typing_extensions import Unpack

from .contract import BatchCreate
from .contract import ClientContextQuery
from .contract import CompactConversation
from .contract import CompactedQuery
from .contract import CompactionFormat
from .contract import CompactionStatusQuery
from .contract import ConversationContextQuery
from .contract import CreateFromFile
from .contract import CreateMemory
from .contract import CustomerContextQuery
from .contract import DeleteData
from .contract import Document
from .contract import ExportData
from .contract import ImportData
from .contract import IngestTranscript
from .contract import JSONValue
from .contract import ListMemories
from .contract import MemoryRef
from .contract import Message
from .contract import Metadata
from .contract import ProfileQuery
from .contract import PromptContextQuery
from .contract import PromptStyle
from .contract import RecordMessages
from .contract import TenantryAPI
from .contract import TranscriptInput
from .contract import TurnsQuery
from .contract import UnifiedContextQuery
from .contract import UpdateMemory
from .contract import UserContextQuery
from .errors import AuthenticationError
from .errors import ContextNotFoundError
from .errors import DeadlineExceededError
from .errors import InvalidInputError
from .models import BatchCreateResponse
from .models import Compaction
from .models import CompactionStatus
from .models import CompactionTrigger
from .models import ContextForPromptResponse
from .models import ContextResponse
from .models import CreateMemoryResponse
from .models import DeletionReceipt
from .models import ExportPage
from .models import ImportReport
from .models import Memory
from .models import MemoryPage
from .models import MemoryStatusResponse
from .models import TranscriptIngestion
from .models import Turn
from .models import UnifiedContextResponse
from .models import UserProfile
from .scope import Relationship
from .settings import Settings

__all__ = ["ContextOptions", "MaximemSynapSDK", "Tenantry"]

Id = str | UUID
_DONE = ("completed", "failed", "partial_success")


class ContextOptions(TypedDict, total=False):
    """Keyword options every context fetch accepts. ``response_shape="ranked"`` also returns every item once, best
    first, in ``ContextResponse.ranked`` (document passages as ``excerpts``). tenantry's own: ``filters`` (metadata
    ``{key: value | {op: value}}``), ``as_of`` (only memories valid then), ``token_budget``, ``explain`` (score parts
    per item), ``include_world``. Accepted for the Synap client's signature and not used: ``precision_level``,
    ``context_mode``, ``include_profile``, ``last_n_conversations``."""

    filters: Metadata
    as_of: datetime | str
    token_budget: int
    explain: bool
    include_world: bool
    precision_level: str
    context_mode: str
    include_profile: bool
    last_n_conversations: int
    response_shape: str


class _QueryFields(TypedDict, total=False):
    """The :class:`~tenantry.contract.ContextQuery` fields a fetch's arguments give."""

    search_query: Sequence[str]
    max_results: int
    types: Sequence[str] | str | None
    mode: str
    filters: Metadata
    as_of: datetime | str
    token_budget: int
    explain: bool
    include_world: bool
    response_shape: str


def _query(
    search_query: Sequence[str] | str | None,
    max_results: int,
    types: Sequence[str] | str | None,
    mode: str,
    options: ContextOptions,
) -> _QueryFields:
    unknown = set(options) - set(ContextOptions.__annotations__)
    if unknown:
        raise InvalidInputError(f"unknown fetch parameters {sorted(unknown)}")
    query = [search_query] if isinstance(search_query, str) else list(search_query or ())
    out = _QueryFields(search_query=query, max_results=max_results, types=types, mode=mode)
    if "filters" in options:
        out["filters"] = options["filters"]
    if "as_of" in options:
        out["as_of"] = options["as_of"]
    if "token_budget" in options:
        out["token_budget"] = options["token_budget"]
    if "explain" in options:
        out["explain"] = options["explain"]
    if "include_world" in options:
        out["include_world"] = options["include_world"]
    if "response_shape" in options:
        out["response_shape"] = options["response_shape"]
    return out


def _create_request(document: Mapping[str, JSONValue] | CreateMemory | BaseModel, index: int) -> CreateMemory:
    """A batch item (a dict, a Synap ``CreateMemoryRequest`` or a request model) as a request model."""
    if isinstance(document, CreateMemory):
        return document
    data = document.model_dump(exclude_none=True) if isinstance(document, BaseModel) else dict(document)
    unknown = set(data) - {f.name for f in fields(CreateMemory)}
    if unknown or "document" not in data:
        problem = f"has unknown fields {sorted(unknown)}" if unknown else "has no 'document'"
        raise InvalidInputError(f"documents[{index}] {problem}", details={"field": f"documents[{index}]"})
    return CreateMemory(**data)  # field values are checked by the engine


class _Namespace:
    def __init__(self, sdk: Tenantry) -> None:
        self._sdk = sdk

    @property
    def _api(self) -> TenantryAPI:
        return self._sdk.api


class MemoriesNamespace(_Namespace):
    """``sdk.memories``: write documents, follow their ingestion, read and change memories by id."""

    async def create(
        self,
        document: Document,
        user_id: str | None = None,
        customer_id: str | None = None,
        document_type: str = "ai-chat-conversation",
        document_id: str | None = None,
        document_created_at: datetime | str | None = None,
        mode: str = "long-range",
        metadata: Metadata | None = None,
    ) -> CreateMemoryResponse:
        """Queue a document for extraction; returns at once with ``ingestion_id`` and ``status="queued"``."""
        request = CreateMemory(
            document=document,
            user_id=user_id,
            customer_id=customer_id,
            document_type=document_type,
            document_id=document_id,
            document_created_at=document_created_at,
            mode=mode,
            metadata=metadata,
        )
        return await self._api.create_memory(request)

    async def batch_create(
        self, documents: Sequence[Mapping[str, JSONValue] | CreateMemory | BaseModel], fail_fast: bool = False
    ) -> BatchCreateResponse:
        """Queue up to 1000 documents; without ``fail_fast`` an invalid one fails alone (a ``failed`` item)."""
        requests = [_create_request(d, i) for i, d in enumerate(documents)]
        return await self._api.batch_create(BatchCreate(documents=requests, fail_fast=fail_fast))

    async def create_from_file(
        self,
        user_id: str | None = None,
        customer_id: str | None = None,
        relationship_type: str = "b2c",
        file_path: str | os.PathLike[str] | None = None,
        file: BinaryIO | bytes | None = None,
        filename: str | None = None,
        text: str | None = None,
        document_type: str | None = None,
        mode: str = "long-range",
        metadata: Metadata | None = None,
        document_id: str | None = None,
    ) -> CreateMemoryResponse:
        """Queue a file — Markdown, plain text, HTML, PDF, DOCX or e-mail (``.eml``) — or ``text``, as one document.

        Give exactly one of ``file_path``, ``file`` (bytes or a binary file object, with ``filename``) or ``text``.
        The file is read by the engine (embedded) or the server (remote): headings are kept, and a file that cannot
        be read raises ``InvalidInputError`` naming its format, with nothing stored. ``relationship_type`` is
        accepted for the Synap client's signature; the instance's relationship applies.
        """
        given = [x for x in (file_path, file, text) if x is not None]
        if len(given) != 1:
            raise InvalidInputError("give exactly one of file_path, file or text")
        if text is not None:
            return await self.create(
                text,
                user_id=user_id,
                customer_id=customer_id,
                document_type=document_type or "document",
                document_id=document_id,
                mode=mode,
                metadata=metadata,
            )
        if file_path is not None:
            path = Path(file_path)
            try:
                content = path.read_bytes()
            except OSError as exc:
                msg = f"cannot read {path}: {exc.strerror or exc}"
                raise InvalidInputError(msg, details={"field": "file_path"}) from exc
            name = filename or path.name
        else:
            content = file if isinstance(file, bytes | bytearray) else file.read()  # type: ignore[union-attr]
            name = filename or str(getattr(file, "name", "") or "")
            if not name:
                raise InvalidInputError("give the file's filename (its extension tells its format)")
        request = CreateFromFile(
            filename=Path(name).name,
            content=bytes(content),
            user_id=user_id,
            customer_id=customer_id,
            document_type=document_type,
            document_id=document_id,
            mode=mode,
            metadata=metadata,
        )
        return await self._api.create_memory_from_file(request)

    async def status(self, ingestion_id: Id) -> MemoryStatusResponse:
        return await self._api.ingestion_status(str(ingestion_id))

    async def wait_for_completion(
        self, ingestion_id: Id, timeout_seconds: float = 300, poll_interval_seconds: float = 0.1
    ) -> MemoryStatusResponse:
        """Poll until the job is ``completed``, ``failed`` or ``partial_success``; ``DeadlineExceededError`` after
        ``timeout_seconds``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        while True:
            st = await self.status(ingestion_id)
            if st.status in _DONE:
                return st
            if loop.time() > deadline:
                raise DeadlineExceededError(f"ingestion {ingestion_id} still {st.status} after {timeout_seconds}s")
            await asyncio.sleep(poll_interval_seconds)

    async def get(self, memory_id: Id, user_id: str | None = None, customer_id: str | None = None) -> Memory:
        """One memory by id, within the named user's or customer's chain (any of the instance with no ids)."""
        return await self._api.get_memory(MemoryRef(memory_id=str(memory_id), user_id=user_id, customer_id=customer_id))

    async def update(
        self,
        memory_id: Id,
        document: str,
        merge_strategy: str = "smart-merge",
        document_type: str | None = None,
        metadata: Metadata | None = None,
        user_id: str | None = None,
        customer_id: str | None = None,
    ) -> Memory:
        """Change a memory's text: ``replace``, ``append`` or ``smart-merge``; it is re-embedded."""
        request = UpdateMemory(
            memory_id=str(memory_id),
            document=document,
            merge_strategy=merge_strategy,
            document_type=document_type,
            metadata=metadata,
            user_id=user_id,
            customer_id=customer_id,
        )
        return await self._api.update_memory(request)

    async def delete(self, memory_id: Id, user_id: str | None = None, customer_id: str | None = None) -> dict[str, str]:
        """Delete one memory; returns ``{"memory_id", "deleted_at"}`` as the Synap client does."""
        ref = MemoryRef(memory_id=str(memory_id), user_id=user_id, customer_id=customer_id)
        deleted = await self._api.delete_memory(ref)
        return {"memory_id": deleted.memory_id, "deleted_at": deleted.deleted_at.isoformat()}

    async def list(
        self,
        user_id: str | None = None,
        customer_id: str | None = None,
        page: int = 1,
        page_size: int = 20,
        types: Sequence[str] | None = None,
        include_superseded: bool = False,
    ) -> MemoryPage:
        """The memories a (customer, user) can see, or every memory of the instance with no ids; newest first."""
        request = ListMemories(
            user_id=user_id,
            customer_id=customer_id,
            page=page,
            page_size=page_size,
            types=types,
            include_superseded=include_superseded,
        )
        return await self._api.list_memories(request)


class ConversationContextNamespace(_Namespace):
    """``sdk.conversation.context``."""

    async def fetch(
        self,
        conversation_id: str,
        search_query: Sequence[str] | str | None = None,
        max_results: int = 10,
        types: Sequence[str] | None = None,
        mode: str = "fast",
        user_id: str | None = None,
        customer_id: str | None = None,
        recent_turns: int = 20,
        **options: Unpack[ContextOptions],
    ) -> ContextResponse:
        """Recent turns of the conversation + the user context of the (customer, user) it is bound to."""
        query = _query(search_query, max_results, types, mode, options)
        request = ConversationContextQuery(
            conversation_id=conversation_id,
            user_id=user_id,
            customer_id=customer_id,
            recent_turns=recent_turns,
            **query,
        )
        return await self._api.fetch_conversation(request)

    async def get_context_for_prompt(
        self, conversation_id: str, style: PromptStyle = "structured", limit: int = 20
    ) -> ContextForPromptResponse:
        """The latest compaction (``context_block``) + the turns newer than it (the latest ``limit``), formatted for
        a prompt (``structured``, ``narrative`` or ``bullet_points``); without a compaction, the latest turns."""
        return await self._api.context_for_prompt(
            PromptContextQuery(conversation_id=conversation_id, style=style, limit=limit)
        )

    async def compact(
        self,
        conversation_id: str,
        strategy: str | None = None,
        target_tokens: int | None = None,
        force: bool = False,
    ) -> CompactionTrigger:
        """Compact the conversation's turns now: ``conservative`` (~70 % of the tokens), ``balanced`` (~40 %),
        ``aggressive`` (~15 %) or ``adaptive`` (the default); ``target_tokens`` sets the size instead.
        ``ConflictError`` while another compaction of it runs."""
        q = CompactConversation(
            conversation_id=conversation_id, strategy=strategy, target_tokens=target_tokens, force=force
        )
        return await self._api.compact_conversation(q)

    async def get_compacted(
        self, conversation_id: str, version: int | None = None, format: CompactionFormat = "structured"
    ) -> Compaction | None:
        """The latest compaction (or ``version``) in ``format`` (``structured``, ``narrative``, ``injection``);
        ``None`` when there is none, as the Synap client answers."""
        try:
            return await self._api.get_compaction(
                CompactedQuery(conversation_id=conversation_id, version=version, format=format)
            )
        except ContextNotFoundError as exc:
            if exc.code != "compaction_not_found":
                raise
            return None

    async def get_compaction_status(self, conversation_id: str) -> CompactionStatus:
        """The latest compaction's state: ``completed``, ``in_progress``, ``failed`` or ``not_compacted``."""
        return await self._api.compaction_status(CompactionStatusQuery(conversation_id=conversation_id))


class ConversationNamespace(_Namespace):
    """``sdk.conversation``: record turns, push transcripts, read a conversation back."""

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
        metadata: Metadata | None = None,
        extract: bool = True,
    ) -> dict[str, object]:
        """Record one turn (short-term context; with ``extract``, also queued for long-term memory). The first write
        binds the conversation to its (customer, user). Returns ``{message_id, conversation_id, session_id,
        recorded_at, conversation_message_count}``."""
        message = Message(
            conversation_id=conversation_id,
            role=role,
            content=content,
            user_id=user_id,
            customer_id=customer_id,
            session_id=session_id,
            metadata=metadata,
        )
        (recorded,) = await self._api.record_messages(RecordMessages(messages=[message], extract=extract))
        return recorded.model_dump(mode="json")

    async def record_messages_batch(
        self, messages: Sequence[Mapping[str, JSONValue]], extract: bool = True
    ) -> dict[str, object]:
        """Record several turns, all or nothing; returns ``{total, succeeded, failed, results}``."""
        allowed = {f.name for f in fields(Message)}
        batch: list[Message] = []
        for i, m in enumerate(messages):
            unknown = set(m) - allowed
            if unknown:
                raise InvalidInputError(f"messages[{i}] has unknown fields {sorted(unknown)}")
            batch.append(Message(**m))  # type: ignore[arg-type]  # field values are checked by the engine
        results = await self._api.record_messages(RecordMessages(messages=batch, extract=extract))
        return {
            "total": len(batch),
            "succeeded": len(results),
            "failed": len(batch) - len(results),
            "results": [r.model_dump(mode="json") for r in results],
        }

    async def ingest_transcript(
        self,
        conversation_id: str,
        user_id: str | None,
        transcript: TranscriptInput,
        customer_id: str | None = None,
        conversation_type: str | None = None,
        metadata: Metadata | None = None,
        started_at: datetime | str | None = None,
        analysis: Mapping[str, JSONValue] | str | None = None,
        ended_at: datetime | str | None = None,
    ) -> TranscriptIngestion:
        """Push a whole transcript: the same one again → ``duplicate``, a different one → ``ConflictError``."""
        request = IngestTranscript(
            conversation_id=conversation_id,
            transcript=transcript,
            user_id=user_id,
            customer_id=customer_id,
            conversation_type=conversation_type,
            metadata=metadata,
            started_at=started_at,
            analysis=analysis,
            ended_at=ended_at,
        )
        return await self._api.ingest_transcript(request)

    async def get_messages(
        self,
        conversation_id: str,
        start: int = 1,
        limit: int = 500,
        user_id: str | None = None,
        customer_id: str | None = None,
    ) -> list[Turn]:
        """Turns of the conversation from the 1-based position ``start``, oldest first."""
        request = TurnsQuery(
            conversation_id=conversation_id, start=start, limit=limit, user_id=user_id, customer_id=customer_id
        )
        return await self._api.conversation_turns(request)


class UserContextNamespace(_Namespace):
    """``sdk.user.context``."""

    async def fetch(
        self,
        user_id: str,
        customer_id: str | None = None,
        search_query: Sequence[str] | str | None = None,
        max_results: int = 10,
        types: Sequence[str] | None = None,
        mode: str = "fast",
        conversation_id: str | None = None,
        **options: Unpack[ContextOptions],
    ) -> ContextResponse:
        """The user's memories + their customer's + the client's (+ world with ``include_world=True``)."""
        query = _query(search_query, max_results, types, mode, options)
        request = UserContextQuery(user_id=user_id, customer_id=customer_id, **query)
        return await self._api.fetch_user(request)


class UserNamespace(_Namespace):
    """``sdk.user``: a user's context and profile."""

    def __init__(self, sdk: Tenantry) -> None:
        super().__init__(sdk)
        self.context = UserContextNamespace(sdk)

    async def get_profile(self, user_id: str, customer_id: str | None = None) -> UserProfile:
        """The user's profile, built from the facts and preferences stored at the user's own scope."""
        return await self._api.get_user_profile(ProfileQuery(user_id=user_id, customer_id=customer_id))


class CustomerContextNamespace(_Namespace):
    """``sdk.customer.context``."""

    async def fetch(
        self,
        customer_id: str,
        search_query: Sequence[str] | str | None = None,
        max_results: int = 10,
        types: Sequence[str] | None = None,
        mode: str = "fast",
        conversation_id: str | None = None,
        **options: Unpack[ContextOptions],
    ) -> ContextResponse:
        """The customer's shared memories + the client's; never a user's."""
        query = _query(search_query, max_results, types, mode, options)
        request = CustomerContextQuery(customer_id=customer_id, **query)
        return await self._api.fetch_customer(request)


class ClientContextNamespace(_Namespace):
    """``sdk.client.context``."""

    async def fetch(
        self,
        search_query: Sequence[str] | str | None = None,
        max_results: int = 10,
        types: Sequence[str] | None = None,
        mode: str = "fast",
        conversation_id: str | None = None,
        **options: Unpack[ContextOptions],
    ) -> ContextResponse:
        """The memories every customer and user of the instance shares (+ world with ``include_world=True``)."""
        query = _query(search_query, max_results, types, mode, options)
        return await self._api.fetch_client(ClientContextQuery(**query))


class _ContextHolder:
    """``sdk.customer`` / ``sdk.client``: each carries a ``context`` namespace."""

    def __init__(self, context: CustomerContextNamespace | ClientContextNamespace) -> None:
        self.context = context


class CustomerNamespace(_ContextHolder):
    context: CustomerContextNamespace


class ClientNamespace(_ContextHolder):
    context: ClientContextNamespace


class Tenantry:
    """tenantry SDK. Embedded by default; remote when ``url`` (or ``TENANTRY_URL``) is set.

    Args:
        instance_id: embedded: instance name or ``inst_`` id (default ``TENANTRY_INSTANCE`` or ``default``,
            created as ``relationship`` on first use). Remote: ignored (the API key names the instance).
        api_key: remote mode key (or ``TENANTRY_API_KEY``).
        url: base URL of a tenantry server (or ``TENANTRY_URL``).
        dsn: embedded database (or ``TENANTRY_DSN``), e.g. ``sqlite:///data/mem.db``.
        relationship: ``b2b`` or ``b2c`` for an instance created on first use.
        settings: any other engine setting (``Settings(workers=0, embedder="hashing")``); the arguments above and
            below override its fields.
        embedder, extractor, workers: the most used settings, as keywords.
        api: a ready :class:`~tenantry.contract.TenantryAPI` to use instead of building one from the settings.
        config: the Synap client's ``SDKConfig``; accepted so that Synap code runs, and not used.
    """

    def __init__(
        self,
        instance_id: str = "",
        api_key: str | None = None,
        *,
        url: str | None = None,
        dsn: str | None = None,
        relationship: str = "b2b",
        settings: Settings | None = None,
        embedder: str | None = None,
        extractor: str | None = None,
        workers: int | None = None,
        api: TenantryAPI | None = None,
        config: object = None,
    ) -> None:
        overrides: dict[str, Any] = {
            "instance": instance_id or None,
            "api_key": api_key,
            "url": url,
            "dsn": dsn,
            "embedder": embedder,
            "extractor": extractor,
            "workers": workers,
        }
        given = {k: v for k, v in overrides.items() if v is not None}
        self.settings = settings.model_copy(update=given) if settings is not None else Settings(**given)
        if api is None:
            if self.settings.url:
                from .client import RemoteAPI

                api = RemoteAPI(self.settings.url, self.settings.api_key)
            else:
                from .service.api import EmbeddedAPI

                api = EmbeddedAPI(self.settings, relationship=Relationship(relationship))
        self._api = api
        self._initialized = False
        self.instance_id: str | None = None
        self.client_id: str | None = None
        self.memories = MemoriesNamespace(self)
        self.conversation = ConversationNamespace(self)
        self.user = UserNamespace(self)
        self.customer = CustomerNamespace(CustomerContextNamespace(self))
        self.client = ClientNamespace(ClientContextNamespace(self))

    @property
    def api(self) -> TenantryAPI:
        """The contract implementation this SDK talks to (raises until :meth:`initialize`)."""
        if not self._initialized:
            raise AuthenticationError("SDK not initialized: await sdk.initialize() first", code="not_initialized")
        return self._api

    async def initialize(self) -> None:
        """Open the engine (embedded) or check the key (remote). Idempotent."""
        if self._initialized:
            return
        identity = await self._api.open()
        self.instance_id, self.client_id = identity.instance_id, identity.client_id
        self._initialized = True

    async def shutdown(self) -> None:
        """Finish queued ingestion held by this process's workers, then close."""
        if self._initialized:
            self._initialized = False
            await self._api.close()

    async def __aenter__(self) -> Tenantry:
        await self.initialize()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

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
        **options: Unpack[ContextOptions],
    ) -> UnifiedContextResponse:
        """One call across conversation, user and customer scopes (client when listed in ``scopes``), de-duplicated,
        with ``scope_map`` and a prompt-ready ``formatted_context``. Any failing part fails the call."""
        query = _query(search_query, max_results, types, mode, options)
        request = UnifiedContextQuery(
            conversation_id=conversation_id,
            user_id=user_id,
            customer_id=customer_id,
            scopes=scopes,
            include_conversation_context=include_conversation_context,
            include_scope_labels=include_scope_labels,
            **query,
        )
        return await self.api.fetch(request)

    async def delete_data(
        self,
        customer_id: str | None = None,
        user_id: str | None = None,
        conversation_id: str | None = None,
        dry_run: bool = False,
    ) -> DeletionReceipt:
        """Delete every trace of a user, a customer (with its users) or a conversation; returns a receipt.
        ``dry_run=True`` returns the counts the deletion would give and deletes nothing."""
        request = DeleteData(customer_id=customer_id, user_id=user_id, conversation_id=conversation_id, dry_run=dry_run)
        return await self.api.delete_data(request)

    async def export_page(
        self, customer_id: str | None = None, user_id: str | None = None, cursor: str | None = None, limit: int = 500
    ) -> ExportPage:
        """One page of the export (``tenantry.dataformat``) of a user's, a customer's (with its users') or, with no
        ids, the whole instance's data; pass the page's ``next_cursor`` to get the next one."""
        request = ExportData(customer_id=customer_id, user_id=user_id, cursor=cursor, limit=limit)
        return await self.api.export_data(request)

    async def export_data(
        self, customer_id: str | None = None, user_id: str | None = None
    ) -> AsyncIterator[dict[str, JSONValue]]:
        """Every record of the export, one JSON-ready dict per line of the file (``tenantry export`` writes them)."""
        cursor: str | None = None
        while True:
            page = await self.export_page(customer_id=customer_id, user_id=user_id, cursor=cursor)
            for record in page.records:
                yield record
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def import_data(
        self, records: Iterable[Mapping[str, JSONValue]], lines: Sequence[int] | None = None
    ) -> ImportReport:
        """Write up to 1000 exported records into this instance (what is already there is skipped); the report says
        what was written and, with the line numbers given in ``lines``, what was skipped and why."""
        return await self.api.import_data(ImportData(records=list(records), lines=lines))


MaximemSynapSDK = Tenantry
