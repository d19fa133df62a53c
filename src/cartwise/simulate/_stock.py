"""Stock over days: basket lines served from stock with (s, Q) replenishment, and stock-outs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cartwise.simulate._common import _cumsum_within
from cartwise.simulate._config import ShopConfig
from cartwise.simulate._items import _Catalogue, _Promotions


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
    """Serve basket lines (sorted by time) day by day from stock with (s, Q) replenishment.

    A line is served when the units asked for that item so far today fit the stock at the start
    of the day; otherwise the closest-priced substitute is tried the same way. When `stock +
    on order` falls to the reorder point `ceil(1.2 * estimate * lead)` an order of
    `ceil(estimate * stock_cover_days)` arrives `lead` days later, where `estimate` is the true
    mean daily demand times a log-normal error. Both scale with the promotion multiplier due
    `lead` days ahead, as a shop would stock up for its own promotions.
    """
    days, n_items = config.days, cat.price.size
    daily = np.bincount(l_item, weights=l_qty, minlength=n_items) / days
    estimate = np.maximum(daily * rng.lognormal(0.0, 0.5, n_items), 0.05)
    lead = rng.integers(3, 11, size=n_items)
    reorder_point = np.ceil(estimate * lead * 1.2)
    reorder_qty = np.ceil(estimate * config.stock_cover_days)
    stock = np.ceil(estimate * rng.uniform(15, 45, n_items)).astype(np.int64) + 1
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
        low = np.flatnonzero(stock + on_order <= reorder_point * ahead)
        if low.size:
            qty = np.ceil(reorder_qty[low] * ahead[low]).astype(np.int64)
            on_order[low] += qty
            for lt in np.unique(lead[low]):
                pick = lead[low] == lt
                arrivals_by_day.setdefault(d + int(lt), []).append((low[pick], qty[pick]))
    return _Stock(fulfilled_item, np.concatenate(stockout_keys), stock, daily, lead)
