"""The past randomised campaign: its recorded effect per customer is what the events show."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cartwise.core.errors import ConfigError
from cartwise.pipelines.demo import demo_config
from cartwise.simulate import ShopConfig, make_config, simulate_shop


@pytest.fixture(scope="module")
def shop_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    shop = simulate_shop(ShopConfig(users=12_000, items=400, days=200, seed=7, campaign_days_before_end=30))
    return (
        shop.truth["truth_campaign"].to_pandas(),
        shop.events.to_pandas(),
        shop.users.to_pandas(),
    )


def _bought_in_window(truth: pd.DataFrame, events: pd.DataFrame) -> pd.Series:
    sent = truth["sent_at"].dropna().iloc[0]
    end = sent + pd.Timedelta(days=int(truth["window_days"].iloc[0]))
    purchases = events[(events["type"] == "purchase") & (events["ts"] >= sent) & (events["ts"] < end)]
    return truth["user_id"].isin(purchases["user_id"].unique())


def test_audience_is_consenting_earlier_buyers_with_a_random_holdout(shop_frames) -> None:
    truth, events, users = shop_frames
    consent = users.set_index("user_id")["email_consent"]
    assert consent.loc[truth["user_id"]].all()
    # Customers whose first occasion came before the send (a few lost it to a stock-out, but had
    # signed up by then: their first event is before the send).
    first_event = events.groupby("user_id")["ts"].min()
    sent = truth["sent_at"].dropna().iloc[0]
    assert (first_event.loc[truth["user_id"]] < sent).all()
    holdout = 1 - truth["treated"].mean()
    assert abs(holdout - 0.5) < 3 * np.sqrt(0.5 * 0.5 / len(truth))  # the default: half held out
    assert truth.loc[~truth["treated"], "sent_at"].isna().all()


def test_observed_lift_matches_the_true_mean_uplift(shop_frames) -> None:
    truth, events, _ = shop_frames
    bought = _bought_in_window(truth, events)
    rate = bought.groupby(truth["treated"]).mean()
    size = truth["treated"].value_counts()
    se = np.sqrt(sum(rate[k] * (1 - rate[k]) / size[k] for k in (True, False)))
    observed = rate[True] - rate[False]
    assert observed > 3 * se  # the campaign works
    assert abs(observed - truth["uplift"].mean()) < 3 * se


def test_effects_are_heterogeneous_as_recorded(shop_frames) -> None:
    truth, events, _ = shop_frames
    truth = truth.assign(bought=_bought_in_window(truth, events))
    rate = truth.groupby(["response", "treated"])["bought"].mean()
    assert rate["persuadable", True] > rate["persuadable", False] + 0.1
    assert rate["put_off", True] < rate["put_off", False]
    assert truth.loc[truth["response"] == "persuadable", "uplift"].ge(0).all()
    assert truth.loc[truth["response"] == "put_off", "uplift"].le(0).all()
    assert truth.loc[~truth["treated"], "incremental_purchases"].eq(0).all()


def test_no_campaign_unless_configured_and_the_demo_has_one() -> None:
    assert "truth_campaign" not in simulate_shop(ShopConfig(users=50, items=30, days=30)).truth
    assert demo_config(users=100).campaign_days_before_end == 35
    assert demo_config(days=20).campaign_days_before_end is None


def test_a_campaign_outside_the_period_names_the_field() -> None:
    with pytest.raises(ConfigError, match="campaign_days_before_end"):
        make_config(days=30, campaign_days_before_end=40)
