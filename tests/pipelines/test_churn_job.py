"""Churn and propensity on a simulated shop: features without leakage, out-of-time quality against
the baselines and the ground truth, scores written back, clear errors, and the CLI."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner

from cartwise.cli.churn import churn, format_evaluation
from cartwise.core.errors import InputError, ModelError
from cartwise.core.settings import get_settings
from cartwise.evaluation.classification import roc_auc
from cartwise.pipelines.churn import (
    FEATURES,
    Target,
    build_features,
    build_labels,
    evaluate_churn,
    last_data_day,
)
from cartwise.pipelines.demo import build_demo
from cartwise.predict import PropensityModel
from cartwise.simulate import ShopConfig
from cartwise.store import Store, open_store

HORIZON = 30
# The shop runs 2025-01-01 .. 2025-08-28: evaluation at the last day minus 30, training 30 days before.
LAST_DAY = date(2025, 8, 28)
TEST_DAY, TRAIN_DAY = date(2025, 7, 29), date(2025, 6, 29)


def _open(db: Path) -> Store:
    return open_store(db, settings=get_settings(db=db, memory_limit="1GB", threads=2))


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("churn") / "shop.duckdb"
    with _open(db) as store:
        build_demo(store, ShopConfig(seed=3, users=2000, items=200, days=240))
    return db


@pytest.fixture
def store(shop: Path) -> Iterator[Store]:
    with _open(shop) as opened:
        yield opened


@pytest.fixture(scope="module")
def churn_report(shop: Path) -> dict[str, Any]:
    with _open(shop) as store:
        return evaluate_churn(store, horizon=HORIZON)


def test_evaluation_is_out_of_time_with_outcomes_from_the_orders(
    churn_report: dict[str, Any], store: Store
) -> None:
    assert last_data_day(store) == LAST_DAY
    assert churn_report["train"]["cutoff"] == TRAIN_DAY.isoformat()
    assert churn_report["test"]["cutoff"] == TEST_DAY.isoformat()
    # Test population and outcome, straight from the orders table.
    buyers, churned = store.con.execute(
        """WITH before AS (SELECT DISTINCT user_id FROM orders WHERE ts < DATE '2025-07-30'),
                after AS (SELECT DISTINCT user_id FROM orders WHERE ts >= DATE '2025-07-30' AND ts < DATE '2025-08-29')
           SELECT count(*), count(*) FILTER (WHERE user_id NOT IN (SELECT user_id FROM after)) FROM before"""
    ).fetchall()[0]
    assert churn_report["test"]["customers"] == buyers
    assert churn_report["test"]["positives"] == churned


def test_model_beats_rfm_and_matches_bgnbd_out_of_time(churn_report: dict[str, Any]) -> None:
    scores = churn_report["scores"]
    model = scores["model"]
    assert model["roc_auc"] > scores["rfm"]["roc_auc"] + 0.05
    assert model["roc_auc"] >= scores["bgnbd_p_alive"]["roc_auc"]
    assert model["roc_auc"] >= scores["bgnbd_horizon"]["roc_auc"]
    # The P(alive) baseline comes from a model that lets one-time buyers drop out.
    assert churn_report["p_alive_model"] in ("mbgnbd", "pareto")
    assert 0.5 < scores["p_alive"]["roc_auc"] <= model["roc_auc"]
    assert model["average_precision"] > scores["rfm"]["average_precision"]
    # Calibrated: small expected calibration error, and better than predicting the base rate.
    assert model["expected_calibration_error"] < 0.1
    assert model["brier"] < model["brier_reference"]
    # The top decile holds more churners than average, the bottom one fewer.
    assert model["lift"][0]["lift"] > 1 > model["lift"][-1]["lift"]
    assert sum(d["customers"] for d in model["lift"]) == churn_report["test"]["customers"]


def test_report_lists_feature_importance_for_every_feature(churn_report: dict[str, Any]) -> None:
    importance = churn_report["feature_importance"]
    assert sorted(f["feature"] for f in importance) == sorted(FEATURES)
    assert sum(f["share"] for f in importance) == pytest.approx(1.0)
    # Recency of the last visit or order leads: the simulator's live customers keep browsing.
    assert {importance[0]["feature"], importance[1]["feature"]} & {"days_since_last_visit", "recency_days"}


def test_purchase_propensity_beats_the_baselines_through_the_cli(shop: Path) -> None:
    result = CliRunner().invoke(
        churn, ["evaluate", "--db", str(shop), "--target", "purchase", "--horizon", "30", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["target"] == "purchase" and report["test"]["cutoff"] == TEST_DAY.isoformat()
    scores = report["scores"]
    assert report["test"]["base_rate"] < 0.5  # buying again within 30 days is the rarer outcome
    assert scores["model"]["roc_auc"] > scores["rfm"]["roc_auc"] + 0.05
    assert scores["model"]["roc_auc"] >= scores["bgnbd_horizon"]["roc_auc"]
    assert scores["model"]["average_precision"] > scores["bgnbd_horizon"]["average_precision"]
    assert scores["model"]["expected_calibration_error"] < 0.1


def test_readable_report_shows_every_scorer_and_the_model_details(churn_report: dict[str, Any]) -> None:
    text = format_evaluation(churn_report)
    for label in ("ROC-AUC", "PR-AUC", "Brier", "ECE", "RFM quintiles", "BG/NBD P(alive)", "base rate"):
        assert label in text
    assert "lift by decile (model)" in text and "calibration (model)" in text
    assert churn_report["feature_importance"][0]["feature"] in text
    assert f"{churn_report['scores']['model']['roc_auc']:.3f}" in text


def test_churn_scores_track_the_true_state_of_customers(store: Store) -> None:
    """Against the simulator's truth: who had truly dropped out by the cutoff, and each
    customer's true chance of no purchase in the window (dead, or alive with rate lambda)."""
    X_train = build_features(store, TRAIN_DAY)
    model = PropensityModel().fit(X_train, build_labels(store, TRAIN_DAY, HORIZON, X_train.index))
    X = build_features(store, TEST_DAY)
    p_churn = model.predict_proba(X)[:, 1]
    truth = (
        store.arrow("SELECT user_id, dropout_at, lambda_per_day FROM truth_users")
        .to_pandas()
        .set_index("user_id")
        .reindex(X.index)
    )
    dead = (truth["dropout_at"] < pd.Timestamp(TEST_DAY + timedelta(days=1))).to_numpy().astype(int)
    true_p_churn = dead + (1 - dead) * np.exp(-truth["lambda_per_day"].to_numpy() * HORIZON)
    assert roc_auc(dead, p_churn) > 0.8
    assert np.corrcoef(p_churn, true_p_churn)[0, 1] > 0.6
    # On average, predictions match the true probabilities (calibration against the truth).
    assert p_churn.mean() == pytest.approx(true_p_churn.mean(), abs=0.05)


