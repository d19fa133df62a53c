"""Experiments in the store: definitions, exposures, and the analysis of exposures joined to events.

Definitions live in `experiments` (the `Experiment` as JSON), exposures in `exposures` (store
migration 11). The analysis takes each exposed user's first exposure (time `t0`, variant),
aggregates purchase events per user in SQL over the analysis window `[t0, t0 + days)` and the
pre-period `[t0 - pre_days, t0)`, sums them per variant into the summary-statistics table of
`cartwise.experiments.analyze_summary`, and hands it over.

Metrics (per exposed user; an order is a purchase's `order_id`, or the event itself without one):
- `conversion`: 1 when the user placed any order in the window, else 0;
- `revenue`: revenue of purchases in the window (refunds are not subtracted);
- `orders`: orders in the window;
- `units`: units bought in the window;
- `revenue_per_order`: a ratio metric, Σ revenue / Σ orders over users (delta method).
Every mean metric carries its pre-period value for CUPED.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pandas as pd
import pyarrow as pa

from cartwise.core.errors import ConfigError, DataWarning, InputError, NotFoundError
from cartwise.core.settings import Settings
from cartwise.experiments import (
    DEFAULT_SEQUENTIAL_TUNING,
    Correction,
    Experiment,
    ExperimentAnalysis,
    analyze_summary,
    layer_conflict,
    make_experiment,
    parse_variants,
)
from cartwise.pipelines.experiment_cuts import cut_sums
from cartwise.pipelines.recs_ab import (
    DEFAULT_ATTRIBUTION_HOURS,
    RECS_METRICS,
    check_recommender_experiment,
    recommender_arms,
    recs_summary,
)
from cartwise.pipelines.stores import opened, require_store
from cartwise.store import Store

MEAN_METRICS = ("conversion", "revenue", "orders", "units")
RATIO_METRICS = {"revenue_per_order": ("revenue", "orders")}
METRICS = (*MEAN_METRICS, *RATIO_METRICS)
DEFAULT_PRE_DAYS = 28


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _require_tables(store: Store) -> None:
    if not store.has_table("experiments"):
        raise NotFoundError("This store has no experiments table; open it with this Cartwise to migrate it.")


# -- definitions -----------------------------------------------------------------------------
def get_experiment(store: Store, key: str) -> Experiment:
    """The stored definition of `key`; NotFoundError naming the list command otherwise."""
    _require_tables(store)
    rows = store.con.execute("SELECT definition FROM experiments WHERE key = ?", [key]).fetchall()
    if not rows:
        raise NotFoundError(f"No experiment {key!r}; `cartwise experiments list` shows them.")
    return Experiment.model_validate_json(rows[0][0])


def list_experiments(store: Store) -> list[dict[str, Any]]:
    """Every experiment with its status, dates and exposed users per variant."""
    _require_tables(store)
    rows = store.con.execute(
        """SELECT x.key, x.definition, x.status, x.created_at, x.stopped_at,
                  (SELECT list({'variant': v, 'users': n} ORDER BY v) FROM (
                     SELECT variant AS v, count(DISTINCT user_id) AS n FROM exposures
                     WHERE experiment = x.key GROUP BY variant))
           FROM experiments x ORDER BY x.created_at, x.key"""
    ).fetchall()
    out = []
    for key, definition, status, created, stopped, exposed in rows:
        exp = Experiment.model_validate_json(definition)
        users = {row["variant"]: row["users"] for row in exposed or []}
        out.append(
            {
                **exp.model_dump(mode="json"),
                "key": key,
                "status": status,
                "created_at": created,
                "stopped_at": stopped,
                "exposed": {name: users.get(name, 0) for name in exp.variant_names},
            }
        )
    return out


def experiment_info(store: Store, key: str) -> dict[str, Any]:
    """One experiment as `list_experiments` shows it."""
    get_experiment(store, key)
    return next(e for e in list_experiments(store) if e["key"] == key)


def running_experiments(store: Store) -> list[Experiment]:
    _require_tables(store)
    rows = store.con.execute(
        "SELECT definition FROM experiments WHERE status = 'running' ORDER BY key"
    ).fetchall()
    return [Experiment.model_validate_json(r[0]) for r in rows]


def audience_members(store: Store, rule: str) -> set[str]:
    """The profiled customers matching the segment rule `rule`."""
    from cartwise.profiles import rule_filter

    if not store.has_table("profiles"):
        raise NotFoundError(
            "An audience rule needs customer profiles; run `cartwise profiles build` first, or drop the audience."
        )
    profiles = store.ibis().table("profiles")
    members = profiles.filter(rule_filter(profiles, rule)).select("user_id").to_pyarrow()
    return set(members["user_id"].to_pylist())


def create_experiment(store: Store, definition: Experiment | dict[str, Any]) -> dict[str, Any]:
    """Store a new running experiment; refuses a used key, an overlapping layer slice and a bad rule."""
    _require_tables(store)
    exp = definition if isinstance(definition, Experiment) else make_experiment(**definition)
    exp = exp.model_copy(update={"status": "running"})
    if store.con.execute("SELECT count(*) FROM experiments WHERE key = ?", [exp.key]).fetchall()[0][0]:
        raise ConfigError(
            f"An experiment {exp.key!r} exists already; choose another key (a stopped experiment keeps its key)."
        )
    running = running_experiments(store)
    check_recommender_experiment(exp, running)
    conflict = layer_conflict(exp, running)
    if conflict is not None:
        raise ConfigError(
            f"Layer {exp.layer!r}: slice [{exp.layer_start:g}, {exp.layer_end:g}) overlaps running experiment "
            f"{conflict.key!r} [{conflict.layer_start:g}, {conflict.layer_end:g}); give a free slice or stop it."
        )
    if exp.audience:
        audience_members(store, exp.audience)  # validates the rule against the profile fields
    store.con.execute(
        "INSERT INTO experiments VALUES (?, ?, 'running', ?, NULL)",
        [exp.key, exp.model_dump_json(), _now()],
    )
    return experiment_info(store, exp.key)


def stop_experiment(store: Store, key: str) -> dict[str, Any]:
    """Stop assigning `key` (its exposures and results stay)."""
    exp = get_experiment(store, key)
    stopped = exp.model_copy(update={"status": "stopped"})
    store.con.execute(
        "UPDATE experiments SET status = 'stopped', stopped_at = coalesce(stopped_at, ?), definition = ? "
        "WHERE key = ?",
        [_now(), stopped.model_dump_json(), key],
    )
    return experiment_info(store, key)


def write_exposures(store: Store, rows: Sequence[tuple[str, str, str, datetime, str]]) -> int:
    """Append `(experiment, user_id, variant, ts, source)` rows to `exposures`."""
    if not rows:
        return 0
    columns = list(zip(*rows, strict=True))
    store.append(
        "exposures",
        pa.table(
            {
                "experiment": pa.array(columns[0], pa.string()),
                "user_id": pa.array(columns[1], pa.string()),
                "variant": pa.array(columns[2], pa.string()),
                "ts": pa.array(columns[3], pa.timestamp("us")),
                "source": pa.array(columns[4], pa.string()),
            }
        ),
    )
    return len(rows)


DEMO_EXPERIMENT = "demo-past-campaign"


def register_past_campaign(store: Store, holdout_share: float, key: str = DEMO_EXPERIMENT) -> int:
    """Record the simulator's past randomised e-mail campaign (`truth_campaign`) as a finished
    experiment: variants `holdout` (the control) and `email`, weights `holdout_share` and the
    rest, every targeted customer exposed at the send time. Returns the exposures written (0
    when the store has no past campaign)."""
    if not store.has_table("truth_campaign"):
        return 0
    sent = store.con.execute("SELECT max(sent_at) FROM truth_campaign").fetchall()[0][0]
    if sent is None:
        return 0
    exp = make_experiment(
        key=key,
        variants=[
            {"name": "holdout", "weight": holdout_share},
            {"name": "email", "weight": 1 - holdout_share},
        ],
        description="The demo shop's past e-mail campaign: every eligible customer e-mailed "
        "except a random holdout (recorded from the simulator, not assigned by hashing).",
        status="stopped",
    )
    store.con.execute(
        "INSERT INTO experiments VALUES (?, ?, 'stopped', ?, ?)", [exp.key, exp.model_dump_json(), sent, sent]
    )
    store.con.execute(
        """INSERT INTO exposures
           SELECT ?, user_id, CASE WHEN treated THEN 'email' ELSE 'holdout' END, ?, 'import'
           FROM truth_campaign""",
        [exp.key, sent],
    )
    return int(store.con.execute("SELECT count(*) FROM truth_campaign").fetchall()[0][0])


# -- analysis ----------------------------------------------------------------------------------
def _user_metrics_sql(days: float | None, pre_days: float, until: datetime | None = None) -> str:
    # Users without a purchase in the pre-period or the window add 0 to every sum, so only
    # buyers are aggregated per user; `n` counts everyone exposed.
    # Both bounds compare `e.ts` with the exposure directly (days > 0, so the pre-period lies
    # inside `ts < t0 + days`): DuckDB turns such join conditions into range filters on the
    # events scan (min and max over the exposed users), which skip row groups of a store filled
    # in time order and drop rows before the join.
    window = "" if days is None else f"AND e.ts < x.t0 + to_microseconds(CAST({days * 86400e6} AS BIGINT))"
    pre = f"x.t0 - to_microseconds(CAST({pre_days * 86400e6} AS BIGINT))"
    return f"""
        WITH x AS (
            SELECT user_id, arg_min(variant, ts) AS variant, min(ts) AS t0
            FROM exposures WHERE experiment = $key {"AND ts < $until" if until else ""} GROUP BY user_id),
        n AS (SELECT variant, count(*) AS users FROM x GROUP BY variant),
        o AS (
            -- One row per order; grouped by (user, order) alone, the exposure's variant carried
            -- along. An order is in the pre-period when its first kept line is, i.e. when any is.
            SELECT e.user_id, bool_or(e.ts < x.t0) AS pre, any_value(x.variant) AS variant,
                   sum(coalesce(e.revenue, 0)) AS revenue, sum(coalesce(e.quantity, 1)) AS units
            FROM events e JOIN x ON e.user_id = x.user_id
            WHERE e.type = 'purchase' AND e.ts >= {pre} {window}
              {"AND e.ts < $until" if until else ""}
            GROUP BY e.user_id, coalesce(e.order_id, e.event_id)),
        u AS (
            SELECT any_value(variant) AS variant,
                   count(*) FILTER (NOT pre) AS orders,
                   coalesce(sum(revenue) FILTER (NOT pre), 0) AS revenue,
                   coalesce(sum(units) FILTER (NOT pre), 0) AS units,
                   count(*) FILTER (pre) AS pre_orders,
                   coalesce(sum(revenue) FILTER (pre), 0) AS pre_revenue,
                   coalesce(sum(units) FILTER (pre), 0) AS pre_units
            FROM o GROUP BY user_id),
        m AS (
            SELECT variant, orders, revenue, units,
                   CAST(orders > 0 AS DOUBLE) AS conversion, CAST(pre_orders > 0 AS DOUBLE) AS pre_conversion,
                   pre_orders, pre_revenue, pre_units
            FROM u),
        s AS (
            SELECT variant, {", ".join(_mean_sums(m) for m in MEAN_METRICS)},
                   sum(revenue * orders) AS rpo_product
            FROM m GROUP BY variant)
        SELECT n.variant, n.users, s.* EXCLUDE (variant) FROM n LEFT JOIN s ON s.variant = n.variant"""


def _mean_sums(metric: str) -> str:
    return (
        f"sum({metric}) AS {metric}_sum, sum({metric} * {metric}) AS {metric}_sq, "
        f"sum(pre_{metric}) AS {metric}_pre, sum(pre_{metric} * pre_{metric}) AS {metric}_pre_sq, "
        f"sum({metric} * pre_{metric}) AS {metric}_prod"
    )


def experiment_summary(
    store: Store,
    key: str,
    *,
    days: float | None = None,
    pre_days: float = DEFAULT_PRE_DAYS,
    until: datetime | None = None,
) -> pd.DataFrame:
    """Per variant and metric: `users, sum, sum_squares` and the CUPED and ratio columns.

    `until` cuts the data as it stood at that time (exposures and purchases before it).

    Variants in the definition's order (control first); a variant nobody was exposed to has a
    row of zero users (`analyze_summary` then refuses it, naming the variant).
    """
    exp = get_experiment(store, key)
    if days is not None and not days > 0:
        raise ConfigError(f"`days` is {days:g}; give a positive analysis window in days, or none.")
    if not pre_days >= 0:
        raise ConfigError(f"`pre_days` is {pre_days:g}; give 0 or more days of pre-period.")
    params: dict[str, Any] = {"key": key} | ({"until": until} if until else {})
    sql = _user_metrics_sql(days, pre_days, until)
    found = {row[0]: row for row in store.con.execute(sql, params).fetchall()}
    if not found:
        raise InputError(
            f"Experiment {key!r} has no exposures yet; assign users (the assign route, the tracker's "
            "`cartwise.variant`) before analysing it."
        )
    unknown = sorted(set(found) - set(exp.variant_names))
    if unknown:
        raise InputError(
            f"Exposures of {key!r} name variants {', '.join(unknown)} that the definition does not have "
            f"({', '.join(exp.variant_names)}); the exposures table was written by something else."
        )
    return _frame(exp, found)


def _frame(exp: Experiment, found: dict[str, Any]) -> pd.DataFrame:
    # `found`: the query's row per variant (variant first, then `_columns()`).
    records = []
    for variant in exp.variant_names:
        row = found.get(variant)
        values = dict(zip(_columns(), row[1:], strict=True)) if row else dict.fromkeys(_columns(), 0)
        n = int(values["users"])
        for metric in MEAN_METRICS:
            records.append(
                {
                    "variant": variant,
                    "metric": metric,
                    "users": n,
                    "sum": float(values[f"{metric}_sum"] or 0),
                    "sum_squares": float(values[f"{metric}_sq"] or 0),
                    "pre_sum": float(values[f"{metric}_pre"] or 0),
                    "pre_sum_squares": float(values[f"{metric}_pre_sq"] or 0),
                    "sum_product": float(values[f"{metric}_prod"] or 0),
                }
            )
        num, den = RATIO_METRICS["revenue_per_order"]
        records.append(
            {
                "variant": variant,
                "metric": "revenue_per_order",
                "users": n,
                "sum": float(values[f"{num}_sum"] or 0),
                "sum_squares": float(values[f"{num}_sq"] or 0),
                "den_sum": float(values[f"{den}_sum"] or 0),
                "den_sum_squares": float(values[f"{den}_sq"] or 0),
                "den_sum_product": float(values["rpo_product"] or 0),
            }
        )
    return pd.DataFrame.from_records(records)


def experiment_summaries(
    store: Store,
    key: str,
    cutoffs: Sequence[datetime],
    *,
    days: float | None = None,
    pre_days: float = DEFAULT_PRE_DAYS,
) -> list[pd.DataFrame]:
    """`experiment_summary(store, key, days=..., until=c)` for each of the ascending `cutoffs`,
    from one query and a pass over its rows (`experiment_cuts`). A cut before every exposure gives
    zero users in every variant."""
    exp = get_experiment(store, key)
    if days is not None and not days > 0:
        raise ConfigError(f"`days` is {days:g}; give a positive analysis window in days, or none.")
    if not pre_days >= 0:
        raise ConfigError(f"`pre_days` is {pre_days:g}; give 0 or more days of pre-period.")
    cuts = list(cutoffs)
    if not cuts:
        return []
    if any(b <= a for a, b in pairwise(cuts)):
        raise ConfigError("`cutoffs` must be strictly ascending times.")
    sums, unknown = cut_sums(store, key, cuts, exp.variant_names, days=days, pre_days=pre_days)
    if unknown:
        raise InputError(
            f"Exposures of {key!r} name variants {', '.join(unknown)} that the definition does not have "
            f"({', '.join(exp.variant_names)}); the exposures table was written by something else."
        )
    columns = _columns()
    frames = []
    for k in range(len(cuts)):
        found = {
            variant: (variant, *(sums[c][k, j] for c in columns))
            for j, variant in enumerate(exp.variant_names)
            if sums["users"][k, j] > 0
        }
        frames.append(_frame(exp, found))
    return frames


def _columns() -> list[str]:
    cols = ["users"]
    for m in MEAN_METRICS:
        cols += [f"{m}_sum", f"{m}_sq", f"{m}_pre", f"{m}_pre_sq", f"{m}_prod"]
    return [*cols, "rpo_product"]


def analyze_experiment(
    store: Store,
    key: str,
    *,
    days: float | None = None,
    pre_days: float = DEFAULT_PRE_DAYS,
    cuped: bool = False,
    sequential: bool = False,
    correction: Correction | None = None,
    alpha: float = 0.05,
    sequential_tuning: float = DEFAULT_SEQUENTIAL_TUNING,
    attribution_hours: float = DEFAULT_ATTRIBUTION_HOURS,
) -> ExperimentAnalysis:
    """Every variant against the control on every metric, from the store (see the module).

    The SRM check uses the definition's weights. With `cuped` the mean metrics are adjusted by
    their pre-period values; the ratio metrics never are (not supported by the engine). A
    recommender experiment (`cartwise.pipelines.recs_ab`) adds `RECS_METRICS` from its
    impressions, attributed within `attribution_hours`.
    """
    exp = get_experiment(store, key)
    frame = experiment_summary(store, key, days=days, pre_days=pre_days)
    without_events: list[str] = []
    if recommender_arms(exp) is not None:
        frame = pd.concat([frame, recs_summary(store, exp, attribution_hours)], ignore_index=True)
        # A recommender test reads many metrics, and early on some have no events yet (no
        # purchase after an impression): those are listed in `method`, the others analysed.
        empty = frame.groupby("metric", sort=False)["sum"].apply(lambda s: bool((s == 0).all()))
        without_events = [m for m, e in empty.items() if e]
        if len(without_events) < len(empty):
            frame = frame[~frame["metric"].isin(without_events)].reset_index(drop=True)
        else:
            without_events = []
    weights = [v.weight for v in exp.variants]
    common: dict[str, Any] = {
        "sequential": sequential,
        "weights": weights,
        "alpha": alpha,
        "sequential_tuning": sequential_tuning,
    }
    if not cuped:
        found = analyze_summary(frame, correction=correction, **common)
        return _noting(found, without_events)
    ratio = frame["metric"].isin([*RATIO_METRICS, *RECS_METRICS])
    means = analyze_summary(frame[~ratio].reset_index(drop=True), cuped=True, **common)
    ratios = analyze_summary(frame[ratio].reset_index(drop=True), **common)
    merged = means.results + ratios.results
    if correction is not None:
        from dataclasses import replace

        from cartwise.experiments import adjust_p_values

        have = [i for i, r in enumerate(merged) if r.p_value is not None]
        adjusted = adjust_p_values([merged[i].p_value for i in have], correction)  # type: ignore[misc]
        for i, p in zip(have, adjusted, strict=True):
            merged[i] = replace(merged[i], p_value=p, p_value_raw=merged[i].p_value)
    merged_analysis = ExperimentAnalysis(
        control=means.control,
        variants=means.variants,
        users=means.users,
        weights=means.weights,
        srm_p=means.srm_p,
        results=merged,
        method={**means.method, "correction": correction},
    )
    return _noting(merged_analysis, without_events)


def _noting(analysis: ExperimentAnalysis, without_events: list[str]) -> ExperimentAnalysis:
    if not without_events:
        return analysis
    from dataclasses import replace

    return replace(analysis, method={**analysis.method, "metrics_without_events": without_events})


def cumulative_lift(
    store: Store, key: str, *, metric: str = "conversion", points: int = 8, days: float | None = None
) -> list[dict[str, Any]]:
    """The relative lift of `metric` for each variant as the data stood at `points` times from
    the first exposure to the last purchase, with its always-valid (sequential) interval: the
    band a daily look may be judged by. Times with too few users have a null interval. The sums
    at all the times come from one query (`experiment_summaries`)."""
    if metric not in METRICS:
        raise ConfigError(f"`metric` is {metric!r}; use one of {', '.join(METRICS)}.")
    exp = get_experiment(store, key)
    first, last_exposure = store.con.execute(
        "SELECT min(ts), max(ts) FROM exposures WHERE experiment = ?", [key]
    ).fetchall()[0]
    if first is None:
        return []
    last = store.con.execute(
        "SELECT max(ts) FROM events WHERE type = 'purchase' AND ts >= ?", [first]
    ).fetchall()[0][0]
    end = max(t for t in (last, last_exposure) if t is not None) + pd.Timedelta(seconds=1)
    step = (end - first) / max(points, 1)
    cutoffs = [first + step * i for i in range(1, points + 1)]
    out: list[dict[str, Any]] = []
    for cutoff, whole in zip(cutoffs, experiment_summaries(store, key, cutoffs, days=days), strict=True):
        frame = whole[whole["metric"] == metric].reset_index(drop=True)
        if (frame["users"] == 0).any() or (frame["sum"] == 0).all():  # nobody yet, or no event yet
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            analysis = analyze_summary(frame, sequential=True, weights=[v.weight for v in exp.variants])
        for r in analysis.results:
            out.append(
                {
                    "ts": cutoff,
                    "variant": r.variant,
                    "users": r.users + r.control_users,
                    "lift": r.lift,
                    "lift_ci": list(r.lift_ci) if r.lift_ci else None,
                }
            )
    return out


@contextmanager
def _store(settings: Settings, *, read_only: bool) -> Iterator[Store]:
    require_store(settings)
    with opened(settings, read_only=read_only, create=False) as store:
        yield store


def analyze_experiment_db(settings: Settings, key: str, **options: Any) -> ExperimentAnalysis:
    """`cartwise experiments analyze KEY --db PATH` (impressions attributed within the
    `recs_options` setting's `attribution_hours`, as the service does)."""
    hours = settings.recs_options.get("attribution_hours", DEFAULT_ATTRIBUTION_HOURS)
    options.setdefault("attribution_hours", float(hours))
    with _store(settings, read_only=True) as store:
        return analyze_experiment(store, key, **options)


def create_experiment_db(settings: Settings, definition: dict[str, Any]) -> dict[str, Any]:
    """`cartwise experiments create`: `variants` may be text such as `control:0.5,treatment:0.5`."""
    if isinstance(definition.get("variants"), str):
        definition = {**definition, "variants": parse_variants(definition["variants"])}
    with _store(settings, read_only=False) as store:
        return create_experiment(store, definition)


def list_experiments_db(settings: Settings) -> list[dict[str, Any]]:
    with _store(settings, read_only=True) as store:
        return list_experiments(store)


def experiment_info_db(settings: Settings, key: str) -> dict[str, Any]:
    with _store(settings, read_only=True) as store:
        return experiment_info(store, key)


def stop_experiment_db(settings: Settings, key: str) -> dict[str, Any]:
    with _store(settings, read_only=False) as store:
        return stop_experiment(store, key)
