"""Reorder points and quantities from a forecast, computed by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy.stats import norm

from cartwise.core.errors import ConfigError
from cartwise.forecast import reorder_plan

Z80 = norm.ppf(0.9)


def forecast_of(sid: str, demand: list[float], sigma: float) -> pd.DataFrame:
    half = Z80 * sigma  # an 80% interval of +- 1.2816 sigma
    return pd.DataFrame(
        {
            "id": sid,
            "date": range(1, len(demand) + 1),
            "forecast": demand,
            "lo_80": [d - half for d in demand],
            "hi_80": [d + half for d in demand],
        }
    )


def test_reorder_point_quantity_cover_and_risk_by_hand() -> None:
    fc = pd.concat([forecast_of("a", [10, 10, 10, 10], 3.0), forecast_of("b", [5, 5, 5, 5], 0.0)])
    plan = reorder_plan(fc, {"a": 15, "b": 100}, lead_time=2, service_level=0.95, review_period=1).set_index(
        "id"
    )
    a = plan.loc["a"]
    # D_L = 20, sigma_L = sqrt(2) * 3, SS = 1.6449 * 4.2426 = 6.979, ROP = 26.979.
    assert a["lead_time_demand"] == pytest.approx(20)
    assert a["safety_stock"] == pytest.approx(norm.ppf(0.95) * math.sqrt(18))
    assert a["reorder_point"] == pytest.approx(20 + norm.ppf(0.95) * math.sqrt(18))
    # Order up to 3 periods of demand (30) + SS, minus the 15 on hand.
    assert a["order_quantity"] == pytest.approx(30 + a["safety_stock"] - 15)
    assert a["periods_of_cover"] == pytest.approx(1.5)
    assert a["stockout_risk"] == pytest.approx(1 - norm.cdf((15 - 20) / math.sqrt(18)))
    b = plan.loc["b"]
    assert b["order_quantity"] == 0 and b["stockout_risk"] == 0 and math.isinf(b["periods_of_cover"])
    assert list(plan.index) == ["a", "b"]  # riskiest first


def test_bad_settings_are_config_errors() -> None:
    fc = forecast_of("a", [1, 1], 1.0)
    with pytest.raises(ConfigError, match="needs 3"):
        reorder_plan(fc, {"a": 1}, lead_time=2, review_period=1)
    with pytest.raises(ConfigError, match="service_level"):
        reorder_plan(fc, {"a": 1}, lead_time=1, service_level=1.0)
