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
sent in error bodies (its default, ``default_code``); a class gives both in its header (``status=``, ``code=``).
``error_from_status`` is the inverse table used by the remote transport.
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

    def __init_subclass__(cls, *, status: int | None = None, code: str | None = None, **kwargs: Any) -> None:
        # A subclass states its HTTP status and stable code in its header, e.g.
        # ``class NotFoundError(PermanentError, status=404, code="not_found")``; what it leaves out it inherits.
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status_code = status
        if code is not None:
            cls.default_code = code

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


class TransientError(TenantryError, status=503, code="transient_error"):
    """A temporary failure: the call may succeed if retried later."""


class InvalidInputError(PermanentError, status=400, code="invalid_input"):
    """The request is malformed or breaks a rule of the API (sent as 400, or 422 for a body that fails its schema)."""


class InvalidScopeError(InvalidInputError, code="invalid_scope"):
    """A scope that cannot exist, e.g. a USER scope without a user id."""


class InvalidConversationIdError(InvalidInputError, code="invalid_conversation_id"):
    """A conversation id the API does not accept."""


class PayloadTooLargeError(InvalidInputError, status=413, code="payload_too_large"):
    """A document or request larger than the configured limit."""


class AuthenticationError(PermanentError, status=401, code="unauthenticated"):
    """No API key, or one that is invalid, revoked or archived."""


class PermissionDeniedError(PermanentError, status=403, code="forbidden"):
    """The caller is known but may not do this."""


class ScopeViolationError(PermissionDeniedError, code="scope_violation"):
    """An attempt to reach another tenant's scope."""


class NotFoundError(PermanentError, status=404, code="not_found"):
    """Nothing with this id where the caller may look."""


class ContextNotFoundError(NotFoundError, code="context_not_found"):
    """An instance, customer, conversation or key the caller named does not exist (or not for this caller)."""


class MemoryNotFoundError(ContextNotFoundError, code="memory_not_found"):
    """No memory with this id in the caller's scopes."""


class IngestionNotFoundError(ContextNotFoundError, code="ingestion_not_found"):
    """No ingestion with this id in the caller's instance."""


class ConflictError(PermanentError, status=409, code="conflict"):
    """The request contradicts the current state."""


class TranscriptConflictError(ConflictError, code="transcript_conflict"):
    """A conversation already ingested with a different transcript (the same one again is no error)."""


class ConfigurationError(PermanentError, status=500, code="configuration_error"):
    """The service is misconfigured: raised at construction or startup only."""


class RateLimitError(TransientError, status=429, code="rate_limited"):
    """The key is over its request rate; ``retry_after`` says how many seconds to wait."""

    def __init__(self, message: str, *, retry_after: float = 1.0, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServiceUnavailableError(TransientError, status=503, code="unavailable"):
    """The service, or something it depends on, cannot serve the call right now."""


class StoreUnavailableError(ServiceUnavailableError, code="store_unavailable"):
    """The memory store cannot be reached."""


class EmbedderUnavailableError(ServiceUnavailableError, code="embedder_unavailable"):
    """The embedder cannot run (its model or runtime is missing or failed to load)."""


class DeadlineExceededError(TransientError, status=504, code="deadline_exceeded"):
    """The work did not finish in the time the caller allowed (an ingestion still running when the wait ends)."""


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
