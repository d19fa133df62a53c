"""Training from the store: the recommender learns from events and serves unseen, in-catalogue items."""

from __future__ import annotations

import json
from pathlib import Path

from cartwise.core.settings import get_settings
from cartwise.pipelines.demo import build_demo
from cartwise.pipelines.train import store_interactions, train_all
from cartwise.recommend import load_model
from cartwise.simulate import ShopConfig
from cartwise.store import open_store


def test_train_all_builds_profiles_and_a_recommender(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    with open_store(db, settings=get_settings(db=db, memory_limit="1GB")) as store:
        build_demo(store, ShopConfig(seed=5, users=600, items=80, days=90))
        report = train_all(store)
        for part in ("churn", "profiles", "recommender", "forecasts"):
            assert "error" not in report[part], report[part]
        assert store.count("forecasts") > 0 and store.count("reorder_plan") > 0
        scored = store.con.execute("SELECT count(p_churn) FROM profiles WHERE orders > 0").fetchall()[0][0]
        assert scored > 0  # churn scores joined into the profiles
        assert store.count("profiles") > 0
        bad = store.con.execute(
            "SELECT count(*) FROM profiles WHERE orders > 0 AND (clv_12m IS NULL OR isnan(clv_12m) OR isnan(p_alive))"
        ).fetchall()[0][0]
        assert bad == 0
        interactions = store_interactions(store)
        seen = store.con.execute(
            "SELECT user_id, list(DISTINCT item_id) FROM events WHERE item_id IS NOT NULL AND type IN ('view', 'add_to_cart', 'begin_checkout', 'purchase') GROUP BY ALL LIMIT 20"
        ).fetchall()
        catalogue = {r[0] for r in store.con.execute("SELECT item_id FROM items").fetchall()}
    assert len(interactions.user_ids) > 0
    model = load_model(Path(report["recommender"]["path"]))
    users = [user for user, _ in seen]
    items, _ = model.recommend(users, n=5, exclude_seen=True)
    for (user, already), row in zip(seen, items, strict=True):
        chosen = [i for i in row if i is not None]
        assert chosen, user
        assert not set(chosen) & set(already) and set(chosen) <= catalogue


def test_train_command_exits_non_zero_and_names_the_parts_that_failed(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cartwise.cli import cli

    db = tmp_path / "tiny.duckdb"
    with open_store(db, settings=get_settings(db=db, memory_limit="1GB")) as store:
        build_demo(store, ShopConfig(seed=1, users=30, items=20, days=10))  # too short for forecasts
    result = CliRunner().invoke(cli, ["train", "--db", str(db), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert "error" in report["forecasts"] and "error" not in report["recommender"]
    assert "parts failed (" in result.stderr and "forecasts" in result.stderr
    assert "trained: " in result.stderr and "recommender" in result.stderr.split("trained: ")[1]


def test_train_all_fits_uplift_on_the_demo_campaign_into_the_profiles(tmp_path: Path) -> None:
    from cartwise.pipelines.demo import demo_config

    db = tmp_path / "shop.duckdb"
    with open_store(db, settings=get_settings(db=db, memory_limit="1GB")) as store:
        build_demo(store, demo_config(seed=5, users=1500, items=60, days=90))
        report = train_all(store)
        assert report["uplift"]["campaign"] == "demo-past-campaign", report["uplift"]
        scored, customers = store.con.execute(
            "SELECT count(uplift), count(*) FROM profiles WHERE orders > 0"
        ).fetchall()[0]
        assert scored == customers > 0  # every buyer's profile has an uplift after training
        # A shop without a randomised campaign is skipped, not failed.
    other = tmp_path / "plain.duckdb"
    with open_store(other, settings=get_settings(db=other, memory_limit="1GB")) as store:
        build_demo(store, ShopConfig(seed=5, users=300, items=40, days=60))
        from cartwise.pipelines.uplift import train_uplift

        assert "no campaign with a holdout" in train_uplift(store)["skipped"]
