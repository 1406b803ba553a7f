"""Helpers shared by the route modules."""

from __future__ import annotations

from dataclasses import fields
from typing import Any
from typing import TypeVar

from fastapi import Response
from pydantic import BaseModel

from ...errors import InvalidInputError
from ...models import ContextResponse
from ..schemas import ContextEnvelope
from ..schemas import ContextLists

__all__ = ["EXPIRED_TTL", "context_envelope", "json_response", "merge_scope_path", "request_of"]

R = TypeVar("R")

EXPIRED_TTL = -1
"""``ttl_seconds`` of every context answer. The Synap client caches a non-empty context answer in its local SQLite
cache for ``ttl_seconds`` (``0`` or a missing value becomes its 300 s default, 1800 s for client scope) under a key
that, for a user, holds the ``user_id`` but not the ``customer_id``: any positive ttl lets one customer's user be
served another customer's same-named user's context without a request. It stores ``now + ttl`` as the expiry and
serves an entry only while ``expiry > now``, so ``-1`` is expired when written: every fetch reaches the server."""


def json_response(model: BaseModel, *, status_code: int = 200, exclude_none: bool = False) -> Response:
    """Serialise a response model once (FastAPI's response_model is kept for the OpenAPI document only)."""
    return Response(
        content=model.model_dump_json(exclude_none=exclude_none, by_alias=True),
        status_code=status_code,
        media_type="application/json",
    )


def request_of(cls: type[R], body: BaseModel | None = None, /, **values: Any) -> R:
    """A contract request model from a parsed wire body: the body's fields of the same names that are set (the
    request's defaults apply to the others), then ``values`` (path and query parameters, ids folded from a Synap
    ``scope``). Values are checked by the engine, as for the embedded SDK."""
    wire = type(body).model_fields if body is not None else {}
    data = {
        f.name: value
        for f in fields(cls)  # type: ignore[arg-type]  # R is a contract request dataclass
        if f.name in wire and (value := getattr(body, f.name)) is not None
    }
    data.update(values)
    return cls(**data)


def merge_scope_path(
    scope: dict[str, str] | None, customer_id: str | None, user_id: str | None
) -> tuple[str | None, str | None]:
    """Fold a Synap rung path (``{"customer": ..., "user": ...}``) into (customer_id, user_id).

    Raises:
        InvalidInputError: a rung tenantry does not have, or a rung that contradicts the explicit id.
    """
    if not scope:
        return customer_id, user_id
    unknown = sorted(set(scope) - {"customer", "user"})
    if unknown:
        raise InvalidInputError(
            f"scope levels {unknown} are not supported: tenantry scopes are customer and user",
            code="unsupported_scope_level",
            details={"field": "scope"},
        )
    for rung, explicit in (("customer", customer_id), ("user", user_id)):
        if rung in scope and explicit is not None and scope[rung] != explicit:
            raise InvalidInputError(f"scope.{rung} contradicts {rung}_id", details={"field": "scope"})
    return customer_id or scope.get("customer"), user_id or scope.get("user")


def context_envelope(resp: ContextResponse, *, correlation_id: str, keep_conversation: bool = True) -> ContextEnvelope:
    """Wrap an engine response the way the Synap client reads it: typed lists under ``context``."""
    if correlation_id:
        resp.metadata.correlation_id = correlation_id
    resp.metadata.ttl_seconds = EXPIRED_TTL
    return ContextEnvelope(
        context=ContextLists.model_validate(resp, from_attributes=True),
        conversation_context=resp.conversation_context if keep_conversation else None,
        metadata=resp.metadata,
        ttl_seconds=EXPIRED_TTL,
    )
