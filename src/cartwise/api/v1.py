"""The versioned JSON API, mounted at `/api/v1`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse

from cartwise import __version__
from cartwise.api.auth import Principal, principal, require_admin, require_collect, require_read, service_of
from cartwise.api.collect import collect
from cartwise.api.models import (
    AUTH_ERRORS,
    ErrorBody,
    EventBatch,
    EventsAccepted,
    Health,
    KeyCreate,
    KeyCreated,
    KeyOut,
    LiveSnapshot,
    Me,
    PageLink,
    PagePayload,
    error_responses,
)
from cartwise.pages import dashboard

_ERRORS = error_responses(
    {
        400: "Invalid JSON or input",
        **AUTH_ERRORS,
        413: "Body over the size limit",
        422: "The body does not match the schema",
    }
)

router = APIRouter(prefix="/api/v1", responses=_ERRORS)

Collect = Annotated[Principal, Depends(require_collect)]
Read = Annotated[Principal, Depends(require_read)]
Admin = Annotated[Principal, Depends(require_admin)]


@router.get("/health", response_model=Health, tags=["service"])
def health(request: Request) -> Health:
    """Liveness without credentials: `degraded` when the writer reports an error."""
    info = service_of(request).health()
    return Health(
        status=info["status"],
        version=__version__,
        schema_version=info["schema_version"],
        backlog=info["backlog"],
    )


@router.get("/me", response_model=Me, tags=["service"])
def me(who: Annotated[Principal, Depends(principal)]) -> Me:
    """Who the credentials belong to and their scope."""
    return Me(kind="key" if who.kind == "key" else "user", name=who.name, scope=who.scope)


@router.post(
    "/events",
    status_code=202,
    response_model=EventsAccepted,
    tags=["collector"],
    responses=error_responses({503: "Backlog full or log unavailable; retry"}),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": EventBatch.model_json_schema(ref_template="#/components/schemas/{model}")
                }
            },
        }
    },
)
async def post_events(request: Request, who: Collect) -> EventsAccepted:
    """Collect 1 to 1,000 events. Answered once accepted events are durable (fsync'd log).

    Events failing validation are listed in `rejected` by index; the others are kept.
    Re-sending an event with the same `event_id` stores it once and counts it in `duplicates`.
    """
    return EventsAccepted(**await collect(service_of(request), await request.body()))


@router.get("/live", response_model=LiveSnapshot, tags=["live"])
def live(request: Request, who: Read) -> dict[str, Any]:
    """KPIs over the last 5 minutes, hour and day, updated as events arrive."""
    return service_of(request).live.snapshot()


@router.get(
    "/live/stream",
    tags=["live"],
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events of live snapshots"}
    },
)
async def live_stream(request: Request, who: Read) -> StreamingResponse:
    """Server-Sent Events: a `kpis` event with the `/live` snapshot whenever it changes (checked every second)."""
    service = service_of(request)
    stopping: asyncio.Event = request.app.state.stopping

    async def events() -> AsyncIterator[bytes]:
        last = -1
        idle = 0
        while not stopping.is_set() and not await request.is_disconnected():
            snap = service.live.snapshot()
            if snap["version"] != last:
                last = snap["version"]
                idle = 0
                yield b"event: kpis\ndata: " + orjson.dumps(snap) + b"\n\n"
            else:
                idle += 1
                if idle % 15 == 0:
                    yield b": keep-alive\n\n"  # stops proxies from closing an idle stream
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=1.0)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@router.get("/pages", response_model=list[PageLink], tags=["dashboard"])
def list_pages(who: Read) -> list[PageLink]:
    """Dashboard pages in navigation order, with their JSON and HTML addresses."""
    return [
        PageLink(
            slug=p.slug,
            title=p.title,
            summary=p.summary,
            status="ready" if p.data else "planned",
            json_url=f"/api/v1/pages/{p.slug}",
            html_url=f"/{p.slug}",
        )
        for p in dashboard.pages()
    ]


@router.get(
    "/pages/{slug}", response_model=PagePayload, tags=["dashboard"], responses={404: {"model": ErrorBody}}
)
def page_json(slug: str, request: Request, who: Read) -> dict[str, Any]:
    """The JSON twin of dashboard page `slug`: the page renders from exactly this."""
    service = service_of(request)
    payload = service.run_read(dashboard.page_payload, service, slug)  # reads yield the CPU to the collector
    if payload is None:
        names = ", ".join(p.slug for p in dashboard.pages())
        raise HTTPException(404, f"No dashboard page {slug!r}; pages are: {names}.")
    return payload


@router.get("/keys", response_model=list[KeyOut], tags=["keys"])
def list_keys(request: Request, who: Admin) -> list[dict[str, Any]]:
    """Every key (never the key itself), newest first."""
    return [k.to_dict() for k in service_of(request).list_keys()]


@router.post("/keys", response_model=KeyCreated, status_code=201, tags=["keys"])
def create_key(body: KeyCreate, request: Request, who: Admin) -> dict[str, Any]:
    """Create a key; the answer is the only time the key is shown."""
    info, key = service_of(request).create_key(scope=body.scope, name=body.name)
    return {**info.to_dict(), "key": key}


@router.delete("/keys/{key_id}", response_model=KeyOut, tags=["keys"], responses={404: {"model": ErrorBody}})
def revoke_key(key_id: str, request: Request, who: Admin) -> dict[str, Any]:
    """Revoke a key at once: its next request gets 401."""
    return service_of(request).revoke_key(key_id).to_dict()
