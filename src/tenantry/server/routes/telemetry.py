"""``POST /v1/telemetry/batch`` and ``POST /v1/events/batch``: what the Synap clients report about themselves and
about a conversation's progress, accepted and dropped. Nothing is stored or forwarded: tenantry's own telemetry is the
local ``/metrics``, and a conversation's turns reach it through ``record_message`` / ``memories.create`` (which every
integration that reports events also calls)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Response

from ..deps import Caller
from ..deps import authenticate
from ..errors import ERROR_RESPONSES
from ..schemas import EventResult
from ..schemas import EventsAccepted
from ..schemas import EventsBatch
from ..schemas import TelemetryAccepted
from ..schemas import TelemetryBatch
from ._common import json_response

__all__ = ["router"]

router = APIRouter(tags=["ops"], responses=ERROR_RESPONSES)


@router.post("/v1/telemetry/batch", status_code=202, response_model=TelemetryAccepted, summary="Accept and drop")
async def telemetry(body: TelemetryBatch) -> Response:
    """Answer 202 so the client's shutdown does not stall; the events are discarded."""
    return json_response(TelemetryAccepted(accepted=len(body.events)), status_code=202)


@router.post("/v1/events/batch", response_model=EventsAccepted, summary="Accept and drop conversation events")
async def events(body: EventsBatch, caller: Caller = Depends(authenticate)) -> Response:
    """Every event accepted (200, one result per event, in order) and discarded: tenantry has no anticipation agent
    to feed. The Synap client's transport accepts only 200 here."""
    results = [EventResult(event_id=str(e["event_id"]) if e.get("event_id") is not None else None) for e in body.events]
    return json_response(EventsAccepted(accepted=len(results), results=results))
