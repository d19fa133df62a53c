"""Recommender A/B tests: which experiments choose a recommender, and their results from impressions.

A **recommender experiment** is an experiment whose every variant carries a `value` naming a
registered recommender (`cartwise.recommend.available()`: hybrid, als, popularity, ...), e.g.
`cartwise experiments create recs-als --variants hybrid:0.5:hybrid,als:0.5:als`. While one is
running, the recommendation route assigns each user by the experiment's hash (the same user
always gets the same variant), serves the variant's recommender, records the exposure (source
`recs`) and tags each impression with the experiment and variant (store migration 15). Only one
recommender experiment may run at a time.

Results come from the impression attribution of `cartwise.service.recs.impressions` (a view,
add-to-cart or purchase of a shown item counts for the impression when the event's
`properties.request_id` names the request, or, without one, when the same user acts on the item
within `attribution_hours` after it was shown). The unit is the user (assignment is per user),
so each metric is a ratio of per-user sums, analysed by the delta method
(`cartwise.experiments.analyze_summary`):

- `ctr`: Σ clicked impressions / Σ impressions (a click is an attributed view);
- `impression_conversion`: Σ purchased impressions / Σ impressions;
- `revenue_per_mille`: 1000 × Σ attributed purchase revenue / Σ impressions.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cartwise.core.errors import ConfigError
from cartwise.experiments import Experiment
from cartwise.store import Store

RECS_METRICS = ("ctr", "impression_conversion", "revenue_per_mille")
DEFAULT_ATTRIBUTION_HOURS = 24.0


def recommender_arms(exp: Experiment) -> dict[str, str] | None:
    """`{variant: recommender}` when every variant's `value` names a registered recommender, else None."""
    from cartwise.recommend import available

    names = set(available())
    values = {v.name: v.value for v in exp.variants}
    if all(value in names for value in values.values()):
        return {k: str(v) for k, v in values.items()}
    return None


def check_recommender_experiment(exp: Experiment, running: list[Experiment]) -> None:
    """Refuse half-named recommender variants and a second running recommender experiment."""
    from cartwise.recommend import available

    names = set(available())
    named = [v for v in exp.variants if v.value in names]
    if not named:
        return
    if len(named) != len(exp.variants):
        missing = ", ".join(v.name for v in exp.variants if v.value not in names)
        raise ConfigError(
            f"`variants` {missing} name no recommender while the others do; a recommender experiment "
            f"gives every variant one (NAME:SHARE:RECOMMENDER, one of {', '.join(sorted(names))})."
        )
    other = next((e for e in running if e.key != exp.key and recommender_arms(e) is not None), None)
    if other is not None:
        raise ConfigError(
            f"Recommender experiment {other.key!r} is running; stop it first "
            f"(`cartwise experiments stop {other.key}`): the recommendation route serves one at a time."
        )


def attributed_sql(impressions: str) -> str:
    """Impressions with what shoppers did with them: one row per shown (request, item) with
    `user_id, clicked, carted, bought, revenue` (see the module). `impressions` is a query of
    `rec_impressions` rows; `$window` is the attribution window (an INTERVAL)."""
    return f"""
        imp AS ({impressions}),
        ev AS (
          SELECT e.user_id, e.item_id, e.type, e.ts, coalesce(e.revenue, 0) AS revenue,
                 json_extract_string(e.properties, '$.request_id') AS rid
          FROM events e
          WHERE e.type IN ('view', 'add_to_cart', 'purchase') AND e.item_id IS NOT NULL
            AND e.ts >= (SELECT coalesce(min(ts), now()::TIMESTAMP) FROM imp) - INTERVAL 1 HOUR),
        hit AS (
          SELECT imp.request_id, imp.item_id,
                 bool_or(ev.type = 'view') AS clicked,
                 bool_or(ev.type = 'add_to_cart') AS carted,
                 bool_or(ev.type = 'purchase') AS bought,
                 coalesce(sum(ev.revenue) FILTER (WHERE ev.type = 'purchase'), 0) AS revenue
          FROM imp JOIN ev ON ev.item_id = imp.item_id AND (
             ev.rid = imp.request_id
             OR (ev.rid IS NULL AND ev.user_id = imp.user_id AND ev.ts >= imp.ts AND ev.ts <= imp.ts + $window))
          GROUP BY ALL)"""


