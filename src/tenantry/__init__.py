"""tenantry: a self-hostable, multi-tenant memory layer for AI agents.

from tenantry import Tenantry          # or MaximemSynapSDK, the Synap-compatible alias
"""

from __future__ import annotations

from ._version import __version__
from .contract import TenantryAPI
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
    NotFoundError,
    PayloadTooLargeError,
    PermanentError,
    PermissionDeniedError,
    RateLimitError,
    ScopeViolationError,
    ServiceUnavailableError,
    StoreUnavailableError,
    TenantryError,
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
    UserProfile,
)
from .scope import Relationship, Scope, ScopeLevel
from .sdk import MaximemSynapSDK, Tenantry
from .settings import Settings
from .sync import SyncTenantry

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
    "SyncTenantry",
    "TemporalEvent",
    "Tenantry",
    "TenantryAPI",
    "TenantryError",
    "TranscriptConflictError",
    "TransientError",
    "UnifiedContextResponse",
    "UserProfile",
    "__version__",
]
