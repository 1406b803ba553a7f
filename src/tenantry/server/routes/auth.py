"""``GET /api/v1/auth/whoami``: the identity behind the API key (the Synap client's bootstrap call)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Response

from ...models import Identity
from ..deps import Caller
from ..deps import authenticate
from ..errors import ERROR_RESPONSES
from ._common import json_response

__all__ = ["router"]

router = APIRouter(tags=["auth"], responses=ERROR_RESPONSES)


@router.get("/api/v1/auth/whoami", response_model=Identity, summary="Instance and client of the API key")
async def whoami(caller: Caller = Depends(authenticate)) -> Response:
    """Return the key's instance. On b2c instances ``user_context_isolation`` is ``equals_customer``."""
    identity = await caller.api.open()
    return json_response(identity.model_copy(update={"key_id": caller.key.key_id, "mode": "remote"}), exclude_none=True)
