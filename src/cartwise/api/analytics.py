"""Analytics routes: KPIs, funnels, cohort retention and basket rules, the Analytics page's JSON twins.

Read scope (or a signed-in dashboard session). Every figure is defined in `cartwise.analytics`;
the views live in `cartwise.pages.analytics`. A bad parameter gets a 400 whose `fields`
names it and whose message lists the valid values.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from cartwise.api.auth import Principal, require_read, service_of
from cartwise.api.errors import cartwise_error, error_response
from cartwise.api.models import AUTH_ERRORS, error_responses
from cartwise.pages import analytics as views

router = APIRouter(
    prefix="/api/v1/analytics",
    tags=["analytics"],
    responses=error_responses(
        {
            400: "A parameter is invalid; `fields` names it",
            **AUTH_ERRORS,
            422: "A parameter has the wrong type",
        }
    ),
)


class KpiTile(BaseModel):
    kpi: str = Field(description="KPI name, as in `cartwise.analytics.KPIS`.")
    label: str
    format: Literal["money", "number", "percent"]
    value: int | float | None = Field(
        description="Null when the data cannot give it: visits and sessions need events (orders only)."
    )
    previous: int | float | None = Field(description="The same KPI in the period before.")
    change: float | None = Field(description="(value - previous) / previous; null when previous is 0.")


class KpiTiles(BaseModel):
    period_start: str
    period_end: str = Field(description="First day after the period.")
    partial: bool = Field(
        description="True when no period is complete and the tiles show the last, partial one."
    )
    kpis: list[KpiTile]


class KpiView(BaseModel):
    grain: Literal["day", "week", "month"]
    start: str | None
    end: str | None
    last_event: str | None = Field(description="Time of the last event before `end`, UTC.")
    last_data: str | None = Field(
        default=None, description="Time of the last event or order before `end`, UTC (where the data stop)."
    )
    periods: list[dict[str, Any]] = Field(
        description="Oldest first: `period_start`, `period_end`, `partial`, every KPI and its `<kpi>_prev`."
    )
    partial_periods: list[str] = Field(
        default_factory=list,
        description="`period_start` of each period the data stop before the end of (charts draw them dashed).",
    )
    tiles: KpiTiles | None = Field(
        description="The last complete period against the one before; null without data."
    )
    needs_events: list[str] = Field(
        default_factory=list,
        description="KPIs null in some period because it has orders only (a transaction log): "
        "visitors, sessions and conversion need events.",
    )


class FunnelStep(BaseModel):
    step: str
    users: int
    conversion_from_previous: float | None
    conversion_from_first: float | None
    median_seconds_from_previous: float | None
    dropped: int = Field(description="Users who reached the previous step but not this one.")


class FunnelSegment(BaseModel):
    segment: str | None = Field(description="The breakdown value; null for users without one.")
    steps: list[FunnelStep]


class FunnelView(BaseModel):
    steps_param: str
    window: str
    window_seconds: float
    breakdown: str | None
    start: str | None
    end: str | None
    steps: list[FunnelStep]
    segments: list[FunnelSegment] = Field(description="With a breakdown: largest first step first.")


class DroppedView(BaseModel):
    steps_param: str
    window: str
    start: str | None
    end: str | None
    step: str = Field(description="The step the users did not reach, after reaching the one before.")
    total: int = Field(description="All such users; the funnel's `dropped` at this step.")
    page: int
    page_size: int
    pages: int
    users: list[str] = Field(description="User ids of this page, sorted.")


class RetentionCohort(BaseModel):
    cohort_start: str
    cohort_users: int
    active_users: list[int | None] = Field(
        description="Per entry of the view's `period_numbers`; null where the period is left out for this cohort."
    )
    retention: list[float | None]
    revenue: list[float | None]
    revenue_retention: list[float | None]
    ltv: list[float | None] = Field(description="Cumulative revenue per cohort user through each period.")


class RetentionView(BaseModel):
    grain: Literal["week", "month"]
    cohort: Literal["first_purchase", "first_seen"]
    activity: Literal["any", "purchase"]
    start: str | None
    end: str | None
    periods: int = Field(description="Length of the longest cohort row.")
    period_numbers: list[int] = Field(
        description="Period number (0 = the cohort's own) of each entry of the cohorts' rows: 0, 1, 2, ... "
        "except across an empty stretch of more than about a year, which is left out."
    )
    cohorts: list[RetentionCohort]


class RuleItem(BaseModel):
    item_id: str
    title: str | None


class Rule(BaseModel):
    rank: int = Field(description="Position by lift among the matching rules, from 1.")
    antecedents: list[RuleItem]
    consequents: list[RuleItem]
    support: float
    confidence: float
    lift: float
    orders: int = Field(description="Orders holding every item of the rule.")


class RulesView(BaseModel):
    baskets: int
    min_support: float = Field(
        description="The support the rules were mined at (given, or picked from the data)."
    )
    support_source: Literal["data", "given", "default"] = Field(
        description="`data`: picked so that about `target_pairs` item pairs held by 2 or more orders qualify "
        "(no `min_support` given); `given`: the request's; `default`: no two items share an order."
    )
    support_orders: int = Field(description="`min_support` as a number of orders.")
    target_pairs: int = Field(description="The number of item pairs a picked support aims at.")
    min_confidence: float
    q: str
    start: str | None
    end: str | None
    total_rules: int
    matching: int
    page: int
    page_size: int
    pages: int
    rules: list[Rule]


Read = Annotated[Principal, Depends(require_read)]
Start = Annotated[
    str | None, Query(max_length=40, description="Only events at or after this ISO date or date-time (UTC).")
]
End = Annotated[
    str | None, Query(max_length=40, description="Only events before this ISO date or date-time (UTC).")
]


def _run(
    request: Request, view: Callable[..., dict[str, Any]], **params: Any
) -> dict[str, Any] | JSONResponse:
    service = service_of(request)
    if service.gate is None:
        return error_response(503, "The service is not started.")
    narrow = "start" if "start" in params else None

    def read() -> dict[str, Any]:
        # A snapshot beside the writer, with the read time limit; a stopped read names `start`.
        with service.read(narrow=narrow) as store:
            return view(store, **params)

    try:
        return service.run_read(read)  # on a reader thread, which yields the CPU to the collector
    except views.BadParameter as exc:
        status, body, headers = cartwise_error(exc)
        return JSONResponse(body, status_code=status, headers=headers)


@router.get("/kpis", response_model=KpiView)
def analytics_kpis(
    request: Request,
    who: Read,
    grain: Annotated[Literal["day", "week", "month"], Query(description="Period of each row.")] = "week",
    start: Start = None,
    end: End = None,
) -> Any:
    """KPIs per day, week or month, each with the previous period's value (`<kpi>_prev`), and
    tiles for the last complete period with the change from the one before."""
    return _run(request, views.kpis_view, grain=grain, start=start, end=end)


@router.get("/funnel", response_model=FunnelView)
def analytics_funnel(
    request: Request,
    who: Read,
    steps: Annotated[
        str,
        Query(
            max_length=500,
            description="Comma-separated event types in order, each optionally filtered: `view[device=mobile]`.",
        ),
    ] = views.DEFAULT_STEPS,
    window: Annotated[
        str,
        Query(max_length=20, description="Longest time from the first to the last step, e.g. 30m, 1d, 7d."),
    ] = views.DEFAULT_WINDOW,
    breakdown: Annotated[
        str | None,
        Query(max_length=100, description="Split by an events or users column or an events property key."),
    ] = None,
    start: Start = None,
    end: End = None,
) -> Any:
    """Users reaching each step within the window, conversion from the previous and first step,
    median seconds between steps; per segment with a breakdown."""
    return _run(
        request, views.funnel_view, steps=steps, window=window, breakdown=breakdown, start=start, end=end
    )


@router.get(
    "/funnel/dropped",
    response_model=DroppedView,
    responses={200: {"content": {"text/csv": {}}, "description": "With `format=csv`: every such user."}},
)
def analytics_funnel_dropped(
    request: Request,
    who: Read,
    step: Annotated[str, Query(max_length=200, description="A step after the first, as written in `steps`.")],
    steps: Annotated[
        str, Query(max_length=500, description="The funnel's steps, as for `/analytics/funnel`.")
    ] = views.DEFAULT_STEPS,
    window: Annotated[str, Query(max_length=20, description="The funnel's window.")] = views.DEFAULT_WINDOW,
    start: Start = None,
    end: End = None,
    page: Annotated[int, Query(ge=1, le=100_000, description="Page number, from 1.")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=views.MAX_DROPPED_PAGE_SIZE, description="User ids per page.")
    ] = views.DEFAULT_DROPPED_PAGE_SIZE,
    format: Annotated[
        Literal["json", "csv"], Query(description="`csv`: every such user, one `user_id` per line.")
    ] = "json",
) -> Any:
    """The users who reached the step before `step` but not `step`: an audience to follow up."""
    as_csv = format == "csv"
    body = _run(
        request,
        views.dropped_view,
        steps=steps,
        window=window,
        step=step,
        start=start,
        end=end,
        page=1 if as_csv else page,
        page_size=None if as_csv else page_size,
    )
    if not as_csv or isinstance(body, JSONResponse):
        return body
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["user_id"])
    writer.writerows([u] for u in body["users"])
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", body["step"]).strip("_") or "step"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="dropped-at-{name}.csv"'},
    )


@router.get("/retention", response_model=RetentionView)
def analytics_retention(
    request: Request,
    who: Read,
    cohort: Annotated[
        Literal["first_purchase", "first_seen"], Query(description="What puts a user in a cohort.")
    ] = "first_purchase",
    grain: Annotated[Literal["week", "month"], Query(description="Cohort and period length.")] = "week",
    activity: Annotated[
        Literal["any", "purchase"], Query(description="What counts as active in a period.")
    ] = "any",
    start: Start = None,
    end: End = None,
) -> Any:
    """Cohort retention matrix, revenue retention and cumulative revenue per customer (LTV)."""
    return _run(
        request, views.retention_view, grain=grain, cohort=cohort, activity=activity, start=start, end=end
    )


@router.get("/rules", response_model=RulesView)
def analytics_rules(
    request: Request,
    who: Read,
    min_support: Annotated[
        float | None,
        Query(
            gt=0,
            le=1,
            description="Least share of orders holding a rule's items; without it, picked from the data "
            "(the highest support at which about 25 item pairs qualify).",
        ),
    ] = None,
    min_confidence: Annotated[
        float,
        Query(
            gt=0, le=1, description="Least share of orders with the antecedents that hold the consequents."
        ),
    ] = views.DEFAULT_MIN_CONFIDENCE,
    q: Annotated[
        str, Query(max_length=100, description="Keep rules with an item whose id or title contains this.")
    ] = "",
    page: Annotated[int, Query(ge=1, le=100_000, description="Page number, from 1.")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=views.MAX_PAGE_SIZE, description="Rules per page.")
    ] = views.DEFAULT_PAGE_SIZE,
    start: Annotated[
        str | None,
        Query(max_length=40, description="Only orders placed at or after this ISO date or date-time (UTC)."),
    ] = None,
    end: Annotated[
        str | None,
        Query(max_length=40, description="Only orders placed before this ISO date or date-time (UTC)."),
    ] = None,
) -> Any:
    """Association rules over orders, highest lift first, filtered by `q` and paginated."""
    return _run(
        request,
        views.rules_view,
        min_support=min_support,
        min_confidence=min_confidence,
        q=q,
        page=page,
        page_size=page_size,
        start=start,
        end=end,
    )