def test_features_ignore_everything_after_the_cutoff(shop: Path, tmp_path: Path) -> None:
    targets: tuple[Target, ...] = ("churn", "purchase")
    with _open(shop) as store:
        before = {target: build_features(store, TEST_DAY, target) for target in targets}
        labels_before = build_labels(store, TEST_DAY, HORIZON, before["churn"].index)
    copy = tmp_path / "changed.duckdb"
    shutil.copy(shop, copy)
    boundary = datetime(2025, 7, 30)
    with _open(copy) as store:
        # Rewrite the future: drop every later event and order, then give every customer an
        # order, a visit and an abandoned cart just after the cutoff.
        store.con.execute(
            "DELETE FROM order_lines WHERE order_id IN (SELECT order_id FROM orders WHERE ts >= ?)",
            [boundary],
        )
        store.con.execute("DELETE FROM orders WHERE ts >= ?", [boundary])
        store.con.execute("DELETE FROM events WHERE ts >= ?", [boundary])
        store.con.execute(
            """INSERT INTO orders SELECT 'late-' || user_id, user_id, ?::TIMESTAMP + INTERVAL 1 HOUR, 999.0, 1, 1, 'events'
               FROM users""",
            [boundary],
        )
        store.con.execute(
            """INSERT INTO events (event_id, ts, user_id, session_id, type, item_id)
               SELECT 'late-' || user_id || t, ?::TIMESTAMP + INTERVAL 2 HOUR, user_id, 'late-' || user_id, t, 'SKU-00001'
               FROM users, (VALUES ('view'), ('add_to_cart')) v(t)""",
            [boundary],
        )
        for target, frame in before.items():
            pd.testing.assert_frame_equal(build_features(store, TEST_DAY, target), frame)
        # The change is real: the outcomes after the cutoff did move.
        assert build_labels(store, TEST_DAY, HORIZON, labels_before.index).sum() == 0
    assert labels_before.sum() > 0