def _per_variant_sql() -> str:
    return f"""
        WITH {attributed_sql("SELECT * FROM rec_impressions WHERE experiment = $key")},
        shown AS (
          SELECT DISTINCT imp.request_id, imp.item_id, imp.user_id, imp.variant,
                 coalesce(hit.clicked, false) AS clicked, coalesce(hit.bought, false) AS bought,
                 coalesce(hit.revenue, 0) AS revenue
          FROM imp LEFT JOIN hit USING (request_id, item_id)),
        first_variant AS (
          SELECT user_id, arg_min(variant, ts) AS variant FROM imp GROUP BY user_id),
        u AS (
          SELECT s.user_id, f.variant, count(*)::DOUBLE AS n,
                 count(*) FILTER (WHERE s.clicked)::DOUBLE AS clicks,
                 count(*) FILTER (WHERE s.bought)::DOUBLE AS buys,
                 1000 * sum(s.revenue) AS rev
          FROM shown s JOIN first_variant f USING (user_id)
          WHERE s.variant = f.variant
          GROUP BY ALL)
        SELECT variant, count(*) AS users, sum(n), sum(n * n),
               sum(clicks), sum(clicks * clicks), sum(clicks * n),
               sum(buys), sum(buys * buys), sum(buys * n),
               sum(rev), sum(rev * rev), sum(rev * n)
        FROM u GROUP BY variant"""


def recs_summary(
    store: Store, exp: Experiment, attribution_hours: float = DEFAULT_ATTRIBUTION_HOURS
) -> pd.DataFrame:
    """Summary statistics of `RECS_METRICS` per variant (definition order, control first): the
    ratio-metric columns of `analyze_summary` (`sum, sum_squares` of the numerator per user,
    `den_sum, den_sum_squares, den_sum_product` with impressions per user as denominator).
    A variant with no impressions has a row of zero users."""
    if not attribution_hours > 0:
        raise ConfigError(
            f"`attribution_hours` is {attribution_hours:g}; give a positive number of hours, e.g. 24."
        )
    rows = store.con.execute(
        _per_variant_sql(), {"key": exp.key, "window": pd.Timedelta(hours=attribution_hours).to_pytimedelta()}
    ).fetchall()
    found = {r[0]: r for r in rows}
    records: list[dict[str, Any]] = []
    for variant in exp.variant_names:
        row = found.get(variant) or (variant, 0, *([0.0] * 11))
        users, n, n2 = int(row[1]), float(row[2] or 0), float(row[3] or 0)
        for i, metric in enumerate(RECS_METRICS):
            s, s2, prod = (float(x or 0) for x in row[4 + 3 * i : 7 + 3 * i])
            records.append(
                {
                    "variant": variant,
                    "metric": metric,
                    "users": users,
                    "sum": s,
                    "sum_squares": s2,
                    "den_sum": n,
                    "den_sum_squares": n2,
                    "den_sum_product": prod,
                }
            )
    return pd.DataFrame.from_records(records)


def impressions_by_variant(store: Store, key: str) -> dict[str, dict[str, Any]]:
    """Impressions, requests and users of experiment `key` per variant, with the models served."""
    rows = store.con.execute(
        """SELECT variant, count(*), count(DISTINCT request_id), count(DISTINCT user_id),
                  list(DISTINCT model_version ORDER BY model_version)
           FROM rec_impressions WHERE experiment = ? GROUP BY variant ORDER BY variant""",
        [key],
    ).fetchall()
    return {
        str(v): {"impressions": int(i), "requests": int(r), "users": int(u), "model_versions": list(m)}
        for v, i, r, u, m in rows
    }
