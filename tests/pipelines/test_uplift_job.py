"""Uplift on a simulated shop with a past randomised campaign: features without leakage, targeting
by predicted uplift against purchase propensity and random (the simulator's known effect), scores
into the profiles and segment rules, the CLI contract and clear errors."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from cartwise.cli import cli
from cartwise.core.errors import NotFoundError
from cartwise.core.settings import get_settings
from cartwise.pipelines.demo import build_demo, demo_config
from cartwise.pipelines.profiles import refresh_profiles, segment_count
from cartwise.pipelines.uplift import (
    PAST_CAMPAIGN,
    UPLIFT_FEATURES,
    campaign_assignments,
    evaluate_uplift,
    fit_uplift,
    uplift_features,
)
from cartwise.store import Store, open_store


def _open(db: Path, **kwargs: Any) -> Store:
    return open_store(db, settings=get_settings(db=db, memory_limit="1GB", threads=2), **kwargs)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The demo's campaign: 35 days before the end, 10-day window, half held out.
    db = tmp_path_factory.mktemp("uplift") / "shop.duckdb"
    with _open(db) as store:
        build_demo(store, demo_config(seed=5, users=6000, items=300, days=200))
    return db


@pytest.fixture
def store(shop: Path, tmp_path: Path) -> Iterator[Store]:
    copy = tmp_path / "shop.duckdb"
    shutil.copy(shop, copy)
    with _open(copy) as opened:
        yield opened


@pytest.fixture(scope="module")
def evaluation(shop: Path) -> dict[str, Any]:
    with _open(shop, read_only=True) as store:
        return evaluate_uplift(store, PAST_CAMPAIGN, k=0.3)


def test_assignments_come_from_the_campaign(store: Store) -> None:
    found = campaign_assignments(store, PAST_CAMPAIGN)
    truth = store.arrow("SELECT user_id, treated FROM truth_campaign ORDER BY user_id").to_pandas()
    assert found.assignments["user_id"].tolist() == truth["user_id"].tolist()
    assert found.assignments["treated"].mean() == pytest.approx(0.5, abs=0.03)
    assert found.window_days == 10
    assert (found.sent_at.hour, found.sent_at.minute) == (10, 0)


def test_features_ignore_everything_from_the_send_day_on(store: Store) -> None:
    found = campaign_assignments(store, PAST_CAMPAIGN)
    users = pd.Index(found.assignments["user_id"])
    cutoff = found.sent_at.date() - pd.Timedelta(days=1)
    before = uplift_features(store, cutoff, users)
    assert list(before.columns) == list(UPLIFT_FEATURES)
    # The audience had bought before the send (a few only on the send day's morning, not yet seen).
    assert (before["orders"] >= 1).mean() > 0.98
    midnight = pd.Timestamp(found.sent_at.date()).to_pydatetime()
    for table in ("order_lines",):
        store.con.execute(
            f"DELETE FROM {table} WHERE order_id IN (SELECT order_id FROM orders WHERE ts >= ?)", [midnight]
        )
    for table in ("orders", "events"):
        store.con.execute(f"DELETE FROM {table} WHERE ts >= ?", [midnight])
    after = uplift_features(store, cutoff, users)
    pd.testing.assert_frame_equal(before, after)


def test_targeting_by_uplift_captures_more_true_and_realised_incremental_purchases(
    evaluation: dict[str, Any],
) -> None:
    s = evaluation["strategies"]
    assert evaluation["audience"] > 3000 and evaluation["folds"] == 5
    assert {row["targeted"] for row in s.values()} == {round(0.3 * evaluation["audience"] + 0.5)}
    for learner in ("x_learner", "t_learner"):
        # The simulator's known effect (noise-free in the outcome). With half held out, the
        # learners' true increment on this shop is 1.14-1.39x propensity's and 1.33-1.62x
        # random's over seeds 5, 1, 2, 3, 4 (`bench/uplift.py --users 6000 --items 300 --days 200
        # --seeds 5 1 2 3 4`), so 1.1x and 1.3x stand above the seed-to-seed noise.
        assert s[learner]["true_incremental"] > 1.1 * s["propensity"]["true_incremental"]
        assert s[learner]["true_incremental"] > 1.3 * s["random"]["true_incremental"]
        # Realised in the campaign itself (out of fold): 960 targeted, half held out, give a
        # standard error of about 22 incremental buyers, so only the gap to random is checked
        # (24-34 here); the order against propensity flips with the seed (seed 3) at this size.
        assert s[learner]["realised_incremental"] > s["random"]["realised_incremental"]
        assert s[learner]["qini"] > s["random"]["qini"]
    assert evaluation["outcome_rate"]["treated"] > evaluation["outcome_rate"]["held_out"]


def test_cli_fit_writes_every_customer_and_scores_the_profiles(shop: Path, tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    shutil.copy(shop, db)
    with _open(db) as store:
        refresh_profiles(store, clusters=False)
        assert segment_count(store, "uplift > 0") == 0  # no scores yet: the field is empty
    out = tmp_path / "scores" / "uplift.csv"
    result = CliRunner().invoke(
        cli, ["uplift", "fit", "--campaign", PAST_CAMPAIGN, "--db", str(db), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["campaign"] == PAST_CAMPAIGN and report["customers_scored"] == 6000
    scores = pd.read_csv(out)
    assert list(scores.columns) == ["user_id", "uplift"]
    assert scores["user_id"].is_unique and len(scores) == 6000
    assert scores["uplift"].between(-1, 1).all() and scores["uplift"].std() > 0.01
    with _open(db) as reopened:
        users = reopened.con.execute("SELECT count(DISTINCT user_id) FROM users").fetchall()[0][0]
        assert len(scores) == users
        # Every known customer's profile has a score; anonymous visitors (no contact) have none.
        scored, known = reopened.con.execute(
            "SELECT count(uplift), count(*) FILTER (WHERE user_id IN (SELECT user_id FROM users)) FROM profiles"
        ).fetchall()[0]
        assert scored == known == users
        # The profiles carry the scores at once, and rules can use them.
        positive = int((scores["uplift"] > 0.05).sum())
        assert 0 < positive < len(scores)
        assert segment_count(reopened, "uplift > 0.05") == positive
        # A later profile refresh keeps them.
        refresh_profiles(reopened, clusters=False)
        assert segment_count(reopened, "uplift > 0.05") == positive


def test_unknown_campaign_is_a_clear_error(store: Store) -> None:
    with pytest.raises(
        NotFoundError, match=r"No campaign named 'spring-sale'.*`campaign` demo-past-campaign"
    ) as raised:
        fit_uplift(store, "spring-sale")
    # the CLI words the parameter as its option
    assert "use --campaign demo-past-campaign" in raised.value.render(lambda p: "--" + p)


def test_a_store_without_the_campaign_says_how_to_get_it(tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    with _open(db) as empty, pytest.raises(NotFoundError, match="cartwise demo"):
        campaign_assignments(empty, PAST_CAMPAIGN)
    result = CliRunner().invoke(
        cli, ["uplift", "fit", "--campaign", "nope", "--db", str(db), "--out", str(tmp_path / "x.csv")]
    )
    assert result.exit_code != 0
    assert "No campaign named 'nope'" in str(result.exception) + result.output


def test_cli_evaluate_prints_the_strategies(shop: Path) -> None:
    args = ["uplift", "evaluate", "--campaign", PAST_CAMPAIGN, "--db", str(shop), "--folds", "2"]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report["strategies"]) == {"x_learner", "t_learner", "propensity", "random"}
    assert report["folds"] == 2 and report["k"] == 0.3
    text = CliRunner().invoke(cli, args).output
    assert "purchase propensity" in text and "uplift, X-learner" in text and "true incr." in text


def test_the_demo_campaign_is_read_from_the_send_log(store: Store) -> None:
    before = campaign_assignments(store, PAST_CAMPAIGN)
    store.con.execute("DROP TABLE truth_campaign")  # no fallback: only the send log and members
    found = campaign_assignments(store, PAST_CAMPAIGN, window_days=5)
    pd.testing.assert_frame_equal(found.assignments, before.assignments)
    assert found.sent_at == before.sent_at
