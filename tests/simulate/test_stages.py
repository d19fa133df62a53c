"""Each stage of the simulator on its own: what it promises to the next one."""

from __future__ import annotations

import numpy as np

from cartwise.simulate import ShopConfig
from cartwise.simulate._baskets import _baskets
from cartwise.simulate._common import _BOUGHT, _BUY, _Calendar
from cartwise.simulate._items import _catalogue, _Chooser, _promotions
from cartwise.simulate._people import _people
from cartwise.simulate._sessions import _sessions

CONFIG = ShopConfig(users=800, items=120, days=90, seed=5)


def _stages() -> tuple:
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(CONFIG.seed).spawn(8)]
    r_cat, r_people, r_buy, r_promo, r_basket, r_stock, r_sess, r_events = rngs
    cal = _Calendar(CONFIG)
    cat = _catalogue(r_cat, CONFIG.items)
    cat.elasticity = np.full(cat.price.size, -2.0)
    promos = _promotions(r_promo, CONFIG, cat)
    people = _people(CONFIG, cal, cat, r_people, r_buy, r_sess)
    chooser = _Chooser(r_basket, cat, promos)
    baskets = _baskets(CONFIG, cat, promos, chooser, people, r_basket, r_stock)
    sessions = _sessions(CONFIG, cal, cat, chooser, people, baskets, r_sess, r_events)
    return cal, cat, people, baskets, sessions


def test_people_have_one_first_purchase_and_their_repeats_in_time_order() -> None:
    _, _, people, _, _ = _stages()
    counts = np.bincount(people.occ_person, minlength=people.n_users)
    np.testing.assert_array_equal(counts, 1 + people.repeats)
    key = people.occ_person * 10**18 + (people.occ_ts - people.occ_ts.min())
    assert np.all(np.diff(key) > 0)
    assert people.a_person.min() >= people.n_users
    assert np.allclose(people.affinity.sum(axis=1), 1.0)


def test_baskets_buy_only_items_in_stock_that_day() -> None:
    _, cat, people, baskets, _ = _stages()
    assert np.all(baskets.in_stock(baskets.b_item, people.occ_day[baskets.b_occ]))
    assert np.all(baskets.b_qty >= 1)
    assert baskets.bought_occ.sum() == np.unique(baskets.b_occ).size
    assert baskets.b_item.max() < cat.price.size


def test_sessions_buy_exactly_the_baskets_and_stay_within_their_day() -> None:
    cal, _, people, baskets, sessions = _stages()
    bought = sessions.i_role == _BOUGHT
    assert sorted(zip(sessions.i_sess[bought], sessions.i_item[bought], strict=True)) == sorted(
        zip(baskets.b_occ, baskets.b_item, strict=True)
    )
    assert np.all(sessions.kind[: people.n_occ][baskets.bought_occ] == _BUY)
    assert np.all((sessions.day >= 0) & (sessions.day < CONFIG.days))
    assert np.all(sessions.anchor >= cal.start_us) and np.all(sessions.anchor < cal.end_us)
