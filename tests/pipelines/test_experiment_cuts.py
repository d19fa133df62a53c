"""The timeline's sums at several cuts on a hand-made shop, against one analysis per cut.

Each case is one the one-pass sums must get right: an order whose lines fall on both sides of a
cut, an order that straddles the exposure (in the pre-period at every cut), a user buying in
three buckets, a user exposed after the first cut and a cut before every exposure.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa

from cartwise.pipelines import experiments as px
from cartwise.store import open_store

T0 = datetime(2026, 3, 1)
DAY = timedelta(days=1)


def _lines() -> list[tuple[str, datetime, str, str | None, float, int]]:
    return [
        # alice (control, exposed day 0): an order split by the day-2 cut, one in each later bucket
        ("a1", T0 + 1.5 * DAY, "alice", "o-a1", 10.0, 1),
        ("a2", T0 + 2.5 * DAY, "alice", "o-a1", 5.0, 2),
        ("a3", T0 + 3.5 * DAY, "alice", "o-a2", 7.0, 1),
        ("a4", T0 + 4.5 * DAY, "alice", None, 3.0, 1),
        # bob (b, exposed day 0.5): an order begun before his exposure, finished after a cut
        ("b1", T0 + 0.25 * DAY, "bob", "o-b1", 20.0, 1),
        ("b2", T0 + 2.25 * DAY, "bob", "o-b1", 4.0, 1),
        ("b3", T0 + 3.25 * DAY, "bob", "o-b2", 9.0, 3),
        # carol (b, exposed day 2.75): bought before and after her exposure
        ("c1", T0 + 1.25 * DAY, "carol", "o-c1", 30.0, 1),
        ("c2", T0 + 4.75 * DAY, "carol", "o-c2", 12.0, 2),
    ]


def test_sums_at_cuts_equal_one_analysis_per_cut(tmp_path: Path) -> None:
    cuts = [T0 - DAY, T0 + 2 * DAY, T0 + 3 * DAY, T0 + 4 * DAY, T0 + 5 * DAY]
    with open_store(tmp_path / "x.duckdb") as store:
        px.create_experiment(
            store,
            {"key": "exp", "variants": [{"name": "control", "weight": 0.5}, {"name": "b", "weight": 0.5}]},
        )
        px.write_exposures(
            store,
            [
                ("exp", "alice", "control", T0, "api"),
                ("exp", "bob", "b", T0 + 0.5 * DAY, "api"),
                ("exp", "carol", "b", T0 + 2.75 * DAY, "api"),
                ("exp", "dave", "control", T0 + 0.1 * DAY, "api"),
            ],
        )
        ids, ts, users, orders, revenue, quantity = map(list, zip(*_lines(), strict=True))
        table = pa.table(
            {
                "event_id": pa.array(ids, pa.string()),
                "ts": pa.array(ts, pa.timestamp("us")),
                "user_id": pa.array(users, pa.string()),
                "type": pa.array(["purchase"] * len(ids), pa.string()),
                "order_id": pa.array(orders, pa.string()),
                "revenue": pa.array(revenue, pa.float64()),
                "quantity": pa.array(quantity, pa.int32()),
            }
        )
        store.con.register("new_events", table)
        store.con.execute("INSERT INTO events BY NAME SELECT * FROM new_events")
        together = px.experiment_summaries(store, "exp", cuts)
        assert (together[0]["users"] == 0).all()
        for cut, got in zip(cuts[1:], together[1:], strict=True):
            alone = px.experiment_summary(store, "exp", until=cut)
            pd.testing.assert_frame_equal(got, alone, check_exact=False, rtol=1e-12)
        # One cut alone (no bucket bounds) is the same as the last of several.
        pd.testing.assert_frame_equal(px.experiment_summaries(store, "exp", cuts[-1:])[0], together[-1])
        # What a reader checks by hand at the day-3 cut: alice's split order counts once with
        # both lines (15.0); bob's straddling order stays in his pre-period (24.0); carol is in.
        at_day3 = together[2].set_index(["variant", "metric"])
        assert at_day3.loc[("control", "revenue"), "sum"] == 15.0
        assert at_day3.loc[("control", "orders"), "sum"] == 1.0
        assert at_day3.loc[("b", "revenue"), "sum"] == 0.0
        assert at_day3.loc[("b", "revenue"), "pre_sum"] == 24.0 + 30.0
        assert at_day3.loc[("b", "revenue"), "users"] == 2
        # At the last cut: alice 25.0 over 3 orders (squares of her running total, not of parts).
        last = together[-1].set_index(["variant", "metric"])
        assert last.loc[("control", "revenue"), "sum_squares"] == 25.0**2
        assert last.loc[("control", "orders"), "sum_squares"] == 3.0**2
        assert last.loc[("b", "revenue"), "sum"] == 9.0 + 12.0
