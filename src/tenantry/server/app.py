"""``create_app``: the FastAPI application over one :class:`~tenantry.service.AsyncMemoryService`.

The service is opened in the app's lifespan (``AsyncMemoryService.open(settings)``), its ingestion workers started
there, and on shutdown ``close(drain=True)`` lets the workers finish the jobs they hold. Nothing lives at module
level: every app owns its service, rate limiter and metrics registry.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.responses import Response

from .._version import __version__
from ..service import AsyncMemoryService
from ..settings import Settings
from .config import ServerSettings
from .deps import ServerState
from .errors import install_error_handlers
from .metrics import ServerMetrics
from .middleware import RequestContextMiddleware
from .ratelimit import TokenBucketLimiter
from .routes import ROUTERS

__all__ = ["create_app"]

_DOCS_ASSETS = "/docs/assets"

_DESCRIPTION = """\
tenantry: multi-tenant memory for AI agents. Speaks the HTTP API of the `maximem-synap` client
(point it here with `SYNAP_BASE_URL` + `SYNAP_API_KEY`), plus tenantry extras and an admin API.

Authenticate with `Authorization: Bearer <API key>`; the key decides the instance. Errors are JSON with a stable
`code` (see the `ErrorBody` schema).
"""


def create_app(
    settings: Settings | None = None,
    server_settings: ServerSettings | None = None,
    *,
    drain_timeout: float = 30.0,
) -> FastAPI:
    """Build the app.

    Args:
        settings: engine settings (default: from ``TENANTRY_*``); ``settings.workers`` ingestion workers run in
            this process.
        server_settings: HTTP settings (default: from ``TENANTRY_*``): admin token, body limit, rate limit.
        drain_timeout: seconds the shutdown waits for workers to finish the jobs they hold.

    Returns:
        The FastAPI application; the service opens when the app's lifespan starts.
    """
    settings = settings or Settings()
    server_settings = server_settings or ServerSettings()
    metrics = ServerMetrics()
    state = ServerState(
        settings=server_settings,
        metrics=metrics,
        limiter=TokenBucketLimiter(server_settings.rate_limit_per_second, server_settings.rate_limit_burst),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from ..db_cli import redact_dsn

        where = redact_dsn(settings.resolved_dsn())  # the database, without its password, for the startup lines
        service = await AsyncMemoryService.open(settings)
        logging.getLogger("uvicorn.error").info(
            "tenantry %s: database %s open; loading the embedder %s (a first start builds the model file: seconds)",
            __version__,
            where,
            service.embedder.name,
        )
        try:
            await service.warm_up()  # the model loads before the port answers, not in the first request
        except BaseException:
            await service.close(drain=False)
            raise
        state.service = service
        # What startup allocated (the model, its tokenizer, the app's schemas: lasting objects) leaves the garbage
        # collector's view: a full collection walked all of it, holding every request (``/health`` included) for
        # ~90 ms whenever a large request had allocated enough to trigger one (``tenantry fuzz``: /health max
        # 96-115 ms before, ~10 ms after).
        gc.collect()
        gc.freeze()
        service.workers.start()
        stream = None
        if server_settings.grpc_port:
            from .stream import StreamServer

            stream = StreamServer(state, server_settings.grpc_host, server_settings.grpc_port)
            await stream.start()
        await _log_startup(service, settings, where, grpc=f"{stream.host}:{stream.port}" if stream else None)
        try:
            yield
        finally:
            if stream is not None:
                await stream.stop()
            await service.close(drain=True, timeout=drain_timeout)
            state.service = None

    app = FastAPI(
        title="tenantry",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        redirect_slashes=False,
        openapi_url=None,  # served by _openapi below, built off the event loop
        docs_url=None,  # served below from packaged assets: the default page loads them from a CDN
        redoc_url=None,
    )
    _openapi(app)
    _offline_docs(app)
    app.state.tenantry = state
    app.add_middleware(RequestContextMiddleware, max_body=server_settings.max_request_bytes, metrics=metrics)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    return app


def _openapi(app: FastAPI) -> None:
    """``/openapi.json``, built once on a thread: the schema takes ~0.6 s of Python to build, which FastAPI's own
    route spends on the event loop in the first request, stalling every other request (``/health`` included)."""
    body: list[bytes] = []
    lock = asyncio.Lock()

    def build() -> bytes:
        return bytes(JSONResponse(app.openapi()).body)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> Response:
        if not body:
            async with lock:
                if not body:
                    body.append(await asyncio.to_thread(build))
        return Response(body[0], media_type="application/json")


def _offline_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI with its JavaScript and CSS served by this app from the ``fastapi-offline`` package, so
    the page works on a host with no Internet access."""
    from pathlib import Path

    import fastapi_offline  # type: ignore[import-untyped,unused-ignore]
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount(_DOCS_ASSETS, StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="tenantry API",
            swagger_js_url=f"{_DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{_DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{_DOCS_ASSETS}/favicon.png",
        )


async def _log_startup(service: AsyncMemoryService, settings: Settings, where: str, *, grpc: str | None = None) -> None:
    """Say what this process serves: the database ``where`` (no password), its instances, workers, embedder, gRPC
    stream."""
    instances = await service.store.list_instances()
    names = ", ".join(i.name for i in instances[:10]) + (" ..." if len(instances) > 10 else "")
    logging.getLogger("uvicorn.error").info(
        "tenantry %s: %s; %d instance(s)%s; %d ingestion worker(s); embedder %s; extractor %s; gRPC stream %s",
        __version__,
        where,
        len(instances),
        f" ({names})" if names else "",
        settings.workers,
        service.embedder.name,
        settings.extractor,
        grpc or "off",
    )
