"""Admin routes that remove data: deleting events, erasing a customer, exporting one.

Every route needs the `admin` scope (or a signed-in dashboard session with its CSRF token).
The work happens in the service, through the store's one writer (`Service.delete_events`,
`forget_customer`, `export_customer`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from cartwise.api.auth import Principal, require_admin, service_of
from cartwise.api.models import AUTH_ERRORS, error_responses
from cartwise.api.path_ids import path_id
from cartwise.pipelines.event_delete import MAX_IDS, EventFilter

_ERRORS = error_responses(
    {
        400: "Invalid filter (the message names the field)",
        **AUTH_ERRORS,
        422: "The body does not match the schema",
        503: "The collector could not settle its log in time; retry",
    }
)

router = APIRouter(prefix="/api/v1", tags=["privacy"], responses=_ERRORS)

Admin = Annotated[Principal, Depends(require_admin)]
CustomerId = Annotated[str, Path(description="The customer's id; a `/` in it is sent as `%2F`.")]


class EventDelete(BaseModel):
    """`POST /api/v1/events/delete` body: every given criterion must hold; at least one is required."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"start": "9000-01-01"}, {"event_ids": ["e-1", "e-2"]}]},
    )

    event_ids: list[str] = Field(default_factory=list, max_length=MAX_IDS, description="Event ids to delete.")
    start: str | None = Field(None, max_length=64, description="Only events at or after this ISO time (UTC).")
    end: str | None = Field(None, max_length=64, description="Only events before this ISO time (UTC).")
    types: list[str] = Field(default_factory=list, max_length=100, description="Only events of these types.")
    user_id: str | None = Field(None, description="Only this customer's events.")
    dry_run: bool = Field(False, description="Count the matching events without deleting them.")


class Deleted(BaseModel):
    events: int
    orders: int = Field(description="Orders derived from the deleted purchases and left with none.")
    order_lines: int


class EventsDeleted(BaseModel):
    filter: dict[str, Any] = Field(description="The criteria used (ids counted, not echoed).")
    dry_run: bool
    matched: int = Field(description="Events matching the filter.")
    deleted: Deleted
    rollup_rebuilt: bool = Field(description="Whether the analytics rollup and timeline were rebuilt.")
    rebuild: list[str] = Field(
        description="Batch results still built on the deleted events until `cartwise train`."
    )


class CustomerForgotten(BaseModel):
    subject_hash: str = Field(
        description="HMAC-SHA256 of the id under the store's secret, as logged in `erasures` (the id is not kept)."
    )
    removed: dict[str, int] = Field(description="Rows removed per table.")
    total: int
    artefacts: str
    log: str


class CustomerExport(BaseModel):
    user_id: str
    exported_at: str
    tables: dict[str, list[dict[str, Any]]] = Field(
        description="Every row held about the customer, per table."
    )
    rows: int


@router.post("/events/delete", response_model=EventsDeleted)
def delete_events(body: EventDelete, request: Request, who: Admin) -> dict[str, Any]:
    """Delete events by id or by filter; derived orders and the analytics rollup follow."""
    flt = EventFilter(
        event_ids=tuple(body.event_ids),
        start=body.start,
        end=body.end,
        types=tuple(body.types),
        user_id=body.user_id,
    )
    return service_of(request).delete_events(flt, dry_run=body.dry_run)


@router.get("/customers/{user_id}/export", response_model=CustomerExport)
def export_customer(user_id: CustomerId, request: Request, who: Admin) -> dict[str, Any]:
    """Everything held about a customer, as JSON (right of access)."""
    return service_of(request).export_customer(path_id(user_id))


@router.delete("/customers/{user_id}", response_model=CustomerForgotten)
def forget_customer(user_id: CustomerId, request: Request, who: Admin) -> dict[str, Any]:
    """Erase a customer from every table and the collector's log; logged by hash only. Idempotent."""
    return service_of(request).forget_customer(path_id(user_id))
