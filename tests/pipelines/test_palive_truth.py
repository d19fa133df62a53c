"""P(alive) in the profiles against the simulator's ground truth: who is really still alive.

The demo shop runs the MBG/NBD story (`dropout_at_first_purchase`: a customer may drop out
right after any purchase, the first one included), with seasonality and stock-outs off so
calendar time is the model's time, and without browsing sessions (P(alive) reads orders only)
so 20,000 customers simulate quickly: a decile of 2,000 has a sampling error of about 0.01.
`truth_users.alive_at_end` says who had not dropped out by the last day; within each decile
of the profiles' P(alive), the share truly alive must match the mean P(alive) within 0.05.
(Pareto/NBD, which a purchase-count holdout would pick here, misses by up to 0.19.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cartwise.core.settings import get_settings
from cartwise.pipelines.demo import build_demo
from cartwise.pipelines.profiles import refresh_profiles
from cartwise.simulate import ShopConfig
from cartwise.store import open_store


def test_profiles_p_alive_is_calibrated_against_the_true_dropouts(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    config = ShopConfig(
        seed=5, users=20_000, items=150, days=365, dropout_at_first_purchase=True, sessions_per_purchase=0.0,
        yearly_amplitude=0.0, weekly_profile=(1, 1, 1, 1, 1, 1, 1), stock_cover_days=3650,
    )  # fmt: skip
    with open_store(db, settings=get_settings(db=db, memory_limit="1GB")) as store:
        build_demo(store, config)
        report = refresh_profiles(store, clusters=False)
        frame = store.arrow(
            """SELECT p.user_id, p.p_alive, p.orders, p.days_since_last_order, t.alive_at_end
               FROM profiles p JOIN truth_users t USING (user_id) WHERE p.orders > 0"""
        ).to_pandas()
    assert report["clv"]["model"] in ("mbgnbd", "pareto")
    assert len(frame) == 20_000 and frame["p_alive"].notna().all()
    # One-time buyers can be gone: the truth has some, and the model says so of every one who
    # has been silent for a day or more.
    one_time = frame[frame["orders"] == 1]
    assert (~one_time["alive_at_end"]).any()
    assert one_time.loc[one_time["days_since_last_order"] >= 1, "p_alive"].max() < 1.0
    deciles = pd.qcut(frame["p_alive"], 10, labels=False, duplicates="drop")
    table = (
        frame.assign(alive=frame["alive_at_end"].astype(float), decile=deciles)
        .groupby("decile")[["p_alive", "alive"]]
        .mean()
    )
    gap = np.abs(table["p_alive"] - table["alive"])
    assert (gap < 0.05).all(), table.assign(gap=gap)
