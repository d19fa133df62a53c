"""Events: the sessions' items turned into timed view, search, cart, checkout and purchase events
with prices, promotion and stock flags, search queries, and the canonical `events` table."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cartwise.schema import EVENTS
from cartwise.simulate._common import (
    _ABANDONED,
    _BOUGHT,
    _BUY,
    _CHECKOUT,
    _DEVICES,
    _REMOVED,
    _T_ADD,
    _T_CHECKOUT,
    _T_PURCHASE,
    _T_REMOVE,
    _T_SEARCH,
    _T_VIEW,
    _TYPE_NAMES,
    US_PER_DAY,
    _Calendar,
    _cumsum_within,
    _ids,
    _width,
    arrow_schema,
)
from cartwise.simulate._config import ShopConfig
from cartwise.simulate._items import _Catalogue, _Chooser, _Promotions
from cartwise.simulate._people import _People
from cartwise.simulate._sessions import _Sessions


@dataclass
class _Events:
    table: pa.Table  # the canonical events, in time order
    actor: np.ndarray  # person number of each event
    ts: np.ndarray  # microseconds, of each event


def _events(
    config: ShopConfig,
    cal: _Calendar,
    cat: _Catalogue,
    promos: _Promotions,
    chooser: _Chooser,
    people: _People,
    s: _Sessions,
    item_ids: pa.Array,
    person_ids: pa.Array,
    r_events: np.random.Generator,
) -> _Events:
    days = config.days
    n_users, n_occ, n_sessions = people.n_users, people.n_occ, s.n
    carted = np.isin(s.i_role, (_BOUGHT, _ABANDONED, _REMOVED))
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

    n_i = s.i_sess.size
    part(s.i_sess, _T_VIEW, s.i_item, np.zeros(n_i, np.int64), np.where(carted, 2, 1), s.i_pos, 0, s.i_stock)
    part(
        s.i_sess[carted], _T_ADD, s.i_item[carted], s.i_qty[carted], 2, s.i_pos[carted], 1, s.i_stock[carted]
    )
    rem = s.i_role == _REMOVED
    part(s.i_sess[rem], _T_REMOVE, s.i_item[rem], -s.i_qty[rem], 2, s.i_pos[rem], 2, s.i_stock[rem])
    checkout = np.flatnonzero((s.kind == _CHECKOUT) | (s.kind == _BUY))
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
    bought = s.i_role == _BOUGHT
    part(
        s.i_sess[bought],
        _T_PURCHASE,
        s.i_item[bought],
        s.i_qty[bought],
        4,
        s.i_pos[bought],
        0,
        s.i_stock[bought],
    )
    searching = np.flatnonzero(s.search)
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
        s.top[ev["sess"][is_search]], s.group[ev["sess"][is_search]], s.day[ev["sess"][is_search]]
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
    ts = s.anchor[ev["sess"]] - anchor_off[ev["sess"]] + offset
    day_start = cal.start_us + s.day[ev["sess"]] * US_PER_DAY
    ts = np.clip(ts, day_start, day_start + US_PER_DAY - 1)
    actor = s.person[ev["sess"]]
    customer = actor < n_users
    ts[customer] = np.minimum(ts[customer], s.last_ts[actor[customer]])
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
    dev = s.device[ev["sess"]]
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
    qty_null = ~np.isin(ev["type"], (_T_ADD, _T_REMOVE, _T_PURCHASE))
    events = pa.table(
        {
            "event_id": _ids("e", np.arange(n_ev), _width(n_ev)),
            "ts": pa.array(ts, type=pa.timestamp("us")),
            "user_id": pc.take(person_ids, pa.array(s.person[ev["sess"]])),
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
            "anonymous_id": pa.nulls(n_ev, pa.string()),  # the simulator knows every shopper
        },
        schema=arrow_schema(EVENTS),
    )
    return _Events(table=events, actor=s.person[ev["sess"]], ts=ts)
