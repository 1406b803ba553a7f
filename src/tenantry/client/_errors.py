"""The inverse of :mod:`tenantry.server.errors`: an HTTP error response back into the tenantry exception the
engine raised (class from the body's ``type``, else its ``code``, else the status)."""

from __future__ import annotations

from typing import Any

import httpx

from .. import errors as E

__all__ = ["error_from_response", "transport_error"]

_CLASSES: dict[str, type[E.TenantryError]] = {
    name: cls for name in E.__all__ if isinstance(cls := getattr(E, name), type) and issubclass(cls, E.TenantryError)
}


def error_from_response(resp: httpx.Response) -> E.TenantryError:
    """Rebuild the error of a non-2xx response, keeping its ``code``, ``details`` and correlation id."""
    body: Any
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    detail = body.get("detail")
    message = body.get("message")
    if not isinstance(message, str):
        if isinstance(detail, dict):
            message = str(detail.get("message") or detail)
        elif isinstance(detail, str):
            message = detail
        else:
            message = resp.text[:500] or f"HTTP {resp.status_code}"
    code = body.get("code")
    if not isinstance(code, str) and isinstance(detail, dict):
        code = detail.get("code")
    code = code if isinstance(code, str) else None
    cid = body.get("correlation_id") or resp.headers.get("x-correlation-id")
    cls = _CLASSES.get(str(body.get("type")))
    if cls is None or cls is E.TenantryError:
        err = E.error_from_status(resp.status_code, message, code=code, correlation_id=cid)
    elif issubclass(cls, E.RateLimitError):
        err = cls(message, code=code, correlation_id=cid, retry_after=_retry_after(resp))
    else:
        err = cls(message, code=code, correlation_id=cid)
    if isinstance(err, E.RateLimitError):
        err.retry_after = _retry_after(resp)
    details = body.get("details")
    if isinstance(details, dict):
        err.details = details
    return err


def _retry_after(resp: httpx.Response) -> float:
    try:
        return max(0.0, float(resp.headers.get("retry-after", "1")))
    except ValueError:
        return 1.0


def transport_error(exc: httpx.HTTPError, url: str) -> E.TenantryError:
    """A network failure (no HTTP answer) as a transient tenantry error."""
    if isinstance(exc, httpx.TimeoutException):
        return E.DeadlineExceededError(f"tenantry server at {url} timed out: {exc}", code="timeout")
    return E.ServiceUnavailableError(f"tenantry server at {url} unreachable: {exc}", code="unreachable")
