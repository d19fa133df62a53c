"""`POST /api/v1/events`: the collector's request path, with a fast lane for API keys.

Storefronts send single events at high rates, and FastAPI's routing, dependencies and
response models cost more per request than the collector itself (bench/collector.py). So
`CollectorLane`, an ASGI middleware inside the CORS and body-limit ones, answers requests
that carry an `Authorization` header before the router. Requests without one (a signed-in
dashboard session, which needs the CSRF check) reach the route in `v1`, which also
documents the endpoint in the OpenAPI document. Both call `collect`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from cartwise.api.auth import check_scope, key_principal
from cartwise.api.errors import cartwise_error, error_body, unexpected_error, validation_error
from cartwise.api.models import EventBatch
from cartwise.api.trackers import TRACKER_PATHS, answer
from cartwise.core.errors import CartwiseError
from cartwise.service.service import Service

EVENTS_PATH = "/api/v1/events"


async def collect(service: Service, body: bytes) -> dict[str, Any]:
    """Parse a `{"events": [...]}` body and hand it to the collector; the answer once durable."""
    try:
        # pydantic's JSON parser, not a body parameter: faster, and a client that forgets the
        # Content-Type header still gets its events read.
        batch = EventBatch.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    collector = service.collector
    if collector is None:
        raise HTTPException(503, "The collector is not running.")
    ack = await collector.submit_async(batch.events)
    return {"accepted": ack.accepted, "duplicates": ack.duplicates, "rejected": ack.rejected}


class CollectorLane:
    """Pure ASGI: answers `POST /api/v1/events` sent with an API key and the Segment and
    PostHog endpoints (`api.trackers`); passes everything else on."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        tracker = path in TRACKER_PATHS
        if path != EVENTS_PATH and not tracker:
            await self.app(scope, receive, send)
            return
        header = next((value for name, value in scope["headers"] if name == b"authorization"), None)
        if header is None and not tracker:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        headers: Mapping[str, str] | None = None
        try:
            if tracker:
                sent = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
                query = scope.get("query_string", b"").decode("latin-1")
                status, payload = 200, await answer(self.service, path, sent, b"".join(chunks), query)
            else:
                assert header is not None
                check_scope(key_principal(self.service, header.decode("latin-1")), "collect")
                status, payload = 202, await collect(self.service, b"".join(chunks))
        except RequestValidationError as exc:
            status, payload = validation_error(list(exc.errors()))
        except HTTPException as exc:
            status, headers = exc.status_code, exc.headers
            payload = error_body(status, exc.detail if isinstance(exc.detail, str) else str(exc.detail))
        except CartwiseError as exc:
            status, payload, headers = cartwise_error(exc)
        except Exception:
            status, payload = 500, unexpected_error("POST", path)
        body = orjson.dumps(payload)
        raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        raw_headers += [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()
        ]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})
