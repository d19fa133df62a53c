"""The shared forecaster contract: subclass `ForecasterContract` and give `make()` to test a model."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from cartwise.core.errors import InputError, ModelError
from cartwise.forecast import COLUMNS, Forecaster


def history(n: int = 72, seed: int = 0) -> np.ndarray:
    """Positive weekly-looking demand: level 40, a 12-period cycle and unit-variance noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 40 + 6 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, n)


class ForecasterContract:
    """What every forecaster promises. Subclasses set `make` (and `h` if the model fixes a horizon)."""

    h: ClassVar[int] = 6

    def make(self) -> Forecaster:
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls) -> Forecaster:
        return cls().make().fit(history())

    def test_fit_returns_self_and_keeps_hyperparameters(self) -> None:
        model = self.make()
        params = model.get_params()
        assert model.fit(history()) is model
        assert model.get_params() == params
        assert repr(model).startswith(type(model).__name__)

    def test_predict_shape_columns_and_interval_order(self, fitted: Forecaster) -> None:
        frame = fitted.predict(self.h)
        assert list(frame.columns) == list(COLUMNS)
        assert len(frame) == self.h
        assert np.isfinite(frame.to_numpy()).all()
        assert (frame["lo-95"] <= frame["lo-80"] + 1e-9).all()
        assert (frame["lo-80"] <= frame["mean"] + 1e-9).all()
        assert (frame["mean"] <= frame["hi-80"] + 1e-9).all()
        assert (frame["hi-80"] <= frame["hi-95"] + 1e-9).all()
        # The series stays around 40: a sane model does not forecast far outside its range.
        assert frame["mean"].between(25, 55).all()

    def test_predict_is_repeatable_and_clone_is_unfitted(self, fitted: Forecaster) -> None:
        a, b = fitted.predict(self.h), fitted.predict(self.h)
        assert a.equals(b)
        with pytest.raises(ModelError, match="not fitted"):
            fitted.clone().predict(self.h)

    def test_missing_periods_are_accepted(self) -> None:
        y = history()
        y[[20, 21, 40]] = np.nan
        frame = self.make().fit(y).predict(self.h)
        assert np.isfinite(frame["mean"]).all()

    def test_bad_input_raises_clear_errors(self, fitted: Forecaster) -> None:
        with pytest.raises(InputError, match="one-dimensional"):
            self.make().fit(np.ones((10, 2)))
        with pytest.raises(InputError, match="Horizon"):
            fitted.predict(0)
        model = self.make()
        if model.min_obs(self.h) > 1:
            with pytest.raises(ModelError, match=f"at least {model.min_obs()}"):
                model.fit(history()[: model.min_obs() - 1])
