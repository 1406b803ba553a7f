"""Pure-ASGI middleware: correlation ids, the request-body size limit, and request metrics."""

from __future__ import annotations

import json
import re
import time
import uuid

from starlette.datastructures import Headers
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp
from starlette.types import Message
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

from .errors import error_body
from .metrics import ServerMetrics

__all__ = ["RequestContextMiddleware"]

_CID_OK = re.compile(r"^[A-Za-z0-9._:@\-]{1,128}$")


class RequestContextMiddleware:
    """For every HTTP request:

    - takes the caller's ``X-Correlation-ID`` (or ``X-Request-ID``), or makes one, stores it in ``request.state`` and
      echoes it as ``X-Correlation-ID`` on the response;
    - refuses bodies larger than ``max_body`` with 413 (``payload_too_large``), by ``Content-Length`` or while
      reading a chunked body, before any route runs;
    - counts the request and its latency by route template, and adds ``x-synap-server-ms``.
    """

    def __init__(self, app: ASGIApp, *, max_body: int, metrics: ServerMetrics) -> None:
        self.app = app
        self.max_body = max_body
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        headers = Headers(scope=scope)
        given = headers.get("x-correlation-id") or headers.get("x-request-id") or ""
        cid = given if _CID_OK.match(given) else f"req_{uuid.uuid4().hex}"
        scope.setdefault("state", {})["correlation_id"] = cid
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                out = MutableHeaders(scope=message)
                out["X-Correlation-ID"] = cid
                out["x-synap-server-ms"] = f"{(time.perf_counter() - t0) * 1000:.1f}"
            await send(message)

        self.metrics.in_flight.inc()
        try:
            replay = await self._read_body(headers, receive)
            if replay is None:
                await self._too_large(send_wrapper, cid)
                return
            await self.app(scope, replay, send_wrapper)
        finally:
            self.metrics.in_flight.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope.get("method", "?"), template, status, time.perf_counter() - t0)

    async def _read_body(self, headers: Headers, receive: Receive) -> Receive | None:
        """Read the whole body (bounded); return a ``receive`` that replays it, or ``None`` when it is too large."""
        length = headers.get("content-length")
        if length is not None and length.strip().isdigit() and int(length) > self.max_body:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away: let the app see it
                first: Message = message
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                first = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
                break
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return first
            return await receive()

        return replay

    async def _too_large(self, send: Send, cid: str) -> None:
        body = error_body(
            status=413,
            code="payload_too_large",
            message=f"request body is larger than {self.max_body} bytes (TENANTRY_MAX_REQUEST_BYTES)",
            type_name="PayloadTooLargeError",
            correlation_id=cid,
            details={"limit": self.max_body},
        )
        raw = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": raw})
