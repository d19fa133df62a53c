"""The purchase process is a BG/NBD process with the parameters in `truth_params`.

Closed forms (Fader, Hardie and Lee 2005, "Counting your customers the easy way"), time t in days:
    E[X(t)]   = (a+b-1)/(a-1) * (1 - (alpha/(alpha+t))^r * 2F1(r, b; a+b-1; t/(alpha+t)))
    P(X(t)=0) = (alpha/(alpha+t))^r
    E[X(t) | lambda, p] = (1 - exp(-lambda p t)) / p
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import hyp2f1


def _params(truth: dict[str, pd.DataFrame]) -> tuple[float, float, float, float]:
    values = truth["truth_params"].set_index("name")["value"]
    return values["r"], values["alpha"], values["a"], values["b"]


def _repeats(events: pd.DataFrame, truth: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Observed repeat purchases per customer (orders - 1) beside the customer's truth."""
    orders = events[events["type"] == "purchase"].groupby("user_id")["order_id"].nunique()
    users = truth["truth_users"].set_index("user_id")
    users["x"] = (orders.reindex(users.index).fillna(0) - 1).clip(lower=0)
    return users


def expected_repeats(t: np.ndarray, r: float, alpha: float, a: float, b: float) -> np.ndarray:
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))


def test_mean_repeat_purchases_match_the_closed_form(
    events: pd.DataFrame, truth: dict[str, pd.DataFrame]
) -> None:
    r, alpha, a, b = _params(truth)
    users = _repeats(events, truth)
    expected = expected_repeats(users["exposure_days"].to_numpy(), r, alpha, a, b).mean()
    assert abs(users["x"].mean() / expected - 1) < 0.08


def test_share_without_repeat_purchase_matches(events: pd.DataFrame, truth: dict[str, pd.DataFrame]) -> None:
    r, alpha, _, _ = _params(truth)
    users = _repeats(events, truth)
    expected = ((alpha / (alpha + users["exposure_days"])) ** r).mean()
    assert abs((users["x"] == 0).mean() - expected) < 0.03


def test_individual_counts_match_each_customers_true_rate_and_dropout(
    events: pd.DataFrame, truth: dict[str, pd.DataFrame]
) -> None:
    users = _repeats(events, truth)
    lam, p, t = users["lambda_per_day"], users["p_dropout"], users["exposure_days"]
    expected = (1 - np.exp(-lam * p * t)) / p
    assert abs(users["x"].mean() / expected.mean() - 1) < 0.06
    # Customers with a higher true rate buy more: the ordering a CLV model must recover.
    fast = users["lambda_per_day"] > users["lambda_per_day"].median()
    assert users.loc[fast, "x"].mean() > 3 * users.loc[~fast, "x"].mean()


def test_latent_parameters_follow_the_population(truth: dict[str, pd.DataFrame]) -> None:
    r, alpha, a, b = _params(truth)
    users = truth["truth_users"]
    n = len(users)
    lam_sd, p_sd = np.sqrt(r) / alpha, np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    assert abs(users["lambda_per_day"].mean() - r / alpha) < 4 * lam_sd / np.sqrt(n)
    assert abs(users["p_dropout"].mean() - a / (a + b)) < 4 * p_sd / np.sqrt(n)


def test_dropped_out_customers_never_come_back(events: pd.DataFrame, truth: dict[str, pd.DataFrame]) -> None:
    users = truth["truth_users"].set_index("user_id")
    assert (users["alive_at_end"] == users["dropout_at"].isna()).all()
    assert (~users["alive_at_end"]).sum() > 0
    last = events.groupby("user_id")["ts"].max()
    dropped = users[~users["alive_at_end"]]
    assert (last.reindex(dropped.index) <= dropped["dropout_at"]).all()
    assert users["lost_purchases"].sum() < 0.02 * users["purchases"].sum()
