"""Sample size and power of a two-arm test for a relative minimum detectable effect (statsmodels).

A mean metric with control mean `μ` and per-user standard deviation `σ`, and a relative MDE
`δ`, has the standardised effect `d = δ μ / σ` (Cohen's d) and is sized with statsmodels'
`TTestIndPower` (two-sample t test, equal arms). A conversion rate `p` is sized with
Cohen's `h = 2 asin √(p(1+δ)) - 2 asin √p` and `NormalIndPower`, as statsmodels recommends
for proportions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cartwise.core.errors import ConfigError


@dataclass(frozen=True)
class PowerResult:
    """Users per variant for the MDE (or the power reached with the given users)."""

    effect_size: float
    users_per_variant: int
    power: float
    alpha: float
    mde: float


def _check(name: str, value: float, lo: float, hi: float, hint: str) -> None:
    if not (math.isfinite(value) and lo < value < hi):
        raise ConfigError(f"`{name}` is {value:g}; it must be between {lo:g} and {hi:g} (exclusive), {hint}.")


def effect_size(
    mde: float, mean: float | None = None, sd: float | None = None, rate: float | None = None
) -> float:
    """The standardised effect of a relative lift `mde`: Cohen's d for a mean, Cohen's h for a rate."""
    if not (math.isfinite(mde) and mde != 0 and mde > -1):
        raise ConfigError(f"`mde` is {mde:g}; give the relative lift to detect, e.g. 0.05 for +5%.")
    if rate is not None:
        if mean is not None or sd is not None:
            raise ConfigError("give either `rate` (a conversion rate) or `mean` and `sd`, not both.")
        _check("rate", rate, 0, 1, "the control's conversion rate, e.g. 0.03")
        target = rate * (1 + mde)
        if not 0 < target < 1:
            raise ConfigError(f"`rate` {rate:g} lifted by `mde` {mde:g} gives {target:g}, outside (0, 1).")
        from statsmodels.stats.proportion import proportion_effectsize

        return abs(float(proportion_effectsize(target, rate)))
    if mean is None or sd is None:
        raise ConfigError("give the control's `mean` and `sd` per user, or its conversion `rate`.")
    if not (math.isfinite(mean) and mean != 0):
        raise ConfigError(f"`mean` is {mean:g}; a relative MDE needs a non-zero control mean.")
    _check("sd", sd, 0, math.inf, "the per-user standard deviation of the metric")
    return abs(mde * mean / sd)


def sample_size(
    mde: float,
    *,
    mean: float | None = None,
    sd: float | None = None,
    rate: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
) -> PowerResult:
    """Users per variant needed to detect `mde` with a two-sided test at `alpha` with `power`.

    Rounded up to a whole user; the `power` of the result is the one that count reaches.
    """
    _check("alpha", alpha, 0, 1, "e.g. 0.05")
    _check("power", power, 0, 1, "e.g. 0.8")
    d = effect_size(mde, mean, sd, rate)
    solver = _solver(rate is not None)
    n = float(solver.solve_power(effect_size=d, alpha=alpha, power=power, ratio=1.0, alternative="two-sided"))
    users = max(2, math.ceil(n))
    reached = float(solver.power(effect_size=d, nobs1=users, alpha=alpha, ratio=1.0, alternative="two-sided"))
    return PowerResult(d, users, reached, alpha, mde)


def power_for(
    users_per_variant: int,
    mde: float,
    *,
    mean: float | None = None,
    sd: float | None = None,
    rate: float | None = None,
    alpha: float = 0.05,
) -> PowerResult:
    """The power of a two-sided test at `alpha` with `users_per_variant` users in each arm."""
    _check("alpha", alpha, 0, 1, "e.g. 0.05")
    if users_per_variant < 2:
        raise ConfigError(f"`users` is {users_per_variant}; a test needs at least 2 users per variant.")
    d = effect_size(mde, mean, sd, rate)
    reached = float(
        _solver(rate is not None).power(
            effect_size=d, nobs1=users_per_variant, alpha=alpha, ratio=1.0, alternative="two-sided"
        )
    )
    return PowerResult(d, users_per_variant, reached, alpha, mde)


def _solver(proportion: bool) -> Any:
    from statsmodels.stats.power import NormalIndPower, TTestIndPower

    return NormalIndPower() if proportion else TTestIndPower()
