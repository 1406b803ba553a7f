"""The engine behind the :class:`~tenantry.contract.TenantryAPI` contract, for one instance.

Each operation resolves what it addresses once, with :func:`tenantry.scope.resolve_target` over the request's ids
and the instance's relationship, and hands the result to the part of the engine that owns the behaviour.
:class:`LocalAPI` serves an instance of a running engine (the HTTP server builds one per request from the API key);
:class:`EmbeddedAPI` opens and owns an engine of its own (the SDK's default, in-process mode).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..contract import BatchCreate
from ..contract import ClientContextQuery
from ..contract import CompactConversation
from ..contract import CompactedQuery
from ..contract import CompactionStatusQuery
from ..contract import ConversationContextQuery
from ..contract import CreateFromFile
from ..contract import CreateMemory
from ..contract import CustomerContextQuery
from ..contract import DeleteData
from ..contract import ExportData
from ..contract import ImportData
from ..contract import IngestTranscript
from ..contract import ListMemories
from ..contract import MemoryRef
from ..contract import ProfileQuery
from ..contract import PromptContextQuery
from ..contract import RecordMessages
from ..contract import TenantryAPI
from ..contract import TurnsQuery
from ..contract import UnifiedContextQuery
from ..contract import UpdateMemory
from ..contract import UserContextQuery
from ..errors import AuthenticationError
from ..models import BatchCreateResponse
from ..models import Compaction
from ..models import CompactionStatus
from ..models import CompactionTrigger
from ..models import ContextForPromptResponse
from ..models import ContextResponse
from ..models import CreateMemoryResponse
from ..models import DeletedMemory
from ..models import DeletionReceipt
from ..models import ExportPage
from ..models import Identity
from ..models import ImportReport
from ..models import Memory
from ..models import MemoryPage
from ..models import MemoryStatusResponse
from ..models import RecordedMessage
from ..models import TranscriptIngestion
from ..models import Turn
from ..models import UnifiedContextResponse
from ..models import UserProfile
from ..scope import Relationship
from ..scope import ScopeLevel
from ..scope import Target
from ..scope import Tenant
from ..scope import resolve_target
from ..settings import Settings
from ..store.base import InstanceRecord

if TYPE_CHECKING:
    from ._core import AsyncMemoryService

__all__ = ["EmbeddedAPI", "LocalAPI"]


class LocalAPI(TenantryAPI):
    """The contract over an engine, for ``instance``. Opening and closing it leaves the engine running."""

    def __init__(self, service: AsyncMemoryService | None, instance: InstanceRecord | None) -> None:
        self._service = service
        self._instance = instance

    @property
    def service(self) -> AsyncMemoryService:
        if self._service is None:
            raise AuthenticationError("SDK not initialized: await sdk.initialize() first", code="not_initialized")
        return self._service

    @property
    def instance(self) -> InstanceRecord:
        if self._instance is None:
            raise AuthenticationError("SDK not initialized: await sdk.initialize() first", code="not_initialized")
        return self._instance

    @property
    def tenant(self) -> Tenant:
        return Tenant(self.instance.instance_id, self.instance.relationship)

    def _target(self, customer_id: object, user_id: object, level: ScopeLevel | None = None) -> Target:
        return resolve_target(self.tenant, customer_id=customer_id, user_id=user_id, level=level)

    # -- lifecycle ------------------------------------------------------------------------------------------------
    async def open(self) -> Identity:
        inst = self.instance
        b2c = inst.relationship is Relationship.B2C
        return Identity(
            instance_id=inst.instance_id,
            client_id=inst.client_id,
            instance_name=inst.name,
            relationship=inst.relationship.value,
            mode="embedded",
            user_context_isolation="equals_customer" if b2c else None,
        )

    async def close(self) -> None:
        return None

    # -- memories -------------------------------------------------------------------------------------------------
    async def create_memory(self, request: CreateMemory) -> CreateMemoryResponse:
        return await self.service.memories.create(self._target(request.customer_id, request.user_id), request)

    async def batch_create(self, request: BatchCreate) -> BatchCreateResponse:
        return await self.service.memories.batch(self.tenant, request)

    async def create_memory_from_file(self, request: CreateFromFile) -> CreateMemoryResponse:
        target = self._target(request.customer_id, request.user_id)
        return await self.service.memories.create_from_file(target, request)

    async def ingestion_status(self, ingestion_id: str) -> MemoryStatusResponse:
        return await self.service.memories.status(self.tenant, ingestion_id)

    async def get_memory(self, request: MemoryRef) -> Memory:
        return await self.service.memories.get(self._target(request.customer_id, request.user_id), request.memory_id)

    async def update_memory(self, request: UpdateMemory) -> Memory:
        return await self.service.memories.update(self._target(request.customer_id, request.user_id), request)

    async def delete_memory(self, request: MemoryRef) -> DeletedMemory:
        target = self._target(request.customer_id, request.user_id)
        return await self.service.memories.delete(target, request.memory_id)

    async def list_memories(self, request: ListMemories) -> MemoryPage:
        return await self.service.memories.page(self._target(request.customer_id, request.user_id), request)

    # -- conversations --------------------------------------------------------------------------------------------
    async def record_messages(self, request: RecordMessages) -> list[RecordedMessage]:
        return await self.service.conversations.record(self.tenant, request)

    async def ingest_transcript(self, request: IngestTranscript) -> TranscriptIngestion:
        return await self.service.conversations.ingest_transcript(self.tenant, request)

    async def conversation_turns(self, request: TurnsQuery) -> list[Turn]:
        return await self.service.conversations.turns(self.tenant, request)

    async def context_for_prompt(self, request: PromptContextQuery) -> ContextForPromptResponse:
        return await self.service.conversations.context_for_prompt(self.tenant, request)

    async def compact_conversation(self, request: CompactConversation) -> CompactionTrigger:
        return await self.service.compaction.compact(self.tenant, request)

    async def get_compaction(self, request: CompactedQuery) -> Compaction:
        """``ContextNotFoundError`` (``compaction_not_found``) when there is no such version."""
        return await self.service.compaction.get(self.tenant, request)

    async def compaction_status(self, request: CompactionStatusQuery) -> CompactionStatus:
        return await self.service.compaction.status(self.tenant, request)

    # -- context --------------------------------------------------------------------------------------------------
    async def fetch_user(self, request: UserContextQuery) -> ContextResponse:
        target = self._target(request.customer_id, request.user_id, ScopeLevel.USER)
        return await self.service.context.user(target, request)

    async def fetch_customer(self, request: CustomerContextQuery) -> ContextResponse:
        target = self._target(request.customer_id, None, ScopeLevel.CUSTOMER)
        return await self.service.context.customer(target, request)

    async def fetch_client(self, request: ClientContextQuery) -> ContextResponse:
        return await self.service.context.client(Target(self.tenant), request)

    async def fetch_conversation(self, request: ConversationContextQuery) -> ContextResponse:
        return await self.service.context.conversation(self.tenant, request)

    async def fetch(self, request: UnifiedContextQuery) -> UnifiedContextResponse:
        return await self.service.context.unified(self.tenant, request)

    # -- profiles and data ----------------------------------------------------------------------------------------
    async def get_user_profile(self, request: ProfileQuery) -> UserProfile:
        target = self._target(request.customer_id, request.user_id, ScopeLevel.USER)
        return await self.service.profiles.user(target)

    async def delete_data(self, request: DeleteData) -> DeletionReceipt:
        return await self.service.erasure.erase(self.tenant, request)

    async def export_data(self, request: ExportData) -> ExportPage:
        target = self._target(request.customer_id, request.user_id)
        return await self.service.data.export(target, request, instance_name=self.instance.name)

    async def import_data(self, request: ImportData) -> ImportReport:
        return await self.service.data.import_(self.tenant, request)


class EmbeddedAPI(LocalAPI):
    """An engine of its own over ``settings.resolved_dsn()``: :meth:`open` opens the store, looks up (or, with
    ``create``, creates as ``relationship``, saying so in the log) the instance ``settings.instance`` and starts the
    ingestion workers; :meth:`close` lets them finish the jobs they hold, then closes the store."""

    def __init__(
        self, settings: Settings, *, relationship: Relationship = Relationship.B2B, create: bool = True
    ) -> None:
        super().__init__(None, None)
        self.settings = settings
        self.relationship = relationship
        self.create = create

    async def open(self) -> Identity:
        if self._service is None:
            from ._core import AsyncMemoryService

            service = await AsyncMemoryService.open(self.settings)
            try:
                create = self.relationship if self.create else None
                self._instance = await service.instance(self.settings.instance, create=create)
            except BaseException:
                await service.close(drain=False)
                raise
            service.workers.start()
            self._service = service
        return await super().open()

    async def close(self) -> None:
        if self._service is not None:
            service, self._service = self._service, None
            await service.close(drain=True)
