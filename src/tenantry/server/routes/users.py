"""``GET /v1/users/{user_id}/profile``: a profile built from the user's own facts and preferences."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Response

from ...contract import ProfileQuery
from ..deps import Caller
from ..deps import authenticate
from ..errors import ERROR_RESPONSES
from ..schemas import IdPath
from ..schemas import IdQuery
from ..schemas import ProfileWire
from ._common import json_response

__all__ = ["router"]

router = APIRouter(tags=["users"], responses=ERROR_RESPONSES)


@router.get("/v1/users/{user_id}/profile", response_model=ProfileWire, summary="User profile")
async def profile(user_id: IdPath, customer_id: IdQuery = None, caller: Caller = Depends(authenticate)) -> Response:
    """Built on request from the memories stored at that user's own scope (not the customer's or the client's).
    404 ``profile_not_found`` when the user has none. On b2b instances ``customer_id`` is required."""
    found = await caller.api.get_user_profile(ProfileQuery(user_id=user_id, customer_id=customer_id))
    return json_response(ProfileWire(profile=found), exclude_none=True)
