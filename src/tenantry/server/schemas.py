"""Request and response bodies of the HTTP API (the ``maximem-synap`` wire shapes plus tenantry-only extras).

Request models accept what the Synap client sends (every key it may send is declared, unknown keys are ignored)
and leave value checks (ids, modes, ranges) to the engine, so the embedded and the remote SDK fail the same way.
Response models reuse :mod:`tenantry.models` wherever the shapes are the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from typing import Any
from typing import Literal

from fastapi import Path
from fastapi import Query
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field

from ..models import ConversationContext
from ..models import CreateMemoryResponse
from ..models import ItemLists
from ..models import RankedItem
from ..models import RecordedMessage
from ..models import ResponseMetadata
from ..models import Turn
from ..models import UnifiedParts
from ..models import UserProfile
from ..scope import ID_PATTERN
from ..validation import DOCUMENT_TYPES

__all__ = [
    "AdminDeleteDataBody",
    "BatchCreateBody",
    "BatchCreateWire",
    "BatchResultItem",
    "ClientFetchBody",
    "CompactBody",
    "CompactedParams",
    "ContextEnvelope",
    "ContextLists",
    "ConversationFetchBody",
    "CreateInstanceBody",
    "CreateKeyBody",
    "CreateMemoryBody",
    "CustomerFetchBody",
    "DeleteDataBody",
    "DeleteDataWire",
    "EventResult",
    "EventsAccepted",
    "EventsBatch",
    "FetchBody",
    "Health",
    "IdPath",
    "IdQuery",
    "IngestBody",
    "ListMemoriesQuery",
    "MessageBody",
    "MessagesBatchBody",
    "ProfileWire",
    "PromptParams",
    "RecordBatchWire",
    "ScopeIdsQuery",
    "TelemetryAccepted",
    "TelemetryBatch",
    "TurnsParams",
    "TurnsWire",
    "UnifiedContextEnvelope",
    "UnifiedFetchBody",
    "UpdateMemoryBody",
    "UserFetchBody",
    "WorldBody",
    "WorldWritten",
]

Document = str | dict[str, Any] | list[Any]
ScopePath = dict[str, str]

# Value constraints are documented here and enforced by the engine (400 ``InvalidInputError``), not by pydantic
# (which would answer 422): the embedded SDK and the server then refuse the same input with the same code.
_ID_SCHEMA: dict[str, Any] = {"pattern": ID_PATTERN.pattern, "maxLength": 128}
TYPE_NAMES = (
    "all",
    "facts",
    "fact",
    "preferences",
    "preference",
    "episodes",
    "episode",
    "emotions",
    "emotion",
    "temporal",
    "temporal_event",
    "temporal_events",
)


IdPath = Annotated[str, Path(description="opaque id", json_schema_extra=_ID_SCHEMA)]
IdQuery = Annotated[str | None, Query(description="opaque id", json_schema_extra=_ID_SCHEMA)]


def id_field(description: str = "opaque id: 1-128 of letters, digits and . _ : @ -") -> Any:
    """An optional caller id (documented pattern, checked by the engine)."""
    return Field(default=None, description=description, json_schema_extra=_ID_SCHEMA)


def required_id(description: str = "opaque id: 1-128 of letters, digits and . _ : @ -") -> Any:
    """A required caller id (documented pattern, checked by the engine)."""
    return Field(description=description, json_schema_extra=_ID_SCHEMA)


def enum_field(default: Any, values: tuple[str, ...] | list[str], description: str | None = None) -> Any:
    """A string field with documented allowed values (checked by the engine)."""
    return Field(default=default, description=description, json_schema_extra={"enum": list(values)})


_TYPES_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "array", "items": {"type": "string", "enum": list(TYPE_NAMES)}},
        {"type": "string", "enum": list(TYPE_NAMES)},
        {"type": "null"},
    ]
}
_QUERY_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "array", "items": {"type": "string", "maxLength": 4000}, "maxItems": 16},
        {"type": "string", "maxLength": 4000},
        {"type": "null"},
    ]
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- auth --------------------------------------------------------------------------------------------------------------


# -- query parameters (``Annotated[Model, Query()]``) -----------------------------------------------------------------
class ScopeIdsQuery(_Body):
    """The caller's scope ids, as query parameters."""

    user_id: str | None = id_field()
    customer_id: str | None = id_field()


class ListMemoriesQuery(ScopeIdsQuery):
    page: int = Field(default=1, ge=1)
    page_size: int = Field(default=20, ge=1, le=100)
    types: list[str] | None = None
    include_superseded: bool = False


class TurnsParams(ScopeIdsQuery):
    start: int = Field(default=1, ge=1, description="1-based position of the first turn")
    limit: int = Field(default=500, ge=1, le=500)


