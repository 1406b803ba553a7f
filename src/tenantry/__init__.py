"""tenantry: a self-hostable, multi-tenant memory layer for AI agents.

from tenantry import Tenantry          # or MaximemSynapSDK, the Synap-compatible alias
"""

from __future__ import annotations

from ._version import __version__
from .contract import TenantryAPI
from .errors import AuthenticationError
from .errors import ConfigurationError
from .errors import ConflictError
from .errors import ContextNotFoundError
from .errors import DeadlineExceededError
from .errors import EmbedderUnavailableError
from .errors import IngestionNotFoundError
from .errors import InvalidConversationIdError
from .errors import InvalidInputError
from .errors import InvalidScopeError
from .errors import MemoryNotFoundError
from .errors import NotFoundError
from .errors import PayloadTooLargeError
from .errors import PermanentError
from .errors import PermissionDeniedError
from .errors import RateLimitError
from .errors import ScopeViolationError
from .errors import ServiceUnavailableError
from .errors import StoreUnavailableError
from .errors import TenantryError
from .errors import TranscriptConflictError
from .errors import TransientError
from .models import ContextResponse
from .models import CreateMemoryResponse
from .models import Emotion
from .models import Episode
from .models import Fact
from .models import Memory
from .models import MemoryStatusResponse
from .models import Preference
from .models import TemporalEvent
from .models import UnifiedContextResponse
from .models import UserProfile
from .scope import Relationship
from .scope import Scope
from .scope import ScopeLevel
from .sdk import MaximemSynapSDK
from .sdk import Tenantry
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
