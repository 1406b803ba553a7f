"""Pydantic models of what the SDK and the HTTP API return. Field names follow the Synap client's models so that
code written for it reads these unchanged (``ctx.facts[0].content``, ``.source``, ``.confidence`` ...)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from typing import Literal

from pydantic import AliasChoices
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field

__all__ = [
    "ApiKey",
    "BatchCreateResponse",
    "Compaction",
    "CompactionStatus",
    "CompactionTrigger",
    "ContextForPromptResponse",
    "ContextResponse",
    "ConversationContext",
    "CreateMemoryResponse",
    "DeletedMemory",
    "DeletionReceipt",
    "Emotion",
    "Episode",
    "ExportPage",
    "Fact",
    "Identity",
    "ImportReport",
    "ImportSkip",
    "IngestStatus",
    "ItemLists",
    "Instance",
    "InstanceCreated",
    "IssuedApiKey",
    "Memory",
    "MemoryPage",
    "MemoryStatusResponse",
    "Preference",
    "ProfileAttribute",
    "RankedItem",
    "RecentMessage",
    "RecordedMessage",
    "ResponseMetadata",
    "ScoreExplanation",
    "TemporalEvent",
    "TranscriptIngestion",
    "Turn",
    "UnifiedContextResponse",
    "UnifiedParts",
    "UserProfile",
]

IngestStatus = Literal["queued", "processing", "completed", "failed", "partial_success"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ScoreExplanation(_Model):
    """Why an item ranked where it did (``explain=True``)."""

    score: float
    lexical: float = 0.0  # normalised BM25 contribution
    vector: float = 0.0  # cosine similarity contribution
    lexical_rank: int | None = None
    vector_rank: int | None = None
    recency: float = 0.0
    scope: float = 0.0
    confidence: float = 0.0
    extra: dict[str, float] = Field(default_factory=dict)


class _Item(_Model):
    id: str
    source: str = ""  # scope label: user:<id> | customer:<id> | client | world
    extracted_at: datetime | None = None
    event_date: datetime | None = None
    valid_until: datetime | None = None
    temporal_category: str | None = None
    temporal_confidence: float = 0.0
    source_evidence: list[str] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    score: float | None = None
    explanation: ScoreExplanation | None = None


class Fact(_Item):
    content: str
    confidence: float = 0.0


class Preference(_Item):
    content: str
    category: str = "general"
    strength: float = 0.0


class Episode(_Item):
    summary: str
    content: str = ""  # the same text as ``summary``: clients that read every item's ``content`` find it
    occurred_at: datetime | None = None
    significance: float = 0.0
    participants: list[str] = Field(default_factory=list)


class Emotion(_Item):
    emotion_type: str = "neutral"
    intensity: float = 0.0
    detected_at: datetime | None = None
    context: str = ""
    content: str = ""  # the same text as ``context``


class TemporalEvent(_Item):
    content: str
    confidence: float = 0.0


class RankedItem(_Item):
    """One item of a ranked response (``response_shape="ranked"``): every item once, best first, in one shape for
    all types. ``category`` is its type's list name (``facts``, ``preferences``, ``episodes``, ``emotions``,
    ``temporal_events``) or ``excerpts`` for a passage of a document (verbatim text; a by-type response files it under
    ``facts``); ``rank`` is its 1-based position and ``metadata["rank_score"]`` the score it was ranked by."""

    rank: int
    category: str
    content: str
    confidence: float = 0.0


class RecentMessage(_Model):
    role: str
    content: str
    timestamp: datetime | None = None
    message_id: str | None = None


class ConversationContext(_Model):
    conversation_id: str | None = None
    summary: str | None = None
    current_state: dict[str, Any] = Field(default_factory=dict)
    key_extractions: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    recent_turns: list[dict[str, Any]] = Field(default_factory=list)
    compaction_id: str | None = None
    compacted_at: datetime | None = None


class ResponseMetadata(_Model):
    correlation_id: str | None = None
    ttl_seconds: int = 0
    source: str = "tenantry"
    retrieved_at: datetime | None = None
    mode: str = "fast"
    scopes: list[str] = Field(default_factory=list)
    timing_ms: dict[str, float] = Field(default_factory=dict)
    token_budget: int | None = None
    tokens_used: int = 0
    truncated: int = 0  # items that matched but did not fit the token budget
    compaction_applied: str | None = None


class ItemLists(_Model):
    """The typed lists of a context response, as the SDK returns them and as the wire carries them."""

    facts: list[Fact] = Field(default_factory=list)
    preferences: list[Preference] = Field(default_factory=list)
    episodes: list[Episode] = Field(default_factory=list)
    emotions: list[Emotion] = Field(default_factory=list)
    temporal_events: list[TemporalEvent] = Field(default_factory=list)


class ContextResponse(ItemLists):
    conversation_context: ConversationContext | None = None
    metadata: ResponseMetadata = Field(default_factory=ResponseMetadata)
    # ``response_shape="ranked"`` only (``None`` otherwise): every item once, best first; ``items`` on the wire.
    ranked: list[RankedItem] | None = Field(
        default=None, validation_alias=AliasChoices("ranked", "items"), serialization_alias="items"
    )

    def items(self) -> list[_Item]:
        """Every item, in rank order (best first)."""
        all_items: list[_Item] = [*self.facts, *self.preferences, *self.episodes, *self.emotions]
        all_items += self.temporal_events
        return sorted(all_items, key=lambda i: -(i.score or 0.0))


class ContextForPromptResponse(_Model):
    """``get_context_for_prompt``: the conversation's latest compaction (``context_block``: the framed summary of the
    turns it covers) followed by the raw turns newer than it (``recent_messages``; all of them, up to the limit, when
    there is no compaction). ``formatted_context`` is both, ready for a prompt."""

    formatted_context: str | None = None
    available: bool = False
    is_stale: bool = False
    compression_ratio: float | None = None
    validation_score: float | None = None
    compaction_age_seconds: int | None = None
    quality_warning: bool = False
    recent_messages: list[RecentMessage] = Field(default_factory=list)
    recent_message_count: int = 0
    compacted_message_count: int = 0
    total_message_count: int = 0
    context_block: str | None = None
    compaction_id: str | None = None


CompactionStrategy = Literal["conservative", "balanced", "aggressive", "adaptive"]


class CompactionTrigger(_Model):
    """What ``compact`` answers: the compaction it made (``completed``), or the one that already covers every turn
    (``already_compacted``)."""

    compaction_id: str
    conversation_id: str
    status: Literal["completed", "already_compacted"]
    trigger_type: str = "manual_api"
    initiated_at: datetime
    estimated_completion_seconds: int = 0
    version: int
    strategy_used: CompactionStrategy
    compression_ratio: float | None = None
    validation_score: float | None = None
    previous_compaction_id: str | None = None


class Compaction(_Model):
    """One version of a conversation's compaction. ``formatted_context`` is rendered in the ``format`` asked
    (``structured`` sections, ``narrative`` prose, or ``injection``: the framed block for a prompt); the sections
    list the kept sentences (``content``, ``speaker``, ``turn``: the 1-based turn they come from)."""

    conversation_id: str
    compaction_id: str
    version: int
    strategy_used: CompactionStrategy
    format: str = "structured"
    formatted_context: str
    original_token_count: int = Field(description="tokens of the covered turns (≈ 4 characters each)")
    compacted_token_count: int = Field(description="tokens of the structured compacted text")
    compression_ratio: float = Field(description="compacted / original tokens")
    validation_score: float | None = Field(
        default=None, description="share of the covered turns' extracted memories the kept sentences still state"
    )
    validation_passed: bool | None = None  # validation_score ≥ 0.5
    quality_warning: bool = False
    compacted_message_count: int = Field(description="turns covered: the conversation's first N")
    facts: list[dict[str, Any]] = Field(default_factory=list)
    decisions: list[dict[str, Any]] = Field(default_factory=list)
    preferences: list[dict[str, Any]] = Field(default_factory=list)
    open_questions: list[dict[str, Any]] = Field(default_factory=list)
    current_state: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    completed_at: datetime | None = None


class CompactionStatus(_Model):
    """The state of a conversation's latest compaction (``status``: ``completed``, ``in_progress``, ``failed``, or
    ``not_compacted`` when there is none)."""

    conversation_id: str
    status: str
    compaction_id: str | None = None
    completed_at: datetime | None = None
    compression_ratio: float | None = None
    validation_score: float | None = None
    estimated_completion_seconds: int | None = None
    error_message: str | None = None
    latest_version: int | None = None
    latest_created_at: datetime | None = None


class UnifiedParts(_Model):
    """What the unified fetch adds to a context response, in the SDK's model and on the wire alike."""

    scope_map: dict[str, str] = Field(default_factory=dict)
    formatted_context: str | None = None
    scopes_queried: list[str] = Field(default_factory=list)
    total_items: int = 0
    conversation_context_for_prompt: ContextForPromptResponse | None = None


