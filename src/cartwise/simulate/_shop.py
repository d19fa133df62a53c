"""The demo shop generator: a pure function from a `ShopConfig` to Arrow tables.

How the shop works (every random quantity is recorded in a `truth_*` table):

* Time. Day `d` has a traffic multiplier `s_d = w(weekday) * (1 + A cos(2 pi (doy - peak) / 365.25))`,
  rescaled so that `mean(s_d) = 1` over the simulated days (`truth_days`). Purchase and visit
  processes run in operational time `tau(t) = integral_0^t s(u) du` (days), which has the same
  total length as calendar time, so over a whole year the BG/NBD parameters keep their meaning
  in calendar days; a customer's exact BG/NBD observation time is
  `truth_users.exposure_days = tau(end) - tau(first purchase)`. The hour of day follows a fixed
  profile with an evening peak (UTC).
* Customers (BG/NBD ground truth). Customer `i` makes a first purchase at an operational time
  whose density falls linearly from 2x at the start to 1x at the end. Afterwards repeat
  purchases arrive as a Poisson process with rate `lambda_i ~ Gamma(shape=r, rate=alpha)` per
  day; after each repeat purchase the customer drops out for good with probability
  `p_i ~ Beta(a, b)` (with `dropout_at_first_purchase`, after the first purchase too: the
  MBG/NBD story). Hence, for BG/NBD, the number of repeat purchases in `[0, t]` has
  `E[X(t)] = (a+b-1)/(a-1) * (1 - (alpha/(alpha+t))^r * 2F1(r, b; a+b-1; t/(alpha+t)))`.
  While alive a customer also has non-buying sessions at rate `sessions_per_purchase * lambda_i`.
* Tastes. Each shopper has Dirichlet(0.6) affinities over the top-level categories and a price
  sensitivity `beta` of 0, 1 or 2 (`truth_users.price_beta`), more often high for customers
  acquired through affiliates and paid search, more often low for e-mail and organic ones.
* Choice. A session has a category drawn from the affinities; an item is drawn within the
  category with probability proportional to `popularity_j * (price_j / median leaf price)^(-beta)`.
  During a promotion of item `j` its chance of being chosen is multiplied by exactly
  `m_j = (promo_price / price)^elasticity_j` (see `_Chooser`), taken from the other items of its
  category.
* Baskets. 1 + Poisson(0.35) drawn items, plus a complement `c` of the first one with probability
  `complement_probability * m_c(day) / max_day m_c`, plus the customer's first consumable `k` with
  probability `rebuy_probability * m_k(day) / max_day m_k` on every later occasion. So every way
  an item enters a basket scales with `m_j(day)`: a promotion multiplies its unit demand by `m_j`.
* Stock (`_run_stock`). Items start with a few weeks of estimated demand and are replenished after
  a lead time of 3-10 days when stock falls to a reorder point (raised ahead of a promotion).
  The shop's demand estimate is off by a log-normal factor, so some items run out
  (`truth_stockouts`). A line whose item lacks stock that day is viewed (`"in_stock": false`)
  and replaced by the item's closest-priced substitute if that one has stock; an occasion whose
  every line fails is lost (`truth_users.lost_purchases`).
* Sessions. Purchase sessions run view -> add_to_cart -> begin_checkout -> purchase and end at the
  occasion time; other sessions are browse-only, cart-abandoning or checkout-abandoning; any
  session may start with a search, some carts have an item added and removed again, and
  anonymous visitors (ids starting `v`) browse too. A session never crosses midnight.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cartwise.schema import EVENTS, ITEMS, USERS
from cartwise.schema.tables import Table
from cartwise.simulate._catalogue import (
    ADJECTIVES,
    BENEFITS,
    COMPLEMENT_LEAVES,
    FIRST_NAMES,
    LAST_NAMES,
    LEAVES,
    TOPS,
    VARIANTS,
    brand_names,
)
from cartwise.simulate._config import ShopConfig

US_PER_DAY = 86_400_000_000
US_PER_HOUR = 3_600_000_000

_ARROW_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(),
    "string": pa.string(),
    "timestamp": pa.timestamp("us"),
    "integer": pa.int64(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
    "json": pa.string(),
}

# Relative traffic by hour of day (UTC), evening peak.
_HOURS = np.array(
    [
        0.5,
        0.3,
        0.2,
        0.15,
        0.15,
        0.3,
        0.6,
        1.0,
        1.4,
        1.6,
        1.7,
        1.8,
        2.0,
        1.9,
        1.8,
        1.8,
        1.9,
        2.1,
        2.4,
        2.8,
        3.0,
        2.7,
        1.9,
        1.0,
    ]
)
_DEVICES = ("mobile", "desktop", "tablet")
_CHANNELS = ("organic", "paid_search", "social", "email", "referral", "affiliate")
_CHANNEL_SHARES = (0.35, 0.25, 0.15, 0.1, 0.1, 0.05)
# P(price sensitivity low / medium / high) by acquisition channel, in the order of _CHANNELS.
_SENSITIVITY_BY_CHANNEL = (
    (0.35, 0.45, 0.2),
    (0.2, 0.45, 0.35),
    (0.3, 0.45, 0.25),
    (0.45, 0.4, 0.15),
    (0.35, 0.45, 0.2),
    (0.1, 0.4, 0.5),
)
_COUNTRIES = ("DE", "FR", "NL", "GB", "ES", "IT", "BE", "AT", "SE", "PL")
_AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
# Price-sensitivity levels beta: weight of an item scales with (relative price)^(-beta).
_SENSITIVITY = np.array([0.0, 1.0, 2.0])
_SENSITIVITY_NAMES = ("low", "medium", "high")
_DISCOUNTS = np.array([0.1, 0.15, 0.2, 0.25, 0.3])

# Event type codes, in the order of EVENT_TYPES where they exist.
_T_VIEW, _T_SEARCH, _T_ADD, _T_REMOVE, _T_CHECKOUT, _T_PURCHASE = range(6)
_TYPE_NAMES = ("view", "search", "add_to_cart", "remove_from_cart", "begin_checkout", "purchase")
# Session kinds.
_BROWSE, _CART, _CHECKOUT, _BUY = range(4)
# Roles of an item in a session.
_EXTRA, _OOS, _BOUGHT, _ABANDONED, _REMOVED = range(5)


@dataclass
class SimulatedShop:
    """A simulated shop: canonical `events`, `items` and `users`, and its ground truth.

    `truth` maps table names to Arrow tables: `truth_users`, `truth_items`,
    `truth_item_relations`, `truth_params`, `truth_days`, `truth_stockouts` and `promotions`.
    """

    events: pa.Table
    items: pa.Table
    users: pa.Table
    truth: dict[str, pa.Table] = field(default_factory=dict)

    def tables(self) -> dict[str, pa.Table]:
        """All tables by name, canonical ones first."""
        return {"items": self.items, "users": self.users, "events": self.events, **self.truth}


def arrow_schema(table: Table) -> pa.Schema:
    """The Arrow schema of a canonical table (JSON columns are strings holding a JSON object)."""
    return pa.schema([pa.field(c.name, _ARROW_TYPES[c.kind]) for c in table.columns])


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, type=pa.int64()), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


def _width(n: int) -> int:
    return max(6, len(str(max(n - 1, 1))))


def _ranks_within(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within runs of equal values of a sorted `groups` array."""
    n = groups.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[True, groups[1:] != groups[:-1]]
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    return np.arange(n) - first


