"""The automatic choice's intervals on series whose noise is known."""

from __future__ import annotations

import numpy as np
import pytest

from cartwise.forecast import AutoForecaster, conformal_halfwidth
from cartwise.forecast._base import calibration_windows


def test_auto_calibrates_on_as_many_windows_as_every_other_model() -> None:
    # Two backtest windows of 12 give 24 errors, and the 95% half-width would be the largest
    # of them; the choice is calibrated on calibration_windows(12) = 4 windows, 48 errors:
    # the selection's errors on the two backtest windows, the chosen model's own before them.
    rng = np.random.default_rng(1)
    y = 100 + rng.normal(0, 10, 120)
    auto = AutoForecaster(horizon=12).fit(y)
    errors = auto.model_.calibration_errors(12)
    assert calibration_windows(12) == 4
    assert errors.size == 48
    np.testing.assert_array_equal(errors[:24], auto._selection_errors())
    chosen = type(auto.model_)(**auto.model_.get_params())
    own = y[120 - 36 : 120 - 24] - chosen.fit(y[: 120 - 36]).point_forecast(12)
    np.testing.assert_allclose(errors[24:36], own)
    frame = auto.predict(12)
    assert frame["hi-95"].iloc[0] - frame["mean"].iloc[0] == pytest.approx(
        conformal_halfwidth(np.abs(errors), 0.95)
    )


def test_a_short_history_calibrates_on_the_windows_it_has() -> None:
    rng = np.random.default_rng(2)
    y = 50 + rng.normal(0, 5, 40)  # 40 weeks: room for the 2 backtest windows only
    auto = AutoForecaster(horizon=12, models=("moving_median", "moving_average")).fit(y)
    assert auto.model_.calibration_errors(12).size == 24
    assert len(auto.predict(12)) == 12


def test_auto_intervals_cover_gaussian_noise_at_their_levels() -> None:
    # 300 series of a level plus N(0, 10²) noise: every candidate's error is about that noise
    # (plus its own estimation error), so the 80% and 95% intervals must hold about 80% and 95%
    # of the next 12 weeks, and the 80% half-width is near 1.2816 · 10 · √(1 + 1/w) for a
    # window of w ≈ 4-12 weeks, 13.0-14.3.
    rng = np.random.default_rng(3)
    hits80, hits95, widths = [], [], []
    for _ in range(300):
        y = rng.uniform(50, 150) + rng.normal(0, 10, 132)
        frame = AutoForecaster(horizon=12).fit(y[:120]).predict(12)
        actual = y[120:]
        hits80.append((frame["lo-80"] <= actual) & (actual <= frame["hi-80"]))
        hits95.append((frame["lo-95"] <= actual) & (actual <= frame["hi-95"]))
        widths.append(frame["hi-80"].iloc[0] - frame["mean"].iloc[0])
    assert 0.77 <= np.mean(hits80) <= 0.85
    assert 0.93 <= np.mean(hits95) <= 0.97
    assert 12.5 <= np.median(widths) <= 15.5


def test_one_unusual_stretch_sets_less_of_the_interval() -> None:
    # Noise of σ = 5, except σ = 25 in the 12 weeks before the last 12. The next weeks have
    # σ = 5 again: a 12-week median's 80% half-width is 1.2816 · 5 · √(1 + π/24) = 6.8. On the
    # two backtest windows alone, half of the 24 errors came from the unusual stretch and the
    # median half-width was 22.6; on four windows a quarter do, and it is about 14.
    rng = np.random.default_rng(4)
    widths = []
    for _ in range(100):
        noise = rng.normal(0, 5, 120)
        noise[96:108] *= 5
        frame = AutoForecaster(horizon=12, models=("moving_median",)).fit(100 + noise).predict(12)
        widths.append(frame["hi-80"].iloc[0] - frame["mean"].iloc[0])
    assert 6.8 < np.median(widths) < 17.0
