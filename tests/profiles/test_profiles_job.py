"""Profiles on a simulated shop: fields against the events, predictions against the ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cartwise.cli import cli
from cartwise.core.settings import get_settings
from cartwise.pipelines.demo import build_demo
from cartwise.pipelines.profiles import list_segments, refresh_profiles, save_segment
from cartwise.predict import BGNBD, rfm_summary
from cartwise.simulate import ShopConfig
from cartwise.store import Store, open_store


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("profiles") / "shop.duckdb"
    settings = get_settings(db=db, memory_limit="1GB")
    with open_store(db, settings=settings) as store:
        # One-time buyers may drop out (the MBG/NBD story), as on CDNOW: P(alive) comes from
        # MBG/NBD or Pareto/NBD, which allow it. (In the BG/NBD story every one-time buyer is
        # alive, which only BG/NBD's P(alive) reproduces.)
        build_demo(store, ShopConfig(seed=3, users=2000, items=200, days=240, dropout_at_first_purchase=True))
        refresh_profiles(store)
    return db


@pytest.fixture
def store(shop: Path) -> Store:
    with open_store(shop, settings=get_settings(db=shop, memory_limit="1GB")) as opened:
        yield opened


def test_profile_fields_agree_with_the_orders(store: Store) -> None:
    mismatches = store.con.execute(
        """SELECT count(*) FROM profiles p JOIN (SELECT user_id, count(*) n, sum(amount) s FROM orders GROUP BY ALL) o USING (user_id)
           WHERE p.orders <> o.n OR abs(p.revenue - o.s) > 1e-6"""
    ).fetchall()[0][0]
    assert mismatches == 0
    buyers = store.con.execute("SELECT count(DISTINCT user_id) FROM orders").fetchall()[0][0]
    scored = store.con.execute("SELECT count(*) FROM profiles WHERE rfm_segment IS NOT NULL").fetchall()[0][0]
    assert scored == buyers


def test_p_alive_tracks_the_true_alive_state(store: Store) -> None:
    alive_mean, p_mean, corr = store.con.execute(
        """SELECT avg(t.alive_at_end::INT), avg(p.p_alive), corr(p.p_alive, t.alive_at_end::INT)
           FROM profiles p JOIN truth_users t USING (user_id) WHERE p.orders > 0"""
    ).fetchall()[0]
    assert abs(p_mean - alive_mean) < 0.1
    # Eight months of a small shop separate the living from the gone only partly: MBG/NBD's
    # P(alive) reaches a correlation of 0.34 here, BG/NBD's (one-time buyers all at 1) 0.16.
    orders = store.arrow("SELECT user_id AS customer_id, ts AS date, amount FROM orders").to_pandas()
    as_of = store.con.execute("SELECT max(as_of) FROM profiles").fetchall()[0][0]
    c = rfm_summary(orders, calibration_end=as_of.date(), time_unit="week").customers
    bgnbd = BGNBD().fit(c["frequency"], c["recency"], c["T"]).p_alive(c["frequency"], c["recency"], c["T"])
    truth = store.arrow("SELECT user_id, alive_at_end FROM truth_users").to_pandas().set_index("user_id")
    bgnbd_corr = np.corrcoef(bgnbd, truth.loc[c["customer_id"], "alive_at_end"].astype(float))[0, 1]
    assert corr > 0.3 and corr > bgnbd_corr + 0.1


def test_higher_predicted_value_means_more_true_purchases_to_come(store: Store) -> None:
    # Customers in the top CLV quintile have a higher true purchase rate than those in the bottom.
    top, bottom = store.con.execute(
        """WITH q AS (SELECT p.clv_12m, t.lambda_per_day * t.alive_at_end::INT AS future_rate,
                             ntile(5) OVER (ORDER BY p.clv_12m) AS quintile
                      FROM profiles p JOIN truth_users t USING (user_id) WHERE p.orders > 0)
           SELECT avg(future_rate) FILTER (WHERE quintile = 5), avg(future_rate) FILTER (WHERE quintile = 1) FROM q"""
    ).fetchall()[0]
    assert top > 3 * bottom


def test_clusters_have_sizes_and_descriptions(store: Store) -> None:
    rows = store.con.execute("SELECT size, description FROM clusters").fetchall()
    assert len(rows) >= 2 and all(size > 0 and description for size, description in rows)
    assert (
        sum(size for size, _ in rows)
        == store.con.execute("SELECT count(*) FROM profiles WHERE cluster IS NOT NULL").fetchall()[0][0]
    )


def test_saved_segments_are_recomputed_with_history(store: Store) -> None:
    saved = save_segment(store, "valuable but slipping", "p_alive < 0.5 and clv_12m > 20")
    direct = store.con.execute(
        "SELECT count(*) FROM profiles WHERE p_alive < 0.5 AND clv_12m > 20"
    ).fetchall()[0][0]
    assert saved["size"] == direct > 0
    refresh_profiles(store, clusters=False)
    segment = next(s for s in list_segments(store) if s["name"] == "valuable but slipping")
    assert segment["size"] == direct and len(segment["history"]) == 2


def test_cli_profiles_and_segments(shop: Path) -> None:
    runner = CliRunner()
    counted = runner.invoke(cli, ["segments", "count", "--rule", "orders >= 2", "--db", str(shop), "--json"])
    assert counted.exit_code == 0, counted.output
    assert json.loads(counted.output)["size"] > 0
    bad = runner.invoke(cli, ["segments", "count", "--rule", "ordrs >= 2", "--db", str(shop)])
    assert bad.exit_code != 0


def test_profile_refresh_counts_saved_audiences_at_as_of(store: Store) -> None:
    from cartwise.pipelines.audiences import audience_members, list_audiences, save_audience

    save_audience(store, "recent-keen", "did(purchase, within=30d) and p_alive > 0.5")
    report = refresh_profiles(store)
    as_of = store.con.execute("SELECT max(as_of) FROM profiles").fetchall()[0][0]
    latest = list_audiences(store)[0]["history"][-1]
    assert (latest["reason"], latest["now"]) == ("refresh", as_of)
    expected = store.con.execute(
        """SELECT count(*) FROM profiles WHERE p_alive > 0.5 AND user_id IN (
               SELECT user_id FROM events WHERE type = 'purchase' AND ts > ? - INTERVAL 30 DAY AND ts <= ?)""",
        [as_of, as_of],
    ).fetchall()[0][0]
    assert report["audiences"] == {"recent-keen": expected} and latest["size"] == expected > 0
    assert len(audience_members(store, "recent-keen", as_of)) == expected