def _cumsum_within(groups: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Running sum of `values` within runs of equal `groups` (groups sorted)."""
    cs = np.cumsum(values)
    starts = np.r_[True, groups[1:] != groups[:-1]] if groups.size else np.zeros(0, bool)
    base = np.maximum.accumulate(np.where(starts, cs - values, 0)) if groups.size else cs
    return cs - base


class _Calendar:
    """Daily multipliers and the mapping between operational and calendar time."""

    def __init__(self, config: ShopConfig):
        self.days = config.days
        dates = np.datetime64(config.start, "D") + np.arange(config.days)
        self.dates = dates
        # 1970-01-01 was a Thursday (weekday 3 with Monday = 0).
        weekday = (dates.astype(np.int64) + 3) % 7
        profile = np.asarray(config.weekly_profile, dtype=float)
        self.weekly = (profile / profile.mean())[weekday]
        doy = (dates - dates.astype("datetime64[Y]")).astype(np.int64) + 1
        self.yearly = 1 + config.yearly_amplitude * np.cos(
            2 * np.pi * (doy - config.yearly_peak_day) / 365.25
        )
        raw = self.weekly * self.yearly
        self.multiplier = raw / raw.mean()
        # Operational time at the start of each day; cum[-1] == days because the mean is 1.
        self.cum = np.r_[0.0, np.cumsum(self.multiplier)]
        self.start_us = int(np.datetime64(config.start, "us").astype(np.int64))
        self.end_us = self.start_us + config.days * US_PER_DAY

    def day_of(self, tau: np.ndarray) -> np.ndarray:
        """Calendar day index of operational times `tau`."""
        day = np.interp(tau, self.cum, np.arange(self.days + 1))
        return np.clip(np.floor(day).astype(np.int64), 0, self.days - 1)

    def timestamps(self, rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
        """Microsecond timestamps on `days`, with the hour of day drawn from the daily profile."""
        hour = rng.choice(24, size=days.size, p=_HOURS / _HOURS.sum())
        within = (rng.random(days.size) * US_PER_HOUR).astype(np.int64)
        return self.start_us + days * US_PER_DAY + hour * US_PER_HOUR + within


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


@dataclass
class _Stock:
    fulfilled_item: np.ndarray  # item each basket line was served with (the substitute if so), -1 if lost
    stockout_keys: np.ndarray  # item * days + day for each item-day that began without stock
    final: np.ndarray  # units in stock after the last day
    mean_daily_demand: np.ndarray  # units asked for per day, per item
    lead_time: np.ndarray  # replenishment lead time per item, days


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


def _draw_tops(rng: np.random.Generator, affinity_cum: np.ndarray, people: np.ndarray) -> np.ndarray:
    u = rng.random(people.size)
    tops = np.empty(people.size, dtype=np.int64)
    # Chunks keep the (draws x categories) comparison small.
    for s in range(0, people.size, 500_000):
        rows = affinity_cum[people[s : s + 500_000]]
        tops[s : s + 500_000] = (u[s : s + 500_000, None] > rows).sum(axis=1)
    return np.minimum(tops, affinity_cum.shape[1] - 1)


def simulate_shop(config: ShopConfig | None = None) -> SimulatedShop:
    """Simulate a shop; pure and deterministic given `config` (same config, identical tables).

    Returns canonical `events`, `items` and `users` tables (columns and types of
    `cartwise.schema`) and the ground truth; see the module docstring for the generative model.
    """
    config = config or ShopConfig()
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(8)]
    r_cat, r_people, r_buy, r_promo, r_basket, r_stock, r_sess, r_events = streams
    cal = _Calendar(config)
    days = config.days

    cat = _catalogue(r_cat, config.items)
    n_items = cat.price.size
    cat.elasticity = np.clip(r_cat.normal(config.elasticity_mean, config.elasticity_sd, n_items), -6.0, 0.0)
    promos = _promotions(r_promo, config, cat)

    # -- people: customers, then anonymous visitors --------------------------------------------
    n_users = config.users
    lam = r_people.gamma(config.r, 1.0 / config.alpha, n_users)
    p_drop = r_people.beta(config.a, config.b, n_users)

    # -- purchase occasions (BG/NBD in operational time) ---------------------------------------
    # Acquisition density falls linearly from 2x to 1x over the period (inverse CDF of f(x) ~ 2 - x),
    # so the shop grows without its first months looking empty.
    birth_tau = (2 - np.sqrt(4 - 3 * r_buy.random(n_users))) * days
    exposure = days - birth_tau
    arrivals = r_buy.poisson(lam * exposure)
    budget = r_buy.geometric(p_drop)  # repeat purchases until (and including) the one after which i drops out
    if config.dropout_at_first_purchase:
        budget -= 1  # MBG/NBD: the first purchase is a drop-out chance too (budget 0: gone after it)
    repeats = np.minimum(arrivals, budget)
    dropped = budget <= arrivals
    owner = np.repeat(np.arange(n_users), arrivals)
    tau = birth_tau[owner] + r_buy.random(owner.size) * exposure[owner]
    order = np.lexsort((tau, owner))
    owner, tau = owner[order], tau[order]
    keep = _ranks_within(owner) < repeats[owner]
    owner, tau = owner[keep], tau[keep]
    alive_until = np.full(n_users, float(days))
    last_idx = np.flatnonzero(np.r_[owner[1:] != owner[:-1], True]) if owner.size else np.zeros(0, np.int64)
    alive_until[owner[last_idx]] = np.where(dropped[owner[last_idx]], tau[last_idx], days)
    gone_at_first = dropped & (repeats == 0)
    alive_until[gone_at_first] = birth_tau[gone_at_first]

    occ_person = np.r_[np.arange(n_users), owner]
    occ_day = cal.day_of(np.r_[birth_tau, tau])
    occ_ts = cal.timestamps(r_buy, occ_day)
    order = np.lexsort((occ_ts, occ_person))
    occ_person, occ_day, occ_ts = occ_person[order], occ_day[order], occ_ts[order]
    n_occ = occ_person.size

    # Non-buying sessions of customers while alive, and of anonymous visitors.
    visits = r_sess.poisson(config.sessions_per_purchase * lam * (alive_until - birth_tau))
    v_person = np.repeat(np.arange(n_users), visits)
    v_tau = birth_tau[v_person] + r_sess.random(v_person.size) * (alive_until - birth_tau)[v_person]
    v_day = cal.day_of(v_tau)
    n_anon_sessions = round(v_person.size * config.anonymous_share / (1 - config.anonymous_share))
    n_visitors = max(1, n_anon_sessions // 2)
    n_people = n_users + n_visitors
    a_person = n_users + r_sess.integers(n_visitors, size=n_anon_sessions)
    a_day = cal.day_of(r_sess.random(n_anon_sessions) * days)

    affinity = r_people.dirichlet(np.full(len(TOPS), 0.6), n_people)
    empty_tops = np.bincount(cat.top, minlength=len(TOPS)) == 0
    affinity[:, empty_tops] = 0.0
    affinity /= affinity.sum(axis=1, keepdims=True)
    affinity_cum = np.cumsum(affinity, axis=1)
    channel = r_people.choice(len(_CHANNELS), size=n_users, p=_CHANNEL_SHARES)
    sensitivity = r_people.choice(_SENSITIVITY.size, size=n_people, p=[0.3, 0.45, 0.25])
    for code, shares in enumerate(_SENSITIVITY_BY_CHANNEL):
        members = np.flatnonzero(channel == code)
        sensitivity[members] = r_people.choice(_SENSITIVITY.size, size=members.size, p=shares)
    device_pref = r_people.choice(len(_DEVICES), size=n_people, p=[0.58, 0.36, 0.06])
    chooser = _Chooser(r_basket, cat, promos)

    # -- baskets --------------------------------------------------------------------------------
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
    fulfilled_item, stockout_keys_all = stock.fulfilled_item, stock.stockout_keys
    stockout_keys_sorted = np.sort(stockout_keys_all)

    def in_stock(items: np.ndarray, on_days: np.ndarray) -> np.ndarray:
        """Whether each item had stock at the start of the day."""
        if stockout_keys_sorted.size == 0:
            return np.ones(items.size, dtype=bool)
        keys = items * days + on_days
        pos = np.clip(np.searchsorted(stockout_keys_sorted, keys), 0, stockout_keys_sorted.size - 1)
        return stockout_keys_sorted[pos] != keys

    ok_line = fulfilled_item >= 0
    # Buying lines (a substitute may repeat an item already in the basket: merge them).
    b_key = l_occ[ok_line] * n_items + fulfilled_item[ok_line]
    b_key, inverse = np.unique(b_key, return_inverse=True)
    b_qty = np.bincount(inverse, weights=l_qty[ok_line]).astype(np.int64)
    b_occ, b_item = b_key // n_items, b_key % n_items
    bought_occ = np.zeros(n_occ, dtype=bool)
    bought_occ[b_occ] = True
    oos_occ, oos_item = l_occ[l_item != fulfilled_item], l_item[l_item != fulfilled_item]

    # -- sessions -------------------------------------------------------------------------------
    v_kind = (
        r_sess.choice(
            3,
            size=v_person.size,
            p=[
                1 - config.cart_abandon_share - config.checkout_abandon_share,
                config.cart_abandon_share,
                config.checkout_abandon_share,
            ],
        )
        if v_person.size
        else np.zeros(0, dtype=np.int64)
    )
    a_kind = np.where(r_sess.random(n_anon_sessions) < 0.12, _CART, _BROWSE)
    # Sessions: purchase occasions first (same index), then customers' visits, then visitors'.
    s_person = np.r_[occ_person, v_person, a_person]
    s_day = np.r_[occ_day, v_day, a_day]
    s_kind = np.r_[np.where(bought_occ, _BUY, _BROWSE), v_kind, a_kind].astype(np.int64)
    s_anchor = np.r_[occ_ts, cal.timestamps(r_sess, np.r_[v_day, a_day])]
    n_sessions = s_person.size
    # A customer's visits fall between the first purchase and the drop-out (calendar time).
    first_ts = np.full(n_users, np.iinfo(np.int64).max)
    np.minimum.at(first_ts, occ_person, occ_ts)
    last_ts = np.full(n_users, cal.end_us - 1)
    ends = np.flatnonzero(np.r_[occ_person[1:] != occ_person[:-1], True])
    last_ts[occ_person[ends]] = np.where(dropped[occ_person[ends]], occ_ts[ends], cal.end_us - 1)
    vi = np.arange(n_occ, n_occ + v_person.size)
    lo_ts, hi_ts = first_ts[v_person] + 60_000_000, last_ts[v_person] - 3_600_000_000
    outside = (s_anchor[vi] < lo_ts) | (s_anchor[vi] > hi_ts)
    redraw = np.where(
        hi_ts > lo_ts, lo_ts + (r_sess.random(vi.size) * (hi_ts - lo_ts)).astype(np.int64), lo_ts
    )
    s_anchor[vi] = np.where(outside, redraw, s_anchor[vi])
    s_day = np.clip((s_anchor - cal.start_us) // US_PER_DAY, 0, days - 1)
    s_device = np.where(
        r_sess.random(n_sessions) < 0.85, device_pref[s_person], r_sess.integers(3, size=n_sessions)
    )
    s_search = r_sess.random(n_sessions) < config.search_probability
    s_top = np.r_[occ_top, _draw_tops(r_sess, affinity_cum, s_person[n_occ:])]
    s_group = sensitivity[s_person]

    # Items of each session with their role.
    rows_sess = [b_occ, oos_occ]
    rows_item = [b_item, oos_item]
    rows_role = [np.full(b_occ.size, _BOUGHT), np.full(oos_occ.size, _OOS)]
    rows_qty = [b_qty, np.zeros(oos_occ.size, dtype=np.int64)]
    carts = np.flatnonzero((s_kind == _CART) | (s_kind == _CHECKOUT))
    c_sess = np.repeat(carts, 1 + r_sess.poisson(0.3, carts.size))
    c_item = chooser.draw(s_top[c_sess], s_group[c_sess], s_day[c_sess])
    c_ok = in_stock(c_item, s_day[c_sess])
    rows_sess.append(c_sess)
    rows_item.append(c_item)
    rows_role.append(np.where(c_ok, _ABANDONED, _OOS))
    rows_qty.append(np.where(c_ok, 1 + r_sess.poisson(0.25, c_sess.size), 0))
    n_extra = np.where(
        s_kind == _BROWSE, 1 + r_sess.poisson(1.9, n_sessions), r_sess.poisson(2.0, n_sessions)
    )
    e_sess = np.repeat(np.arange(n_sessions), n_extra)
    e_top = np.where(
        r_sess.random(e_sess.size) < 0.8, s_top[e_sess], _draw_tops(r_sess, affinity_cum, s_person[e_sess])
    )
    e_item = chooser.draw(e_top, s_group[e_sess], s_day[e_sess])
    # Shoppers compare: browse sessions often look at a substitute of the first item they view.
    first_extra = (
        np.flatnonzero(np.r_[True, e_sess[1:] != e_sess[:-1]]) if e_sess.size else np.zeros(0, np.int64)
    )
    subs = cat.substitute[e_item[first_extra]]
    with_sub = (subs >= 0) & (r_sess.random(first_extra.size) < 0.4)
    e_sess = np.r_[e_sess, e_sess[first_extra][with_sub]]
    e_item = np.r_[e_item, subs[with_sub]]
    rows_sess.append(e_sess)
    rows_item.append(e_item)
    rows_role.append(np.full(e_sess.size, _EXTRA))
    rows_qty.append(np.zeros(e_sess.size, dtype=np.int64))
    removers = np.flatnonzero(((s_kind == _BUY) | (s_kind == _CART)) & (r_sess.random(n_sessions) < 0.08))
    m_item = chooser.draw(s_top[removers], s_group[removers], s_day[removers])
    m_ok = in_stock(m_item, s_day[removers])
    rows_sess.append(removers[m_ok])
    rows_item.append(m_item[m_ok])
    rows_role.append(np.full(int(m_ok.sum()), _REMOVED))
    rows_qty.append(np.ones(int(m_ok.sum()), dtype=np.int64))

    i_sess = np.concatenate(rows_sess)
    i_item = np.concatenate(rows_item)
    i_role = np.concatenate(rows_role)
    i_qty = np.concatenate(rows_qty)
    i_pos = r_events.random(i_sess.size)  # browsing order within a phase
    i_stock = np.where(i_role == _OOS, False, in_stock(i_item, s_day[i_sess]) | (i_role == _BOUGHT))

    # -- events ---------------------------------------------------------------------------------
    carted = np.isin(i_role, (_BOUGHT, _ABANDONED, _REMOVED))
    parts: list[dict[str, np.ndarray]] = []

    def part(
        sess: np.ndarray,
        typ: int,
        item: np.ndarray,
        qty: np.ndarray,
        phase: int | np.ndarray,
        pos: np.ndarray,
        step: int,
        stocked: np.ndarray,
    ) -> None:
        parts.append(
            {
                "sess": sess,
                "type": np.full(sess.size, typ),
                "item": item,
                "qty": qty,
                "phase": np.full(sess.size, phase),
                "pos": pos,
                "step": np.full(sess.size, step),
                "stock": stocked,
            }
        )

    n_i = i_sess.size
    part(i_sess, _T_VIEW, i_item, np.zeros(n_i, np.int64), np.where(carted, 2, 1), i_pos, 0, i_stock)
    part(i_sess[carted], _T_ADD, i_item[carted], i_qty[carted], 2, i_pos[carted], 1, i_stock[carted])
    rem = i_role == _REMOVED
    part(i_sess[rem], _T_REMOVE, i_item[rem], -i_qty[rem], 2, i_pos[rem], 2, i_stock[rem])
    checkout = np.flatnonzero((s_kind == _CHECKOUT) | (s_kind == _BUY))
    part(
        checkout,
        _T_CHECKOUT,
        np.full(checkout.size, -1),
        np.zeros(checkout.size, np.int64),
        3,
        np.zeros(checkout.size),
        0,
        np.ones(checkout.size, bool),
    )
    bought = i_role == _BOUGHT
    part(i_sess[bought], _T_PURCHASE, i_item[bought], i_qty[bought], 4, i_pos[bought], 0, i_stock[bought])
    searching = np.flatnonzero(s_search)
    part(
        searching,
        _T_SEARCH,
        np.full(searching.size, -1),
        np.zeros(searching.size, np.int64),
        0,
        np.zeros(searching.size),
        0,
        np.ones(searching.size, bool),
    )
    ev = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((ev["step"], ev["pos"], ev["phase"], ev["sess"]))
    ev = {k: v[order] for k, v in ev.items()}
    n_ev = ev["sess"].size

    # Search queries name the first item the session then looks at.
    first_of_sess = np.r_[True, ev["sess"][1:] != ev["sess"][:-1]]
    is_search = ev["type"] == _T_SEARCH
    target = np.where(is_search, np.r_[ev["item"][1:], -1], -1)
    ok_target = is_search & (target >= 0) & np.r_[ev["sess"][1:] == ev["sess"][:-1], False]
    fallback = chooser.draw(
        s_top[ev["sess"][is_search]], s_group[ev["sess"][is_search]], s_day[ev["sess"][is_search]]
    )
    target[is_search] = np.where(ok_target[is_search], target[is_search], fallback)

    # Timing: gaps of ~50 s between events; the lines of one order share a timestamp.
    gaps = np.clip(r_events.exponential(50.0, n_ev), 2.0, 900.0) * 1e6
    gaps = gaps.astype(np.int64)
    gaps[first_of_sess] = 0
    is_purchase = ev["type"] == _T_PURCHASE
    gaps[is_purchase & np.r_[False, is_purchase[:-1]] & ~first_of_sess] = 0
    offset = _cumsum_within(ev["sess"], gaps)
    # Sessions of purchase occasions end at the occasion time (the BG/NBD purchase); others start
    # at theirs. A session stays within its day, so stock and promotion status hold for all its
    # events, and no customer acts after dropping out.
    last_of_sess = np.r_[ev["sess"][1:] != ev["sess"][:-1], True]
    anchor_off = np.zeros(n_sessions, dtype=np.int64)
    ends_occasion = last_of_sess & (ev["sess"] < n_occ)
    anchor_off[ev["sess"][ends_occasion]] = offset[ends_occasion]
    ts = s_anchor[ev["sess"]] - anchor_off[ev["sess"]] + offset
    day_start = cal.start_us + s_day[ev["sess"]] * US_PER_DAY
    ts = np.clip(ts, day_start, day_start + US_PER_DAY - 1)
    actor = s_person[ev["sess"]]
    customer = actor < n_users
    ts[customer] = np.minimum(ts[customer], last_ts[actor[customer]])
    ev_day = np.clip((ts - cal.start_us) // US_PER_DAY, 0, days - 1)

    # Prices shown and paid: the promotion price on promotion days.
    has_item = ev["item"] >= 0
    safe_item = np.where(has_item, ev["item"], 0)
    promo_idx = np.where(has_item, promos.lookup(safe_item, ev_day), -1)
    on_promo = promo_idx >= 0
    price = np.where(
        on_promo, promos.price[np.clip(promo_idx, 0, None)] if promos.item.size else 0.0, cat.price[safe_item]
    )
    revenue = np.round(price * ev["qty"], 2)

    # Final order: by time; ids follow it.
    # Stable, so events with equal times keep their (session, phase, position) order.
    order = np.argsort(ts, kind="stable")
    ev = {k: v[order] for k, v in ev.items()}
    ts, price, revenue, on_promo, target = (
        ts[order],
        price[order],
        revenue[order],
        on_promo[order],
        target[order],
    )
    has_item = ev["item"] >= 0
    # Session and order numbers in order of first appearance.
    _, first_pos = np.unique(ev["sess"], return_index=True)
    sess_number = np.empty(n_sessions, dtype=np.int64)
    present = np.unique(ev["sess"])
    sess_number[present[np.argsort(first_pos, kind="stable")]] = np.arange(present.size)
    is_purchase = ev["type"] == _T_PURCHASE
    order_number = np.full(n_sessions, -1, dtype=np.int64)
    buy_sess, buy_pos = np.unique(ev["sess"][is_purchase], return_index=True)
    order_number[buy_sess[np.argsort(buy_pos, kind="stable")]] = np.arange(buy_sess.size)

    # Properties: device, promotion flag, stock flag, search query.
    templates = []
    for dev in _DEVICES:
        for promo_flag in (False, True):
            for oos_flag in (False, True):
                obj: dict[str, object] = {"device": dev}
                if promo_flag:
                    obj["promo"] = True
                if oos_flag:
                    obj["in_stock"] = False
                templates.append(json.dumps(obj))
    dev = s_device[ev["sess"]]
    prop_code = dev * 4 + (on_promo & has_item) * 2 + (~ev["stock"] & has_item)
    is_search = ev["type"] == _T_SEARCH
    vocab: dict[str, int] = {}
    q_plain = np.array([vocab.setdefault(n.lower(), len(vocab)) for n in cat.nouns])
    q_brand = np.array(
        [vocab.setdefault(f"{b} {n}".lower(), len(vocab)) for b, n in zip(cat.brands, cat.nouns, strict=True)]
    )
    words = list(vocab)
    s_target = target[is_search]
    q = np.where(r_events.random(s_target.size) < 0.25, q_brand[s_target], q_plain[s_target])
    combo = dev[is_search] * len(words) + q
    uniq, inv = np.unique(combo, return_inverse=True)
    search_props = [
        json.dumps({"device": _DEVICES[c // len(words)], "query": words[c % len(words)]}) for c in uniq
    ]
    prop_code[is_search] = len(templates) + inv
    properties = pc.take(pa.array(templates + search_props, pa.string()), pa.array(prop_code))

    # -- Arrow tables ---------------------------------------------------------------------------
    item_ids = _ids("SKU-", np.arange(n_items), max(5, len(str(n_items - 1))))
    person_ids = pa.concat_arrays(
        [_ids("u", np.arange(n_users), _width(n_users)), _ids("v", np.arange(n_visitors), _width(n_visitors))]
    )
    qty_null = ~np.isin(ev["type"], (_T_ADD, _T_REMOVE, _T_PURCHASE))
    events = pa.table(
        {
            "event_id": _ids("e", np.arange(n_ev), _width(n_ev)),
            "ts": pa.array(ts, type=pa.timestamp("us")),
            "user_id": pc.take(person_ids, pa.array(s_person[ev["sess"]])),
            "session_id": _ids("s", sess_number[ev["sess"]], _width(n_sessions)),
            "type": pc.take(pa.array(_TYPE_NAMES), pa.array(ev["type"])),
            "item_id": pc.take(item_ids, pa.array(np.where(has_item, ev["item"], 0), mask=~has_item)),
            "quantity": pa.array(ev["qty"], type=pa.int64(), mask=qty_null),
            "price": pa.array(price, type=pa.float64(), mask=~has_item),
            "order_id": pc.if_else(
                pa.array(is_purchase),
                _ids("o", np.clip(order_number[ev["sess"]], 0, None), _width(n_occ)),
                pa.scalar(None, pa.string()),
            ),
            "revenue": pa.array(revenue, type=pa.float64(), mask=~is_purchase),
            "properties": properties,
        },
        schema=arrow_schema(EVENTS),
    )

    start_dt = datetime.combine(config.start, time())
    start_np = np.datetime64(start_dt, "us")
    created = start_np - cat.created_days_before.astype("timedelta64[D]")
    items = pa.table(
        {
            "item_id": item_ids,
            "title": pa.array(cat.titles),
            "description": pa.array(cat.descriptions),
            "category": pa.array([LEAVES[lf].path for lf in cat.leaf]),
            "brand": pa.array(cat.brands),
            "price": pa.array(cat.price),
            "cost": pa.array(cat.cost),
            "stock": pa.array(np.maximum(stock.final, 0), type=pa.int64()),
            "active": pa.array(np.ones(n_items, dtype=bool)),
            "attributes": pa.array([json.dumps({"variant": v}) for v in cat.variants]),
            "created_at": pa.array(created.astype("datetime64[us]"), type=pa.timestamp("us")),
        },
        schema=arrow_schema(ITEMS),
    )

    # Users: sign-up at their first visit.
    user_rows = s_person[ev["sess"]] < n_users
    signup = np.full(n_users, np.iinfo(np.int64).max)
    np.minimum.at(signup, s_person[ev["sess"]][user_rows], ts[user_rows])
    country = r_people.choice(
        len(_COUNTRIES), size=n_users, p=[0.3, 0.15, 0.1, 0.1, 0.08, 0.08, 0.06, 0.05, 0.04, 0.04]
    )
    first = r_people.integers(len(FIRST_NAMES), size=n_users)
    last = r_people.integers(len(LAST_NAMES), size=n_users)
    age = r_people.choice(len(_AGE_BANDS), size=n_users, p=[0.12, 0.28, 0.25, 0.17, 0.11, 0.07])
    email_consent = r_people.random(n_users) < 0.6
    sms_consent = r_people.random(n_users) < 0.25
    signup_ts = pa.array(signup, type=pa.timestamp("us"))
    users = pa.table(
        {
            "user_id": person_ids.slice(0, n_users),
            "created_at": signup_ts,
            "email": pa.array(
                [
                    f"{FIRST_NAMES[f]}.{LAST_NAMES[g]}{i}@example.com"
                    for i, (f, g) in enumerate(zip(first, last, strict=True))
                ]
            ),
            "country": pc.take(pa.array(_COUNTRIES), pa.array(country)),
            "acquisition_channel": pc.take(pa.array(_CHANNELS), pa.array(channel)),
            "email_consent": pa.array(email_consent),
            "email_consent_at": signup_ts,
            "sms_consent": pa.array(sms_consent),
            "sms_consent_at": signup_ts,
            "attributes": pc.take(pa.array([json.dumps({"age_band": b}) for b in _AGE_BANDS]), pa.array(age)),
        },
        schema=arrow_schema(USERS),
    )

    # -- truth ----------------------------------------------------------------------------------
    kept_occ = np.bincount(occ_person[bought_occ], minlength=n_users)
    lost = np.bincount(occ_person[~bought_occ], minlength=n_users)
    purchase_ts = np.full(n_users, np.iinfo(np.int64).max)
    np.minimum.at(purchase_ts, occ_person, occ_ts)
    dropout_at = np.where(dropped, last_ts, 0)
    truth_users = pa.table(
        {
            "user_id": person_ids.slice(0, n_users),
            "lambda_per_day": pa.array(lam),
            "p_dropout": pa.array(p_drop),
            "first_purchase_at": pa.array(purchase_ts, type=pa.timestamp("us")),
            "exposure_days": pa.array(exposure),
            "observed_days": pa.array((cal.end_us - purchase_ts) / US_PER_DAY),
            "repeat_purchases": pa.array(repeats.astype(np.int64)),
            "purchases": pa.array(kept_occ.astype(np.int64)),
            "lost_purchases": pa.array(lost.astype(np.int64)),
            "alive_at_end": pa.array(~dropped),
            "dropout_at": pa.array(dropout_at, type=pa.timestamp("us"), mask=~dropped),
            "price_sensitivity": pc.take(pa.array(_SENSITIVITY_NAMES), pa.array(sensitivity[:n_users])),
            "price_beta": pa.array(_SENSITIVITY[sensitivity[:n_users]]),
            "favourite_category": pc.take(pa.array(TOPS), pa.array(np.argmax(affinity[:n_users], axis=1))),
        }
    )
    truth_items = pa.table(
        {
            "item_id": item_ids,
            "elasticity": pa.array(cat.elasticity),
            "consumable": pa.array(cat.consumable),
            "popularity": pa.array(cat.popularity),
            "relative_price": pa.array(cat.rel_price),
            "mean_daily_demand": pa.array(stock.mean_daily_demand),
            "lead_time_days": pa.array(stock.lead_time, type=pa.int64()),
        }
    )
    rel = np.array([(a, b) for a, b, _ in cat.relations], dtype=np.int64).reshape(-1, 2)
    truth_item_relations = pa.table(
        {
            "item_id": pc.take(item_ids, pa.array(rel[:, 0])),
            "related_item_id": pc.take(item_ids, pa.array(rel[:, 1])),
            "relation": pa.array([kind for _, _, kind in cat.relations], pa.string()),
        }
    )
    params = {
        "r": (config.r, "BG/NBD: shape of the Gamma distribution of purchase rates lambda (per day)."),
        "alpha": (config.alpha, "BG/NBD: rate (in days) of the Gamma distribution of purchase rates."),
        "a": (config.a, "BG/NBD: Beta parameter a of the drop-out probability p."),
        "b": (config.b, "BG/NBD: Beta parameter b of the drop-out probability p."),
        "sessions_per_purchase": (
            config.sessions_per_purchase,
            "Non-buying sessions per purchase occasion of a live customer.",
        ),
        "rebuy_probability": (
            config.rebuy_probability,
            "Probability of re-buying the first consumable on a later occasion.",
        ),
        "complement_probability": (
            config.complement_probability,
            "Probability that a basket adds a complement of its first item.",
        ),
        "elasticity_mean": (config.elasticity_mean, "Mean item price elasticity."),
        "yearly_amplitude": (config.yearly_amplitude, "Amplitude of the yearly traffic wave."),
        "seed": (float(config.seed), "Random seed."),
        "days": (float(config.days), "Length of the period in days."),
    }
    truth_params = pa.table(
        {
            "name": pa.array(list(params)),
            "value": pa.array([float(v) for v, _ in params.values()]),
            "description": pa.array([d for _, d in params.values()]),
        }
    )
    truth_days = pa.table(
        {
            "day": pa.array(cal.dates.astype("datetime64[D]"), type=pa.date32()),
            "weekly": pa.array(cal.weekly),
            "yearly": pa.array(cal.yearly),
            "multiplier": pa.array(cal.multiplier),
        }
    )
    truth_stockouts = pa.table(
        {
            "item_id": pc.take(item_ids, pa.array(stockout_keys_all // days)),
            "day": pa.array(
                (cal.dates[0] + stockout_keys_all % days).astype("datetime64[D]"), type=pa.date32()
            ),
        }
    )

    def day_us(day: np.ndarray) -> pa.Array:
        return pa.array(start_np + (day * US_PER_DAY).astype("timedelta64[us]"), type=pa.timestamp("us"))

    promotions = pa.table(
        {
            "promotion_id": _ids("p", np.arange(promos.item.size), 5),
            "item_id": pc.take(item_ids, pa.array(promos.item, type=pa.int64())),
            "starts_at": day_us(promos.start),
            "ends_at": day_us(promos.end),
            "discount": pa.array(promos.discount, type=pa.float64()),
            "price": pa.array(promos.price, type=pa.float64()),
            "demand_multiplier": pa.array(promos.multiplier, type=pa.float64()),
        }
    )
    return SimulatedShop(
        events=events,
        items=items,
        users=users,
        truth={
            "truth_users": truth_users,
            "truth_items": truth_items,
            "truth_item_relations": truth_item_relations,
            "truth_params": truth_params,
            "truth_days": truth_days,
            "truth_stockouts": truth_stockouts,
            "promotions": promotions,
        },
    )
