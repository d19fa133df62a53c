"""What each purchase occasion puts in its basket, and what stock lets it buy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cartwise.simulate._common import _draw_tops
from cartwise.simulate._config import ShopConfig
from cartwise.simulate._items import _Catalogue, _Chooser, _Promotions
from cartwise.simulate._people import _People
from cartwise.simulate._stock import _run_stock, _Stock


@dataclass
class _Baskets:
    occ_top: np.ndarray  # top category of each occasion
    bought_occ: np.ndarray  # whether each occasion bought anything (else it was lost to stock-outs)
    # Lines bought (merged per occasion and item) and lines not served for want of stock.
    b_occ: np.ndarray
    b_item: np.ndarray
    b_qty: np.ndarray
    oos_occ: np.ndarray
    oos_item: np.ndarray
    stock: _Stock
    days: int

    def in_stock(self, items: np.ndarray, on_days: np.ndarray) -> np.ndarray:
        """Whether each item had stock at the start of the day."""
        keys_sorted = self.stock.stockout_keys_sorted
        if keys_sorted.size == 0:
            return np.ones(items.size, dtype=bool)
        keys = items * self.days + on_days
        pos = np.clip(np.searchsorted(keys_sorted, keys), 0, keys_sorted.size - 1)
        return keys_sorted[pos] != keys


def _baskets(
    config: ShopConfig,
    cat: _Catalogue,
    promos: _Promotions,
    chooser: _Chooser,
    people: _People,
    r_basket: np.random.Generator,
    r_stock: np.random.Generator,
) -> _Baskets:
    n_items = cat.price.size
    n_users, n_occ = people.n_users, people.n_occ
    occ_person, occ_day, occ_ts = people.occ_person, people.occ_day, people.occ_ts
    affinity_cum, sensitivity = people.affinity_cum, people.sensitivity

    occ_top = _draw_tops(r_basket, affinity_cum, occ_person)
    n_primary = 1 + r_basket.poisson(0.35, n_occ)
    l_occ = np.repeat(np.arange(n_occ), n_primary)
    l_top = np.where(
        r_basket.random(l_occ.size) < 0.75,
        occ_top[l_occ],
        _draw_tops(r_basket, affinity_cum, occ_person[l_occ]),
    )
    l_item = chooser.draw(l_top, sensitivity[occ_person[l_occ]], occ_day[l_occ])
    first_line = np.flatnonzero(np.r_[True, l_occ[1:] != l_occ[:-1]])
    comp = cat.complement[l_item[first_line]]
    add_comp = (comp >= 0) & (r_basket.random(first_line.size) < config.complement_probability)
    add_comp &= chooser.accept(np.maximum(comp, 0), occ_day[l_occ[first_line]])
    c_occ, c_item = l_occ[first_line][add_comp], comp[add_comp]
    # Consumables: the first consumable a customer buys is re-bought on later occasions.
    cons = cat.consumable[l_item]
    first_cons = np.full(n_users, -1, dtype=np.int64)
    staple_occ = np.full(n_users, n_occ, dtype=np.int64)
    cons_lines = np.flatnonzero(cons)
    # Lines are ordered by occasion, and occasions by (customer, time): the first hit is the earliest.
    staple_people, first_hit = np.unique(occ_person[l_occ[cons_lines]], return_index=True)
    first_cons[staple_people] = l_item[cons_lines[first_hit]]
    staple_occ[staple_people] = l_occ[cons_lines[first_hit]]
    later = (first_cons[occ_person] >= 0) & (np.arange(n_occ) > staple_occ[occ_person])
    rebuy = later & (r_basket.random(n_occ) < config.rebuy_probability)
    rebuy &= chooser.accept(np.maximum(first_cons[occ_person], 0), occ_day)
    r_occ = np.flatnonzero(rebuy)
    l_occ = np.r_[l_occ, c_occ, r_occ]
    l_item = np.r_[l_item, c_item, first_cons[occ_person[r_occ]]]
    l_qty = 1 + r_basket.poisson(np.where(cat.consumable[l_item], 0.6, 0.25))
    # An item drawn twice for one basket is one line with the units of both.
    key, inverse = np.unique(l_occ * n_items + l_item, return_inverse=True)
    l_qty = np.bincount(inverse, weights=l_qty).astype(np.int64)
    l_occ, l_item = key // n_items, key % n_items

    # -- stock over days ------------------------------------------------------------------------
    l_day = occ_day[l_occ]
    order = np.lexsort((occ_ts[l_occ], l_day))
    l_occ, l_item, l_qty, l_day = l_occ[order], l_item[order], l_qty[order], l_day[order]
    stock = _run_stock(r_stock, config, cat, promos, l_item, l_qty, l_day)
    fulfilled_item = stock.fulfilled_item

    ok_line = fulfilled_item >= 0
    # Buying lines (a substitute may repeat an item already in the basket: merge them).
    b_key = l_occ[ok_line] * n_items + fulfilled_item[ok_line]
    b_key, inverse = np.unique(b_key, return_inverse=True)
    b_qty = np.bincount(inverse, weights=l_qty[ok_line]).astype(np.int64)
    b_occ, b_item = b_key // n_items, b_key % n_items
    bought_occ = np.zeros(n_occ, dtype=bool)
    bought_occ[b_occ] = True
    missed = l_item != fulfilled_item
    return _Baskets(
        occ_top=occ_top,
        bought_occ=bought_occ,
        b_occ=b_occ,
        b_item=b_item,
        b_qty=b_qty,
        oos_occ=l_occ[missed],
        oos_item=l_item[missed],
        stock=stock,
        days=config.days,
    )
