"""``GET /v1/users/{user_id}/profile``: a profile document built from the user's own facts and preferences."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Response

from ...errors import ContextNotFoundError
from ...models import Memory
from ..deps import Caller, ServerState, authenticate, get_state
from ..errors import ERROR_RESPONSES
from ..schemas import IdPath, IdQuery, ProfileAttribute, ProfileDocument, ProfileWire
from ._common import json_response, not_none

__all__ = ["router"]

router = APIRouter(tags=["users"], responses=ERROR_RESPONSES)

_MAX_SCAN = 500
_OVERVIEW_FACTS = 8


def build_profile(user_id: str, memories: list[Memory]) -> ProfileDocument:
    """Attributes: the strongest preference per category; overview: the user's most confident facts."""
    attributes: dict[str, ProfileAttribute] = {}
    prefs = sorted((m for m in memories if m.memory_type == "preference"), key=lambda m: -m.confidence)
    for m in prefs:
        key = m.category or "general"
        if key not in attributes:
            attributes[key] = ProfileAttribute(
                value=m.content,
                confidence=m.confidence,
                updated_at=(m.updated_at or m.created_at).isoformat(),
                memory_id=m.memory_id,
            )
    facts = sorted((m for m in memories if m.memory_type == "fact"), key=lambda m: -m.confidence)
    overview = " ".join(f.content.rstrip(".") + "." for f in facts[:_OVERVIEW_FACTS]) or None
    return ProfileDocument(
        attributes=attributes,
        overview=overview,
        extras={"facts": len(facts), "preferences": len(prefs)},
        _meta={
            "source": "tenantry",
            "built_from": f"user:{user_id} facts and preferences",
            "generated_at": datetime.now(UTC).isoformat(),
        },
    )


@router.get("/v1/users/{user_id}/profile", response_model=ProfileWire, summary="User profile")
async def profile(
    user_id: IdPath,
    customer_id: IdQuery = None,
    caller: Caller = Depends(authenticate),
    state: ServerState = Depends(get_state),
) -> Response:
    """Built on request from the memories stored at that user's own scope (not the customer's or the client's).
    404 ``profile_not_found`` when the user has none. On b2b instances ``customer_id`` is required."""
    own = f"user:{user_id}"
    mine: list[Memory] = []
    page = 1
    while len(mine) < _MAX_SCAN:
        res = await state.svc.list_memories(
            caller.instance,
            page=page,
            page_size=100,
            types=["fact", "preference"],
            **not_none(user_id=user_id, customer_id=customer_id),
        )
        mine.extend(m for m in res.data if m.source == own)
        if page >= res.total_pages:
            break
        page += 1
    if not mine:
        raise ContextNotFoundError(
            f"no profile for user {user_id}: no facts or preferences yet", code="profile_not_found"
        )
    return json_response(ProfileWire(profile=build_profile(user_id, mine)), exclude_none=True)
