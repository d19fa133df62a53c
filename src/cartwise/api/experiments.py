"""Experiment routes: assignment (for storefronts, `collect` keys), definitions (admin), results.

The logic lives in `cartwise.service.experiments` and `cartwise.pipelines.experiments`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from cartwise.api.auth import Principal, require_admin, require_collect, require_read, service_of
from cartwise.api.feature_models import (
    ExperimentDetail,
    ExperimentInfo,
    ExperimentList,
    ExperimentResults,
    ExperimentTimeline,
    PowerPlan,
)
from cartwise.api.models import AUTH_ERRORS, error_responses
from cartwise.pages import experiments as _page  # registers the Experiments page
from cartwise.service import experiments as service_experiments


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load running experiments once the service has started; write exposures before it stops."""
    service = app.state.service
    await asyncio.to_thread(service_experiments.experiments_for, service)
    try:
        yield
    finally:
        await asyncio.to_thread(service_experiments.stop_experiments, service)


router = APIRouter(
    lifespan=lifespan,
    tags=["experiments"],
    responses=error_responses({**AUTH_ERRORS, 404: "Unknown experiment", 422: "Invalid input"}),
)

Collect = Annotated[Principal, Depends(require_collect)]
Read = Annotated[Principal, Depends(require_read)]
Admin = Annotated[Principal, Depends(require_admin)]
Key = Annotated[str, Path(min_length=1, max_length=80, description="The experiment's key.")]


class Assignment(BaseModel):
    experiment: str
    variant: str | None = Field(
        description="The user's variant; null when the user is outside the audience or layer slice."
    )


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    weight: float
    value: str | None = None


class ExperimentIn(BaseModel):
    """A new experiment; weights must add up to 1 (the first variant is the control)."""

    model_config = ConfigDict(extra="forbid")
    key: str
    variants: list[VariantIn]
    salt: str = ""
    layer: str | None = None
    layer_start: float = 0.0
    layer_end: float = 1.0
    audience: str | None = None
    description: str = ""


@router.get("/api/v1/experiments/{key}/assign", response_model=Assignment)
async def assign(
    request: Request,
    who: Collect,
    key: Key,
    user_id: Annotated[str, Query(min_length=1, max_length=200, description="The shopper's id.")],
) -> Response:
    """The user's variant: the same every time, in every process (hash of salt and user id).

    The first assignment of a user is recorded as an exposure.
    """
    variant = service_experiments.experiments_for(service_of(request)).assign(key, user_id, "api")
    return Response(orjson.dumps({"experiment": key, "variant": variant}), media_type="application/json")


@router.get("/api/v1/experiments", response_model=ExperimentList, response_model_exclude_unset=True)
def list_experiments(request: Request, who: Read) -> dict[str, Any]:
    """Every experiment with status and exposed users per variant."""
    return {"experiments": service_experiments.listing(service_of(request))}


@router.post(
    "/api/v1/experiments", status_code=201, response_model=ExperimentInfo, response_model_exclude_unset=True
)
def create_experiment(request: Request, who: Admin, body: ExperimentIn) -> dict[str, Any]:
    """Create and start an experiment."""
    return service_experiments.create(service_of(request), body.model_dump())


@router.get("/api/v1/experiments/power", response_model=PowerPlan, response_model_exclude_unset=True)
def power(
    request: Request,
    who: Read,
    mde: Annotated[float, Query(description="Relative lift to detect, e.g. 0.05 for +5%.")],
    rate: Annotated[float | None, Query(description="The control's conversion rate.")] = None,
    mean: Annotated[float | None, Query(description="The control's mean per user (with sd).")] = None,
    sd: Annotated[float | None, Query(description="The per-user standard deviation.")] = None,
    alpha: float = 0.05,
    power: float = 0.8,
    users: Annotated[int | None, Query(ge=2, description="Users per variant: report their power.")] = None,
) -> dict[str, Any]:
    """Sample size per variant for a relative lift (or the power of `users`), as `cartwise experiments power`."""
    from dataclasses import asdict

    from cartwise.pipelines.power import plan_power

    return asdict(plan_power(mde, mean=mean, sd=sd, rate=rate, alpha=alpha, power=power, users=users))


@router.get(
    "/api/v1/experiments/{key}/timeline", response_model=ExperimentTimeline, response_model_exclude_unset=True
)
def timeline(
    request: Request,
    who: Read,
    key: Key,
    metric: Literal["conversion", "revenue", "orders", "units", "revenue_per_order"] = "conversion",
) -> dict[str, Any]:
    """The cumulative relative lift over time with its always-valid (sequential) interval."""
    return {
        "experiment": key,
        "metric": metric,
        "points": service_experiments.timeline(service_of(request), key, metric),
    }


@router.get(
    "/api/v1/experiments/{key}/page", response_model=ExperimentDetail, response_model_exclude_unset=True
)
def detail(request: Request, who: Read, key: Key) -> dict[str, Any]:
    """What the Experiments page shows for one experiment: definition, results, timeline."""
    return _page.experiment_detail(service_of(request), key)


@router.get("/api/v1/experiments/{key}", response_model=ExperimentInfo, response_model_exclude_unset=True)
def show_experiment(request: Request, who: Read, key: Key) -> dict[str, Any]:
    """One experiment's definition, status and exposed users."""
    return service_experiments.info(service_of(request), key)


@router.post(
    "/api/v1/experiments/{key}/stop", response_model=ExperimentInfo, response_model_exclude_unset=True
)
def stop_experiment(request: Request, who: Admin, key: Key) -> dict[str, Any]:
    """Stop assigning (exposures and results stay)."""
    return service_experiments.stop(service_of(request), key)


@router.get(
    "/api/v1/experiments/{key}/results", response_model=ExperimentResults, response_model_exclude_unset=True
)
def results(
    request: Request,
    who: Read,
    key: Key,
    days: Annotated[float | None, Query(gt=0, description="Analysis window after exposure, days.")] = None,
    cuped: bool = False,
    sequential: bool = False,
    correction: Literal["holm", "bh"] | None = None,
) -> dict[str, Any]:
    """Every variant against the control on conversion, revenue, orders, units and revenue per order."""
    return service_experiments.results(
        service_of(request), key, days=days, cuped=cuped, sequential=sequential, correction=correction
    )
