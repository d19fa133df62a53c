"""The catalogue's economics: items with prices and relations, promotions, and how shoppers choose."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cartwise.simulate._catalogue import (
    ADJECTIVES,
    BENEFITS,
    COMPLEMENT_LEAVES,
    LEAVES,
    TOPS,
    VARIANTS,
    brand_names,
)
from cartwise.simulate._common import _DISCOUNTS, _SENSITIVITY
from cartwise.simulate._config import ShopConfig


@dataclass
class _Catalogue:
    leaf: np.ndarray
    top: np.ndarray
    price: np.ndarray
    cost: np.ndarray
    popularity: np.ndarray
    rel_price: np.ndarray
    elasticity: np.ndarray
    consumable: np.ndarray
    substitute: np.ndarray
    complement: np.ndarray
    relations: list[tuple[int, int, str]]
    titles: list[str]
    descriptions: list[str]
    brands: list[str]
    nouns: list[str]
    variants: list[str]
    created_days_before: np.ndarray


def _shelf_price(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 2, np.round(x) - 0.01, np.maximum(np.round(x, 1) - 0.01, 0.49))


def _catalogue(rng: np.random.Generator, n: int) -> _Catalogue:
    n_leaf = len(LEAVES)
    covered = rng.permutation(n_leaf)[: min(n, n_leaf)]
    leaf_w = rng.dirichlet(np.full(n_leaf, 2.0))
    leaf = np.r_[covered, rng.choice(n_leaf, size=n - covered.size, p=leaf_w)].astype(np.int64)
    top_names = list(TOPS)
    leaf_top = np.array([top_names.index(lf.top) for lf in LEAVES])
    top = leaf_top[leaf]

    n_brands = int(np.clip(n // 20, len(TOPS), 200))
    names = brand_names(rng, n_brands)
    brand_top = np.arange(len(names)) % len(TOPS)
    tier = rng.lognormal(0.0, 0.25, len(names))
    brand = np.empty(n, dtype=np.int64)
    for t in range(len(TOPS)):
        members = np.flatnonzero(top == t)
        own = np.flatnonzero(brand_top == t)
        brand[members] = own[rng.integers(own.size, size=members.size)]

    median = np.array([lf.median_price for lf in LEAVES])[leaf]
    price = _shelf_price(median * tier[brand] * rng.lognormal(0.0, 0.35, n))
    cost = np.round(price * rng.uniform(0.35, 0.65, n), 2)
    popularity = rng.lognormal(0.0, 1.0, n)
    rel_price = np.empty(n)
    for lf in np.unique(leaf):
        members = leaf == lf
        rel_price[members] = price[members] / np.median(price[members])
    consumable = np.array([lf.consumable for lf in LEAVES])[leaf]

    # Substitutes: neighbours in price within a leaf (both directions); the closest one is the fallback.
    substitute = np.full(n, -1, dtype=np.int64)
    relations: list[tuple[int, int, str]] = []
    for lf in np.unique(leaf):
        members = np.flatnonzero(leaf == lf)
        members = members[np.argsort(price[members], kind="stable")]
        for k in range(members.size - 1):
            relations += [
                (members[k], members[k + 1], "substitute"),
                (members[k + 1], members[k], "substitute"),
            ]
        for k, j in enumerate(members):
            candidates = [members[m] for m in (k - 1, k + 1) if 0 <= m < members.size]
            if candidates:
                substitute[j] = min(candidates, key=lambda c: abs(price[c] - price[j]))

    # Complements: each item in a leaf with a partner leaf gets one popular partner item.
    complement = np.full(n, -1, dtype=np.int64)
    leaf_index = {lf.name: i for i, lf in enumerate(LEAVES)}
    partner: dict[int, int] = {}
    for left, right in COMPLEMENT_LEAVES:
        partner.setdefault(leaf_index[left], leaf_index[right])
    for lf, other in partner.items():
        members = np.flatnonzero(leaf == lf)
        pool = np.flatnonzero(leaf == other)
        if members.size == 0 or pool.size == 0:
            continue
        w = popularity[pool] / popularity[pool].sum()
        complement[members] = pool[rng.choice(pool.size, size=members.size, p=w)]
        relations += [(int(j), int(complement[j]), "complement") for j in members]

    titles, descriptions, nouns, variants = [], [], [], []
    adjective = rng.integers(len(ADJECTIVES), size=n)
    pick = rng.random((n, 3))
    for row in range(n):
        lf = LEAVES[leaf[row]]
        noun = lf.nouns[int(pick[row, 0] * len(lf.nouns))]
        options = VARIANTS[lf.top]
        variant = options[int(pick[row, 1] * len(options))]
        benefits = BENEFITS[lf.top]
        adj = ADJECTIVES[adjective[row]]
        title = f"{names[brand[row]]} {adj} {noun}, {variant}"
        titles.append(title)
        nouns.append(noun)
        variants.append(variant)
        descriptions.append(
            f"The {adj.lower()} {noun.lower()} by {names[brand[row]]} ({variant}), from our {lf.name} range. "
            f"{benefits[int(pick[row, 2] * len(benefits))]}"
        )
    return _Catalogue(
        leaf=leaf,
        top=top,
        price=price,
        cost=cost,
        popularity=popularity,
        rel_price=rel_price,
        elasticity=np.zeros(n),
        consumable=consumable,
        substitute=substitute,
        complement=complement,
        relations=relations,
        titles=titles,
        descriptions=descriptions,
        brands=[names[b] for b in brand],
        nouns=nouns,
        variants=variants,
        created_days_before=rng.integers(30, 730, size=n),
    )


@dataclass
class _Promotions:
    item: np.ndarray
    start: np.ndarray  # first day (inclusive)
    end: np.ndarray  # last day (exclusive)
    discount: np.ndarray
    price: np.ndarray
    multiplier: np.ndarray
    days: int

    def lookup(self, items: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Index of the promotion running for each (item, day), or -1."""
        if self.item.size == 0:
            return np.full(items.size, -1, dtype=np.int64)
        keys = self.item * self.days + self.start
        pos = np.searchsorted(keys, items * self.days + days, side="right") - 1
        safe = np.clip(pos, 0, None)
        hit = (pos >= 0) & (self.item[safe] == items) & (days < self.end[safe])
        return np.where(hit, safe, -1)

    def multiplier_of(self, items: np.ndarray, days: np.ndarray) -> np.ndarray:
        idx = self.lookup(items, days)
        return (
            np.where(idx >= 0, self.multiplier[np.clip(idx, 0, None)], 1.0)
            if self.item.size
            else np.ones(items.size)
        )


