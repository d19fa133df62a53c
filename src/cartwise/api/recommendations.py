"""Recommendation routes: per user, similar items, bought together, trending, the model and retraining.

The logic lives in `cartwise.service.recs` (the page in `cartwise.pages.recommendations`); these routes
validate parameters and shape answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from cartwise.api import page_models as pm
from cartwise.api.auth import Principal, require_admin, require_read, service_of
from cartwise.api.models import AUTH_ERRORS, error_responses
from cartwise.api.path_ids import path_id
from cartwise.pages import recommendations as _page  # noqa: F401  (registers the Recommendations page)
from cartwise.service.recs import recs_for, stop_recs


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the model once the service has started; write impressions before the store closes."""
    service = app.state.service
    await asyncio.to_thread(recs_for, service)
    try:
        yield
    finally:
        await asyncio.to_thread(stop_recs, service)


router = APIRouter(
    lifespan=lifespan,
    tags=["recommendations"],
    responses=error_responses({**AUTH_ERRORS, 404: "Unknown item", 422: "A parameter is out of range"}),
)

Read = Annotated[Principal, Depends(require_read)]
Admin = Annotated[Principal, Depends(require_admin)]
N = Annotated[int, Query(ge=1, le=100, description="How many items (1 to 100).")]
Id = Annotated[str, Path(min_length=1, max_length=200)]


class RecItem(BaseModel):
    item_id: str
    title: str
    category: str
    score: float = Field(description="Higher is better; comparable within one list only.")
    reason: str = Field(description="Why the item is there, e.g. `Because you bought Chef knife`.")
    reason_item_id: str | None = Field(None, description="The item the reason names, if any.")


class Recommendations(BaseModel):
    request_id: str = Field(
        description="Send it back as `properties.request_id` on events to attribute them."
    )
    user_id: str
    model_version: str
    cold_start: bool = Field(description="True when nothing is known about the user or the session.")
    session_items: int = Field(description="Items of the live session (and context item) used.")
    experiment: str | None = Field(
        None, description="The running recommender experiment that chose the model, if any."
    )
    variant: str | None = Field(None, description="The user's variant in `experiment`.")
    items: list[RecItem]


class ItemList(BaseModel):
    item_id: str | None = None
    items: list[dict[str, Any]]


def _json(body: dict[str, Any]) -> Response:
    # Already the documented shape: skip re-validation, it costs more than the answer itself.
    return Response(orjson.dumps(body), media_type="application/json")


# The in-memory answers are async: they take well under a millisecond and never touch the
# store, so the hop to the thread pool would cost more than it saves.
@router.get("/api/v1/recommendations/{user_id}", response_model=Recommendations)
async def recommendations(
    request: Request,
    who: Read,
    user_id: Id,
    n: N = 10,
    session_id: Annotated[str | None, Query(max_length=200, description="Live session to use.")] = None,
    context_item: Annotated[
        str | None, Query(max_length=200, description="Item being viewed; joins the session.")
    ] = None,
    seed: Annotated[
        int | None, Query(ge=0, le=2**32 - 1, description="Fixes the shuffle among near-ties.")
    ] = None,
    log: Annotated[bool, Query(description="Log the list as an impression (default true).")] = True,
) -> Response:
    """Up to `n` items for a user, after the business rules, each with a score and a reason.

    Unknown users get trending items (or session-based ones with `session_id`); the list is
    logged as an impression under `request_id`. While a recommender experiment runs, the user's
    variant (by hash, the same every time) chooses the recommender, and `experiment`/`variant` say so.
    """
    served = recs_for(service_of(request)).recommend(
        path_id(user_id),
        n,
        session_id=session_id,
        context_item=context_item,
        seed=seed,
        surface="api",
        log_impression=log,
    )
    return _json(
        {
            "request_id": served.request_id,
            "user_id": served.user_id,
            "model_version": served.model_version,
            "cold_start": served.cold_start,
            "session_items": served.session_items,
            "experiment": served.experiment,
            "variant": served.variant,
            "items": served.items,
        }
    )


@router.get("/api/v1/recommendations/{user_id}/history", response_model=ItemList)
def history(
    request: Request, who: Read, user_id: Id, n: Annotated[int, Query(ge=1, le=200)] = 20
) -> dict[str, Any]:
    """The user's latest views, add-to-carts and purchases, newest first."""
    return {"items": recs_for(service_of(request)).history(path_id(user_id), n)}


@router.get("/api/v1/items/{item_id}/similar", response_model=ItemList)
async def similar(request: Request, who: Read, item_id: Id, n: N = 10) -> Response:
    """Items most like `item_id` (active and in stock)."""
    item_id = path_id(item_id)
    return _json({"item_id": item_id, "items": recs_for(service_of(request)).similar(item_id, n)})


@router.get("/api/v1/items/{item_id}/bought-together", response_model=ItemList)
async def bought_together(request: Request, who: Read, item_id: Id, n: N = 10) -> Response:
    """Items often in the same order as `item_id`, by lift of pair basket rules."""
    item_id = path_id(item_id)
    return _json({"item_id": item_id, "items": recs_for(service_of(request)).bought_together(item_id, n)})


@router.get("/api/v1/trending", response_model=ItemList)
async def trending(
    request: Request,
    who: Read,
    n: N = 10,
    category: Annotated[str | None, Query(max_length=200, description="Category path prefix.")] = None,
) -> Response:
    """Items with the most recent interest (views, carts, purchases with a 7-day half-life)."""
    return _json({"items": recs_for(service_of(request)).trending(n, category=category)})


@router.get(
    "/api/v1/recommender",
    tags=["recommendations"],
    response_model=pm.RecommenderInfo,
    response_model_exclude_unset=True,
)
def model_info(request: Request, who: Read) -> dict[str, Any]:
    """The model serving now, its last retrain and serving counters."""
    return recs_for(service_of(request)).model_info()


@router.post(
    "/api/v1/recommender/retrain",
    status_code=202,
    response_model=pm.RetrainStatus,
    response_model_exclude_unset=True,
)
def retrain(request: Request, who: Admin) -> dict[str, Any]:
    """Retrain on the store's events in the background; the new model replaces the old when ready."""
    return recs_for(service_of(request)).retrain(background=True)


@router.get("/api/v1/recommender/online", response_model=pm.OnlineMetrics, response_model_exclude_unset=True)
def online(request: Request, who: Read, days: Annotated[int, Query(ge=1, le=365)] = 30) -> dict[str, Any]:
    """Impressions and attributed clicks, add-to-carts and purchases (CTR, conversion, revenue per mille)."""
    return recs_for(service_of(request)).online_metrics(days)
