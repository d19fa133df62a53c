"""Who shops and when: customers' purchase occasions (BG/NBD), their other visits, anonymous
visitors, and everyone's tastes (category affinities, price sensitivity, device)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cartwise.simulate._catalogue import TOPS
from cartwise.simulate._common import (
    _CHANNEL_SHARES,
    _CHANNELS,
    _DEVICES,
    _SENSITIVITY,
    _SENSITIVITY_BY_CHANNEL,
    _Calendar,
    _ranks_within,
)
from cartwise.simulate._config import ShopConfig
from cartwise.simulate._items import _Catalogue


@dataclass
class _People:
    """Customers are persons 0 .. n_users - 1, anonymous visitors the persons after them."""

    n_users: int
    n_visitors: int
    lam: np.ndarray  # purchase rate per day, per customer
    p_drop: np.ndarray  # drop-out probability after each repeat purchase
    birth_tau: np.ndarray  # operational time of the first purchase
    exposure: np.ndarray  # operational days from the first purchase to the end
    repeats: np.ndarray  # repeat purchases made before dropping out or the end
    dropped: np.ndarray  # dropped out before the end
    # Purchase occasions, sorted by (customer, time).
    occ_person: np.ndarray
    occ_day: np.ndarray
    occ_ts: np.ndarray
    # Non-buying visits of customers, and sessions of anonymous visitors.
    v_person: np.ndarray
    v_day: np.ndarray
    a_person: np.ndarray
    a_day: np.ndarray
    # Tastes, per person (channel per customer).
    affinity: np.ndarray
    affinity_cum: np.ndarray
    channel: np.ndarray
    sensitivity: np.ndarray
    device_pref: np.ndarray

    @property
    def n_occ(self) -> int:
        return int(self.occ_person.size)


def _people(
    config: ShopConfig,
    cal: _Calendar,
    cat: _Catalogue,
    r_people: np.random.Generator,
    r_buy: np.random.Generator,
    r_sess: np.random.Generator,
) -> _People:
    days = config.days
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

    # -- tastes ---------------------------------------------------------------------------------
    affinity = r_people.dirichlet(np.full(len(TOPS), 0.6), n_people)
    empty_tops = np.bincount(cat.top, minlength=len(TOPS)) == 0
    affinity[:, empty_tops] = 0.0
    affinity /= affinity.sum(axis=1, keepdims=True)
    channel = r_people.choice(len(_CHANNELS), size=n_users, p=_CHANNEL_SHARES)
    sensitivity = r_people.choice(_SENSITIVITY.size, size=n_people, p=[0.3, 0.45, 0.25])
    for code, shares in enumerate(_SENSITIVITY_BY_CHANNEL):
        members = np.flatnonzero(channel == code)
        sensitivity[members] = r_people.choice(_SENSITIVITY.size, size=members.size, p=shares)
    device_pref = r_people.choice(len(_DEVICES), size=n_people, p=[0.58, 0.36, 0.06])
    return _People(
        n_users=n_users,
        n_visitors=n_visitors,
        lam=lam,
        p_drop=p_drop,
        birth_tau=birth_tau,
        exposure=exposure,
        repeats=repeats,
        dropped=dropped,
        occ_person=occ_person,
        occ_day=occ_day,
        occ_ts=occ_ts,
        v_person=v_person,
        v_day=v_day,
        a_person=a_person,
        a_day=a_day,
        affinity=affinity,
        affinity_cum=np.cumsum(affinity, axis=1),
        channel=channel,
        sensitivity=sensitivity,
        device_pref=device_pref,
    )
