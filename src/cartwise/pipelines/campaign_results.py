"""What each campaign earned: opens, clicks, conversions, revenue, and the increment over the holdout.

Conversions and revenue are counted over the attribution window the campaign was started with
(`campaigns.attribution_days`; the setting for a campaign started before campaigns kept one)
after it started (`started_at`), for both arms, from the `orders` table. The demo's past
campaign has the simulator's outcome window, the one its true effect is known for, and
`cartwise uplift` uses the same window. The comparison is by assignment
(intention to treat): every non-holdout member against every holdout member, whatever their
send state, so the holdout's randomisation carries over. With `r` a member's conversion (0/1)
or revenue in the window, recipients `t` and holdout `h`:

- incremental conversions `(mean_t(r) - mean_h(r)) * n_t`, revenue likewise;
- the 95% interval is the Welch interval of the difference in means (the experiments
  package's `effect`, `welch_dof` and `t_interval` over n, sum and sum of squares), times `n_t`.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from cartwise.core.settings import Settings
from cartwise.experiments import MeanStat, effect, t_interval, welch_dof
from cartwise.pipelines.campaigns import campaign_counts, campaign_window
from cartwise.pipelines.choices import PAST_CAMPAIGN
from cartwise.store import Store


def _increment(treated: MeanStat, holdout: MeanStat) -> dict[str, Any]:
    if treated.n < 2 or holdout.n < 2:
        return {"estimate": None, "low": None, "high": None, "per_recipient": None}
    eff = effect(holdout, treated, relative=False)
    if eff.variance <= 0:
        low = high = eff.estimate
    else:
        low, high = t_interval(eff, welch_dof(holdout, treated))
    scale = treated.n
    return {
        "estimate": round(eff.estimate * scale, 2),
        "low": round(low * scale, 2),
        "high": round(high * scale, 2),
        "per_recipient": round(eff.estimate, 6),
    }


def _clean(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def measure(store: Store, settings: Settings, name: str) -> dict[str, Any]:
    """Counts, engagement, conversions and the incremental effect of campaign `name`."""
    days = campaign_window(store, name) or settings.attribution_days
    window = timedelta(days=days)
    started = store.con.execute(
        "SELECT started_at, finished_at, rule, template, channel, holdout FROM campaigns WHERE name = ?",
        [name],
    ).fetchall()[0]
    result = campaign_counts(store, name)
    result.update(
        {
            "started_at": started[0].isoformat() if started[0] else None,
            "finished_at": started[1].isoformat() if started[1] else None,
            "rule": started[2],
            "template": started[3],
            "channel": started[4],
            "holdout_share": started[5],
            "attribution_days": days,
        }
    )
    engagement = dict(
        store.con.execute(
            """SELECT kind, count(DISTINCT message_key) FROM message_events WHERE source = ?
            GROUP BY kind""",
            [name],
        ).fetchall()
    )
    result["opens"] = int(engagement.get("open", 0))
    result["clicks"] = int(engagement.get("click", 0))
    result["unsubscribes"] = int(engagement.get("unsubscribe", 0))
    arms = store.con.execute(
        """WITH per_member AS (
            SELECT m.holdout, (count(o.order_id) > 0)::INTEGER AS converted, coalesce(sum(o.amount), 0) AS revenue
            FROM campaign_members m
            LEFT JOIN orders o ON o.user_id = m.user_id AND o.ts >= ? AND o.ts < ?
            WHERE m.campaign = ? GROUP BY m.user_id, m.holdout)
        SELECT holdout, count(*), sum(converted), sum(converted * converted), sum(revenue),
               sum(revenue * revenue)
        FROM per_member GROUP BY holdout""",
        [started[0], started[0] + window, name],
    ).fetchall()
    stats = {bool(r[0]): r for r in arms}
    empty = (None, 0, 0, 0, 0.0, 0.0)
    t, h = stats.get(False, empty), stats.get(True, empty)
    conv_t, conv_h = (
        MeanStat(int(t[1]), float(t[2]), float(t[3])),
        MeanStat(int(h[1]), float(h[2]), float(h[3])),
    )
    rev_t, rev_h = (
        MeanStat(int(t[1]), float(t[4]), float(t[5])),
        MeanStat(int(h[1]), float(h[4]), float(h[5])),
    )
    result["conversions"] = int(t[2])
    result["revenue"] = round(float(t[4]), 2)
    result["conversion_rate"] = _clean(conv_t.mean) if conv_t.n else None
    result["holdout_conversion_rate"] = _clean(conv_h.mean) if conv_h.n else None
    result["incremental_conversions"] = _increment(conv_t, conv_h)
    result["incremental_revenue"] = _increment(rev_t, rev_h)
    result["truth"] = _truth(store, name)
    return result


def _truth(store: Store, name: str) -> dict[str, Any] | None:
    """For the demo's past campaign, the simulator's known effect: the mean true uplift (change in
    P(a purchase in the window)) and the incremental conversions it implies for the recipients."""
    if name != PAST_CAMPAIGN or not store.has_table("truth_campaign"):
        return None
    row = store.con.execute(
        "SELECT avg(uplift), count(*) FILTER (WHERE treated) FROM truth_campaign"
    ).fetchall()[0]
    if row[0] is None:
        return None
    return {
        "mean_uplift": round(float(row[0]), 6),
        "incremental_conversions": round(float(row[0]) * int(row[1]), 2),
    }


def campaign_results(store: Store, settings: Settings) -> list[dict[str, Any]]:
    """Every campaign, newest first, measured (see `measure`)."""
    names = [
        r[0]
        for r in store.con.execute("SELECT name FROM campaigns ORDER BY started_at DESC, name").fetchall()
    ]
    return [measure(store, settings, name) for name in names]
