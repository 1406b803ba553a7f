"""User profiles, built on request from the facts and preferences stored at the user's own scope (never the
customer's or the client's)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ContextNotFoundError
from ..models import Memory
from ..models import ProfileAttribute
from ..models import UserProfile
from ..retrieval.present import to_memory
from ..scope import ReadChain
from ..scope import Target
from ..store.base import SearchFilters
from ..validation import utcnow

if TYPE_CHECKING:
    from ._core import AsyncMemoryService

__all__ = ["Profiles", "build_profile"]

MAX_SCANNED = 500
OVERVIEW_FACTS = 8


def build_profile(source: str, memories: list[Memory]) -> UserProfile:
    """Attributes: the strongest preference per category; overview: the most confident facts."""
    attributes: dict[str, ProfileAttribute] = {}
    prefs = sorted((m for m in memories if m.memory_type == "preference"), key=lambda m: -m.confidence)
    for m in prefs:
        attributes.setdefault(
            m.category or "general",
            ProfileAttribute(
                value=m.content,
                confidence=m.confidence,
                updated_at=(m.updated_at or m.created_at).isoformat(),
                memory_id=m.memory_id,
            ),
        )
    facts = sorted((m for m in memories if m.memory_type == "fact"), key=lambda m: -m.confidence)
    overview = " ".join(f.content.rstrip(".") + "." for f in facts[:OVERVIEW_FACTS]) or None
    return UserProfile(
        attributes=attributes,
        overview=overview,
        extras={"facts": len(facts), "preferences": len(prefs)},
        _meta={
            "source": "tenantry",
            "built_from": f"{source} facts and preferences",
            "generated_at": utcnow().isoformat(),
        },
    )


class Profiles:
    def __init__(self, svc: AsyncMemoryService) -> None:
        self._svc = svc

    async def user(self, target: Target) -> UserProfile:
        """The profile of ``target``'s user. ``ContextNotFoundError`` (``profile_not_found``) when the user has no
        facts or preferences yet."""
        scope = target.write_scope
        rows, _ = await self._svc.store.list_memories(
            ReadChain.single(scope),
            offset=0,
            limit=MAX_SCANNED,
            filters=SearchFilters(types=("fact", "preference")),
        )
        if not rows:
            raise ContextNotFoundError(
                f"no profile for {scope.source}: no facts or preferences yet", code="profile_not_found"
            )
        return build_profile(scope.source, [to_memory(r) for r in rows])