class UnifiedContextResponse(UnifiedParts, ContextResponse):  # UnifiedParts first: its fields come after the others
    pass


class CreateMemoryResponse(_Model):
    ingestion_id: str
    document_id: str
    status: IngestStatus
    queued_at: datetime
    error_message: str | None = None


class BatchCreateResponse(_Model):
    batch_id: str
    total: int
    succeeded: int
    failed: int
    results: list[CreateMemoryResponse | dict[str, Any]]


class MemoryStatusResponse(_Model):
    ingestion_id: str
    document_id: str
    status: IngestStatus
    queued_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    memories_created: int = 0
    memory_ids: list[str] = Field(default_factory=list)
    error_message: str | None = None
    attempts: int = 0


class Memory(_Model):
    memory_id: str
    memory_type: str
    content: str
    confidence: float
    category: str | None = None
    subcategory: str | None = None
    created_at: datetime
    updated_at: datetime | None = None
    source_document_id: str | None = None
    source: str = ""
    event_date: datetime | None = None
    valid_until: datetime | None = None
    temporal_category: str | None = None
    source_evidence: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    superseded_by: str | None = None


class MemoryPage(_Model):
    data: list[Memory]
    page: int
    page_size: int
    total: int
    total_pages: int


class DeletedMemory(_Model):
    memory_id: str
    deleted_at: datetime


