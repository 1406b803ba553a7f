"""``GET /api/v1/auth/whoami``: the identity behind the API key (the Synap client's bootstrap call)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from ...scope import Relationship
from ..deps import Caller, authenticate
from ..errors import ERROR_RESPONSES
from ..schemas import WhoAmI
from ._common import json_response

__all__ = ["router"]

router = APIRouter(tags=["auth"], responses=ERROR_RESPONSES)


@router.get("/api/v1/auth/whoami", response_model=WhoAmI, summary="Instance and client of the API key")
async def whoami(caller: Caller = Depends(authenticate)) -> Response:
    """Return the key's instance. On b2c instances ``user_context_isolation`` is ``equals_customer``."""
    inst = caller.instance
    b2c = inst.relationship is Relationship.B2C
    return json_response(
        WhoAmI(
            instance_id=inst.instance_id,
            client_id=inst.client_id,
            instance_name=inst.name,
            relationship="b2c" if b2c else "b2b",
            key_id=caller.key.key_id,
            user_context_isolation="equals_customer" if b2c else None,
        ),
        exclude_none=True,
    )
