"""Fitting a purchase-count model that may run away, with a small penalty as the fallback."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike

from cartwise.core.errors import ModelError
from cartwise.predict._base import PurchaseModel
from cartwise.predict._bgnbd import BGNBD

M = TypeVar("M", bound=PurchaseModel)

RUNAWAY_PENALIZER = 0.01
"""The L2 penalty `fit_with_fallback` falls back to when an unpenalised fit runs away."""


def fit_with_fallback(
    model_class: type[M],
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    needed: Callable[[M], ArrayLike],
) -> tuple[M, float, np.ndarray]:
    """`model_class` fitted without a penalty, else with `RUNAWAY_PENALIZER`; returns (model,
    penalizer, `needed(model)`), so callers do not compute their predictions again.

    With little history (no drop-out seen yet) some parameters run off to infinity: the fit
    stops with a ModelError that says so, or ends on parameters so large that the predictions
    the caller needs, `needed(model)`, overflow. Which of the two happens depends on the
    optimiser's last steps (it changed with SciPy's L-BFGS-B). A small L2 penalty on the
    parameters keeps them finite.
    """
    try:
        model = model_class().fit(frequency, recency, T)
        with np.errstate(invalid="ignore", over="ignore"):  # a run-away fit overflows here
            predictions = np.asarray(needed(model))
        if np.all(np.isfinite(predictions)):
            return model, 0.0, predictions
    except ModelError:
        pass
    model = model_class(penalizer=RUNAWAY_PENALIZER).fit(frequency, recency, T)
    return model, RUNAWAY_PENALIZER, np.asarray(needed(model))


def fit_bgnbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    needed: Callable[[BGNBD], ArrayLike],
) -> tuple[BGNBD, float, np.ndarray]:
    """`fit_with_fallback` for BG/NBD."""
    return fit_with_fallback(BGNBD, frequency, recency, T, needed)


__all__ = ["RUNAWAY_PENALIZER", "fit_bgnbd", "fit_with_fallback"]
