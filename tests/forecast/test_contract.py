"""Every built-in forecaster passes the shared contract; adding one is a three-line class."""

from __future__ import annotations

from cartwise.forecast import (
    ADIDA,
    ETS,
    TSB,
    AutoForecaster,
    Combination,
    Croston,
    Forecaster,
    GradientBoosting,
    MovingAverage,
    MovingMedian,
    Naive,
    SeasonalNaive,
    Theta,
)

from .contract import ForecasterContract


class TestNaive(ForecasterContract):
    def make(self) -> Forecaster:
        return Naive()


class TestSeasonalNaive(ForecasterContract):
    def make(self) -> Forecaster:
        return SeasonalNaive(season_length=12)


class TestMovingAverage(ForecasterContract):
    def make(self) -> Forecaster:
        return MovingAverage(window=4)


class TestMovingMedian(ForecasterContract):
    def make(self):
        return MovingMedian(window=12)


class TestETS(ForecasterContract):
    def make(self) -> Forecaster:
        return ETS(season_length=12)


class TestTheta(ForecasterContract):
    def make(self) -> Forecaster:
        return Theta(season_length=12)


class TestCroston(ForecasterContract):
    def make(self) -> Forecaster:
        return Croston()


class TestTSB(ForecasterContract):
    def make(self) -> Forecaster:
        return TSB(alpha_d=0.2, alpha_p=0.2)


class TestADIDA(ForecasterContract):
    def make(self) -> Forecaster:
        return ADIDA()


class TestGradientBoosting(ForecasterContract):
    def make(self) -> Forecaster:
        return GradientBoosting(horizon=6, season_length=12, n_estimators=50, min_child_samples=5)


class TestAutoForecaster(ForecasterContract):
    def make(self) -> Forecaster:
        return AutoForecaster(horizon=6, season_length=12)


class TestCombination(ForecasterContract):
    def make(self) -> Forecaster:
        return Combination(season_length=12)
