"""Forecasts and Inventory API: series and their forecasts, the reorder list, price elasticities.

The JSON twins of the Forecasts and Inventory dashboard pages (`cartwise.pages.forecasts`).
Reading needs the `read` scope or a signed-in dashboard session.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from cartwise.api import page_models as pm
from cartwise.api.auth import Principal, require_read, service_of
from cartwise.api.models import AUTH_ERRORS, error_responses
from cartwise.pages import forecasts as views

_ERRORS = error_responses(
    {
        400: "Invalid parameter (the message names it)",
        **AUTH_ERRORS,
        422: "A parameter does not match the schema",
    }
)
_NOT_FOUND = error_responses({404: "No such series, or no forecasts yet"})

router = APIRouter(prefix="/api/v1", tags=["forecasts"], responses=_ERRORS)

Read = Annotated[Principal, Depends(require_read)]
Level = Annotated[str, Query(max_length=20, description="Series level: item or category.")]
Measure = Annotated[
    str, Query(max_length=20, description="units, or revenue (category forecasts are in both).")
]


@router.get("/forecasts", response_model=pm.SeriesList, response_model_exclude_unset=True)
def list_forecasts(
    request: Request,
    who: Read,
    level: Level = "item",
    measure: Measure = "units",
    q: Annotated[str | None, Query(max_length=200, description="Part of the id or the item title.")] = None,
    sort: Annotated[
        str,
        Query(
            max_length=40,
            description="Field to sort by, `-` first for descending: " + ", ".join(views.SORTABLE),
        ),
    ] = views.DEFAULT_SORT,
    limit: Annotated[int, Query(ge=1, le=views.MAX_LIMIT)] = views.PAGE_SERIES,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    """Forecast series with their chosen model and its backtest MASE, sMAPE and 80% coverage;
    `total` counts every match. `ready` is false (with a message) before `cartwise demand build`."""
    return views.list_series(
        service_of(request), level=level, measure=measure, q=q, sort=sort, limit=limit, offset=offset
    )


@router.get(
    "/forecasts/{level}/{series_id:path}",
    response_model=pm.SeriesDetail,
    response_model_exclude_unset=True,
    responses=_NOT_FOUND,
)
def forecast(
    request: Request,
    who: Read,
    level: Annotated[str, Path(max_length=20, description="item or category")],
    series_id: Annotated[str, Path(max_length=200, description="The item id or category name.")],
    measure: Measure = "units",
) -> dict[str, Any]:
    """One series: history from `demand`, the forecast with 80% and 95% intervals, the chosen
    model with its backtest errors, its price elasticity and (items) its reorder plan."""
    return views.series_detail(service_of(request), level, series_id, measure=measure)


@router.get("/inventory/reorder", response_model=pm.ReorderList, response_model_exclude_unset=True)
def reorder(
    request: Request,
    who: Read,
    only_reorder: Annotated[bool, Query(description="Only the items to order now.")] = False,
    sort: Annotated[
        str,
        Query(
            max_length=40,
            description="stockout_risk (highest first), order_quantity (largest first), "
            "days_of_cover (fewest first), stock (least first) or item_id.",
        ),
    ] = "stockout_risk",
    limit: Annotated[int, Query(ge=1, le=views.MAX_LIMIT)] = views.PAGE_REORDER,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    """The reorder plan with item titles: stock, lead-time demand, safety stock, reorder point,
    order quantity, days of cover (null: beyond the horizon) and stock-out risk."""
    return views.reorder_list(
        service_of(request), only_reorder=only_reorder, sort=sort, limit=limit, offset=offset
    )


@router.get("/inventory/elasticities", response_model=pm.Elasticities, response_model_exclude_unset=True)
def elasticities(
    request: Request,
    who: Read,
    level: Annotated[str, Query(max_length=20, description="item or category.")] = "category",
    limit: Annotated[int, Query(ge=1, le=views.MAX_ELASTICITY_LIMIT)] = 200,
) -> dict[str, Any]:
    """Price elasticities, most price-sensitive first: % change in units per 1% change in price."""
    return views.elasticities(service_of(request), level=level, limit=limit)
