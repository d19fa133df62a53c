"""Sufficient statistics of one metric in one variant, as GrowthBook's gbstats keeps them.

A variant's metric is summarised by its number of users `n` and sums over users; every test
works from these sums only, so the store (or a spreadsheet) computes them and these
functions compute the answer.

- `MeanStat(n, sum, sum_squares)`: mean `x̄ = sum / n`, sample variance
  `s² = (sum_squares - sum² / n) / (n - 1)`. A conversion (0/1 per user, so `sum_squares =
  sum`) is a mean too, as gbstats' `SampleMeanStatistic`; gbstats' `ProportionStatistic` would
  use `p(1 - p)`, smaller by the factor `(n - 1) / n`.
- `CupedStat(post, pre, sum_product)`: the metric `y` and its pre-period covariate `x` for the
  same users; `cov(y, x) = (sum_product - sum_y * sum_x / n) / (n - 1)`. With `theta` set, the
  adjusted mean is `ȳ - theta * x̄` and its variance `s²_y + theta² s²_x - 2 theta cov(y, x)`.
- `RatioStat(numerator, denominator, sum_product)`: a ratio of sums such as revenue per order;
  mean `sum_m / sum_d`, variance per user by the delta method
  `s²_m / d̄² + s²_d m̄² / d̄⁴ - 2 cov(m, d) m̄ / d̄³`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cartwise.core.errors import InputError

# Relative slack on `sum_squares >= sum² / n`, for sums written with rounding (a CSV with 6
# significant digits); anything beyond it is a real inconsistency and is refused.
_VARIANCE_SLACK = 1e-9


def variance_of_ratio(mean_m: float, var_m: float, mean_d: float, var_d: float, cov_md: float) -> float:
    """Delta-method variance of `M / D` from the moments of M and D (gbstats' `variance_of_ratios`).

    `Var(M/D) ≈ Var(M)/E[D]² + Var(D) E[M]²/E[D]⁴ - 2 Cov(M, D) E[M]/E[D]³`; 0 when `E[D] = 0`.
    """
    if mean_d == 0:
        return 0.0
    return var_m / mean_d**2 + var_d * mean_m**2 / mean_d**4 - 2 * cov_md * mean_m / mean_d**3


@dataclass(frozen=True)
class MeanStat:
    """A per-user metric: `n` users, the sum of their values and the sum of their squares."""

    n: int
    sum: float
    sum_squares: float

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else 0.0

    @property
    def unadjusted_mean(self) -> float:
        return self.mean

    @property
    def variance(self) -> float:
        """Sample variance `(sum_squares - sum²/n) / (n - 1)`; 0 for fewer than two users."""
        if self.n <= 1:
            return 0.0
        return (self.sum_squares - self.sum**2 / self.n) / (self.n - 1)


def covariance(n: int, sum_a: float, sum_b: float, sum_product: float) -> float:
    """Sample covariance `(Σab - Σa Σb / n) / (n - 1)`; 0 for fewer than two users."""
    if n <= 1:
        return 0.0
    return (sum_product - sum_a * sum_b / n) / (n - 1)


@dataclass(frozen=True)
class CupedStat:
    """A metric with a pre-period covariate for CUPED; `theta` is set by `with_theta`."""

    post: MeanStat
    pre: MeanStat
    sum_product: float
    theta: float = 0.0

    @property
    def n(self) -> int:
        return self.post.n

    @property
    def covariance(self) -> float:
        return covariance(self.n, self.post.sum, self.pre.sum, self.sum_product)

    @property
    def mean(self) -> float:
        """The regression-adjusted mean `ȳ - theta x̄`."""
        return self.post.mean - self.theta * self.pre.mean

    @property
    def unadjusted_mean(self) -> float:
        return self.post.mean

    @property
    def variance(self) -> float:
        """Variance of the adjusted metric, `s²_y + theta² s²_x - 2 theta cov(y, x)`."""
        if self.n <= 1:
            return 0.0
        t = self.theta
        return self.post.variance + t**2 * self.pre.variance - 2 * t * self.covariance


def pooled_theta(a: CupedStat, b: CupedStat) -> float:
    """CUPED's regression coefficient `theta = cov(y, x) / var(x)` over both variants pooled.

    As gbstats' `compute_theta`: the users of control and treatment are pooled into one sample
    (sums added) and the slope of post on pre is taken there; 0 when either pooled variance is 0,
    which turns the adjustment off.
    """
    n = a.n + b.n
    post = MeanStat(n, a.post.sum + b.post.sum, a.post.sum_squares + b.post.sum_squares)
    pre = MeanStat(n, a.pre.sum + b.pre.sum, a.pre.sum_squares + b.pre.sum_squares)
    if pre.variance == 0 or post.variance == 0:
        return 0.0
    return covariance(n, post.sum, pre.sum, a.sum_product + b.sum_product) / pre.variance


@dataclass(frozen=True)
class RatioStat:
    """A ratio metric (numerator and denominator summed per user, e.g. revenue and orders)."""

    numerator: MeanStat
    denominator: MeanStat
    sum_product: float

    @property
    def n(self) -> int:
        return self.numerator.n

    @property
    def mean(self) -> float:
        """`Σ numerator / Σ denominator`; 0 when the denominator sums to 0."""
        if self.denominator.sum == 0:
            return 0.0
        return self.numerator.sum / self.denominator.sum

    @property
    def unadjusted_mean(self) -> float:
        return self.mean

    @property
    def variance(self) -> float:
        """Per-user delta-method variance of the ratio (see `variance_of_ratio`)."""
        if self.denominator.mean == 0 or self.n <= 1:
            return 0.0
        cov = covariance(self.n, self.numerator.sum, self.denominator.sum, self.sum_product)
        return variance_of_ratio(
            self.numerator.mean,
            self.numerator.variance,
            self.denominator.mean,
            self.denominator.variance,
            cov,
        )


Stat = MeanStat | CupedStat | RatioStat


def _shown(value: float) -> str:
    """A non-finite value as a user reads it: an empty cell is missing, not `np.float64(nan)`."""
    return "missing" if math.isnan(value) else repr(float(value))


def check_mean_stat(
    n: float, total: float, sum_squares: float, where: str, names: tuple[str, str] = ("sum", "sum_squares")
) -> MeanStat:
    """Validate one `(users, sum, sum_squares)` triple and build its `MeanStat`.

    `where` names the row ("metric `revenue`, variant `B` (row 3)"); `names` the two columns.
    Refuses non-finite values, negative or fractional user counts, zero users, a negative sum
    of squares and `sum_squares < sum² / n` (a negative variance).
    """
    sum_name, squares_name = names
    for name, value in (("users", n), (sum_name, total), (squares_name, sum_squares)):
        if not math.isfinite(value):
            raise InputError(f"{where}: `{name}` is {_shown(value)}; give a finite number.")
    if n < 0:
        raise InputError(f"{where}: `users` is {n:g}, a negative count; counts of users are 0 or more.")
    if n != int(n):
        raise InputError(f"{where}: `users` is {n!r}, not a whole number; give the count of users.")
    if n == 0:
        raise InputError(
            f"{where}: `users` is 0, a variant with zero users; drop the variant or check its assignment."
        )
    if sum_squares < 0:
        raise InputError(
            f"{where}: `{squares_name}` is {sum_squares:g}, negative; a sum of squares is 0 or more."
        )
    floor = total**2 / n
    if sum_squares < floor - _VARIANCE_SLACK * max(abs(floor), 1.0):
        raise InputError(
            f"{where}: `{squares_name}` = {sum_squares:g} is inconsistent with `{sum_name}` = {total:g} "
            f"and `users` = {int(n)} (it must be at least {sum_name}²/users = {floor:g}, else the "
            f"variance is negative); give the sum of each user's squared value, not the square of the sum."
        )
    return MeanStat(int(n), float(total), float(sum_squares))


def check_product(a: MeanStat, b: MeanStat, sum_product: float, where: str, name: str) -> float:
    """Validate a sum of products against Cauchy-Schwarz: `|cov(a, b)| <= s_a s_b`."""
    if not math.isfinite(sum_product):
        raise InputError(f"{where}: `{name}` is {_shown(sum_product)}; give a finite number.")
    cov = covariance(a.n, a.sum, b.sum, sum_product)
    bound = math.sqrt(max(a.variance, 0.0) * max(b.variance, 0.0))
    if abs(cov) > bound * (1 + 1e-6) + 1e-12:
        raise InputError(
            f"{where}: `{name}` = {sum_product:g} gives a covariance {cov:g} larger than the two "
            f"standard deviations allow ({bound:g}); give the sum over users of the product of the "
            "two values."
        )
    return float(sum_product)
