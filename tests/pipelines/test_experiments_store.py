"""Experiments in the store: definitions, exposures, and per-variant sums computed in SQL.

The sums are checked against a hand-made shop whose per-user values are written out below,
and the analysis against `analyze_summary` on those hand-computed sums.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from cartwise.core.errors import ConfigError, DataWarning, InputError, NotFoundError
from cartwise.experiments import analyze_summary
from cartwise.pipelines import experiments as px
from cartwise.store import Store, open_store

T0 = datetime(2026, 3, 1, 12)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with open_store(tmp_path / "x.duckdb") as s:
        yield s


def _events(store: Store, rows: list[tuple[str, datetime, str, str | None, float, int]]) -> None:
    frame = pd.DataFrame(
        rows, columns=["event_id", "ts", "user_id", "order_id", "revenue", "quantity"]
    ).assign(type="purchase")
    store.con.register("new_events", frame)
    store.con.execute("INSERT INTO events BY NAME SELECT * FROM new_events")
    store.con.unregister("new_events")


def _shop(store: Store) -> None:
    px.create_experiment(
        store, {"key": "exp", "variants": [{"name": "control", "weight": 0.5}, {"name": "b", "weight": 0.5}]}
    )
    day = timedelta(days=1)
    px.write_exposures(
        store,
        [
            ("exp", "u1", "control", T0, "api"),
            ("exp", "u2", "control", T0, "api"),
            ("exp", "u3", "b", T0, "api"),
            ("exp", "u4", "b", T0 + day, "api"),
            ("exp", "u4", "b", T0 + 3 * day, "api"),  # a second row of the same user (a restart)
            ("other", "u1", "x", T0, "api"),
        ],
    )
    _events(
        store,
        [
            # u1: one order of two lines after exposure (revenue 30, 3 units), one order before.
            ("e1", T0 + day, "u1", "o1", 10.0, 1),
            ("e2", T0 + day, "u1", "o1", 20.0, 2),
            ("e3", T0 - 2 * day, "u1", "o0", 5.0, 1),
            # u2: nothing. u3: two orders after (one without order_id), one 40 days before (outside pre).
            ("e4", T0 + 2 * day, "u3", None, 8.0, 1),
            ("e5", T0 + 20 * day, "u3", "o3", 12.0, 1),
            ("e6", T0 - 40 * day, "u3", "o9", 99.0, 1),
            # u4 exposed at T0+1d: an order at T0 (before its exposure) counts in the pre-period.
            ("e7", T0, "u4", "o4", 7.0, 2),
        ],
    )


def test_per_variant_sums_match_hand_computed_values(store: Store) -> None:
    _shop(store)
    got = px.experiment_summary(store, "exp").set_index(["variant", "metric"])
    # per user (post / pre): control u1 revenue 30/5, orders 1/1, units 3/1; u2 all 0.
    # b: u3 revenue 20/0, orders 2/0, units 2/0; u4 revenue 0/7, orders 0/1, units 0/2.
    want = {
        ("control", "revenue"): (2, 30, 900, 5, 25, 150),
        ("control", "orders"): (2, 1, 1, 1, 1, 1),
        ("control", "units"): (2, 3, 9, 1, 1, 3),
        ("control", "conversion"): (2, 1, 1, 1, 1, 1),
        ("b", "revenue"): (2, 20, 400, 7, 49, 0),
        ("b", "orders"): (2, 2, 4, 1, 1, 0),
        ("b", "units"): (2, 2, 4, 2, 4, 0),
        ("b", "conversion"): (2, 1, 1, 1, 1, 0),
    }
    for key, (users, s, sq, pre, pre_sq, prod) in want.items():
        row = got.loc[key]
        assert (row.users, row["sum"], row.sum_squares) == (users, s, sq), key
        assert (row.pre_sum, row.pre_sum_squares, row.sum_product) == (pre, pre_sq, prod), key
    rpo = got.loc[("b", "revenue_per_order")]
    assert (rpo["sum"], rpo.den_sum, rpo.den_sum_squares, rpo.den_sum_product) == (20, 2, 4, 40)
    # A 10-day window drops u3's order on day 20.
    short = px.experiment_summary(store, "exp", days=10).set_index(["variant", "metric"])
    assert short.loc[("b", "revenue"), "sum"] == 8


def test_analysis_from_store_equals_analysis_of_its_sums(store: Store, tmp_path: Path) -> None:
    _shop(store)
    frame = px.experiment_summary(store, "exp")
    with pytest.warns(DataWarning, match="too few users"):
        direct = analyze_summary(frame, weights=[0.5, 0.5])
    with pytest.warns(DataWarning, match="too few users"):
        from_store = px.analyze_experiment(store, "exp")
    assert from_store.contract() == direct.contract()
    assert [r.metric for r in from_store.results] == list(px.METRICS)
    assert all(r.note and "users" in r.note for r in from_store.results)  # 2 users: no interval


def test_definitions_refuse_bad_input(store: Store) -> None:
    px.create_experiment(
        store,
        {
            "key": "l1",
            "variants": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.5}],
            "layer": "home",
            "layer_end": 0.5,
        },
    )
    with pytest.raises(ConfigError, match="exists already"):
        px.create_experiment(
            store, {"key": "l1", "variants": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.5}]}
        )
    with pytest.raises(ConfigError, match="overlaps running experiment 'l1'"):
        px.create_experiment(
            store,
            {
                "key": "l2",
                "variants": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.5}],
                "layer": "home",
                "layer_start": 0.25,
            },
        )
    with pytest.raises(ConfigError, match=r"weights sum to 1\.1"):
        px.create_experiment(
            store, {"key": "w", "variants": [{"name": "a", "weight": 0.6}, {"name": "b", "weight": 0.5}]}
        )
    with pytest.raises(NotFoundError, match="profiles"):
        px.create_experiment(
            store,
            {
                "key": "aud",
                "variants": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.5}],
                "audience": "orders >= 2",
            },
        )
    with pytest.raises(InputError, match="no exposures yet"):
        px.analyze_experiment(store, "l1")
    with pytest.raises(NotFoundError, match="experiments list"):
        px.analyze_experiment(store, "nope")
    stopped = px.stop_experiment(store, "l1")
    assert stopped["status"] == "stopped" and stopped["stopped_at"] is not None
    assert [e["key"] for e in px.list_experiments(store)] == ["l1"]
    assert px.running_experiments(store) == []


def test_exposed_counts_in_listing(store: Store) -> None:
    _shop(store)
    info = px.experiment_info(store, "exp")
    assert info["exposed"] == {"control": 2, "b": 2}
    assert info["variants"][0]["name"] == "control"
