"""Discounted customer lifetime value from a purchase-count model and a spend model."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from cartwise.core.errors import InputError
from cartwise.predict._base import PurchaseModel, SpendModel
from cartwise.predict._mle import FloatArray, as_float_array, check_rfm, unique_rows


def customer_lifetime_value(
    purchase_model: PurchaseModel,
    spend_model: SpendModel,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary_value: ArrayLike,
    *,
    horizon: float,
    discount_rate: float = 0.0,
    monetary_count: ArrayLike | None = None,
) -> FloatArray:
    """Expected discounted value of each customer's purchases in (T, T + horizon].

    With K = ceil(horizon) steps t_k = k * horizon / K (one per time unit) and a discount rate
    d per time unit:

    ``CLV = sum_k [E(Y(t_k)) - E(Y(t_{k-1}))] * E[M | x, m] / (1 + d)^(t_k)``

    where E(Y(t)) is `purchase_model.conditional_expected_purchases` and E[M | x, m] is
    `spend_model.expected_average_value` (computed from `monetary_count`, default `frequency`,
    and `monetary_value`; customers with no usable value get the population mean). Purchases
    in a step are discounted from its end. The result is in money units; with d = 0 it equals
    expected purchases over the horizon times the expected average value.
    """
    if not (isinstance(horizon, int | float) and math.isfinite(horizon) and horizon > 0):
        raise InputError(f"`horizon` must be a positive number of time units; received {horizon!r}.")
    if not (isinstance(discount_rate, int | float) and 0 <= discount_rate < 1):
        raise InputError(
            f"`discount_rate` is the rate per time unit and must lie in [0, 1); received {discount_rate!r}. "
            "For an annual rate R and weekly units use (1 + R) ** (7 / 365.25) - 1."
        )
    x, t_x, big_t = check_rfm(frequency, recency, T)
    m = as_float_array(monetary_value, "monetary_value")
    counts = x if monetary_count is None else as_float_array(monetary_count, "monetary_count")
    value = spend_model.expected_average_value(counts, m)
    (ux, ut_x, uT), _, inverse = unique_rows(x, t_x, big_t)
    steps = max(1, math.ceil(horizon))
    times = np.linspace(0.0, float(horizon), steps + 1)
    previous = np.zeros(ux.size)
    discounted = np.zeros(ux.size)
    # P(alive) does not depend on the horizon: compute it once for all steps.
    alive = purchase_model.p_alive(ux, ut_x, uT)
    for t_k in times[1:]:
        cumulative = purchase_model._conditional_expected_purchases(
            np.full(ux.size, t_k), ux, ut_x, uT, alive
        )
        discounted += (cumulative - previous) / (1.0 + discount_rate) ** t_k
        previous = cumulative
    return np.asarray(discounted[inverse] * value, dtype=np.float64)


__all__ = ["customer_lifetime_value"]
