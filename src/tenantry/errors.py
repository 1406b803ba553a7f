"""The exception tree of tenantry, shared by the engine, the HTTP server and both SDK transports.

```
TenantryError(message, *, code, correlation_id=None)      # root; never raised bare
├── PermanentError                                        # retrying the same call will not help
│   ├── InvalidInputError (400/422)
│   │   ├── InvalidScopeError
│   │   └── InvalidConversationIdError
│   ├── AuthenticationError (401)
│   ├── PermissionDeniedError (403)  ⊃ ScopeViolationError
│   ├── NotFoundError (404)          ⊃ ContextNotFoundError ⊃ MemoryNotFoundError, IngestionNotFoundError
│   ├── ConflictError (409)          ⊃ TranscriptConflictError
│   ├── PayloadTooLargeError (413)   (also an InvalidInputError)
│   └── ConfigurationError           # raised at construction/startup only
└── TransientError                   # safe to retry
    ├── RateLimitError (429, retry_after)
    ├── ServiceUnavailableError (503) ⊃ StoreUnavailableError, EmbedderUnavailableError
    └── DeadlineExceededError (504)
```
The HTTP status of each class is its ``status_code``; ``code`` is the stable machine-readable string
sent in error bodies. ``error_from_status`` is the inverse table used by the remote transport.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "ContextNotFoundError",
    "DeadlineExceededError",
    "EmbedderUnavailableError",
    "IngestionNotFoundError",
    "InvalidConversationIdError",
    "InvalidInputError",
    "InvalidScopeError",
    "MemoryNotFoundError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermanentError",
    "PermissionDeniedError",
    "RateLimitError",
    "ScopeViolationError",
    "ServiceUnavailableError",
    "StoreUnavailableError",
    "TenantryError",
    "TranscriptConflictError",
    "TransientError",
    "error_from_status",
]


class TenantryError(Exception):
    """Root of every error tenantry raises on purpose."""

    status_code: int = 500
    default_code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        correlation_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.correlation_id = correlation_id
        self.details = details or {}

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r})"

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        if self.correlation_id:
            body["correlation_id"] = self.correlation_id
        return body


class PermanentError(TenantryError):
    """The same call will fail again; fix the input, the key or the configuration."""


class TransientError(TenantryError):
    """A temporary failure: the call may succeed if retried later."""

    status_code = 503
    default_code = "transient_error"


class InvalidInputError(PermanentError):
    status_code = 400
    default_code = "invalid_input"


class InvalidScopeError(InvalidInputError):
    default_code = "invalid_scope"


class InvalidConversationIdError(InvalidInputError):
    default_code = "invalid_conversation_id"


class PayloadTooLargeError(InvalidInputError):
    status_code = 413
    default_code = "payload_too_large"


class AuthenticationError(PermanentError):
    status_code = 401
    default_code = "unauthenticated"


class PermissionDeniedError(PermanentError):
    status_code = 403
    default_code = "forbidden"


class ScopeViolationError(PermissionDeniedError):
    default_code = "scope_violation"


class NotFoundError(PermanentError):
    status_code = 404
    default_code = "not_found"


class ContextNotFoundError(NotFoundError):
    default_code = "context_not_found"


class MemoryNotFoundError(ContextNotFoundError):
    default_code = "memory_not_found"


class IngestionNotFoundError(ContextNotFoundError):
    default_code = "ingestion_not_found"


class ConflictError(PermanentError):
    status_code = 409
    default_code = "conflict"


class TranscriptConflictError(ConflictError):
    default_code = "transcript_conflict"


class ConfigurationError(PermanentError):
    status_code = 500
    default_code = "configuration_error"


class RateLimitError(TransientError):
    status_code = 429
    default_code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float = 1.0, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServiceUnavailableError(TransientError):
    status_code = 503
    default_code = "unavailable"


class StoreUnavailableError(ServiceUnavailableError):
    default_code = "store_unavailable"


class EmbedderUnavailableError(ServiceUnavailableError):
    default_code = "embedder_unavailable"


class DeadlineExceededError(TransientError):
    status_code = 504
    default_code = "deadline_exceeded"


_BY_CODE: dict[str, type[TenantryError]] = {
    cls.default_code: cls
    for cls in (
        InvalidInputError,
        InvalidScopeError,
        InvalidConversationIdError,
        PayloadTooLargeError,
        AuthenticationError,
        PermissionDeniedError,
        ScopeViolationError,
        NotFoundError,
        ContextNotFoundError,
        MemoryNotFoundError,
        IngestionNotFoundError,
        ConflictError,
        TranscriptConflictError,
        ConfigurationError,
        RateLimitError,
        ServiceUnavailableError,
        StoreUnavailableError,
        EmbedderUnavailableError,
        DeadlineExceededError,
        TransientError,
    )
}

_BY_STATUS: dict[int, type[TenantryError]] = {
    400: InvalidInputError,
    413: PayloadTooLargeError,
    422: InvalidInputError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
    503: ServiceUnavailableError,
    504: DeadlineExceededError,
}


def error_from_status(
    status: int, message: str, *, code: str | None = None, correlation_id: str | None = None
) -> TenantryError:
    """Rebuild the most specific error for an HTTP status and stable ``code`` (the server's inverse table)."""
    cls = _BY_CODE.get(code or "")
    if cls is None or (cls.status_code != status and status not in (400, 422)):
        cls = _BY_STATUS.get(status, ServiceUnavailableError if status >= 500 else TransientError)
    return cls(message, code=code, correlation_id=correlation_id)
