"""memstrata: a self-hostable, multi-tenant memory layer for AI agents.

from memstrata import Memstrata          # or MaximemSynapSDK, the Synap-compatible alias
"""

from __future__ import annotations

from ._version import __version__
from .errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    ContextNotFoundError,
    DeadlineExceededError,
    EmbedderUnavailableError,
    IngestionNotFoundError,
    InvalidConversationIdError,
    InvalidInputError,
    InvalidScopeError,
    MemoryNotFoundError,
    MemstrataError,
    NotFoundError,
    PayloadTooLargeError,
    PermanentError,
    PermissionDeniedError,
    RateLimitError,
    ScopeViolationError,
    ServiceUnavailableError,
    StoreUnavailableError,
    TranscriptConflictError,
    TransientError,
)
from .models import (
    ContextResponse,
    CreateMemoryResponse,
    Emotion,
    Episode,
    Fact,
    Memory,
    MemoryStatusResponse,
    Preference,
    TemporalEvent,
    UnifiedContextResponse,
)
from .scope import Relationship, Scope, ScopeLevel
from .sdk import MaximemSynapSDK, Memstrata
from .settings import Settings
from .sync import SyncMemstrata

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "ContextNotFoundError",
    "ContextResponse",
    "CreateMemoryResponse",
    "DeadlineExceededError",
    "EmbedderUnavailableError",
    "Emotion",
    "Episode",
    "Fact",
    "IngestionNotFoundError",
    "InvalidConversationIdError",
    "InvalidInputError",
    "InvalidScopeError",
    "MaximemSynapSDK",
    "Memory",
    "MemoryNotFoundError",
    "MemoryStatusResponse",
    "Memstrata",
    "MemstrataError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermanentError",
    "PermissionDeniedError",
    "Preference",
    "RateLimitError",
    "Relationship",
    "Scope",
    "ScopeLevel",
    "ScopeViolationError",
    "ServiceUnavailableError",
    "Settings",
    "StoreUnavailableError",
    "SyncMemstrata",
    "TemporalEvent",
    "TranscriptConflictError",
    "TransientError",
    "UnifiedContextResponse",
    "__version__",
]
