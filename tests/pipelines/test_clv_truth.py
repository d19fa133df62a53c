"""BG/NBD fitted on the demo shop's orders recovers the simulator's true population parameters.

Seasonality and stock-outs are switched off: the simulator then follows the BG/NBD process
exactly in calendar time. (With them on, the fit is biased by 10-25%: the yearly wave
stretches time and purchases lost to stock-outs still draw a drop-out; see BENCHMARKS.md.)
"""

from __future__ import annotations

from pathlib import Path

from cartwise.core.settings import get_settings
from cartwise.pipelines.demo import build_demo
from cartwise.predict import BGNBD, rfm_summary
from cartwise.simulate import ShopConfig
from cartwise.store import open_store


def test_bgnbd_recovers_the_simulated_population(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    config = ShopConfig(
        seed=5, users=6000, items=150, days=365,
        yearly_amplitude=0.0, weekly_profile=(1, 1, 1, 1, 1, 1, 1), stock_cover_days=3650,
    )  # fmt: skip
    with open_store(db, settings=get_settings(db=db, memory_limit="1GB")) as store:
        build_demo(store, config)
        orders = store.arrow("SELECT user_id AS customer_id, ts AS date, amount FROM orders").to_pandas()
        end = store.con.execute("SELECT max(ts) FROM events").fetchall()[0][0]
        truth = {k: v for k, v, _ in store.con.execute("SELECT * FROM truth_params").fetchall()}
    customers = rfm_summary(orders, calibration_end=end.date(), time_unit="day").customers
    model = BGNBD().fit(customers["frequency"], customers["recency"], customers["T"])
    for name in ("r", "alpha", "a", "b"):
        error = abs(model.params_[name] - truth[name])
        assert error < 3 * model.standard_errors_[name], (name, model.params_[name], truth[name])
        assert error < 0.15 * truth[name], (name, model.params_[name], truth[name])
