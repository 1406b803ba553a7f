"""The one table from :class:`~tenantry.errors.TenantryError` subclasses to HTTP status and JSON body.

Every error the server sends has this body::

    {"detail": "<message>", "code": "<stable code>", "message": "<message>", "type": "<TenantryError subclass>",
     "correlation_id": "...", "details": {...}}

``detail`` follows FastAPI's convention, which is what the ``maximem-synap`` client reads for its exception message.
For 409 it is an object ``{"code", "message"}`` instead, because the client tells ``TranscriptConflictError`` from
``ConflictError`` by ``detail.code``. ``code`` and ``type`` let tenantry's own remote transport re-raise the very
class the engine raised (:mod:`tenantry.client._errors`). 429 carries ``Retry-After`` (integer seconds).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic import Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import AuthenticationError
from ..errors import ConfigurationError
from ..errors import ConflictError
from ..errors import DeadlineExceededError
from ..errors import InvalidInputError
from ..errors import NotFoundError
from ..errors import PayloadTooLargeError
from ..errors import PermissionDeniedError
from ..errors import RateLimitError
from ..errors import ServiceUnavailableError
from ..errors import TenantryError
from ..errors import TransientError

__all__ = [
    "ERROR_RESPONSES",
    "ErrorBody",
    "STATUS_TABLE",
    "error_body",
    "error_response",
    "install_error_handlers",
    "status_for",
]

log = logging.getLogger("tenantry.server")

# A class not listed takes the status of its nearest listed ancestor (looked up along its MRO).
STATUS_TABLE: dict[type[TenantryError], int] = {
    PayloadTooLargeError: 413,
    InvalidInputError: 400,
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    ConfigurationError: 500,
    RateLimitError: 429,
    DeadlineExceededError: 504,
    ServiceUnavailableError: 503,
    TransientError: 503,
    TenantryError: 500,
}


class ErrorBody(BaseModel):
    """The JSON body of every error response."""

    detail: str | dict[str, Any] = Field(description="the message (an object {code, message} on 409)")
    code: str = Field(description="stable machine-readable error code")
    message: str
    type: str = Field(description="tenantry exception class, e.g. InvalidInputError")
    correlation_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


_DESCRIPTIONS = {
    400: "Invalid input (InvalidInputError)",
    401: "Missing, unknown or revoked API key (AuthenticationError)",
    403: "Not allowed (PermissionDeniedError)",
    404: "Not found in this instance (ContextNotFoundError and subclasses)",
    409: "Conflict (ConflictError; detail.code = transcript_conflict for TranscriptConflictError)",
    413: "Request body or document too large (PayloadTooLargeError)",
    422: "Request does not match the schema (InvalidInputError, code validation_error)",
    429: "Rate limited (RateLimitError); see Retry-After",
    503: "Temporarily unavailable (ServiceUnavailableError)",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in _DESCRIPTIONS.items()
}


def status_for(exc: TenantryError) -> int:
    """The HTTP status of an error, by the nearest class listed in :data:`STATUS_TABLE`."""
    for cls in type(exc).__mro__:
        if cls in STATUS_TABLE:
            return STATUS_TABLE[cls]
    return 500


def error_body(
    *,
    status: int,
    code: str,
    message: str,
    type_name: str,
    correlation_id: str | None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the JSON body described in the module docstring."""
    detail: str | dict[str, Any] = {"code": code, "message": message} if status == 409 else message
    return {
        "detail": detail,
        "code": code,
        "message": message,
        "type": type_name,
        "correlation_id": correlation_id,
        "details": details or {},
    }


def _correlation_id(request: Request) -> str | None:
    cid = getattr(request.state, "correlation_id", None)
    return cid if isinstance(cid, str) else None


def error_response(exc: TenantryError, correlation_id: str | None) -> JSONResponse:
    """The response for a tenantry error (status from :data:`STATUS_TABLE`, ``Retry-After`` on 429/503)."""
    status = status_for(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimitError):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    body = error_body(
        status=status,
        code=exc.code,
        message=exc.message,
        type_name=type(exc).__name__,
        correlation_id=correlation_id or exc.correlation_id,
        details=_json_safe(exc.details),
    )
    return JSONResponse(body, status_code=status, headers=headers)


def _json_safe(details: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in details.items():
        out[str(k)] = v if isinstance(v, str | int | float | bool | type(None) | list | dict) else str(v)
    return out


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every failure into an :class:`ErrorBody` response."""

    async def on_tenantry(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, TenantryError)
        if status_for(exc) >= 500:
            log.warning("request failed: %r", exc)
        return error_response(exc, _correlation_id(request))

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        parts = [f"{'.'.join(e['loc'][1:] or e['loc'])}: {e['msg']}" for e in errors[:5]]
        message = "request does not match the schema: " + "; ".join(parts)
        body = error_body(
            status=422,
            code="validation_error",
            message=message,
            type_name="InvalidInputError",
            correlation_id=_correlation_id(request),
            details={"errors": errors},
        )
        return JSONResponse(body, status_code=422)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        codes = {404: ("route_not_found", "NotFoundError"), 405: ("method_not_allowed", "InvalidInputError")}
        code, type_name = codes.get(exc.status_code, ("http_error", "TenantryError"))
        message = str(exc.detail) if exc.detail else "error"
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path}"
        body = error_body(
            status=exc.status_code,
            code=code,
            message=message,
            type_name=type_name,
            correlation_id=_correlation_id(request),
        )
        return JSONResponse(body, status_code=exc.status_code, headers=dict(exc.headers or {}))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        body = error_body(
            status=500,
            code="internal_error",
            message="internal server error",
            type_name="ServiceUnavailableError",
            correlation_id=_correlation_id(request),
        )
        return JSONResponse(body, status_code=500)

    app.add_exception_handler(TenantryError, on_tenantry)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
