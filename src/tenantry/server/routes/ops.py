"""Unauthenticated operational routes: ``/health`` (the Synap client's keep-alive) and Prometheus ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Response

from ..._version import __version__
from ..deps import ServerState
from ..deps import get_state
from ..metrics import CONTENT_TYPE_LATEST
from ..schemas import Health
from ._common import json_response

__all__ = ["router"]

router = APIRouter(tags=["ops"])


@router.get("/health", response_model=Health, summary="Liveness (no auth)")
async def health() -> Response:
    """Answer 200 while the process serves requests."""
    return json_response(Health(status="ok", version=__version__))


@router.get(
    "/metrics",
    summary="Prometheus metrics (no auth)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "exposition text"}},
)
async def metrics(state: ServerState = Depends(get_state)) -> Response:
    """Request counters and latencies by route, rate-limit and auth refusals, and the ingestion queue depth."""
    if state.service is not None:
        for status in ("queued", "processing"):
            state.metrics.queue_depth.labels(status).set(await state.service.admin.queue_depth(status))
    return Response(content=state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
