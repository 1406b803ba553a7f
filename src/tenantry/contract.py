"""The one contract between the SDK and its two transports: :class:`TenantryAPI`.

The embedded engine (:class:`tenantry.service.LocalAPI`) and the HTTP client (:class:`tenantry.client.RemoteAPI`)
both implement it; the SDK's namespaces (:mod:`tenantry.sdk`) call only its typed methods, and the HTTP routes
(:mod:`tenantry.server.routes`) parse a request into the same request models and call the same methods. Adding an
operation means writing it here, in the service and in the remote client (``tests/test_contract.py`` compares the
three signatures).

Every operation acts within one instance: the one the embedded settings name, or the one of the API key. Request
models carry the caller's scope ids (``customer_id``, ``user_id``, ``conversation_id``) as typed fields; their values
are checked by the engine (same error, same ``code``, whatever the transport), never taken from ``metadata``.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from typing import TypeAlias

from .models import BatchCreateResponse
from .models import Compaction
from .models import CompactionStatus
from .models import CompactionTrigger
from .models import ContextForPromptResponse
from .models import ContextResponse
from .models import CreateMemoryResponse
from .models import DeletedMemory
from .models import DeletionReceipt
from .models import ExportPage
from .models import Identity
from .models import ImportReport
from .models import Memory
from .models import MemoryPage
from .models import MemoryStatusResponse
from .models import RecordedMessage
from .models import TranscriptIngestion
from .models import Turn
from .models import UnifiedContextResponse
from .models import UserProfile

__all__ = [
    "Addressed",
    "BatchCreate",
    "ClientContextQuery",
    "CompactConversation",
    "CompactedQuery",
    "CompactionFormat",
    "CompactionStatusQuery",
    "ContextQuery",
    "ConversationContextQuery",
    "CreateFromFile",
    "CreateMemory",
    "CustomerContextQuery",
    "DeleteData",
    "Document",
    "ExportData",
    "ImportData",
    "IngestTranscript",
    "JSONValue",
    "ListMemories",
    "MemoryRef",
    "Message",
    "Metadata",
    "ProfileQuery",
    "PromptContextQuery",
    "PromptStyle",
    "RecordMessages",
    "TenantryAPI",
    "TranscriptInput",
    "TurnsQuery",
    "UnifiedContextQuery",
    "UpdateMemory",
    "UserContextQuery",
]

JSONValue: TypeAlias = "str | int | float | bool | None | Sequence[JSONValue] | Mapping[str, JSONValue]"
Metadata: TypeAlias = Mapping[str, JSONValue]
Document: TypeAlias = str | Mapping[str, JSONValue] | Sequence[JSONValue]
TranscriptInput: TypeAlias = str | Sequence[Mapping[str, JSONValue]]
When: TypeAlias = datetime | str | None
PromptStyle: TypeAlias = Literal["structured", "narrative", "bullet_points"]
CompactionFormat: TypeAlias = Literal["structured", "narrative", "injection"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Addressed:
    """The scope ids a request names (typed scope arguments): resolved once per call, with the instance's
    relationship, by :func:`tenantry.scope.resolve_target` (SPEC §1)."""

    customer_id: str | None = None
    user_id: str | None = None


# -- memories -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class CreateMemory(Addressed):
    """One document to queue for extraction. Where it lands: SPEC §1's write table over ``customer_id``/``user_id``.
    ``conversation_id`` binds it to a conversation (its first write fixes the conversation's customer and user)."""

    document: Document
    document_type: str = "ai-chat-conversation"
    document_id: str | None = None
    document_created_at: When = None
    mode: str = "long-range"
    metadata: Metadata | None = None
    conversation_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateFromFile(Addressed):
    """A file to read and queue as one document: Markdown, plain text, HTML, PDF, DOCX or e-mail (``.eml``), by its
    ``filename``'s extension (else by its content). ``document_type`` defaults to the format's (``pdf``, ``email``,
    else ``document``); an e-mail's ``Date`` is its ``document_created_at``."""

    filename: str
    content: bytes
    document_type: str | None = None
    document_id: str | None = None
    mode: str = "long-range"
    metadata: Metadata | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchCreate:
    """Up to 1000 documents; without ``fail_fast`` an invalid document fails alone."""

    documents: Sequence[CreateMemory]
    fail_fast: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryRef(Addressed):
    """One memory by id, looked up within the named user's or customer's chain (the whole instance with no ids)."""

    memory_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateMemory(Addressed):
    memory_id: str
    document: str
    merge_strategy: str = "smart-merge"
    document_type: str | None = None
    metadata: Metadata | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ListMemories(Addressed):
    page: int = 1
    page_size: int = 20
    types: Sequence[str] | None = None
    include_superseded: bool = False


# -- conversations --------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Message(Addressed):
    """One chat turn of a conversation."""

    conversation_id: str
    role: str
    content: str
    session_id: str | None = None
    metadata: Metadata | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordMessages:
    """Turns to record as short-term context; with ``extract`` each is also queued for long-term extraction."""

    messages: Sequence[Message]
    extract: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestTranscript(Addressed):
    """A whole transcript at once; idempotent per conversation (same again: ``duplicate``; different: conflict)."""

    conversation_id: str
    transcript: TranscriptInput
    metadata: Metadata | None = None
    conversation_type: str | None = None
    started_at: When = None
    analysis: Mapping[str, JSONValue] | str | None = None  # kept in the metadata (Synap: extraction hints)
    ended_at: When = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnsQuery(Addressed):
    """Turns of a conversation, oldest first, from the 1-based position ``start``. Ids, when passed, must match the
    conversation's binding."""

    conversation_id: str
    start: int = 1
    limit: int = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptContextQuery(Addressed):
    """The latest turns of a conversation, formatted for a prompt."""

    conversation_id: str
    style: PromptStyle = "structured"
    limit: int = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class CompactConversation(Addressed):
    """Compact a conversation's turns (SPEC §6): ``conservative`` (~70 % of the original tokens), ``balanced``
    (~40 %), ``aggressive`` (~15 %) or ``adaptive`` (by length); ``target_tokens`` sets the size instead. Without
    ``force``, a conversation whose every turn the latest compaction already covers is not compacted again."""

    conversation_id: str
    strategy: str | None = None
    target_tokens: int | None = None
    force: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CompactedQuery(Addressed):
    """A conversation's compaction: ``version`` (default the latest), rendered in ``format``."""

    conversation_id: str
    version: int | None = None
    format: CompactionFormat = "structured"


@dataclass(frozen=True, slots=True, kw_only=True)
class CompactionStatusQuery(Addressed):
    conversation_id: str


# -- context --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class ContextQuery:
    """What every context fetch shares: the search and how much to return."""

    search_query: Sequence[str] = ()
    max_results: int = 10
    types: Sequence[str] | str | None = None
    mode: str = "fast"
    filters: Metadata | None = None
    as_of: When = None
    token_budget: int | None = None
    explain: bool = False
    include_world: bool = False
    response_shape: str = "by_type"  # "ranked": also every item once, best first (ContextResponse.ranked)


@dataclass(frozen=True, slots=True, kw_only=True)
class UserContextQuery(ContextQuery):
    user_id: str
    customer_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerContextQuery(ContextQuery):
    customer_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientContextQuery(ContextQuery):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationContextQuery(ContextQuery):
    conversation_id: str
    customer_id: str | None = None
    user_id: str | None = None
    recent_turns: int = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class UnifiedContextQuery(ContextQuery):
    """Conversation → user → customer (→ client when listed in ``scopes``) in one call, de-duplicated."""

    conversation_id: str | None = None
    customer_id: str | None = None
    user_id: str | None = None
    max_results: int = 20
    scopes: Sequence[str] | None = None
    include_conversation_context: bool = True
    include_scope_labels: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileQuery:
    user_id: str
    customer_id: str | None = None


# -- data -----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteData(Addressed):
    """Erase a user's, a customer's (with its users') or a conversation's data; ``dry_run`` only counts it."""

    conversation_id: str | None = None
    dry_run: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportData(Addressed):
    """One page of the export (:mod:`tenantry.dataformat`) of a user's data, a customer's (with its users'), or
    with no ids the whole instance's: documents, then memories, then messages. ``cursor`` is the previous page's
    ``next_cursor``; ``limit`` is 1-1000 records."""

    cursor: str | None = None
    limit: int = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportData:
    """Up to 1000 exported records (decoded JSON lines) to write into the instance, each in its own scope.
    ``lines``: their line numbers in the file, for the report. Idempotent: what is already there is skipped."""

    records: Sequence[Mapping[str, JSONValue]]
    lines: Sequence[int] | None = None


class TenantryAPI:
    """The operations of one instance. Implementations raise :mod:`tenantry.errors` classes only, with the same class
    and ``code`` for the same input whatever the transport. Methods raise ``NotImplementedError`` until defined."""

    # -- lifecycle --------------------------------------------------------------------------------------------------
    async def open(self) -> Identity:
        """Connect (remote: check the key) or open the engine (embedded); returns who the caller is."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release what :meth:`open` took (embedded: let the workers finish the jobs they hold)."""
        raise NotImplementedError

    # -- memories ---------------------------------------------------------------------------------------------------
    async def create_memory(self, request: CreateMemory) -> CreateMemoryResponse:
        raise NotImplementedError

    async def batch_create(self, request: BatchCreate) -> BatchCreateResponse:
        raise NotImplementedError

    async def create_memory_from_file(self, request: CreateFromFile) -> CreateMemoryResponse:
        """Read a file (``InvalidInputError`` naming the format when it cannot be read: nothing is stored) and queue
        its text as one document."""
        raise NotImplementedError

    async def ingestion_status(self, ingestion_id: str) -> MemoryStatusResponse:
        raise NotImplementedError

    async def get_memory(self, request: MemoryRef) -> Memory:
        raise NotImplementedError

    async def update_memory(self, request: UpdateMemory) -> Memory:
        raise NotImplementedError

    async def delete_memory(self, request: MemoryRef) -> DeletedMemory:
        raise NotImplementedError

    async def list_memories(self, request: ListMemories) -> MemoryPage:
        raise NotImplementedError

    # -- conversations ----------------------------------------------------------------------------------------------
    async def record_messages(self, request: RecordMessages) -> list[RecordedMessage]:
        raise NotImplementedError

    async def ingest_transcript(self, request: IngestTranscript) -> TranscriptIngestion:
        raise NotImplementedError

    async def conversation_turns(self, request: TurnsQuery) -> list[Turn]:
        raise NotImplementedError

    async def context_for_prompt(self, request: PromptContextQuery) -> ContextForPromptResponse:
        raise NotImplementedError

    async def compact_conversation(self, request: CompactConversation) -> CompactionTrigger:
        raise NotImplementedError

    async def get_compaction(self, request: CompactedQuery) -> Compaction:
        """``ContextNotFoundError`` when the conversation has no (such) compaction."""
        raise NotImplementedError

    async def compaction_status(self, request: CompactionStatusQuery) -> CompactionStatus:
        raise NotImplementedError

    # -- context ----------------------------------------------------------------------------------------------------
    async def fetch_user(self, request: UserContextQuery) -> ContextResponse:
        raise NotImplementedError

    async def fetch_customer(self, request: CustomerContextQuery) -> ContextResponse:
        raise NotImplementedError

    async def fetch_client(self, request: ClientContextQuery) -> ContextResponse:
        raise NotImplementedError

    async def fetch_conversation(self, request: ConversationContextQuery) -> ContextResponse:
        raise NotImplementedError

    async def fetch(self, request: UnifiedContextQuery) -> UnifiedContextResponse:
        raise NotImplementedError

    # -- profiles and data ------------------------------------------------------------------------------------------
    async def get_user_profile(self, request: ProfileQuery) -> UserProfile:
        raise NotImplementedError

    async def delete_data(self, request: DeleteData) -> DeletionReceipt:
        raise NotImplementedError

    async def export_data(self, request: ExportData) -> ExportPage:
        raise NotImplementedError

    async def import_data(self, request: ImportData) -> ImportReport:
        raise NotImplementedError
