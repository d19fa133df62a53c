"""The demo's past campaign is recorded as a finished broadcast whose measured increment agrees
with the simulator's known effect."""

from __future__ import annotations

from pathlib import Path

from cartwise.core.settings import get_settings
from cartwise.pipelines.campaign_results import campaign_results
from cartwise.pipelines.demo import build_demo, demo_config
from cartwise.store import open_store


def test_demo_past_campaign_is_measured_against_its_truth(tmp_path: Path) -> None:
    settings = get_settings(db=tmp_path / "demo.duckdb", memory_limit="1GB", threads=2)
    with open_store(settings.db, settings=settings) as store:
        build_demo(store, demo_config(users=8_000, items=200, days=120, seed=11))
        truth = store.con.execute(
            "SELECT count(*), count(*) FILTER (WHERE treated), avg(uplift) FROM truth_campaign"
        ).fetchall()[0]
        results = campaign_results(store, settings)
    (past,) = results
    assert past["campaign"] == "demo-past-campaign"
    assert (
        past["audience"] == truth[0] and past["sent"] == truth[1] and past["holdout"] == truth[0] - truth[1]
    )
    # Counted over the campaign's own window (10 days), the one its true uplift is for, not
    # over the 5-day attribution setting.
    assert past["attribution_days"] == 10 and settings.attribution_days == 5
    measured = past["incremental_conversions"]
    expected = past["truth"]["incremental_conversions"]
    assert abs(expected - truth[2] * truth[1]) < 0.01
    assert measured["low"] <= expected <= measured["high"]
    assert measured["low"] > 0  # the simulated campaign works, and the holdout shows it
