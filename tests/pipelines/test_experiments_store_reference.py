"""The per-variant sums of `experiment_summary` (one SQL query) against a plain Python reference.

The reference follows the module's definitions line by line on small random stores: each
user's first exposure (users exposed twice, some to another variant, some after `until`), purchase
lines kept in `[t0 - pre_days, t0 + days)` and before `until`, lines grouped into orders by
`order_id` (the event itself without one), an order in the pre-period when its first kept line
is, missing revenue as 0 and missing quantity as 1; other event types, other experiments and
unexposed users ignored.
"""

from __future__ import annotations

import random
import warnings
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from cartwise.core.errors import ConfigError, DataWarning
from cartwise.experiments import analyze_summary
from cartwise.pipelines import experiments as px
from cartwise.store import Store, open_store

START = datetime(2026, 3, 1)
VARIANTS = ("control", "b", "c")

Exposure = tuple[str, str, str, datetime, str]
Event = tuple[str, datetime, str, str, str | None, float | None, int | None]


def _random_shop(seed: int, n_users: int = 120) -> tuple[list[Exposure], list[Event]]:
    rng = random.Random(seed)
    users = [f"user-{i:04d}" for i in range(n_users)]
    exposures: list[Exposure] = []
    for user in users[: n_users * 3 // 4]:  # the last quarter is never exposed
        # Whole seconds drawn without replacement: no two exposures of a user at the same time.
        times = rng.sample(range(0, 20 * 86400), k=rng.choice((1, 1, 1, 2, 3)))
        variant = rng.choice(VARIANTS)
        for t in times:
            again = variant if rng.random() < 0.6 else rng.choice(VARIANTS)
            exposures.append(("exp", user, again, START + timedelta(seconds=t), "api"))
        if rng.random() < 0.3:
            exposures.append(("other", user, "x", START + timedelta(seconds=rng.randrange(86400)), "api"))
    events: list[Event] = []
    n = 0
    for _ in range(n_users * 10 // 3):
        user = rng.choice(users)
        order_id = None if rng.random() < 0.25 else f"order-{rng.randrange(10**6)}"
        ts = START + timedelta(seconds=rng.randrange(-40 * 86400, 50 * 86400))
        for _line in range(rng.choice((1, 1, 2, 3))):
            n += 1
            # Some lines of an order a little later (an order may straddle an exposure).
            line_ts = ts + timedelta(seconds=rng.choice((0, 0, 0, rng.randrange(3 * 86400))))
            kind = "purchase" if rng.random() < 0.8 else rng.choice(("view", "add_to_cart"))
            revenue = None if rng.random() < 0.1 else round(rng.uniform(1, 200), 2)
            quantity = None if rng.random() < 0.1 else rng.randint(1, 4)
            events.append((f"ev-{n}", line_ts, user, kind, order_id, revenue, quantity))
    return exposures, events


def _write(store: Store, exposures: list[Exposure], events: list[Event]) -> None:
    px.create_experiment(
        store, {"key": "exp", "variants": [{"name": v, "weight": 1 / len(VARIANTS)} for v in VARIANTS]}
    )
    px.write_exposures(store, exposures)
    cols = list(zip(*events, strict=True))
    table = pa.table(
        {
            "event_id": pa.array(cols[0], pa.string()),
            "ts": pa.array(cols[1], pa.timestamp("us")),
            "user_id": pa.array(cols[2], pa.string()),
            "type": pa.array(cols[3], pa.string()),
            "order_id": pa.array(cols[4], pa.string()),
            "revenue": pa.array(cols[5], pa.float64()),
            "quantity": pa.array(cols[6], pa.int32()),
        }
    )
    store.con.register("new_events", table)
    store.con.execute("INSERT INTO events BY NAME SELECT * FROM new_events")
    store.con.unregister("new_events")


def _reference(
    exposures: list[Exposure],
    events: list[Event],
    *,
    days: float | None,
    pre_days: float,
    until: datetime | None,
) -> dict[tuple[str, str], dict[str, float]]:
    first: dict[str, tuple[datetime, str]] = {}
    for experiment, user, variant, ts, _source in exposures:
        if experiment != "exp" or (until is not None and ts >= until):
            continue
        if user not in first or ts < first[user][0]:
            first[user] = (ts, variant)
    orders: dict[tuple[str, str], list] = {}
    for event_id, ts, user, kind, order_id, revenue, quantity in events:
        if kind != "purchase" or user not in first or (until is not None and ts >= until):
            continue
        t0 = first[user][0]
        if ts < t0 - timedelta(days=pre_days) or (days is not None and ts >= t0 + timedelta(days=days)):
            continue
        key = (user, order_id if order_id is not None else event_id)
        order = orders.setdefault(key, [ts, 0.0, 0])
        order[0] = min(order[0], ts)
        order[1] += revenue if revenue is not None else 0.0
        order[2] += quantity if quantity is not None else 1
    per_user: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (user, _key), (ts, revenue, units) in orders.items():
        period = "pre_" if ts < first[user][0] else ""
        values = per_user[user]
        values[f"{period}orders"] += 1
        values[f"{period}revenue"] += revenue
        values[f"{period}units"] += units
    sums: dict[tuple[str, str], dict[str, float]] = {}
    for variant in VARIANTS:
        members = [u for u, (_t, v) in first.items() if v == variant]
        for metric in px.MEAN_METRICS:
            row = dict.fromkeys(("sum", "sum_squares", "pre_sum", "pre_sum_squares", "sum_product"), 0.0)
            for user in members:
                values = per_user[user]
                if metric == "conversion":
                    post, pre = float(values["orders"] > 0), float(values["pre_orders"] > 0)
                else:
                    post, pre = values[metric], values[f"pre_{metric}"]
                row["sum"] += post
                row["sum_squares"] += post * post
                row["pre_sum"] += pre
                row["pre_sum_squares"] += pre * pre
                row["sum_product"] += post * pre
            sums[(variant, metric)] = {"users": len(members), **row}
        ratio = dict.fromkeys(("sum", "sum_squares", "den_sum", "den_sum_squares", "den_sum_product"), 0.0)
        for user in members:
            revenue, n_orders = per_user[user]["revenue"], per_user[user]["orders"]
            ratio["sum"] += revenue
            ratio["sum_squares"] += revenue * revenue
            ratio["den_sum"] += n_orders
            ratio["den_sum_squares"] += n_orders * n_orders
            ratio["den_sum_product"] += revenue * n_orders
        sums[(variant, "revenue_per_order")] = {"users": len(members), **ratio}
    return sums


@pytest.mark.parametrize(
    ("seed", "days", "pre_days", "until"),
    [
        (0, None, 28, None),
        (1, 7.5, 28, None),
        (2, 3, 0, None),
        (3, None, 2.25, START + timedelta(days=9)),
        (4, 14, 28, START + timedelta(days=12, hours=5)),
    ],
)
def test_sums_in_sql_equal_the_reference(
    tmp_path: Path, seed: int, days: float | None, pre_days: float, until: datetime | None
) -> None:
    exposures, events = _random_shop(seed)
    want = _reference(exposures, events, days=days, pre_days=pre_days, until=until)
    with open_store(tmp_path / "x.duckdb") as store:
        _write(store, exposures, events)
        got = px.experiment_summary(store, "exp", days=days, pre_days=pre_days, until=until)
    assert list(got["variant"].drop_duplicates()) == list(VARIANTS)
    assert len(got) == len(want)
    for row in got.to_dict("records"):
        expected = want[(row["variant"], row["metric"])]
        for column, value in expected.items():
            assert row[column] == pytest.approx(value, rel=1e-12, abs=1e-9), (
                row["variant"],
                row["metric"],
                column,
            )
    # The random shop exercises what the SQL must get right, not only empty sums.
    revenue = {v: want[(v, "revenue")] for v in VARIANTS}
    assert all(r["users"] > 0 for r in revenue.values())
    assert sum(r["sum"] for r in revenue.values()) > 0
    assert sum(r["pre_sum"] for r in revenue.values()) > 0 or pre_days == 0


@pytest.mark.parametrize(("seed", "days", "pre_days"), [(5, None, 28), (6, 7.5, 3), (7, 2, 0)])
def test_sums_at_several_cutoffs_in_one_query_equal_one_query_per_cutoff(
    tmp_path: Path, seed: int, days: float | None, pre_days: float
) -> None:
    exposures, events = _random_shop(seed)
    cutoffs = [
        START - timedelta(days=1),
        *(START + timedelta(days=d, hours=seed) for d in (1, 4, 9.5, 17, 30)),
    ]
    with open_store(tmp_path / "x.duckdb") as store:
        _write(store, exposures, events)
        together = px.experiment_summaries(store, "exp", cutoffs, days=days, pre_days=pre_days)
        assert len(together) == len(cutoffs)
        # Before every exposure: every variant with zero users (one query alone refuses it).
        assert (together[0]["users"] == 0).all() and (together[0]["sum"] == 0).all()
        for cutoff, got in zip(cutoffs[1:], together[1:], strict=True):
            alone = px.experiment_summary(store, "exp", days=days, pre_days=pre_days, until=cutoff)
            want = _reference(exposures, events, days=days, pre_days=pre_days, until=cutoff)
            pd.testing.assert_frame_equal(got, alone, check_exact=False, rtol=1e-12)
            assert got.loc[got["metric"] == "revenue", "sum"].sum() == pytest.approx(
                sum(want[(v, "revenue")]["sum"] for v in VARIANTS)
            )
        with pytest.raises(ConfigError, match="ascending"):
            px.experiment_summaries(store, "exp", cutoffs[::-1])


@pytest.mark.parametrize("metric", ["revenue", "conversion", "revenue_per_order"])
def test_cumulative_lift_equals_the_analysis_of_one_query_per_cutoff(tmp_path: Path, metric: str) -> None:
    exposures, events = _random_shop(8, n_users=600)
    with open_store(tmp_path / "x.duckdb") as store:
        _write(store, exposures, events)
        points = px.cumulative_lift(store, "exp", metric=metric, points=5)
        assert len(points) == 5 * 2  # every cut has all three variants: two comparisons each
        for p in points:
            alone = px.experiment_summary(store, "exp", until=p["ts"])
            alone = alone[alone["metric"] == metric].reset_index(drop=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DataWarning)
                analysis = analyze_summary(alone, sequential=True, weights=[1 / 3] * 3)
            want = next(r for r in analysis.results if r.variant == p["variant"])
            assert p["users"] == want.users + want.control_users
            assert want.lift is not None
            assert p["lift"] == pytest.approx(want.lift, rel=1e-9)
            assert p["lift_ci"] == (pytest.approx(list(want.lift_ci), rel=1e-9) if want.lift_ci else None)
