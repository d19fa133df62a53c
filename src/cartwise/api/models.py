"""Request and response models of the JSON API (`/api/v1`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_EVENT_EXAMPLE: dict[str, Any] = {
    "event_id": "3f0c6a1e-7c1b-4f53-9d43-2a6f0f4b9a11",
    "ts": "2026-11-23T10:15:00Z",
    "user_id": "v-8c1d2e",
    "session_id": "s-51aa90",
    "type": "add_to_cart",
    "item_id": "sku-1042",
    "quantity": 1,
    "price": 24.9,
    "properties": {"page": "/products/sku-1042"},
}

# Documented shape of one event; the collector validates each one with the ingestion rules
# and rejects bad ones by index instead of failing the whole batch.
_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "One canonical event (see the data model). Required: ts, user_id, type. Fields may also go "
        "by the other names file ingestion accepts (e.g. event_name for type, timestamp for ts)."
    ),
    "properties": {
        "event_id": {"type": "string", "description": "Unique id; derived from content when absent."},
        "ts": {"type": "string", "description": "ISO 8601 time (or epoch seconds/milliseconds)."},
        "user_id": {"type": "string"},
        "session_id": {"type": "string"},
        "type": {
            "type": "string",
            "description": "view, search, add_to_cart, ..., purchase, refund, or custom.",
        },
        "item_id": {"type": "string"},
        "quantity": {"type": "integer"},
        "price": {"type": "number", "minimum": 0},
        "order_id": {"type": "string"},
        "revenue": {"type": "number"},
        "properties": {"type": "object"},
    },
    "required": ["ts", "user_id", "type"],
    "additionalProperties": False,
}


class EventBatch(BaseModel):
    """`POST /api/v1/events` body: 1 to 1,000 events."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"events": [_EVENT_EXAMPLE]}]})

    events: list[dict[str, Any]] = Field(
        ..., min_length=1, max_length=1000, json_schema_extra={"items": _EVENT_SCHEMA}
    )


class Rejection(BaseModel):
    index: int = Field(..., description="Position of the event in the request's `events`.")
    reason: str = Field(..., description="What is wrong and how to fix it.")


class EventsAccepted(BaseModel):
    """Answer of the collector: events are durable when this is sent."""

    accepted: int = Field(..., description="Events written to the durable log.")
    duplicates: int = Field(..., description="Events skipped because their event_id was already received.")
    rejected: list[Rejection] = Field(..., description="Events that failed validation, by index.")


class ErrorField(BaseModel):
    field: str
    problem: str


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer of the API."""

    error: str = Field(..., description="Machine-readable code, e.g. `unauthorized`, `invalid_request`.")
    message: str = Field(..., description="What went wrong and how to fix it.")
    fields: list[ErrorField] = Field(default_factory=list)
    parameter: str | None = Field(
        None, description="The request parameter the error is about (e.g. `min_support`), when there is one."
    )


# Why a key is refused, the same on every authenticated route.
AUTH_ERRORS: dict[int, str] = {401: "No, unknown or revoked key", 403: "The key's scope does not allow this"}


def error_responses(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a router or route: each status with its reason and the ErrorBody shape."""
    return {code: {"model": ErrorBody, "description": text} for code, text in descriptions.items()}


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Literal["collect", "read", "admin"] = Field(
        ..., description="`collect` may only send events; `read` may read; `admin` may do everything."
    )
    name: str = Field(
        ..., min_length=1, max_length=200, description="Where the key is used, e.g. `storefront`."
    )


class KeyOut(BaseModel):
    key_id: str
    name: str
    scope: str
    created_at: str
    revoked_at: str | None


class KeyCreated(KeyOut):
    key: str = Field(..., description="The key itself. It is shown only once; store it safely.")


class WindowKPIs(BaseModel):
    minutes: int
    events: int
    active_users: int
    sessions: int
    views: int
    add_to_carts: int
    orders: int
    revenue: float
    conversion_rate: float = Field(..., description="Sessions with a purchase / sessions.")


class MinuteCount(BaseModel):
    minute: str
    events: int
    partial: bool = Field(False, description="True for the current minute, still in progress.")


class LiveSnapshot(BaseModel):
    """KPIs over the last 5 minutes (`5m`), hour (`1h`) and day (`1d`), plus events per minute."""

    as_of: str
    version: int
    windows: dict[str, WindowKPIs]
    events_per_minute: list[MinuteCount]


class PageLink(BaseModel):
    slug: str
    title: str
    summary: str
    status: Literal["ready", "planned"]
    json_url: str
    html_url: str


class PagePayload(BaseModel):
    page: str
    title: str
    summary: str
    status: Literal["ready", "planned"]
    planned: list[str]
    data: dict[str, Any] | None


class Me(BaseModel):
    kind: Literal["key", "user"]
    name: str
    scope: str


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    schema_version: int
    backlog: int
