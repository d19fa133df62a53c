"""Choosing the P(alive) model: by a holdout when the history allows one, else by likelihood."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from cartwise.core.errors import ModelError
from cartwise.predict import fit_alive_model

SAMPLE = Path(__file__).parents[1] / "predict" / "fixtures" / "cdnow_transactions_250.txt"


def orders() -> pd.DataFrame:
    raw = pd.read_csv(SAMPLE, sep=r"\s+", header=None, dtype=str)
    return pd.DataFrame(
        {
            "customer_id": raw[0],
            "date": pd.to_datetime(raw[2], format="%Y%m%d"),
            "amount": raw[4].astype(float),
        }
    )


def test_the_model_with_the_better_holdout_brier_score_is_chosen_and_refitted_on_everything() -> None:
    fit = fit_alive_model(orders(), date(1998, 6, 30))
    assert fit.name in ("mbgnbd", "pareto") and fit.selection.startswith("lowest holdout Brier")
    briers = {name: h["brier_repeat"] for name, h in fit.holdout.items()}
    assert set(briers) == {"mbgnbd", "pareto"} and fit.name == min(briers, key=lambda k: briers[k])
    # Refitted on all 250 customers up to the end, not on the calibration part.
    assert fit.model.n_customers_ == 250 and fit.summary.calibration_end == date(1998, 6, 30)
    alive = fit.p_alive()
    assert alive.index.is_unique and len(alive) == 250 and alive.between(0, 1).all()


def test_a_short_history_is_chosen_by_likelihood() -> None:
    # Five weeks of orders leave no room for a 28-day calibration before a third held out.
    short = orders()
    short = short[short["date"] < "1997-02-05"]
    fit = fit_alive_model(short, date(1997, 2, 4))
    assert fit.holdout == {} and "log-likelihood" in fit.selection


def test_no_orders_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="No orders yet"):
        fit_alive_model(orders().iloc[:0], date(1998, 6, 30))
