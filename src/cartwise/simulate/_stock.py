"""Stock over days: basket lines served from stock with (s, S) replenishment, and stock-outs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cartwise.simulate._common import _cumsum_within
from cartwise.simulate._config import ShopConfig
from cartwise.simulate._items import _Catalogue, _Promotions

SERVICE_Z = 1.6448536269514722
"""Safety factor of the shop's policy: z of a 95% chance of no stock-out during the lead time."""
LEAD_DAYS = (7, 15)
"""Supplier lead times are drawn uniformly from [7, 15) days: one to two weeks."""
CASE_UNITS = 6
"""The least a supplier ships: one case. Slow items are ordered a case at a time."""
ESTIMATE_ERROR = 0.3
"""Log-normal sigma of the shop's demand estimate around the true mean daily demand."""


@dataclass
class _Stock:
    fulfilled_item: np.ndarray  # item each basket line was served with (the substitute if so), -1 if lost
    stockout_keys: np.ndarray  # item * days + day for each item-day that began without stock
    final: np.ndarray  # units in stock after the last day
    mean_daily_demand: np.ndarray  # units asked for per day, per item
    lead_time: np.ndarray  # replenishment lead time per item, days
    stockout_keys_sorted: np.ndarray = field(init=False)  # for lookups by (item, day)

    def __post_init__(self) -> None:
        self.stockout_keys_sorted = np.sort(self.stockout_keys)


def _run_stock(
    rng: np.random.Generator,
    config: ShopConfig,
    cat: _Catalogue,
    promos: _Promotions,
    l_item: np.ndarray,
    l_qty: np.ndarray,
    l_day: np.ndarray,
) -> _Stock:
    """Serve basket lines (sorted by time) day by day from stock with (s, S) replenishment.

    A line is served when the units asked for that item so far today fit the stock at the start
    of the day; otherwise the closest-priced substitute is tried the same way. The shop reviews
    stock daily with the policy a shop sizes from demand (`estimate` = the true mean daily demand
    times a log-normal error, its forecast):

    * reorder point   s = ceil(estimate · L + z · √(estimate · L)), z = 1.645 (95% of lead times
      without a stock-out for Poisson demand), L the item's supplier lead time (1 to 2 weeks)
    * order-up-to     S = s + max(ceil(estimate · stock_cover_days), CASE_UNITS)

    When `stock + on order` falls to s, it orders up to S, delivered L days later. Both levels
    scale with the promotion multiplier due L days ahead, as a shop stocks up for its own
    promotions. Stock-outs still happen (demand above the estimate, bursts, promotions) and are
    recorded day by day.
    """
    days, n_items = config.days, cat.price.size
    daily = np.bincount(l_item, weights=l_qty, minlength=n_items) / days
    estimate = np.maximum(daily * rng.lognormal(0.0, ESTIMATE_ERROR, n_items), 0.02)
    lead = rng.integers(*LEAD_DAYS, size=n_items)
    lead_demand = estimate * lead
    reorder_point = np.ceil(lead_demand + SERVICE_Z * np.sqrt(lead_demand))
    order_up_to = reorder_point + np.maximum(np.ceil(estimate * config.stock_cover_days), CASE_UNITS)
    # The shop opens somewhere in its order cycle.
    stock = np.ceil(reorder_point + rng.uniform(0, 1, n_items) * (order_up_to - reorder_point)).astype(
        np.int64
    )
    on_order = np.zeros(n_items, dtype=np.int64)
    all_items = np.arange(n_items)
    arrivals_by_day: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    fulfilled_item = np.full(l_item.size, -1, dtype=np.int64)
    day_bounds = np.searchsorted(l_day, np.arange(days + 1))
    stockout_keys: list[np.ndarray] = []

    def serve(items: np.ndarray, qty: np.ndarray) -> np.ndarray:
        """Which lines (in time order) the current stock covers; takes them out of stock."""
        o = np.argsort(items, kind="stable")
        need = _cumsum_within(items[o], qty[o])
        ok = np.empty(items.size, dtype=bool)
        ok[o] = need <= stock[items[o]]
        np.subtract.at(stock, items[ok], qty[ok])
        return ok

    for d in range(days):
        for items, qty in arrivals_by_day.pop(d, []):
            np.add.at(stock, items, qty)
            np.subtract.at(on_order, items, qty)
        stockout_keys.append(np.flatnonzero(stock <= 0) * days + d)
        lo, hi = day_bounds[d], day_bounds[d + 1]
        if hi > lo:
            items, qty = l_item[lo:hi], l_qty[lo:hi]
            ok = serve(items, qty)
            fulfilled_item[lo:hi][ok] = items[ok]
            sub = cat.substitute[items]
            retry = np.flatnonzero(~ok & (sub >= 0))
            if retry.size:
                ok2 = serve(sub[retry], qty[retry])
                fulfilled_item[lo + retry[ok2]] = sub[retry[ok2]]
        ahead = promos.multiplier_of(all_items, np.minimum(d + lead, days - 1))
        position = stock + on_order
        low = np.flatnonzero(position <= reorder_point * ahead)
        if low.size:
            qty = np.ceil(order_up_to[low] * ahead[low] - position[low]).astype(np.int64)
            on_order[low] += qty
            for lt in np.unique(lead[low]):
                pick = lead[low] == lt
                arrivals_by_day.setdefault(d + int(lt), []).append((low[pick], qty[pick]))
    return _Stock(fulfilled_item, np.concatenate(stockout_keys), stock, daily, lead)