class PromptParams(ScopeIdsQuery):
    style: Literal["structured", "narrative", "bullet_points"] = "structured"
    limit: int = Field(default=20, ge=1, le=200, description="most recent turns returned")


class Health(_Out):
    status: Literal["ok"]
    version: str


# -- memories ----------------------------------------------------------------------------------------------------------
class CreateMemoryBody(_Body):
    document: Document
    document_type: str = enum_field("ai-chat-conversation", sorted(DOCUMENT_TYPES))
    document_id: str | None = Field(
        default=None,
        description="the caller's id of the document: any printable text of 1-512 characters (URL, path, title)",
        json_schema_extra={"maxLength": 512},
    )
    document_created_at: str | None = Field(default=None, description="ISO 8601")
    user_id: str | None = id_field()
    customer_id: str | None = id_field()
    scope: ScopePath | None = Field(default=None, description="Synap rung path, e.g. {customer, user}")
    mode: str = enum_field("long-range", ("long-range", "fast"))
    metadata: dict[str, Any] | None = None
    conversation_id: str | None = Field(default=None, description="tenantry: bind the document to a conversation")


class BatchCreateBody(_Body):
    documents: list[CreateMemoryBody]
    fail_fast: bool = False


class BatchResultItem(CreateMemoryResponse):
    index: int | None = None
    code: str | None = Field(default=None, description="error code of a failed item")


class BatchCreateWire(_Out):
    batch_id: str
    total: int
    succeeded: int
    failed: int
    results: list[BatchResultItem] = Field(
        description="one per document, in order; a failed one has status 'failed', error_message, code and the nil "
        "UUID as ingestion_id (no job was queued)"
    )


class UpdateMemoryBody(_Body):
    document: str
    merge_strategy: str = enum_field("smart-merge", ("replace", "append", "smart-merge"))
    document_type: str | None = enum_field(None, sorted(DOCUMENT_TYPES))
    metadata: dict[str, Any] | None = None
    user_id: str | None = id_field()
    customer_id: str | None = id_field()


# -- conversations -----------------------------------------------------------------------------------------------------
class MessageBody(_Body):
    conversation_id: str = required_id()
    role: str = enum_field(..., ("user", "assistant"))
    content: str
    user_id: str | None = id_field()
    customer_id: str | None = id_field()
    session_id: str | None = id_field()
    metadata: dict[str, Any] | None = None
    scope: ScopePath | None = None


class MessagesBatchBody(_Body):
    messages: list[MessageBody]
    extract: bool = Field(default=True, description="tenantry: false records short-term context only")


class RecordBatchWire(_Out):
    total: int
    succeeded: int
    failed: int
    results: list[RecordedMessage]
    errors: list[dict[str, Any]] = Field(default_factory=list)


class TranscriptTurn(_Body):
    role: str | None = None
    content: str
    timestamp: str | None = None
    speaker: str | None = None
    metadata: dict[str, Any] | None = None


class IngestBody(_Body):
    conversation_id: str = required_id()
    transcript: str | list[TranscriptTurn]
    user_id: str | None = id_field()
    customer_id: str | None = id_field()
    conversation_type: str | None = None
    analysis: dict[str, Any] | str | None = None
    metadata: dict[str, Any] | None = None
    started_at: str | None = None
    ended_at: str | None = None
    scope: ScopePath | None = None


class TurnsWire(_Out):
    turns: list[Turn]


class CompactBody(_Body):
    conversation_id: str = required_id()
    strategy: Literal["conservative", "balanced", "aggressive", "adaptive"] | None = Field(
        default=None, description="default adaptive"
    )
    target_tokens: int | None = Field(default=None, ge=1)
    force: bool = False
    user_id: str | None = id_field()
    customer_id: str | None = id_field()


class CompactedParams(ScopeIdsQuery):
    format: Literal["structured", "narrative", "injection"] = "structured"
    version: int | None = Field(default=None, ge=1, description="default: the latest")


# -- context -----------------------------------------------------------------------------------------------------------
class FetchBody(_Body):
    search_query: list[str] | str | None = Field(default=None, json_schema_extra=_QUERY_SCHEMA)
    max_results: int = Field(default=10, json_schema_extra={"minimum": 1, "maximum": 50})
    types: list[str] | str | None = Field(
        default=None, description="either vocabulary, or all", json_schema_extra=_TYPES_SCHEMA
    )
    mode: str = enum_field("fast", ("fast", "accurate"))
    conversation_id: str | None = id_field()
    # Synap client options, accepted; the ones tenantry has no use for are ignored.
    precision_level: str | None = None
    response_shape: str | None = None
    query_date: str | None = None
    max_results_per_query: int | None = None
    include_conversation_context: bool = True
    scope: ScopePath | None = None
    context_mode: str | None = None
    include_profile: bool | None = None
    last_n_conversations: int | None = None
    # tenantry extras
    explain: bool = False
    filters: dict[str, Any] | None = Field(default=None, description="metadata filters: {key: value | {op: value}}")
    token_budget: int | None = None
    include_world: bool = False
    as_of: str | None = Field(default=None, description="ISO 8601: only memories valid at that time")


