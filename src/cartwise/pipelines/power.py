"""Sample size and power for `cartwise experiments power` and `GET /api/v1/experiments/power`.

Its own module, apart from the summary analysis, so that planning a test loads statsmodels'
power solvers and nothing of pandas or the analysis engine.
"""

from __future__ import annotations

from cartwise.experiments import PowerResult, power_for, sample_size


def plan_power(
    mde: float,
    *,
    mean: float | None = None,
    sd: float | None = None,
    rate: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    users: int | None = None,
) -> PowerResult:
    """Users per variant for `mde`, or, given `users`, the power those users reach."""
    if users is not None:
        return power_for(users, mde, mean=mean, sd=sd, rate=rate, alpha=alpha)
    return sample_size(mde, mean=mean, sd=sd, rate=rate, alpha=alpha, power=power)
