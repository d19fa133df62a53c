"""What each journey step earned: conversions and revenue within the attribution window.

For a `send` step, every message it sent (step outcome `sent`) starts a window of
`attribution_days` (default 5) at the moment it was sent; a conversion is a customer with at
least one order (the `orders` table) in that window, revenue the sum of those orders' amounts.

For a `split` step, every customer assigned a variant (outcome `variant:NAME`) starts a window
at the assignment, whatever happens after it (intention to treat, so the split's randomisation
carries over). Each variant after the first is compared with the first: the difference in
conversion rate and in revenue per customer, with the 95% Welch interval of the experiments
package (`effect`, `welch_dof`, `t_interval` over n, sum and sum of squares).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from cartwise.core.settings import Settings
from cartwise.experiments import MeanStat, effect, t_interval, welch_dof
from cartwise.store import Store

__all__ = ["journey_results", "variant_difference"]

_PER_WINDOW = """
    SELECT s.version, s.step, s.label, s.user_id, s.run_key,
           (count(o.order_id) > 0)::INTEGER AS converted, coalesce(sum(o.amount), 0)::DOUBLE AS revenue
    FROM starts s
    LEFT JOIN orders o ON o.user_id = s.user_id AND o.ts >= s.ts AND o.ts < s.ts + to_microseconds(?::BIGINT)
    GROUP BY ALL"""


def variant_difference(control: MeanStat, variant: MeanStat) -> dict[str, float | None]:
    """`variant`'s mean minus `control`'s, with its 95% Welch interval; all None with fewer
    than two customers in either arm."""
    if control.n < 2 or variant.n < 2:
        return {"estimate": None, "low": None, "high": None}
    eff = effect(control, variant, relative=False)
    if eff.variance <= 0:
        low = high = eff.estimate
    else:
        low, high = t_interval(eff, welch_dof(control, variant))
    return {"estimate": round(eff.estimate, 6), "low": round(low, 6), "high": round(high, 6)}


def journey_results(store: Store, settings: Settings, name: str) -> dict[int, dict[str, Any]]:
    """Per version of journey `name`: `{"sends": {path: {...}}, "splits": {path: [...]}}`.

    A send's entry: `sent`, `conversions`, `conversion_rate`, `revenue`. A split's list holds
    each variant (file order): `variant`, `customers`, `conversions`, `conversion_rate`,
    `revenue`, `revenue_per_customer` and, after the first, `vs_first` with `conversion_rate`
    and `revenue_per_customer` differences and their 95% intervals."""
    window_us = round(settings.attribution_days * 86_400 * 1_000_000)
    rows = store.con.execute(
        f"""WITH starts AS (
            SELECT version, step, outcome AS label, user_id, run_key, min(ts) AS ts FROM journey_steps
            WHERE journey = ? AND (outcome = 'sent' OR outcome LIKE 'variant:%') GROUP BY ALL),
        per AS ({_PER_WINDOW})
        SELECT version, step, label, count(*), sum(converted), sum(revenue), sum(revenue * revenue)
        FROM per GROUP BY ALL ORDER BY version, step, label""",
        [name, window_us],
    ).fetchall()
    out: dict[int, dict[str, Any]] = defaultdict(lambda: {"sends": {}, "splits": {}})
    variants: dict[tuple[int, str], dict[str, tuple[MeanStat, MeanStat]]] = defaultdict(dict)
    for version, step, label, n, conversions, revenue, revenue_sq in rows:
        n, conversions, revenue = int(n), int(conversions), float(revenue)
        if label == "sent":
            out[int(version)]["sends"][step] = {
                "sent": n,
                "conversions": conversions,
                "conversion_rate": round(conversions / n, 6) if n else None,
                "revenue": round(revenue, 2),
            }
        else:
            # A 0/1 conversion's sum of squares is its sum.
            variants[(int(version), step)][label.removeprefix("variant:")] = (
                MeanStat(n, conversions, conversions),
                MeanStat(n, revenue, float(revenue_sq)),
            )
    for (version, step), arms in variants.items():
        order = _variant_order(store, settings, name, version, step)
        ranked = dict(
            sorted(arms.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
        )
        out[version]["splits"][step] = _split_entries(ranked)
    return dict(out)


def _variant_order(store: Store, settings: Settings, name: str, version: int, path: str) -> list[str]:
    """The variants of the split at `path` in the file's order (the first is the baseline)."""
    from cartwise.pipelines.journeys import load_journey

    step = load_journey(store, settings, name, version).step(path)
    return [v.name for v in getattr(step, "variants", ())]


def _split_entries(arms: dict[str, tuple[MeanStat, MeanStat]]) -> list[dict[str, Any]]:
    entries = []
    first: tuple[MeanStat, MeanStat] | None = None
    for variant, (conv, rev) in arms.items():
        entry: dict[str, Any] = {
            "variant": variant,
            "customers": conv.n,
            "conversions": int(conv.sum),
            "conversion_rate": round(conv.mean, 6),
            "revenue": round(rev.sum, 2),
            "revenue_per_customer": round(rev.mean, 4),
        }
        if first is None:
            first = (conv, rev)
        else:
            entry["vs_first"] = {
                "conversion_rate": variant_difference(first[0], conv),
                "revenue_per_customer": variant_difference(first[1], rev),
            }
        entries.append(entry)
    return entries
