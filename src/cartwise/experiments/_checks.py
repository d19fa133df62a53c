"""Checks around a test: sample ratio mismatch, multiple comparisons and percentile capping."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy import special

from cartwise.core.errors import ConfigError, InputError

SRM_THRESHOLD = 0.001
"""Below this SRM p-value the traffic split is called broken (GrowthBook's default)."""

Correction = Literal["holm", "bh"]
CORRECTIONS: tuple[str, ...] = ("holm", "bh")


def check_weights(weights: Sequence[float] | None, n_variants: int) -> list[float]:
    """The expected traffic shares: equal when `weights` is None, else validated as given.

    Refuses a count that differs from the number of variants, a share that is not in (0, 1]
    and shares whose sum is not 1 (within 1e-6), naming the fix.
    """
    if weights is None:
        return [1.0 / n_variants] * n_variants
    values = [float(w) for w in weights]
    if len(values) != n_variants:
        raise ConfigError(
            f"`weights` has {len(values)} values ({', '.join(f'{w:g}' for w in values)}) for "
            f"{n_variants} variants; give one share per variant, in the order of the file."
        )
    for i, w in enumerate(values):
        if not (math.isfinite(w) and 0 < w <= 1):
            raise ConfigError(f"`weights` value {i + 1} is {w:g}; each share must be in (0, 1].")
    total = sum(values)
    if abs(total - 1) > 1e-6:
        raise ConfigError(
            f"`weights` sum to {total:g}, not 1 ({', '.join(f'{w:g}' for w in values)}); "
            "give the traffic shares so that they add up to 1, e.g. 0.5,0.5."
        )
    return values


def srm_p_value(users: Sequence[int], weights: Sequence[float] | None = None) -> float:
    """Sample-ratio-mismatch p-value: Pearson's chi-square of the users against the weights.

    `X² = Σ (o_i - e_i)² / e_i` with `e_i = w_i · Σ o`, `k - 1` degrees of freedom
    (gbstats' `check_srm`). A p-value below `SRM_THRESHOLD` means the split is broken and the
    results should not be trusted.
    """
    shares = check_weights(weights, len(users))
    observed = np.asarray(users, dtype=float)
    if (observed < 0).any():
        raise InputError(f"`users` has a negative count ({observed.min():g}); counts are 0 or more.")
    total = observed.sum()
    if total == 0 or len(users) < 2:
        return 1.0
    expected = np.asarray(shares) * total
    statistic = float(((observed - expected) ** 2 / expected).sum())
    return float(special.chdtrc(len(users) - 1, statistic))


def adjust_p_values(p_values: Sequence[float], method: Correction) -> list[float]:
    """Adjusted p-values across a family of tests (statsmodels' `multipletests`).

    `holm`: Holm's step-down, controls the family-wise error rate; `bh`: Benjamini-Hochberg,
    controls the false discovery rate. Each adjusted p-value is compared to the same alpha.
    """
    if method not in CORRECTIONS:
        raise ConfigError(f"`correction` is {method!r}; use one of {', '.join(CORRECTIONS)}.")
    if not p_values:
        return []
    from statsmodels.stats.multitest import multipletests

    name = {"holm": "holm", "bh": "fdr_bh"}[method]
    return [float(p) for p in multipletests(list(p_values), method=name)[1]]


def cap_values(values: np.ndarray, percentile: float = 0.99) -> tuple[np.ndarray, float]:
    """Winsorise a heavy-tailed metric from above at its `percentile` quantile.

    Returns the capped copy and the cap; computed over all variants together so that every arm
    is capped at the same value (capping per arm would bias the lift). Summaries are then taken
    of the capped values (`summarize`).
    """
    if not 0 < percentile <= 1:
        raise ConfigError(f"`percentile` is {percentile:g}; give a quantile in (0, 1], e.g. 0.99.")
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        raise InputError("`values` is empty; capping needs at least one value.")
    if not np.isfinite(arr).all():
        raise InputError(
            f"`values` has {int((~np.isfinite(arr)).sum())} missing or infinite values; fill or drop them first."
        )
    cap = float(np.quantile(arr, percentile))
    return np.minimum(arr, cap), cap


def summarize(values: np.ndarray) -> tuple[int, float, float]:
    """`(n, sum, sum_squares)` of per-user values: the sufficient statistics the tests take."""
    arr = np.asarray(values, dtype=float)
    return int(arr.size), float(arr.sum()), float(np.square(arr).sum())