class UserFetchBody(FetchBody):
    user_id: str = required_id()
    customer_id: str | None = id_field()


class CustomerFetchBody(FetchBody):
    customer_id: str = required_id()


class ClientFetchBody(FetchBody):
    pass


class ConversationFetchBody(FetchBody):
    conversation_id: str = required_id()
    user_id: str | None = id_field()
    customer_id: str | None = id_field()
    recent_turns: int = Field(default=20, description="tenantry: recent turns returned in conversation_context")


class UnifiedFetchBody(_Body):
    conversation_id: str | None = id_field()
    user_id: str | None = id_field()
    customer_id: str | None = id_field()
    search_query: list[str] | str | None = Field(default=None, json_schema_extra=_QUERY_SCHEMA)
    max_results: int = Field(default=20, json_schema_extra={"minimum": 1, "maximum": 50})
    types: list[str] | str | None = Field(default=None, json_schema_extra=_TYPES_SCHEMA)
    mode: str = enum_field("fast", ("fast", "accurate"))
    scopes: list[str] | None = None
    include_conversation_context: bool = True
    include_scope_labels: bool = False
    include_world: bool = False
    token_budget: int | None = None
    explain: bool = False
    response_shape: str | None = None


class ContextLists(ItemLists):
    ranked: list[RankedItem] | None = Field(
        default=None,
        serialization_alias="items",
        description='response_shape="ranked" only: every item once, best first (passages as "excerpts")',
    )


class ContextEnvelope(_Out):
    """What every context fetch returns: the typed lists under ``context`` (as the Synap client reads them)."""

    context: ContextLists
    conversation_context: ConversationContext | None = None
    metadata: ResponseMetadata
    ttl_seconds: int = Field(
        le=-1, description="always -1: already expired, so the Synap client's local response cache never serves it"
    )


class UnifiedContextEnvelope(UnifiedParts, ContextEnvelope):  # UnifiedParts first: its fields come after the others
    pass


# -- users -------------------------------------------------------------------------------------------------------------


class ProfileWire(_Out):
    profile: UserProfile


# -- data deletion -----------------------------------------------------------------------------------------------------
class DeleteDataBody(_Body):
    scope: Literal["user", "customer", "conversation"] | None = Field(
        default=None, description="Synap style: which id is being deleted; omitted = delete by the ids given"
    )
    instance_id: str | None = Field(default=None, description="ignored unless given: must be the key's instance")
    user_id: str | None = id_field()
    customer_id: str | None = id_field()
    conversation_id: str | None = id_field()
    dry_run: bool = False
    confirm: str | None = None


class DeleteDataWire(_Out):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    deletion_id: str
    receipt_id: str
    status: str
    scope: str | None = None
    dry_run: bool = False
    found: bool
    counts: dict[str, int]
    deleted: dict[str, int]
    deleted_at: datetime
    fully_removed: bool
    still_present_in: list[str] = Field(default_factory=list)
    continue_: bool = Field(default=False, alias="continue")
    memories_kept: bool = False


# -- telemetry ---------------------------------------------------------------------------------------------------------
class TelemetryBatch(_Body):
    events: list[dict[str, Any]] = Field(default_factory=list)
    sdk_version: str | None = None
    batch_id: str | None = None
    created_at: str | None = None


class TelemetryAccepted(_Out):
    accepted: int
    stored: Literal[False] = False


class EventsBatch(_Body):
    """Conversation events (``user_message``, ``assistant_message``, tool calls ...) as the Synap clients report them
    to the hosted service's anticipation path."""

    events: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)


class EventResult(_Out):
    event_id: str | None = None
    status: Literal["accepted"] = "accepted"


class EventsAccepted(_Out):
    accepted: int
    rejected: int = 0
    results: list[EventResult] = Field(default_factory=list)
    stored: Literal[False] = False


# -- admin -------------------------------------------------------------------------------------------------------------
class CreateInstanceBody(_Body):
    name: str
    relationship: Literal["b2b", "b2c"]
    key_name: str = "default"


class CreateKeyBody(_Body):
    name: str = "default"


class AdminDeleteDataBody(_Body):
    user_id: str | None = id_field()
    customer_id: str | None = id_field()
    conversation_id: str | None = id_field()


class WorldBody(_Body):
    document: str
    document_type: str = "document"


class WorldWritten(_Out):
    memory_ids: list[str]
