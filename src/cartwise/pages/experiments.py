"""What the Experiments page and its JSON twin show: every experiment, and for the selected one
its results against the control (intervals, SRM check) and the cumulative lift over time with
its always-valid band; and the Qini and uplift curves of each fitted uplift model. The page's calculator calls `GET /api/v1/experiments/power`."""

from __future__ import annotations

import math
import warnings
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cartwise.core.errors import CartwiseError, DataWarning
from cartwise.pages import dashboard
from cartwise.service import experiments as service_experiments

if TYPE_CHECKING:
    from cartwise.service.service import Service

NO_EXPERIMENTS = (
    "No experiments yet: create one with `cartwise experiments create KEY --variants control:0.5,b:0.5` "
    "(the demo shop has `demo-past-campaign`)."
)


NO_UPLIFT = (
    "No uplift model yet: `cartwise uplift fit --campaign NAME` (or `cartwise train`, on a store with a "
    "campaign sent with a holdout) fits one."
)


def _clean(value: Any) -> Any:
    """JSON-ready: NaN and infinities become None, times ISO 8601, tuples lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def experiment_detail(service: Service, key: str) -> dict[str, Any]:
    """Results and the cumulative lift of experiment `key`; `message` says why when there are none;
    for a recommender experiment, `recommender_arms`: each variant's recommender, its live status
    and the model versions that served its impressions (None for other experiments)."""
    info = service_experiments.info(service, key)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)  # notes on the results say the same
            results = service_experiments.results(service, key)
        timeline = service_experiments.timeline(service, key)
        message = None
    except CartwiseError as exc:
        results, timeline, message = None, [], str(exc)
    arms = service_experiments.recommender_arms_of(service, key)
    return _clean(
        {
            "experiment": info,
            "results": results,
            "timeline": timeline,
            "message": message,
            "recommender_arms": arms,
        }
    )


def experiments_page(service: Service) -> dict[str, Any]:
    """Every experiment, the first with exposures in detail, and each fitted uplift model's
    cross-fitted Qini and uplift curves against purchase propensity and random targeting."""
    listed = service_experiments.listing(service)
    chosen = next((e for e in listed if sum(e["exposed"].values()) > 0), listed[0] if listed else None)
    models = service_experiments.uplift_models(service)
    return _clean(
        {
            "ready": bool(listed),
            "message": None if listed else NO_EXPERIMENTS,
            "experiments": listed,
            "selected": experiment_detail(service, chosen["key"]) if chosen else None,
            "uplift_models": models,
            "uplift_message": None if models else NO_UPLIFT,
        }
    )


dashboard.register_page(
    dashboard.Page(
        "experiments",
        "Experiments",
        70,
        "A/B tests and their results.",
        data=experiments_page,
        template="experiments.html",
    )
)
