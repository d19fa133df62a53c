"""Sessions: one per purchase occasion, customers' other visits and visitors' browsing, each with
its kind, start, device and the items it looks at, carts, removes or buys."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cartwise.simulate._baskets import _Baskets
from cartwise.simulate._common import (
    _ABANDONED,
    _BOUGHT,
    _BROWSE,
    _BUY,
    _CART,
    _CHECKOUT,
    _EXTRA,
    _OOS,
    _REMOVED,
    US_PER_DAY,
    _Calendar,
    _draw_tops,
)
from cartwise.simulate._config import ShopConfig
from cartwise.simulate._items import _Catalogue, _Chooser
from cartwise.simulate._people import _People


@dataclass
class _Sessions:
    """Sessions are indexed: purchase occasions first (same index), then visits, then visitors'."""

    person: np.ndarray
    day: np.ndarray
    kind: np.ndarray
    anchor: np.ndarray  # start (or, for purchase occasions, end) in microseconds
    device: np.ndarray
    search: np.ndarray  # whether the session starts with a search
    top: np.ndarray
    group: np.ndarray  # price-sensitivity level of the person
    last_ts: np.ndarray  # per customer: no event after this time (drop-out, or the end)
    # The items of each session with their role, units, browsing position and stock flag.
    i_sess: np.ndarray
    i_item: np.ndarray
    i_role: np.ndarray
    i_qty: np.ndarray
    i_pos: np.ndarray
    i_stock: np.ndarray

    @property
    def n(self) -> int:
        return int(self.person.size)


def _sessions(
    config: ShopConfig,
    cal: _Calendar,
    cat: _Catalogue,
    chooser: _Chooser,
    people: _People,
    baskets: _Baskets,
    r_sess: np.random.Generator,
    r_events: np.random.Generator,
) -> _Sessions:
    days = config.days
    n_users, n_occ = people.n_users, people.n_occ
    occ_person, occ_day, occ_ts = people.occ_person, people.occ_day, people.occ_ts
    v_person, affinity_cum = people.v_person, people.affinity_cum
    n_anon_sessions = people.a_person.size
    in_stock = baskets.in_stock

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
    s_person = np.r_[occ_person, v_person, people.a_person]
    s_day = np.r_[occ_day, people.v_day, people.a_day]
    s_kind = np.r_[np.where(baskets.bought_occ, _BUY, _BROWSE), v_kind, a_kind].astype(np.int64)
    s_anchor = np.r_[occ_ts, cal.timestamps(r_sess, np.r_[people.v_day, people.a_day])]
    n_sessions = s_person.size
    # A customer's visits fall between the first purchase and the drop-out (calendar time).
    first_ts = np.full(n_users, np.iinfo(np.int64).max)
    np.minimum.at(first_ts, occ_person, occ_ts)
    last_ts = np.full(n_users, cal.end_us - 1)
    ends = np.flatnonzero(np.r_[occ_person[1:] != occ_person[:-1], True])
    last_ts[occ_person[ends]] = np.where(people.dropped[occ_person[ends]], occ_ts[ends], cal.end_us - 1)
    vi = np.arange(n_occ, n_occ + v_person.size)
    lo_ts, hi_ts = first_ts[v_person] + 60_000_000, last_ts[v_person] - 3_600_000_000
    outside = (s_anchor[vi] < lo_ts) | (s_anchor[vi] > hi_ts)
    redraw = np.where(
        hi_ts > lo_ts, lo_ts + (r_sess.random(vi.size) * (hi_ts - lo_ts)).astype(np.int64), lo_ts
    )
    s_anchor[vi] = np.where(outside, redraw, s_anchor[vi])
    s_day = np.clip((s_anchor - cal.start_us) // US_PER_DAY, 0, days - 1)
    s_device = np.where(
        r_sess.random(n_sessions) < 0.85, people.device_pref[s_person], r_sess.integers(3, size=n_sessions)
    )
    s_search = r_sess.random(n_sessions) < config.search_probability
    s_top = np.r_[baskets.occ_top, _draw_tops(r_sess, affinity_cum, s_person[n_occ:])]
    s_group = people.sensitivity[s_person]

    # Items of each session with their role.
    rows_sess = [baskets.b_occ, baskets.oos_occ]
    rows_item = [baskets.b_item, baskets.oos_item]
    rows_role = [np.full(baskets.b_occ.size, _BOUGHT), np.full(baskets.oos_occ.size, _OOS)]
    rows_qty = [baskets.b_qty, np.zeros(baskets.oos_occ.size, dtype=np.int64)]
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
    return _Sessions(
        person=s_person,
        day=s_day,
        kind=s_kind,
        anchor=s_anchor,
        device=s_device,
        search=s_search,
        top=s_top,
        group=s_group,
        last_ts=last_ts,
        i_sess=i_sess,
        i_item=i_item,
        i_role=i_role,
        i_qty=i_qty,
        i_pos=i_pos,
        i_stock=i_stock,
    )
