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
* Stock (`_run_stock`). The shop keeps an (s, S) policy sized from its demand estimate: when
  stock plus orders under way falls to s (lead-time demand plus a 95% safety stock) it orders up
  to S (s plus `stock_cover_days` of demand, at least a case), delivered after a lead time of
  7-14 days; both levels rise ahead of a promotion. The estimate is off by a log-normal factor,
  so some items still run out (`truth_stockouts`). A line whose item lacks stock that day is viewed (`"in_stock": false`)
  and replaced by the item's closest-priced substitute if that one has stock; an occasion whose
  every line fails is lost (`truth_users.lost_purchases`).
* Sessions. Purchase sessions run view -> add_to_cart -> begin_checkout -> purchase and end at the
  occasion time; other sessions are browse-only, cart-abandoning or checkout-abandoning; any
  session may start with a search, some carts have an item added and removed again, and
  anonymous visitors (ids starting `v`) browse too. A session never crosses midnight.

The stages run in that order, one module each: `_items` (catalogue, promotions, choice),
`_people` (occasions, visits, tastes), `_baskets` (with `_stock`), `_sessions`, `_events`, and
`_truth` (items, users and the ground truth); `_campaign`, when configured, adds a past
randomised e-mail campaign with a known effect per customer between people and baskets. Each stage draws from its own random streams, so
a stage's draws do not shift when another stage changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from cartwise.simulate._baskets import _baskets
from cartwise.simulate._campaign import _campaign
from cartwise.simulate._common import _Calendar, arrow_schema, item_ids, person_ids
from cartwise.simulate._config import ShopConfig
from cartwise.simulate._events import _events
from cartwise.simulate._items import _catalogue, _Chooser, _promotions
from cartwise.simulate._people import _people
from cartwise.simulate._sessions import _sessions
from cartwise.simulate._truth import _tables

__all__ = ["SimulatedShop", "arrow_schema", "simulate_shop"]


@dataclass
class SimulatedShop:
    """A simulated shop: canonical `events`, `items` and `users`, and its ground truth.

    `truth` maps table names to Arrow tables: `truth_users`, `truth_items`,
    `truth_item_relations`, `truth_params`, `truth_days`, `truth_stockouts` and `promotions`, plus
    `truth_campaign` when the config has a past campaign (`campaign_days_before_end`).
    """

    events: pa.Table
    items: pa.Table
    users: pa.Table
    truth: dict[str, pa.Table] = field(default_factory=dict)

    def tables(self) -> dict[str, pa.Table]:
        """All tables by name, canonical ones first."""
        return {"items": self.items, "users": self.users, "events": self.events, **self.truth}


def simulate_shop(config: ShopConfig | None = None) -> SimulatedShop:
    """Simulate a shop; pure and deterministic given `config` (same config, identical tables).

    Returns canonical `events`, `items` and `users` tables (columns and types of
    `cartwise.schema`) and the ground truth; see the module docstring for the generative model.
    """
    config = config or ShopConfig()
    # A stream per stage; the campaign's is the ninth child, so adding it left the others unchanged.
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(9)]
    r_cat, r_people, r_buy, r_promo, r_basket, r_stock, r_sess, r_events, r_campaign = streams
    cal = _Calendar(config)

    cat = _catalogue(r_cat, config.items)
    cat.elasticity = np.clip(
        r_cat.normal(config.elasticity_mean, config.elasticity_sd, cat.price.size), -6.0, 0.0
    )
    promos = _promotions(r_promo, config, cat)
    people = _people(config, cal, cat, r_people, r_buy, r_sess)
    campaign = None
    if config.campaign_days_before_end is not None:
        campaign = _campaign(config, cal, people, r_campaign)
    chooser = _Chooser(r_basket, cat, promos)
    baskets = _baskets(config, cat, promos, chooser, people, r_basket, r_stock)
    sessions = _sessions(config, cal, cat, chooser, people, baskets, r_sess, r_events)
    items_ids = item_ids(cat.price.size)
    people_ids = person_ids(people.n_users, people.n_visitors)
    events = _events(config, cal, cat, promos, chooser, people, sessions, items_ids, people_ids, r_events)
    items, users, truth = _tables(
        config, cal, cat, promos, people, baskets, sessions, events, items_ids, people_ids, r_people, campaign
    )
    return SimulatedShop(events=events.table, items=items, users=users, truth=truth)
