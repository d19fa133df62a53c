"""The FastAPI application: JSON API under `/api/v1`, dashboard pages, static files."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cartwise import __version__
from cartwise.api import errors, html, v1
from cartwise.api.collect import CollectorLane
from cartwise.api.path_ids import EncodedIds
from cartwise.core.settings import Settings
from cartwise.service.service import Service
from cartwise.web import STATIC_DIR, plotly_js_path

# Pages run only the dashboard's own files: no inline or third-party script, no plugins, no
# framing, forms post only here. Styles allow inline because plotly.js sets them on its charts.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
_SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class Guard:
    """Pure ASGI middleware: refuses bodies over `max_body_bytes` with a JSON 413, adds security headers.

    A body without Content-Length (chunked) is read up to the limit before the app sees it.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def _reject(self, send: Send, status: int, message: str, code: str) -> None:
        body = orjson.dumps({"error": code, "message": message, "fields": [], "parameter": None})
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
            await send(message)

        limit = self.max_body_bytes
        too_big = (
            f"The body is over {limit:,} bytes; send at most 1,000 events per request in smaller batches."
        )
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                await self._reject(send, 400, "Content-Length is not a number.", "bad_request")
                return
            if size > limit:
                await self._reject(send, 413, too_big, "body_too_large")
                return
            await self.app(scope, receive, send_with_headers)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send_with_headers)
            return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                await self._reject(send, 413, too_big, "body_too_large")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send_with_headers)


def create_app(settings: Settings, *, service: Service | None = None) -> FastAPI:
    """The service application; starting it (lifespan) opens the store and starts the collector."""
    service = service or Service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.stopping = asyncio.Event()
        await asyncio.to_thread(service.start)
        try:
            yield
        finally:
            app.state.stopping.set()
            await asyncio.to_thread(service.stop)

    app = FastAPI(
        title="Cartwise API",
        version=__version__,
        description="Collect shop events, read live KPIs and the dashboard's data. "
        "Authenticate with `Authorization: Bearer <key>` (`cartwise keys create`).",
        openapi_url="/api/v1/openapi.json",
        # No Swagger UI: it loads its scripts from a CDN, and the dashboard never depends on one.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # Every route refuses query parameters it does not declare (400 naming them).
        dependencies=[Depends(errors.known_query_parameters)],
    )
    app.state.service = service
    app.state.stopping = asyncio.Event()
    errors.install(app)
    app.include_router(v1.router)
    # Feature routers under /api/v1, each in its own module with a `router`; add one line per
    # feature. Importing one also registers its dashboard page (pages.dashboard), in this order.
    for module in (
        importlib.import_module("cartwise.api.recommendations"),
        importlib.import_module("cartwise.api.analytics"),
        importlib.import_module("cartwise.api.privacy"),
        importlib.import_module("cartwise.api.customers"),
        importlib.import_module("cartwise.api.audiences"),
        importlib.import_module("cartwise.api.forecasts"),
        importlib.import_module("cartwise.api.sessions"),
        importlib.import_module("cartwise.api.experiments"),
        importlib.import_module("cartwise.api.campaigns"),
        importlib.import_module("cartwise.api.journeys"),
    ):
        app.include_router(module.router)

    plotly_path = plotly_js_path()

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        if plotly_path is None:
            return Response("/* plotly is not installed */", media_type="text/javascript", status_code=404)
        return FileResponse(
            plotly_path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"}
        )

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.include_router(html.router)
    cors: dict[str, Any] = {
        "allow_origins": list(settings.cors_origins),
        "allow_methods": ["GET", "POST", "OPTIONS"],
        "allow_headers": ["Authorization", "Content-Type"],
        "max_age": 600,
    }
    # Innermost first: the collector's lane still gets CORS headers and the body limit.
    app.add_middleware(CollectorLane, service=service)
    app.add_middleware(EncodedIds)
    app.add_middleware(CORSMiddleware, **cors)
    app.add_middleware(Guard, max_body_bytes=service.settings.max_body_bytes)
    return app
