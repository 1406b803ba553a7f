"""``POST /v1/telemetry/batch``: the Synap client's telemetry, accepted (202) and dropped. Nothing is stored or
forwarded; tenantry's own telemetry is the local ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi import Response

from ..errors import ERROR_RESPONSES
from ..schemas import TelemetryAccepted
from ..schemas import TelemetryBatch
from ._common import json_response

__all__ = ["router"]

router = APIRouter(tags=["ops"], responses=ERROR_RESPONSES)


@router.post("/v1/telemetry/batch", status_code=202, response_model=TelemetryAccepted, summary="Accept and drop")
async def telemetry(body: TelemetryBatch) -> Response:
    """Answer 202 so the client's shutdown does not stall; the events are discarded."""
    return json_response(TelemetryAccepted(accepted=len(body.events)), status_code=202)
