"""Saved uplift curves: sampled at 101 shares, random ends where the model does, one row per
campaign and learner (a refit replaces it), scores held out (cross-fitted)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cartwise.pipelines.uplift_curves import POINTS, held_out_curves, load_curves, save_curves
from cartwise.store import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "x.duckdb") as s:
        yield s


def _campaign(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    # Customers with x > 0 buy more when sent the message; the others never change.
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    treated = rng.random(n) < 0.5
    p = 0.1 + 0.3 * (treated & (x > 0))
    return pd.DataFrame({"x": x, "noise": rng.normal(size=n)}), treated, (rng.random(n) < p).astype(np.int64)


def test_curves_of_a_learner_that_finds_the_persuadable(store: Store) -> None:
    features, treated, outcome = _campaign()
    curves = held_out_curves(features, treated, outcome, "t", propensity=False)
    assert len(curves["share"]) == POINTS and curves["share"][0] == 0 and curves["share"][-1] == 1
    qini = curves["qini"]
    assert set(qini) == {"t_learner", "random"}
    assert qini["t_learner"][0] == 0 and qini["random"][-1] == pytest.approx(qini["t_learner"][-1])
    # The persuadable half is found: at half the audience, clearly above random (the learner's
    # leaves need 200 customers, hence 4,000 customers).
    assert qini["t_learner"][50] > 1.4 * qini["random"][50]
    assert curves["qini_coefficient"]["t_learner"] > 0

    save_curves(store, "spring", "t", "v1", curves)
    save_curves(store, "spring", "t", "v2", curves)  # a refit replaces the row
    save_curves(store, "autumn", "x", "v1", curves)
    saved = load_curves(store)
    assert sorted((m["campaign"], m["model_version"]) for m in saved) == [("autumn", "v1"), ("spring", "v2")]
    assert saved[0]["qini"] == qini
