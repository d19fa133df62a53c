"""Training everything the dashboard and API serve, from the store: profiles, recommendations, forecasts.

`train_all` is what `cartwise demo` and `cartwise train` run. Each part reports its own
figures; a part that cannot be trained (too little data) is reported, not fatal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from cartwise.core.errors import CartwiseError
from cartwise.pipelines.churn import score_churn
from cartwise.pipelines.demand import build_forecasts
from cartwise.pipelines.profiles import refresh_profiles
from cartwise.recommend import Interactions, create
from cartwise.store import Store

# Implicit feedback strength of each event type for the recommender.
EVENT_WEIGHTS: dict[str, float] = {"view": 1.0, "add_to_cart": 3.0, "begin_checkout": 3.0, "purchase": 5.0}


def store_interactions(store: Store) -> Interactions:
    """Weighted (user, item) interactions from the store's events, with times and sessions as baskets."""
    weights = ", ".join(f"('{t}', {w})" for t, w in EVENT_WEIGHTS.items())
    table = store.arrow(
        f"""SELECT e.user_id, e.item_id, epoch(e.ts) AS t, w.weight, coalesce(e.session_id, e.user_id) AS basket
            FROM events e JOIN (VALUES {weights}) AS w(type, weight) USING (type)
            WHERE e.item_id IS NOT NULL ORDER BY e.ts"""
    )
    return Interactions.from_arrays(
        table["user_id"].to_numpy(zero_copy_only=False),
        table["item_id"].to_numpy(zero_copy_only=False),
        times=table["t"].to_numpy(),
        weights=np.asarray(table["weight"].to_numpy(), dtype=float),
        baskets=table["basket"].to_numpy(zero_copy_only=False),
    )


def train_recommender(store: Store, model: str = "hybrid") -> dict[str, Any]:
    """Fit `model` on the store's events and item catalogue; saves it under the artefacts folder."""
    started = time.perf_counter()
    interactions = store_interactions(store)
    items = store.arrow("SELECT item_id, title, description, category, brand, price FROM items").to_pandas()
    recommender = create(model).fit(interactions, items=items if len(items) else None)
    out = store.artefacts_path() / "recommender"
    recommender.save(out)
    return {"model": recommender.name, "path": str(out), "seconds": round(time.perf_counter() - started, 2)}


def _train_uplift(store: Store) -> dict[str, Any]:
    from cartwise.pipelines.uplift import train_uplift  # LightGBM: only when training

    return train_uplift(store)


def train_all(store: Store, progress: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Churn and purchase scores, profiles (with CLV, clusters, segments and those scores), uplift
    scores into the profiles when the store holds a campaign with a holdout (`train_uplift`), the
    recommender, then demand forecasts, the reorder plan and price elasticities; returns what
    each reported (a part that cannot be trained reports its error)."""
    report: dict[str, Any] = {}
    steps: tuple[tuple[str, Callable[[], Any]], ...] = (
        ("churn", lambda: score_churn(store)),
        ("profiles", lambda: refresh_profiles(store)),
        ("uplift", lambda: _train_uplift(store)),
        ("recommender", lambda: train_recommender(store)),
        ("forecasts", lambda: build_forecasts(store)),
    )
    for name, step in steps:
        progress(f"training {name}")
        try:
            report[name] = step()
        except CartwiseError as exc:
            report[name] = {"error": str(exc)}
    return report