def _promotions(rng: np.random.Generator, config: ShopConfig, cat: _Catalogue) -> _Promotions:
    n = cat.price.size
    count = round(n * config.days / 365 * config.promotions_per_item_year)
    item = rng.integers(n, size=count)
    duration = rng.integers(7, 15, size=count)
    start = rng.integers(0, np.maximum(config.days - duration, 1))
    end = np.minimum(start + duration, config.days)
    discount = _DISCOUNTS[rng.integers(_DISCOUNTS.size, size=count)]
    order = np.lexsort((start, item))
    item, start, end, discount = item[order], start[order], end[order], discount[order]
    # One promotion at a time per item: drop any that overlaps the previous kept one.
    keep = np.zeros(count, dtype=bool)
    last_item, last_end = -1, -1
    for k in range(count):
        if item[k] != last_item or start[k] >= last_end:
            keep[k] = True
            last_item, last_end = item[k], end[k]
    item, start, end, discount = item[keep], start[keep], end[keep], discount[keep]
    price = np.round(cat.price[item] * (1 - discount), 2)
    multiplier = (price / cat.price[item]) ** cat.elasticity[item]
    return _Promotions(item, start, end, discount, price, multiplier, config.days)


class _Chooser:
    """Draws items given a top category, a sensitivity level and a day (see the module docstring).

    Within a category `P(j) = w_j b_j(day) / sum_k w_k b_k(day)`. A promotion must multiply the
    item's own demand by `m_j`, but normalising over the category would take back a share
    `s_j (m_j - 1)` (`s_j` = the item's share of its category's weight). So the choice weight is
    boosted to `b_j = m_j (1 - s_j) / (1 - m_j s_j)`, which makes the item's probability exactly
    `m_j` times its regular one (other items lose a little: cannibalisation).
    """

    def __init__(self, rng: np.random.Generator, cat: _Catalogue, promos: _Promotions):
        self.rng = rng
        self.promos = promos
        self.order = np.argsort(cat.top, kind="stable")
        self.bounds = np.searchsorted(cat.top[self.order], np.arange(len(TOPS) + 1))
        n = cat.price.size
        self.mmax = np.ones(n)
        if promos.item.size:
            np.maximum.at(self.mmax, promos.item, promos.multiplier)
        self.cum, self.boost, self.bmax = [], [], []
        for beta in _SENSITIVITY:
            w = cat.popularity * cat.rel_price ** (-beta)
            share = w / np.bincount(cat.top, weights=w, minlength=len(TOPS))[cat.top]
            s, m = share[promos.item], promos.multiplier
            # An item cannot take more than its whole category: cap where m * s approaches 1.
            boost = m * (1 - s) / np.maximum(1 - m * s, 0.05)
            bmax = np.ones(n)
            if promos.item.size:
                np.maximum.at(bmax, promos.item, boost)
            self.boost.append(boost)
            self.bmax.append(bmax)
            self.cum.append(np.r_[0.0, np.cumsum((w * bmax)[self.order])])

    def accept(self, items: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Thin a stream of proposals of `items` so its rate is proportional to m_j(day)."""
        return self.rng.random(items.size) * self.mmax[items] <= self.promos.multiplier_of(items, days)

    def draw(self, tops: np.ndarray, groups: np.ndarray, days: np.ndarray) -> np.ndarray:
        out = np.empty(tops.size, dtype=np.int64)
        # Rejection sampling per sensitivity level: propose with each item's largest boost,
        # accept with b_j(day) / max b_j, which draws exactly proportional to the day's weights.
        for level in range(_SENSITIVITY.size):
            todo = np.flatnonzero(groups == level)
            cum, boost, bmax = self.cum[level], self.boost[level], self.bmax[level]
            for attempt in range(100):
                if todo.size == 0:
                    break
                t = tops[todo]
                lo, hi = cum[self.bounds[t]], cum[self.bounds[t + 1]]
                pos = np.searchsorted(cum, lo + self.rng.random(todo.size) * (hi - lo), side="right") - 1
                picks = self.order[np.clip(pos, self.bounds[t], self.bounds[t + 1] - 1)]
                idx = self.promos.lookup(picks, days[todo])
                today = (
                    np.where(idx >= 0, boost[np.clip(idx, 0, None)], 1.0)
                    if boost.size
                    else np.ones(todo.size)
                )
                accept = (self.rng.random(todo.size) * bmax[picks] <= today) | (attempt == 99)
                out[todo[accept]] = picks[accept]
                todo = todo[~accept]
        return out
