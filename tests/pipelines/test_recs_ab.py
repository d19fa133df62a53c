"""Recommender experiments in the store: which experiments choose a recommender, and per-variant
sums of impressions, attributed clicks, purchases and revenue, checked on hand-made rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from cartwise.core.errors import ConfigError
from cartwise.experiments import make_experiment
from cartwise.pipelines import experiments as px
from cartwise.pipelines.recs_ab import recommender_arms, recs_summary
from cartwise.store import Store, open_store

T0 = datetime(2026, 3, 1, 12)
VARIANTS = [
    {"name": "control", "weight": 0.5, "value": "hybrid"},
    {"name": "b", "weight": 0.5, "value": "popularity"},
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "x.duckdb") as s:
        yield s


def _impressions(store: Store, rows: list[tuple[str, str, str, str, int, datetime]]) -> None:
    frame = pd.DataFrame(rows, columns=["request_id", "user_id", "variant", "item_id", "position", "ts"])
    store.con.register("new_rows", frame.assign(experiment="ab", model_version="m", surface="api"))
    store.con.execute("INSERT INTO rec_impressions BY NAME SELECT * FROM new_rows")
    store.con.unregister("new_rows")


def _events(store: Store, rows: list[tuple[str, str, str, str, datetime, float | None, str | None]]) -> None:
    frame = pd.DataFrame(
        rows, columns=["event_id", "user_id", "type", "item_id", "ts", "revenue", "properties"]
    )
    store.con.register("new_rows", frame)
    store.con.execute("INSERT INTO events BY NAME SELECT * FROM new_rows")
    store.con.unregister("new_rows")


def test_recommender_arms_need_every_variant_to_name_a_recommender() -> None:
    assert recommender_arms(make_experiment(key="ab", variants=VARIANTS)) == {
        "control": "hybrid",
        "b": "popularity",
    }
    plain = make_experiment(key="ab", variants=[{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.5}])
    assert recommender_arms(plain) is None


def test_creation_refuses_half_named_variants_and_a_second_recommender_test(store: Store) -> None:
    half = [VARIANTS[0], {"name": "b", "weight": 0.5}]
    with pytest.raises(ConfigError, match="`variants` b name no recommender"):
        px.create_experiment(store, {"key": "half", "variants": half})
    px.create_experiment(store, {"key": "ab", "variants": VARIANTS})
    with pytest.raises(ConfigError, match="Recommender experiment 'ab' is running; stop it first"):
        px.create_experiment(store, {"key": "ab2", "variants": VARIANTS})
    px.stop_experiment(store, "ab")
    px.create_experiment(store, {"key": "ab2", "variants": VARIANTS})


def test_per_user_sums_follow_the_attribution_rules(store: Store) -> None:
    px.create_experiment(store, {"key": "ab", "variants": VARIANTS})
    minute = timedelta(minutes=1)
    _impressions(
        store,
        [
            # u1 (control): two requests of two items; clicks i1 by request id, buys i2 later that day.
            ("r1", "u1", "control", "i1", 1, T0),
            ("r1", "u1", "control", "i2", 2, T0),
            ("r2", "u1", "control", "i1", 1, T0 + minute),
            ("r2", "u1", "control", "i3", 2, T0 + minute),
            # u2 (control): one request, nothing done.
            ("r3", "u2", "control", "i1", 1, T0),
            # u3 (b): one request of three items; views i4 without a request id within the window,
            # and i5 two days later (outside the 24-hour window: not attributed).
            ("r4", "u3", "b", "i4", 1, T0),
            ("r4", "u3", "b", "i5", 2, T0),
            ("r4", "u3", "b", "i6", 3, T0),
        ],
    )
    _events(
        store,
        [
            ("e1", "u1", "view", "i1", T0 + 2 * minute, None, '{"request_id": "r1"}'),
            ("e2", "u1", "purchase", "i2", T0 + timedelta(hours=3), 30.0, None),
            ("e3", "u3", "view", "i4", T0 + timedelta(hours=1), None, None),
            ("e4", "u3", "view", "i5", T0 + timedelta(days=2), None, None),
        ],
    )
    exp = px.get_experiment(store, "ab")
    frame = recs_summary(store, exp, attribution_hours=24).set_index(["variant", "metric"])
    # control: u1 has 4 impressions, 1 click (r1/i1; r2/i1 has no event naming it and the view
    # names r1), 1 purchase worth 30; u2 has 1 impression.
    ctr = frame.loc[("control", "ctr")]
    assert ctr["users"] == 2
    assert (
        ctr["sum"],
        ctr["sum_squares"],
        ctr["den_sum"],
        ctr["den_sum_squares"],
        ctr["den_sum_product"],
    ) == (
        1,
        1,
        5,
        17,
        4,
    )
    conv = frame.loc[("control", "impression_conversion")]
    assert (conv["sum"], conv["den_sum_product"]) == (1, 4)
    rpm = frame.loc[("control", "revenue_per_mille")]
    assert (rpm["sum"], rpm["sum_squares"], rpm["den_sum_product"]) == (30_000, 30_000**2, 120_000)
    b = frame.loc[("b", "ctr")]
    assert (b["users"], b["sum"], b["den_sum"]) == (1, 1, 3)
    assert frame.loc[("b", "revenue_per_mille"), "sum"] == 0
