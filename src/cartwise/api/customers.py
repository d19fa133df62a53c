"""Customers API: search, Customer 360, RFM grid, clusters, saved segments and lifetime value.

The JSON twins of the Customers dashboard page (`cartwise.pages.customers`). Reading
needs the `read` scope; saving and deleting segments needs `admin` (or a signed-in
dashboard session sending its `X-CSRF-Token`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cartwise.api import page_models as pm
from cartwise.api.auth import Principal, require_admin, require_read, service_of
from cartwise.api.models import AUTH_ERRORS, error_responses
from cartwise.api.path_ids import path_id
from cartwise.pages import customers as views
from cartwise.service import segments as segment_writes

_ERRORS = error_responses(
    {
        400: "Invalid parameter (the message names it)",
        **AUTH_ERRORS,
        422: "A parameter or the body does not match the schema",
    }
)
_NOT_FOUND = error_responses({404: "Not found"})

router = APIRouter(prefix="/api/v1", tags=["customers"], responses=_ERRORS)

Read = Annotated[Principal, Depends(require_read)]
Admin = Annotated[Principal, Depends(require_admin)]


class SegmentRule(BaseModel):
    """`POST /api/v1/segments/count` body."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"rule": "orders >= 3"}]})

    rule: str = Field(
        ...,
        max_length=views.MAX_RULE_CHARS,
        description='A rule over profile fields, e.g. `p_alive < 0.3 and rfm_segment in ["Loyal"]`.',
    )


class SegmentCreate(SegmentRule):
    """`POST /api/v1/segments` body."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "lapsing-vips", "rule": "orders >= 5 and p_alive < 0.5"}]},
    )

    name: str = Field(..., min_length=1, max_length=80, pattern=r"^[^/\\]+$", description="Segment name.")
    description: str = Field("", max_length=500, description="What the segment is for.")


class RuleCount(BaseModel):
    rule: str
    count: int = Field(..., description="Profiled customers matching the rule now.")
    total: int = Field(..., description="Profiled customers.")
    share: float = Field(..., description="count / total.")
    buyers: int = Field(..., description="Of `count`, customers with one order or more.")
    buyers_total: int = Field(..., description="Profiled customers with one order or more.")
    visitors: int = Field(..., description="Of `count`, customers without an order (visitors).")
    visitors_total: int = Field(..., description="Profiled customers without an order.")


class SegmentSaved(BaseModel):
    name: str
    rule: str
    description: str
    size: int
    replaced: bool = Field(..., description="True when a segment of that name was replaced.")


class SegmentDeleted(BaseModel):
    name: str
    deleted: bool


@router.get("/customers", response_model=pm.CustomerList, response_model_exclude_unset=True)
def list_customers(
    request: Request,
    who: Read,
    q: Annotated[str | None, Query(max_length=200, description="Part of the customer id.")] = None,
    segment: Annotated[
        str | None, Query(max_length=200, description="An RFM segment (e.g. Champions) or a saved segment.")
    ] = None,
    sort: Annotated[
        str,
        Query(
            max_length=40,
            description="Field to sort by, `-` first for descending: " + ", ".join(views.SORTABLE),
        ),
    ] = "-revenue",
    limit: Annotated[int, Query(ge=1, le=views.MAX_LIMIT)] = 25,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    """Search and list customers with their RFM scores and predictions; `total` counts every match."""
    return views.list_customers(
        service_of(request), q=q, segment=segment, sort=sort, limit=limit, offset=offset
    )


# Declared before /customers/{user_id}, which would otherwise take `value` as an id.
@router.get("/customers/value", response_model=pm.LifetimeValue, response_model_exclude_unset=True)
def customer_value(
    request: Request,
    who: Read,
    bins: Annotated[int, Query(ge=2, le=200, description="Bars of the CLV histogram.")] = 30,
    top: Annotated[int, Query(ge=1, le=views.MAX_LIMIT, description="Top customers by CLV.")] = 20,
    holdout_days: Annotated[
        int | None,
        Query(ge=1, le=3650, description="Days at the end of the order history kept out of the fit."),
    ] = None,
) -> dict[str, Any]:
    """Lifetime value: 52-week CLV histogram, top customers, and the P(alive) model (MBG/NBD or Pareto/NBD) checked against a holdout."""
    return views.lifetime_value(service_of(request), bins=bins, top=top, holdout_days=holdout_days)


@router.get(
    "/customers/{user_id}",
    response_model=pm.CustomerDetail,
    response_model_exclude_unset=True,
    responses=_NOT_FOUND,
)
def customer(
    request: Request,
    who: Read,
    user_id: Annotated[str, Path(max_length=200)],
    events: Annotated[int, Query(ge=1, le=1000, description="Latest events in the timeline.")] = 50,
) -> dict[str, Any]:
    """Customer 360: profile, RFM, predictions, churn scores, cluster, saved segments, orders and events."""
    return views.customer_detail(service_of(request), path_id(user_id), events=events)


@router.get("/segments/rfm", response_model=pm.RfmGrid, response_model_exclude_unset=True)
def rfm(request: Request, who: Read) -> dict[str, Any]:
    """The 5 x 5 recency-by-frequency grid (customers, revenue, segment per cell) and segment totals."""
    return views.rfm_grid(service_of(request))


@router.get("/segments/clusters", response_model=pm.Clusters, response_model_exclude_unset=True)
def clusters(request: Request, who: Read) -> dict[str, Any]:
    """Behavioural clusters with descriptions, sizes, revenue and mean member values."""
    return views.clusters(service_of(request))


@router.get("/segments", response_model=pm.SavedSegments, response_model_exclude_unset=True)
def segments(request: Request, who: Read) -> dict[str, Any]:
    """Saved segments with current size, latest revenue and size history."""
    return views.saved_segments(service_of(request))


@router.post("/segments/count", response_model=RuleCount)
def count(body: SegmentRule, request: Request, who: Read) -> dict[str, Any]:
    """How many customers match a rule now (a bad rule is a 400 saying what is wrong)."""
    return views.count_rule(service_of(request), body.rule)


@router.post("/segments", response_model=SegmentSaved, status_code=201)
def save(body: SegmentCreate, request: Request, who: Admin) -> dict[str, Any]:
    """Save or replace a segment; its members are recomputed on every profile refresh."""
    return segment_writes.save_rule_segment(service_of(request), body.name, body.rule, body.description)


@router.delete("/segments/{name}", response_model=SegmentDeleted, responses=_NOT_FOUND)
def delete(request: Request, who: Admin, name: Annotated[str, Path(max_length=200)]) -> dict[str, Any]:
    """Delete a saved segment, its members and its history."""
    return segment_writes.delete_rule_segment(service_of(request), name)
