"""The propensity model and its baselines against data with known probabilities."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from cartwise.core.errors import InputError, ModelError
from cartwise.evaluation.classification import brier_score, expected_calibration_error, roc_auc
from cartwise.predict import BGNBD, MIN_CLASS_COUNT, PropensityModel, bgnbd_p_no_purchase, rfm_quintile_score


def _population(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features, outcomes and the true P(y = 1): a logistic model in x1, x2 and the channel; x3 is noise."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.exponential(size=n),
            "x3": rng.normal(size=n),
            "channel": rng.choice(["email", "organic", "paid"], size=n),
        }
    )
    frame.loc[rng.random(n) < 0.1, "x2"] = np.nan  # missing values are allowed
    logit = 1.5 * frame["x1"] - 1.2 * frame["x2"].fillna(1.0) + 1.0 * (frame["channel"] == "email") - 0.3
    truth = expit(logit.to_numpy())
    return frame, (rng.random(n) < truth).astype(int), truth


@pytest.fixture(scope="module")
def fitted() -> PropensityModel:
    X, y, _ = _population(4000, seed=1)
    return PropensityModel().fit(X, y)


def test_probabilities_are_calibrated_and_rank_nearly_as_well_as_the_truth(fitted: PropensityModel) -> None:
    X, y, truth = _population(6000, seed=2)
    p = fitted.predict_proba(X)[:, 1]
    assert expected_calibration_error(y, p) < 0.04
    assert roc_auc(y, p) > roc_auc(y, truth) - 0.02
    assert brier_score(y, p) < brier_score(y, truth) + 0.01
    # Against the known probabilities directly, not only through the sampled outcomes.
    assert np.mean(np.abs(p - truth)) < 0.06


def test_importance_puts_the_informative_features_above_the_noise(fitted: PropensityModel) -> None:
    gains = fitted.feature_importances_
    # Gain also credits splits on noise, and favours many-valued columns, so only the order of
    # the two strongest features is a stable promise.
    assert list(gains.index[:2]) == ["x1", "x2"]
    assert gains["x1"] > 2 * gains["x3"]
    assert list(fitted.feature_names_in_) == ["x1", "x2", "x3", "channel"]
    assert fitted.categories_ == {"channel": ["email", "organic", "paid"]}


def test_predict_proba_shape_and_unseen_categories(fitted: PropensityModel) -> None:
    X, _, _ = _population(50, seed=3)
    X.loc[:9, "channel"] = "tiktok"  # a level never seen in training counts as missing
    proba = fitted.predict_proba(X[["channel", "x3", "x2", "x1"]])  # column order does not matter
    assert proba.shape == (50, 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert ((proba >= 0) & (proba <= 1)).all()
    assert set(fitted.predict(X)) <= {0, 1}


def test_estimator_contract() -> None:
    model = PropensityModel(n_estimators=50, learning_rate=0.1, calibration="sigmoid", cv=2)
    assert (model.n_estimators, model.learning_rate, model.calibration, model.cv) == (50, 0.1, "sigmoid", 2)
    assert not [name for name in vars(model) if name.endswith("_")]
    with pytest.raises(ModelError, match="not fitted"):
        model.predict_proba(np.zeros((2, 4)))
    X, y, _ = _population(600, seed=4)
    assert model.fit(X, y) is model
    assert model.n_samples_ == 600 and model.base_rate_ == pytest.approx(y.mean())
    # Arrays work too; columns are then named x0, x1, ...
    numeric = PropensityModel(n_estimators=20, cv=2).fit(X[["x1", "x3"]].to_numpy(), y)
    assert numeric.feature_names_in_ == ["x0", "x1"]


def test_too_few_of_one_outcome_is_a_clear_model_error() -> None:
    X, _, _ = _population(500, seed=5)
    y = np.zeros(500, dtype=int)
    y[: MIN_CLASS_COUNT - 1] = 1
    with pytest.raises(ModelError) as excinfo:
        PropensityModel().fit(X, y)
    message = str(excinfo.value)
    assert (
        f"{MIN_CLASS_COUNT - 1} customers with outcome 1" in message
        and f"at least {MIN_CLASS_COUNT}" in message
    )


@pytest.mark.parametrize(
    ("kwargs", "X", "y", "words"),
    [
        ({}, np.zeros((10, 2)), np.array([0, 1, 2] + [0] * 7), ["`y`", "only 0 and 1", "2"]),
        ({}, np.zeros((10, 2)), np.zeros(9), ["`y` has 9 values", "10 rows"]),
        ({}, np.zeros(10), np.zeros(10), ["`X`", "2-D", "1 dimensions"]),
        ({"calibration": "beta"}, np.zeros((10, 2)), np.zeros(10), ["`calibration`", "'beta'"]),
        ({"cv": 1}, np.zeros((10, 2)), np.zeros(10), ["`cv`", "1"]),
    ],
)
def test_bad_input_names_the_argument(kwargs: dict[str, Any], X: Any, y: Any, words: list[str]) -> None:
    with pytest.raises(InputError) as excinfo:
        PropensityModel(**kwargs).fit(X, y)
    for word in words:
        assert word in str(excinfo.value)


def test_predict_needs_the_fitted_columns(fitted: PropensityModel) -> None:
    X, _, _ = _population(10, seed=6)
    with pytest.raises(InputError, match="lacks 1 feature columns"):
        fitted.predict_proba(X.drop(columns="x2"))


def test_rfm_quintile_score_by_hand() -> None:
    recency = [1.0, 2.0, 3.0, 4.0, 5.0, np.nan]
    frequency = [5, 4, 3, 2, 1, 0]
    # Five buyers: one per quintile in both R (most recent = 5) and F; the non-buyer scores 0.
    assert rfm_quintile_score(recency, frequency).tolist() == [10, 8, 6, 4, 2, 0]
    # Ties share their average rank: four equal frequencies of 1 sit at rank 2.5 of 4 -> F = ceil(5 * 2.5 / 4) = 4.
    assert rfm_quintile_score([1.0, 1.0, 1.0, 1.0], [1, 1, 1, 1]).tolist() == [8, 8, 8, 8]


def test_bgnbd_p_no_purchase_matches_a_simulated_population() -> None:
    """Customers drawn from BG/NBD with known parameters: the predicted P(no purchase in the
    holdout) must match the observed share without one, overall and by frequency."""
    r, alpha, a, b = 0.8, 20.0, 1.2, 3.0
    calibration, holdout, n = 60.0, 30.0, 20_000
    rng = np.random.default_rng(11)
    lam = rng.gamma(r, 1 / alpha, n)
    p_drop = rng.beta(a, b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    bought_later = np.zeros(n, dtype=bool)
    for i in range(n):
        t = 0.0  # first purchase at time 0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > calibration + holdout:
                break
            if t <= calibration:
                x[i], t_x[i] = x[i] + 1, t
            else:
                bought_later[i] = True
                break
            if rng.random() < p_drop[i]:
                break
    model = BGNBD()
    model.params_ = {"r": r, "alpha": alpha, "a": a, "b": b}  # the true parameters
    predicted = bgnbd_p_no_purchase(model, holdout, x, t_x, np.full(n, calibration))
    assert predicted.mean() == pytest.approx(1 - bought_later.mean(), abs=0.01)
    for group in (x == 0, x == 1, x >= 2):
        assert predicted[group].mean() == pytest.approx(1 - bought_later[group].mean(), abs=0.03)
    # No time, no purchase; and a longer horizon can only lower the probability.
    assert np.allclose(bgnbd_p_no_purchase(model, 0.0, x, t_x, np.full(n, calibration)), 1.0)
    assert (bgnbd_p_no_purchase(model, 60.0, x, t_x, np.full(n, calibration)) <= predicted).all()
