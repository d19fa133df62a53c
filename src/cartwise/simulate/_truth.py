"""The shop's other tables: items, users (sign-up at the first visit, consent, attributes) and the
ground truth of every latent quantity (`truth_*`) with the promotions."""

from __future__ import annotations

import json
from datetime import datetime, time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cartwise.schema import ITEMS, USERS
from cartwise.simulate._baskets import _Baskets
from cartwise.simulate._campaign import _Campaign
from cartwise.simulate._catalogue import FIRST_NAMES, LAST_NAMES, LEAVES, TOPS
from cartwise.simulate._common import (
    _AGE_BANDS,
    _CHANNELS,
    _COUNTRIES,
    _SENSITIVITY,
    _SENSITIVITY_NAMES,
    US_PER_DAY,
    _Calendar,
    _ids,
    arrow_schema,
)
from cartwise.simulate._config import ShopConfig
from cartwise.simulate._events import _Events
from cartwise.simulate._items import _Catalogue, _Promotions
from cartwise.simulate._people import _People
from cartwise.simulate._sessions import _Sessions


def _tables(
    config: ShopConfig,
    cal: _Calendar,
    cat: _Catalogue,
    promos: _Promotions,
    people: _People,
    baskets: _Baskets,
    sessions: _Sessions,
    ev: _Events,
    item_ids: pa.Array,
    person_ids: pa.Array,
    r_people: np.random.Generator,
    campaign: _Campaign | None = None,
) -> tuple[pa.Table, pa.Table, dict[str, pa.Table]]:
    """`items`, `users` and the truth tables, by name."""
    days, n_items, n_users = config.days, cat.price.size, people.n_users
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
            "stock": pa.array(np.maximum(baskets.stock.final, 0), type=pa.int64()),
            "active": pa.array(np.ones(n_items, dtype=bool)),
            "attributes": pa.array([json.dumps({"variant": v}) for v in cat.variants]),
            "created_at": pa.array(created.astype("datetime64[us]"), type=pa.timestamp("us")),
        },
        schema=arrow_schema(ITEMS),
    )

    # Users: sign-up at their first visit.
    user_rows = ev.actor < n_users
    signup = np.full(n_users, np.iinfo(np.int64).max)
    np.minimum.at(signup, ev.actor[user_rows], ev.ts[user_rows])
    country = r_people.choice(
        len(_COUNTRIES), size=n_users, p=[0.3, 0.15, 0.1, 0.1, 0.08, 0.08, 0.06, 0.05, 0.04, 0.04]
    )
    first = r_people.integers(len(FIRST_NAMES), size=n_users)
    last = r_people.integers(len(LAST_NAMES), size=n_users)
    age = r_people.choice(len(_AGE_BANDS), size=n_users, p=[0.12, 0.28, 0.25, 0.17, 0.11, 0.07])
    email_consent = r_people.random(n_users) < 0.6
    if campaign is not None:
        email_consent = campaign.email_consent  # recipients of the past campaign had consented
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
            "acquisition_channel": pc.take(pa.array(_CHANNELS), pa.array(people.channel)),
            "email_consent": pa.array(email_consent),
            "email_consent_at": signup_ts,
            "sms_consent": pa.array(sms_consent),
            "sms_consent_at": signup_ts,
            "attributes": pc.take(pa.array([json.dumps({"age_band": b}) for b in _AGE_BANDS]), pa.array(age)),
        },
        schema=arrow_schema(USERS),
    )

    # -- truth ----------------------------------------------------------------------------------
    kept_occ = np.bincount(people.occ_person[baskets.bought_occ], minlength=n_users)
    lost = np.bincount(people.occ_person[~baskets.bought_occ], minlength=n_users)
    purchase_ts = np.full(n_users, np.iinfo(np.int64).max)
    np.minimum.at(purchase_ts, people.occ_person, people.occ_ts)
    dropout_at = np.where(people.dropped, sessions.last_ts, 0)
    truth_users = pa.table(
        {
            "user_id": person_ids.slice(0, n_users),
            "lambda_per_day": pa.array(people.lam),
            "p_dropout": pa.array(people.p_drop),
            "first_purchase_at": pa.array(purchase_ts, type=pa.timestamp("us")),
            "exposure_days": pa.array(people.exposure),
            "observed_days": pa.array((cal.end_us - purchase_ts) / US_PER_DAY),
            "repeat_purchases": pa.array(people.repeats.astype(np.int64)),
            "purchases": pa.array(kept_occ.astype(np.int64)),
            "lost_purchases": pa.array(lost.astype(np.int64)),
            "alive_at_end": pa.array(~people.dropped),
            "dropout_at": pa.array(dropout_at, type=pa.timestamp("us"), mask=~people.dropped),
            "price_sensitivity": pc.take(
                pa.array(_SENSITIVITY_NAMES), pa.array(people.sensitivity[:n_users])
            ),
            "price_beta": pa.array(_SENSITIVITY[people.sensitivity[:n_users]]),
            "favourite_category": pc.take(
                pa.array(TOPS), pa.array(np.argmax(people.affinity[:n_users], axis=1))
            ),
        }
    )
    truth_items = pa.table(
        {
            "item_id": item_ids,
            "elasticity": pa.array(cat.elasticity),
            "consumable": pa.array(cat.consumable),
            "popularity": pa.array(cat.popularity),
            "relative_price": pa.array(cat.rel_price),
            "mean_daily_demand": pa.array(baskets.stock.mean_daily_demand),
            "lead_time_days": pa.array(baskets.stock.lead_time, type=pa.int64()),
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
            "item_id": pc.take(item_ids, pa.array(baskets.stock.stockout_keys // days)),
            "day": pa.array(
                (cal.dates[0] + baskets.stock.stockout_keys % days).astype("datetime64[D]"), type=pa.date32()
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
    truth = {
        "truth_users": truth_users,
        "truth_items": truth_items,
        "truth_item_relations": truth_item_relations,
        "truth_params": truth_params,
        "truth_days": truth_days,
        "truth_stockouts": truth_stockouts,
        "promotions": promotions,
    }
    if campaign is not None:
        truth["truth_campaign"] = _campaign_truth(campaign, person_ids.slice(0, n_users))
    return items, users, truth


def _campaign_truth(campaign: _Campaign, user_ids: pa.Array) -> pa.Table:
    """One row per customer the past campaign targeted (recipients and holdout)."""
    rows = np.flatnonzero(campaign.eligible)
    sent_at = np.full(rows.size, campaign.sent_us)
    return pa.table(
        {
            "user_id": pc.take(user_ids, pa.array(rows)),
            "treated": pa.array(campaign.treated[rows]),
            "sent_at": pa.array(sent_at, type=pa.timestamp("us"), mask=~campaign.treated[rows]),
            "window_days": pa.array(np.full(rows.size, campaign.window_days), type=pa.int64()),
            "response": pa.array(campaign.response[rows].astype(str)),
            "uplift": pa.array(campaign.uplift[rows]),
            "incremental_purchases": pa.array(
                np.where(campaign.treated[rows], campaign.incremental[rows], 0)
            ),
        }
    )
