"""The shared contracts of the lifetime-value models.

Subclass `PurchaseModelContract` (BG/NBD, MBG/NBD, Pareto/NBD, ...) or `SpendModelContract`
(Gamma-Gamma, ...) and give `make()` to test a model; every check runs on the CDNOW sample.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from cartwise.core.errors import InputError, ModelError
from cartwise.predict import PurchaseModel, SpendModel

FIXTURES = Path(__file__).parent / "fixtures"


def cdnow() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "cdnow_sample_summary.csv", dtype={"customer_id": str})


def rfm(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(frame[c].to_numpy(np.float64) for c in ("frequency", "recency", "T"))  # type: ignore[return-value]


def assert_stated_gradient_is_right(
    model: PurchaseModel | SpendModel, columns: tuple[np.ndarray, ...]
) -> None:
    """The shared fit trusts a model's analytic gradient (`has_gradient`): it must be the
    derivative of the log-likelihood the model states. Checked away from the optimum (where the
    total gradient is ~0 and would hide a wrong sign) by central differences."""
    if not type(model).has_gradient:
        return
    theta = np.array(list(model.params_.values())) * np.array([1.2, 0.8, 1.1, 0.9])[: len(model.params_)]
    ll, grads = model._loglik_and_gradient(theta, *columns)
    np.testing.assert_allclose(ll, model._loglik(theta, *columns), rtol=1e-12)
    assert grads.shape == (theta.size, columns[0].size)
    for i in range(theta.size):
        h = 1e-6 * theta[i]
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        numeric = (model._loglik(up, *columns).sum() - model._loglik(down, *columns).sum()) / (2 * h)
        assert grads[i].sum() == pytest.approx(numeric, rel=1e-5), type(model).param_names[i]


class PurchaseModelContract:
    """What every purchase-count model promises. Subclasses set `make`."""

    def make(self) -> PurchaseModel:
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls) -> PurchaseModel:
        return cls().make().fit(*rfm(cdnow()))

    def test_fit_returns_self_and_keeps_hyperparameters(self) -> None:
        model = self.make()
        params = model.get_params()
        assert model.fit(*rfm(cdnow())) is model
        assert model.get_params() == params
        assert repr(model).startswith(type(model).__name__)

    def test_learned_attributes(self, fitted: PurchaseModel) -> None:
        names = list(type(fitted).param_names)
        assert list(fitted.params_) == names
        assert list(fitted.standard_errors_) == names
        assert all(np.isfinite(v) and v > 0 for v in fitted.params_.values())
        assert all(np.isfinite(v) and v > 0 for v in fitted.standard_errors_.values())
        assert fitted.n_customers_ == len(cdnow())
        # The reported log-likelihood is the sum of the per-customer terms at the optimum.
        total = float(fitted.log_likelihood(*rfm(cdnow())).sum())
        assert fitted.log_likelihood_ == pytest.approx(total, rel=1e-9)

    def test_a_stated_gradient_is_the_derivative_of_the_stated_likelihood(
        self, fitted: PurchaseModel
    ) -> None:
        assert_stated_gradient_is_right(fitted, rfm(cdnow()))

    def test_fitting_the_same_data_in_another_order_gives_the_same_model(self, fitted: PurchaseModel) -> None:
        shuffled = cdnow().sample(frac=1.0, random_state=3)
        again = self.make().fit(*rfm(shuffled))
        for name, value in fitted.params_.items():
            assert again.params_[name] == pytest.approx(value, rel=1e-4), name

    def test_p_alive_is_a_probability_that_falls_with_time_since_the_last_purchase(
        self, fitted: PurchaseModel
    ) -> None:
        x, t_x, T = rfm(cdnow())
        alive = fitted.p_alive(x, t_x, T)
        assert alive.shape == x.shape
        assert np.all((alive >= 0) & (alive <= 1))
        # The same history seen later: nobody gets more likely to be alive by staying silent.
        later = fitted.p_alive(x, t_x, T + 26)
        assert np.all(later <= alive + 1e-12)
        repeat = x > 0
        assert np.all(later[repeat] < alive[repeat])
        if type(fitted).zero_repeat_alive_is_certain:
            assert np.all(alive[~repeat] == 1.0)
        else:
            assert np.all(later[~repeat] < alive[~repeat])
            assert np.all(alive[~repeat] < 1.0)

    def test_conditional_expectation_grows_with_the_horizon_from_zero(self, fitted: PurchaseModel) -> None:
        x, t_x, T = rfm(cdnow())
        assert np.allclose(fitted.conditional_expected_purchases(0, x, t_x, T), 0.0, atol=1e-12)
        short = fitted.conditional_expected_purchases(13, x, t_x, T)
        long = fitted.conditional_expected_purchases(52, x, t_x, T)
        assert np.all(np.isfinite(long)) and np.all(long > short) and np.all(short > 0)
        # One horizon per customer gives what each horizon gives alone.
        mixed = fitted.conditional_expected_purchases(np.where(x > 0, 13.0, 52.0), x, t_x, T)
        np.testing.assert_allclose(mixed, np.where(x > 0, short, long), rtol=1e-12)
        # Permuting customers permutes the answers.
        order = np.random.default_rng(1).permutation(x.size)
        np.testing.assert_allclose(
            fitted.conditional_expected_purchases(52, x[order], t_x[order], T[order]), long[order], rtol=1e-12
        )

    def test_probability_of_buying_again_lies_below_p_alive_and_grows_with_the_horizon(
        self, fitted: PurchaseModel
    ) -> None:
        x, t_x, T = rfm(cdnow())
        alive = fitted.p_alive(x, t_x, T)
        short = fitted.conditional_probability_of_purchase(13, x, t_x, T)
        long = fitted.conditional_probability_of_purchase(52, x, t_x, T)
        assert np.allclose(fitted.conditional_probability_of_purchase(0, x, t_x, T), 0.0, atol=1e-12)
        assert np.all((short > 0) & (short < long) & (long <= alive + 1e-12))
        # It ranks CDNOW's holdout buyers (39 weeks) well above chance (the three built-in models:
        # ROC-AUC 0.757-0.771).
        buys = fitted.conditional_probability_of_purchase(39, x, t_x, T)
        assert roc_auc_score(cdnow()["frequency_holdout"] > 0, buys) > 0.7

    def test_a_brand_new_customer_expects_what_the_population_expects(self, fitted: PurchaseModel) -> None:
        horizons = np.array([4.0, 39.0, 78.0])
        population = fitted.expected_purchases(horizons)
        assert np.all(np.diff(population) > 0) and population[0] > 0
        new = fitted.conditional_expected_purchases(horizons, [0, 0, 0], [0, 0, 0], [0, 0, 0])
        np.testing.assert_allclose(new, population, rtol=1e-8)

    def test_the_total_forecast_is_close_to_the_holdout(self, fitted: PurchaseModel) -> None:
        # CDNOW's 39-week holdout has 1,882 repeat purchase days; BG/NBD, MBG/NBD and
        # Pareto/NBD forecast 1,653, 1,577 and 1,666: a model off by more than 20% is broken.
        frame = cdnow()
        predicted = float(fitted.conditional_expected_purchases(39, *rfm(frame)).sum())
        assert predicted == pytest.approx(frame["frequency_holdout"].sum(), rel=0.20)

    def test_unfitted_model_says_to_fit_first(self) -> None:
        with pytest.raises(ModelError, match=r"not fitted yet; call \.fit"):
            self.make().p_alive([1], [1.0], [2.0])

    @pytest.mark.parametrize(
        ("frequency", "recency", "T", "message"),
        [
            ([1, 2], [1.0], [2.0, 3.0], "same length"),
            ([1.5], [1.0], [2.0], "whole number"),
            ([1], [3.0], [2.0], "between 0 and `T`"),
            ([0], [1.0], [2.0], "must be 0 for customers with `frequency` 0"),
        ],
    )
    def test_bad_input_names_the_argument(
        self, fitted: PurchaseModel, frequency: Any, recency: Any, T: Any, message: str
    ) -> None:
        with pytest.raises(InputError, match=message):
            self.make().fit(frequency, recency, T)
        with pytest.raises(InputError, match=message):
            fitted.p_alive(frequency, recency, T)


class SpendModelContract:
    """What every spend model promises. Subclasses set `make`."""

    def make(self) -> SpendModel:
        raise NotImplementedError

    @staticmethod
    def repeaters() -> pd.DataFrame:
        frame = cdnow()
        return frame[(frame["frequency"] > 0) & (frame["monetary_value"] > 0)]

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls) -> SpendModel:
        data = cls.repeaters()
        return cls().make().fit(data["monetary_count"], data["monetary_value"])

    def test_fit_returns_self_and_sets_learned_attributes(self) -> None:
        model = self.make()
        params = model.get_params()
        data = self.repeaters()
        assert model.fit(data["monetary_count"], data["monetary_value"]) is model
        assert model.get_params() == params
        assert list(model.params_) == list(type(model).param_names) == list(model.standard_errors_)
        assert model.n_customers_ == len(data)
        assert np.isfinite(model.log_likelihood_)

    def test_a_stated_gradient_is_the_derivative_of_the_stated_likelihood(self, fitted: SpendModel) -> None:
        data = self.repeaters()
        columns = tuple(data[c].to_numpy(np.float64) for c in ("monetary_count", "monetary_value"))
        assert_stated_gradient_is_right(fitted, columns)

    def test_expected_value_lies_between_the_own_mean_and_the_population_mean(
        self, fitted: SpendModel
    ) -> None:
        data = self.repeaters()
        m = data["monetary_value"].to_numpy()
        value = fitted.expected_average_value(data["monetary_count"], m)
        population = fitted.population_mean()
        assert value.shape == m.shape
        low, high = np.minimum(m, population), np.maximum(m, population)
        assert np.all((value >= low - 1e-9) & (value <= high + 1e-9))
        # More transactions pull the estimate towards the customer's own mean.
        few = fitted.expected_average_value([1], [200.0])[0]
        many = fitted.expected_average_value([20], [200.0])[0]
        assert population < few < many < 200.0

    def test_customers_without_a_usable_mean_get_the_population_mean(self, fitted: SpendModel) -> None:
        values = fitted.expected_average_value([0, 2, 3], [np.nan, 0.0, -4.0])
        np.testing.assert_allclose(values, fitted.population_mean())

    def test_fit_rejects_customers_without_repeat_purchases(self) -> None:
        with pytest.raises(InputError, match="frequency"):
            self.make().fit([0, 2, 3], [10.0, 3.0, 5.0])

    def test_unfitted_model_says_to_fit_first(self) -> None:
        with pytest.raises(ModelError, match=r"not fitted yet; call \.fit"):
            self.make().population_mean()
