"""Qini and uplift curves of a fitted uplift model, against purchase propensity and random targeting.

`fit_uplift` calls `held_out_curves` on the campaign it learns from: the audience is split in
`folds` parts (stratified by arm and outcome); the learner and a purchase-propensity classifier
(`cartwise.predict.PropensityModel`, same features and outcome, both arms) fitted on the other
parts score each part, so every customer's score is out of sample (a curve of in-sample scores
would flatter the model). The curves (`cartwise.evaluation.uplift`: Qini Q(t) and uplift U(t),
with the random line from (0, 0) to the whole audience's value) are sampled at `POINTS` shares
targeted (0, 1%, ..., 100%, by linear interpolation between the curve's steps) and saved, one
row per campaign and learner, in `uplift_curves` for the Experiments page.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from cartwise.evaluation.uplift import UpliftCurve, auuc, qini_coefficient, qini_curve, uplift_curve
from cartwise.experiments import UPLIFT_LEARNERS
from cartwise.predict import PropensityModel
from cartwise.store import Store

POINTS = 101
TABLE = "uplift_curves"


def _sampled(curve: UpliftCurve, grid: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in np.interp(grid, curve.share, curve.value)]


def held_out_curves(
    features: pd.DataFrame,
    treated: np.ndarray,
    outcome: np.ndarray,
    learner: str,
    *,
    folds: int = 2,
    random_state: int = 0,
    propensity: bool = True,
) -> dict[str, Any]:
    """Cross-fitted Qini and uplift curves of `learner` (and of purchase propensity when
    `propensity`) over the campaign's audience; JSON-ready (see the module)."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    parts = list(splitter.split(features, treated * 2 + outcome))
    name = f"{learner}_learner"
    scores = {name: np.zeros(outcome.size)}
    if propensity:
        scores["propensity"] = np.zeros(outcome.size)
    for train, test in parts:
        x_train, x_test = features.iloc[train], features.iloc[test]
        model = UPLIFT_LEARNERS[learner](random_state=random_state)
        scores[name][test] = model.fit(x_train, treated[train], outcome[train]).predict(x_test)
        if propensity:
            # Only the ranking matters: two folds of Platt scaling keep it and halve the cost.
            ranker = PropensityModel(calibration="sigmoid", cv=2, random_state=random_state)
            scores["propensity"][test] = ranker.fit(x_train, outcome[train]).predict_proba(x_test)[:, 1]
    grid = np.linspace(0.0, 1.0, POINTS)
    out: dict[str, Any] = {
        "share": [round(float(g), 4) for g in grid],
        "audience": int(outcome.size),
        "folds": folds,
        "qini": {},
        "uplift": {},
        "qini_coefficient": {},
        "auuc": {},
    }
    for strategy, score in scores.items():
        qini, up = qini_curve(outcome, treated, score), uplift_curve(outcome, treated, score)
        out["qini"][strategy] = _sampled(qini, grid)
        out["uplift"][strategy] = _sampled(up, grid)
        out["qini_coefficient"][strategy] = round(float(qini_coefficient(outcome, treated, score)), 6)
        out["auuc"][strategy] = round(float(auuc(outcome, treated, score)), 6)
    for kind in ("qini", "uplift"):
        end = out[kind][name][-1]
        out[kind]["random"] = [round(float(g * end), 6) for g in grid]
    out["qini_coefficient"]["random"] = 0.0
    out["auuc"]["random"] = 0.0
    return out


def save_curves(
    store: Store, campaign: str, learner: str, model_version: str, curves: dict[str, Any]
) -> None:
    """Replace the row of (`campaign`, `learner`) in `uplift_curves`."""
    row = {
        "campaign": campaign,
        "learner": learner,
        "model_version": model_version,
        "fitted_at": datetime.now(UTC).replace(tzinfo=None),
        "curves": json.dumps(curves),
    }
    kept: list[dict[str, Any]] = []
    if store.has_table(TABLE):
        kept = [
            r
            for r in store.arrow(f"SELECT * FROM {TABLE}").to_pylist()
            if (r["campaign"], r["learner"]) != (campaign, learner)
        ]
    rows = [*kept, row]
    store.replace(
        TABLE,
        pa.table(
            {
                "campaign": pa.array([r["campaign"] for r in rows], pa.string()),
                "learner": pa.array([r["learner"] for r in rows], pa.string()),
                "model_version": pa.array([r["model_version"] for r in rows], pa.string()),
                "fitted_at": pa.array([r["fitted_at"] for r in rows], pa.timestamp("us")),
                "curves": pa.array([r["curves"] for r in rows], pa.string()),
            }
        ),
    )


def load_curves(store: Store) -> list[dict[str, Any]]:
    """Every saved model's curves, latest fit first: campaign, learner, model_version, fitted_at
    (ISO 8601) and the curves of `held_out_curves`."""
    if not store.has_table(TABLE):
        return []
    rows = store.arrow(f"SELECT * FROM {TABLE} ORDER BY fitted_at DESC, campaign, learner").to_pylist()
    return [
        {
            "campaign": r["campaign"],
            "learner": r["learner"],
            "model_version": r["model_version"],
            "fitted_at": r["fitted_at"].isoformat(),
            **json.loads(r["curves"]),
        }
        for r in rows
    ]
