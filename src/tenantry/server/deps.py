"""Request dependencies: the per-app state, API-key authentication (+ rate limiting) and the admin guard."""

from __future__ import annotations

import time
from dataclasses import dataclass
from dataclasses import field

from fastapi import Depends
from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security import HTTPBearer

from ..errors import AuthenticationError
from ..errors import PermissionDeniedError
from ..errors import RateLimitError
from ..service import AsyncMemoryService
from ..service import LocalAPI
from ..service.admin import hash_api_key
from ..service.admin import tokens_equal
from ..store.base import InstanceRecord
from ..store.base import KeyRecord
from .config import ServerSettings
from .metrics import ServerMetrics
from .ratelimit import TokenBucketLimiter

__all__ = [
    "Caller",
    "ServerState",
    "admin_guard",
    "api_key_auth",
    "authenticate",
    "get_state",
    "require_admin",
    "state_of",
]

api_key_auth = HTTPBearer(auto_error=False, scheme_name="ApiKey", description="an instance API key: tn_...")
admin_auth = HTTPBearer(auto_error=False, scheme_name="AdminToken", description="TENANTRY_ADMIN_TOKEN")


@dataclass
class ServerState:
    """Everything one app instance owns (created by ``create_app``, filled in by its lifespan)."""

    settings: ServerSettings
    metrics: ServerMetrics
    limiter: TokenBucketLimiter
    service: AsyncMemoryService | None = None
    key_cache: dict[str, tuple[float, KeyRecord, InstanceRecord]] = field(default_factory=dict)

    @property
    def svc(self) -> AsyncMemoryService:
        if self.service is None:  # only before startup / after shutdown
            from ..errors import ServiceUnavailableError

            raise ServiceUnavailableError("the server is starting or stopping", code="not_ready")
        return self.service

    def forget_keys(self) -> None:
        """Drop cached key verifications (after a revocation or an archive)."""
        self.key_cache.clear()


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller: its key, the key's instance (the only source of the instance) and the contract's
    operations for that instance (what every route calls)."""

    key: KeyRecord
    instance: InstanceRecord
    correlation_id: str
    api: LocalAPI


def state_of(request: Request) -> ServerState:
    """The :class:`ServerState` of the app serving ``request``."""
    state: ServerState = request.app.state.tenantry
    return state


async def get_state(request: Request) -> ServerState:
    """Dependency form of :func:`state_of`. A coroutine: FastAPI runs a plain ``def`` dependency on its thread pool,
    a thread hop per request for a lookup."""
    return state_of(request)


def correlation_id(request: Request) -> str:
    cid = getattr(request.state, "correlation_id", None)
    return cid if isinstance(cid, str) else ""


async def authenticate(
    request: Request,
    creds: HTTPAuthorizationCredentials | None = Depends(api_key_auth),
) -> Caller:
    """Resolve ``Authorization: Bearer <key>`` to its instance; then take a token from the key's rate-limit bucket.

    Raises:
        AuthenticationError: no key, or an unknown, revoked or archived-instance key (401).
        PermissionDeniedError: an ``X-Instance-ID`` header names another instance than the key's (403).
        RateLimitError: the key is over its rate (429 with ``Retry-After``).
    """
    state = state_of(request)
    if creds is None or not creds.credentials:
        state.metrics.auth_failures.inc()
        raise AuthenticationError("missing API key: send 'Authorization: Bearer <key>'", code="missing_api_key")
    presented = creds.credentials.strip()
    digest = hash_api_key(presented)
    now = time.monotonic()
    cached = state.key_cache.get(digest)
    if cached is not None and cached[0] > now:
        key, inst = cached[1], cached[2]
    else:
        found = await state.svc.admin.authenticate_key(presented)
        if found is None:
            state.key_cache.pop(digest, None)
            state.metrics.auth_failures.inc()
            raise AuthenticationError("invalid, revoked or archived API key", code="invalid_api_key")
        key, _ = found
        inst = await state.svc.instance(found[1].instance_id)
        if state.settings.key_cache_seconds > 0:
            if len(state.key_cache) > 10_000:
                state.key_cache.clear()
            state.key_cache[digest] = (now + state.settings.key_cache_seconds, key, inst)
    claimed = request.headers.get("x-instance-id", "").strip()
    if claimed and claimed != inst.instance_id:  # the Synap client sends the instance it believes it talks to
        raise PermissionDeniedError(
            f"X-Instance-ID {claimed[:40]!r} is not the instance of this API key", code="instance_mismatch"
        )
    wait = state.limiter.acquire(key.key_id)
    if wait is not None:
        state.metrics.rate_limited.inc()
        raise RateLimitError(
            f"rate limit of {state.limiter.rate:g} requests/s (burst {state.limiter.burst}) exceeded for this key",
            retry_after=wait,
        )
    return Caller(key, inst, correlation_id(request), state.svc.api(inst))


async def require_admin(
    request: Request,
    creds: HTTPAuthorizationCredentials | None = Depends(admin_auth),
) -> None:
    """Guard of the admin API: ``Authorization: Bearer <TENANTRY_ADMIN_TOKEN>``.

    Raises:
        PermissionDeniedError: the server has no admin token configured (code ``admin_disabled``, 403).
        AuthenticationError: missing or wrong admin token (401).
    """
    token = state_of(request).settings.admin_token
    if not token:
        raise PermissionDeniedError(
            "the admin API is disabled: start the server with TENANTRY_ADMIN_TOKEN set", code="admin_disabled"
        )
    if creds is None or not tokens_equal(creds.credentials.strip(), token):
        raise AuthenticationError("missing or wrong admin token", code="invalid_admin_token")


admin_guard = Depends(require_admin)