class DeletionReceipt(_Model):
    """What an erasure removed, by kind of row (memories, documents, ingestions, messages, conversations)."""

    receipt_id: str
    deleted_at: datetime
    deleted: dict[str, int]
    dry_run: bool = False  # counted only: what the erasure would delete


class ExportPage(_Model):
    """One page of an export: JSON-ready records of :mod:`tenantry.dataformat` (the first page starts with the
    ``header`` record) and the cursor of the next page (``None``: this was the last)."""

    records: list[dict[str, Any]]
    next_cursor: str | None = None


class ImportSkip(_Model):
    """A record an import did not write: its line in the file (when known), its kind and why."""

    line: int | None = None
    kind: str | None = None
    reason: str


class ImportReport(_Model):
    """What an import wrote, per kind (``documents``, ``memories``, ``messages``), and what it skipped."""

    imported: dict[str, int]
    skipped: list[ImportSkip] = Field(default_factory=list)


class RecordedMessage(_Model):
    message_id: str
    conversation_id: str
    session_id: str
    recorded_at: datetime
    conversation_message_count: int | None = None  # 1-based position of the turn in its conversation


class TranscriptIngestion(_Model):
    conversation_id: str
    external_conversation_id: str
    ingestion_id: str
    status: Literal["queued", "duplicate"]
    turns_recorded: int = 0
    summary_status: Literal["in_progress", "already_compacted", "skipped"]
    queued_at: datetime
    warnings: list[str] = Field(default_factory=list)


class Turn(_Model):
    role: str
    content: str
    timestamp: datetime
    message_id: str
    position: int  # 1-based position in the conversation


class ProfileAttribute(_Model):
    value: Any = None
    confidence: float | None = None
    updated_at: str | None = None
    memory_id: str | None = None


class UserProfile(_Model):
    """Built on request from the memories stored at the user's own scope: the strongest preference per category and
    an overview of the most confident facts."""

    attributes: dict[str, ProfileAttribute] = Field(default_factory=dict)
    overview: str | None = None
    extras: dict[str, Any] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict, alias="_meta")


class Identity(_Model):
    """Who the caller is: the instance its key (remote) or its settings (embedded) name."""

    instance_id: str
    client_id: str
    instance_name: str
    relationship: Literal["b2b", "b2c"]
    mode: Literal["embedded", "remote"] = "embedded"
    key_id: str | None = None
    user_context_isolation: str | None = None  # "equals_customer" on b2c instances


class Instance(_Model):
    """An instance as the admin API and the CLI show it."""

    instance_id: str
    name: str
    relationship: Literal["b2b", "b2c"]
    client_id: str
    created_at: datetime
    archived: bool = False
    embedder: str | None = None
    dimensions: int | None = None


class ApiKey(_Model):
    """An API key's record: never its secret, never its hash."""

    key_id: str
    instance_id: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class IssuedApiKey(ApiKey):
    api_key: str = Field(description="the secret; shown only in this response")


class InstanceCreated(_Model):
    instance: Instance
    key: IssuedApiKey
