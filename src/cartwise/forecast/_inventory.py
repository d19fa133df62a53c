"""Reorder suggestions from demand forecasts: reorder point, order quantity, cover, stock-out risk."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from cartwise.core.errors import ConfigError, InputError

Z_80 = 1.2815515655446004
"""Half-width of a central 80% normal interval in standard deviations (1.2816)."""


def reorder_plan(
    forecast: pd.DataFrame,
    stock: Mapping[str, float],
    lead_time: int,
    service_level: float = 0.95,
    review_period: int = 1,
) -> pd.DataFrame:
    """Per item: safety stock, reorder point, order quantity, periods of cover and stock-out risk.

    `forecast` is a panel forecast (`id, date, forecast, lo_80, hi_80, ...`, periods in order);
    `stock` the units on hand per id; `lead_time` and `review_period` are in periods. With
    D_k the forecast of step k and σ_k = (hi_80 − lo_80) / (2 · 1.2816) its error spread
    (read from the 80% interval, errors taken as independent and normal):

    * lead-time demand  D_L = Σ_{k≤L} D_k,   σ_L = √(Σ_{k≤L} σ_k²)
    * safety stock      SS = z · σ_L,  z = Φ⁻¹(service_level)
    * reorder point     ROP = D_L + SS
    * order quantity    Q = max(0, Σ_{k≤L+R} D_k + SS − stock) when stock ≤ ROP, else 0 (order up to)
    * periods of cover  how many periods the stock lasts at the forecast rate (fractional;
      inf beyond the horizon)
    * stock-out risk    P(lead-time demand > stock) = 1 − Φ((stock − D_L) / σ_L)

    Returns one row per id, riskiest first. Items without a `stock` entry are left out.
    """
    if not isinstance(lead_time, int) or lead_time < 1:
        raise ConfigError(
            f"must be a positive number of periods; received {lead_time!r}.", parameter="lead_time"
        )
    if not isinstance(review_period, int) or review_period < 0:
        raise ConfigError(
            f"`review_period` must be a non-negative number of periods; received {review_period!r}."
        )
    if not 0.5 <= service_level < 1:
        raise ConfigError(
            f"must be in [0.5, 1), e.g. 0.95; received {service_level!r}.", parameter="service_level"
        )
    missing = [c for c in ("id", "forecast", "lo_80", "hi_80") if c not in forecast.columns]
    if missing:
        raise InputError(f"The forecast lacks columns {missing}; pass the output of `cartwise forecast`.")
    from scipy.stats import norm  # imported here: scipy.stats takes a while to load

    z = float(norm.ppf(service_level))
    rows = []
    for sid, group in forecast.groupby("id", sort=False):
        if sid not in stock:
            continue
        d = group["forecast"].to_numpy(dtype=float)
        if lead_time + review_period > d.size:
            raise ConfigError(
                f"Series {sid!r} has a {d.size}-period forecast; lead time + review period needs "
                f"{lead_time + review_period}. Forecast a longer horizon.",
                parameter="horizon",
            )
        sigma = (group["hi_80"].to_numpy(dtype=float) - group["lo_80"].to_numpy(dtype=float)) / (2 * Z_80)
        on_hand = float(stock[sid])
        demand_l = float(d[:lead_time].sum())
        sigma_l = float(np.sqrt(np.sum(sigma[:lead_time] ** 2)))
        safety = z * sigma_l
        rop = demand_l + safety
        target = float(d[: lead_time + review_period].sum()) + safety
        qty = max(0.0, target - on_hand) if on_hand <= rop else 0.0
        cumulative = np.cumsum(d)
        k = int(np.searchsorted(cumulative, on_hand, side="right"))
        if k >= d.size:
            cover = float("inf")
        else:
            before = cumulative[k - 1] if k else 0.0
            cover = k + (on_hand - before) / d[k] if d[k] > 0 else float(k)
        if sigma_l > 0:
            risk = float(1 - norm.cdf((on_hand - demand_l) / sigma_l))
        else:
            risk = float(demand_l > on_hand)
        rows.append(
            {
                "id": sid,
                "stock": on_hand,
                "lead_time_demand": demand_l,
                "safety_stock": safety,
                "reorder_point": rop,
                "order_quantity": qty,
                "periods_of_cover": cover,
                "stockout_risk": risk,
            }
        )
    columns = ["id", "stock", "lead_time_demand", "safety_stock", "reorder_point", "order_quantity",
               "periods_of_cover", "stockout_risk"]  # fmt: skip
    plan = pd.DataFrame(rows, columns=columns)
    return plan.sort_values("stockout_risk", ascending=False, kind="stable").reset_index(drop=True)