def test_features_agree_with_the_raw_tables(store: Store) -> None:
    features = build_features(store, TEST_DAY)
    orders = store.arrow("SELECT user_id, ts, amount FROM orders WHERE ts < DATE '2025-07-30'").to_pandas()
    grouped = orders.groupby("user_id")
    expected_recency = (pd.Timestamp("2025-07-30") - grouped["ts"].max()).dt.total_seconds() / 86_400
    recent = (
        orders[orders["ts"] >= pd.Timestamp("2025-07-30") - pd.Timedelta(days=30)].groupby("user_id").size()
    )
    assert features["orders"].to_dict() == pytest.approx(grouped.size().astype(float).to_dict())
    assert features["revenue"].to_dict() == pytest.approx(grouped["amount"].sum().to_dict())
    assert features["recency_days"].to_dict() == pytest.approx(expected_recency.to_dict())
    assert features["orders_30d"].to_dict() == pytest.approx(
        recent.reindex(features.index, fill_value=0).astype(float).to_dict()
    )
    assert features["acquisition_channel"].notna().all()


def test_score_writes_one_row_per_customer(shop: Path, tmp_path: Path) -> None:
    copy = tmp_path / "scored.duckdb"
    shutil.copy(shop, copy)
    result = CliRunner().invoke(churn, ["score", "--db", str(copy), "--horizon", "30", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    with _open(copy) as store:
        table = store.arrow("SELECT * FROM churn_scores").to_pandas()
        customers = store.con.execute("SELECT count(DISTINCT user_id) FROM orders").fetchall()[0][0]
    assert summary["as_of"] == LAST_DAY.isoformat() and summary["train_cutoff"] == TEST_DAY.isoformat()
    assert list(table.columns) == [
        "user_id",
        "p_churn",
        "p_purchase",
        "horizon_days",
        "as_of",
        "model_version",
        "scored_at",
    ]
    assert len(table) == summary["customers"] >= customers and table["user_id"].is_unique
    assert table["p_purchase"].between(0, 1).all()
    buyers = table["p_churn"].notna()
    assert buyers.sum() == customers and table.loc[buyers, "p_churn"].between(0, 1).all()
    # Two models of complementary outcomes on (nearly) the same customers agree on average.
    assert (table.loc[buyers, "p_churn"] + table.loc[buyers, "p_purchase"]).mean() == pytest.approx(
        1.0, abs=0.05
    )
    assert (table["horizon_days"] == HORIZON).all()
    assert (table["as_of"] == LAST_DAY).all()


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"horizon": 0}, ["`horizon`", "received 0", "> 0"]),
        ({"horizon": -5}, ["`horizon`", "-5"]),
        ({"target": "refund"}, ["`target`", "'refund'"]),
        ({"cutoff": "2025-08-15"}, ["`cutoff`: 2025-08-15", "last data day 2025-08-28", "2025-07-29"]),
        ({"cutoff": "2025-01-20"}, ["No customer has history", "2024-12-21", "first order is on 2025-01-01"]),
        ({"cutoff": "last tuesday"}, ["`cutoff`", "'last tuesday'", "YYYY-MM-DD"]),
    ],
)
def test_bad_input_is_a_clear_input_error(store: Store, kwargs: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(InputError) as excinfo:
        evaluate_churn(store, **{"horizon": HORIZON, **kwargs})
    for word in words:
        assert word in str(excinfo.value)


def test_a_shop_where_nobody_churns_is_a_clear_model_error(store: Store, tmp_path: Path) -> None:
    db = tmp_path / "loyal.duckdb"
    with _open(db) as loyal:
        # 60 customers who each order every day for 120 days: nobody ever churns.
        days = pd.date_range("2025-01-01 12:00", periods=120, freq="D")
        users = [f"c{i:02d}" for i in range(60)]
        orders = pd.DataFrame(
            [(f"{u}-{d:%m%d}", u, d, 10.0, 1, 1, "transactions") for u in users for d in days],
            columns=["order_id", "user_id", "ts", "amount", "lines", "units", "source"],
        )
        loyal.append("orders", pa.Table.from_pandas(orders, preserve_index=False))
        with pytest.raises(ModelError) as excinfo:
            evaluate_churn(loyal, horizon=HORIZON)
    message = str(excinfo.value)
    assert "60 customers 0 churned and 60 bought again" in message and "`horizon`" in message


def test_cli_errors_surface_as_cartwise_errors(shop: Path) -> None:
    result = CliRunner().invoke(churn, ["evaluate", "--db", str(shop), "--horizon", "0"])
    assert isinstance(result.exception, InputError) and "`horizon`" in str(result.exception)
    result = CliRunner().invoke(churn, ["evaluate", "--db", str(shop), "--cutoff", "2025-13-01"])
    assert isinstance(result.exception, InputError) and "2025-13-01" in str(result.exception)
