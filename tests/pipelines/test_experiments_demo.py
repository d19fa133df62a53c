"""The demo registers its past e-mail campaign as a finished experiment with results."""

from __future__ import annotations

from pathlib import Path

import pytest

from cartwise.pipelines import experiments as px
from cartwise.pipelines.demo import build_demo
from cartwise.simulate import ShopConfig
from cartwise.store import open_store


def test_demo_past_campaign_is_a_finished_experiment_with_results(tmp_path: Path) -> None:
    config = ShopConfig(users=6000, items=200, days=200, seed=7, campaign_days_before_end=30)
    with open_store(tmp_path / "demo.duckdb") as store:
        build_demo(store, config)
        truth = store.con.execute(
            "SELECT count(*) FILTER (WHERE treated), count(*) FILTER (WHERE NOT treated), max(window_days) "
            "FROM truth_campaign"
        ).fetchall()[0]
        info = px.experiment_info(store, px.DEMO_EXPERIMENT)
        assert info["status"] == "stopped"
        assert [v["name"] for v in info["variants"]] == ["holdout", "email"]
        assert info["exposed"] == {"holdout": truth[1], "email": truth[0]}
        analysis = px.analyze_experiment(store, px.DEMO_EXPERIMENT, days=float(truth[2]))
    assert analysis.control == "holdout"
    assert analysis.srm_p > 0.001  # the simulator's split was random at the configured share
    conversion = next(r for r in analysis.results if r.metric == "conversion")
    assert conversion.users == truth[0]
    # The simulated message adds purchases for persuadable customers: a positive lift.
    assert conversion.lift is not None and conversion.lift > 0
    assert conversion.chance_to_win == pytest.approx(1.0, abs=0.2)
