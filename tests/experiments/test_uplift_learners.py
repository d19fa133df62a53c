"""T- and X-learner on a randomised experiment with a known effect per row, and their input checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from cartwise.core.errors import InputError, ModelError
from cartwise.experiments import UPLIFT_LEARNERS, TLearner, XLearner


def _experiment(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Effect 0.3 * x1 for channel 'email', 0 otherwise, over a base rate depending on x2; 80% treated."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(
        {
            "x1": rng.random(n),
            "x2": rng.random(n),
            "channel": rng.choice(["email", "search", "social"], n),
        }
    )
    effect = 0.3 * x["x1"].to_numpy() * (x["channel"] == "email").to_numpy()
    treated = rng.random(n) < 0.8
    base = 0.05 + 0.2 * x["x2"].to_numpy()
    y = (rng.random(n) < base + effect * treated).astype(int)
    return x, treated, y, effect


@pytest.mark.parametrize("learner", [TLearner, XLearner])
def test_learners_rank_customers_by_their_true_effect(learner: type[TLearner]) -> None:
    x, treated, y, _ = _experiment(12_000)
    model = learner(random_state=1).fit(x, treated, y)
    test, _, _, test_effect = _experiment(3000, seed=7)
    predicted = model.predict(test)
    assert predicted.shape == (3000,)
    assert spearmanr(predicted, test_effect).statistic > 0.5
    # The mean prediction is close to the average effect (0.3 * 0.5 / 3 = 0.05).
    assert predicted.mean() == pytest.approx(test_effect.mean(), abs=0.02)
    # Targeting the top 30% by prediction captures far more effect than 30% of the total.
    top = np.argsort(-predicted)[:900]
    assert test_effect[top].sum() > 2 * 0.3 * test_effect.sum()


def test_fit_returns_self_keeps_params_and_learns_state() -> None:
    x, treated, y, _ = _experiment(2000)
    model = XLearner(n_estimators=50, num_leaves=3)
    assert model.fit(x, treated, y) is model
    assert model.get_params()["n_estimators"] == 50
    assert set(model.models_) == {"control", "treated", "effect_control", "effect_treated"}
    assert model.treated_share_ == pytest.approx(treated.mean())
    assert model.categories_ == {"channel": ["email", "search", "social"]}
    assert repr(model).startswith("XLearner(outcome='binary', n_estimators=50")
    assert set(UPLIFT_LEARNERS) == {"t", "x"}


def test_unseen_category_and_column_order_at_predict() -> None:
    x, treated, y, _ = _experiment(2000)
    model = TLearner(n_estimators=30).fit(x, treated, y)
    later = x.head(5)[["channel", "x2", "x1"]].assign(channel=["email", "tiktok", None, "search", "social"])
    assert np.isfinite(model.predict(later)).all()


def test_continuous_outcome() -> None:
    rng = np.random.default_rng(3)
    x = pd.DataFrame({"x1": rng.random(4000)})
    treated = rng.random(4000) < 0.5
    revenue = rng.gamma(2.0, 10.0, 4000) + 20.0 * x["x1"].to_numpy() * treated
    predicted = TLearner(outcome="continuous").fit(x, treated, revenue).predict(x)
    assert spearmanr(predicted, x["x1"]).statistic > 0.6


def test_bad_input_is_refused_with_the_field_and_the_fix() -> None:
    x, treated, y, _ = _experiment(500)
    with pytest.raises(ModelError, match="not fitted yet; call fit"):
        TLearner().predict(x)
    with pytest.raises(InputError, match="treatment must hold only 1 \\(sent\\) and 0"):
        TLearner().fit(x, np.where(treated, 1, 2), y)
    with pytest.raises(InputError, match="one row per customer; received 500, 499 and 500"):
        TLearner().fit(x, treated[:-1], y)
    with pytest.raises(InputError, match="y must hold only 1 and 0 for outcome='binary'"):
        TLearner().fit(x, treated, y * 2.5)
    with pytest.raises(InputError, match="`outcome` must be 'binary' or 'continuous'"):
        TLearner(outcome="count").fit(x, treated, y)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="The held-out arm has 10 customers; at least 30"):
        TLearner().fit(x.head(100), np.r_[np.ones(90), np.zeros(10)], y[:100])
    with pytest.raises(ModelError, match="In the held-out arm every one of 250 customers has outcome 0"):
        y0 = y.copy()
        arms = np.r_[np.ones(250), np.zeros(250)]
        y0[250:] = 0
        XLearner().fit(x, arms, y0)
    model = TLearner(n_estimators=10).fit(x, treated, y)
    with pytest.raises(InputError, match=r"lacks 1 feature columns.*x2"):
        model.predict(x.drop(columns="x2"))
