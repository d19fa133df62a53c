"""Shared maximum-likelihood machinery for the lifetime-value models.

Every model is fitted on the log scale of its (positive) parameters, so the optimiser is
unconstrained in practice and a parameter that runs away shows up as a huge or tiny log.
Standard errors come from the inverse of the observed information (the Hessian of the
negative log-likelihood), taken on the log scale and mapped back by the delta method:
``se(theta) = theta * se(log theta)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize

from cartwise.core.errors import InputError, ModelError

FloatArray = NDArray[np.float64]

# A log-parameter beyond this bound means the parameter went to 0 or infinity (e^18 ~ 6.6e7):
# the likelihood is flat in that direction and the estimate is meaningless.
RUNAWAY_LOG = 18.0
_LOG_BOUND = 25.0
# On a flat likelihood the optimiser may stop before the bound; a parameter this far out (on the
# rescaled axis, a factor e^6 ~ 400 from 1) along the flat direction is treated as runaway.
PLATEAU_LOG = 6.0


def as_float_array(values: ArrayLike, name: str) -> FloatArray:
    """`values` as a 1-d float array; InputError naming `name` if it is not numeric."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"`{name}` must be numeric; received {type(values).__name__} ({exc}).") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise InputError(f"`{name}` must be one-dimensional; received shape {arr.shape}.")
    return arr


def _rows(mask: NDArray[np.bool_], values: FloatArray) -> str:
    idx = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in idx[:3])
    return f"{idx.size} rows (positions {shown}{', ...' if idx.size > 3 else ''}, e.g. {values[idx[0]]:g})"


def check_rfm(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validate repeat-purchase summaries and return them as float arrays.

    Promises: equal lengths, no missing values, integer `frequency >= 0`,
    `0 <= recency <= T`, and `recency == 0` where `frequency == 0`.
    """
    x = as_float_array(frequency, "frequency")
    t_x = as_float_array(recency, "recency")
    big_t = as_float_array(T, "T")
    if not (x.size == t_x.size == big_t.size):
        raise InputError(
            f"`frequency`, `recency` and `T` must have the same length; received {x.size}, {t_x.size} and {big_t.size}."
        )
    if x.size == 0:
        raise InputError("No customers to fit: `frequency`, `recency` and `T` are empty.")
    for name, arr in (("frequency", x), ("recency", t_x), ("T", big_t)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise InputError(
                f"`{name}` has missing or infinite values in {_rows(bad, arr)}; drop those customers."
            )
    bad = (x < 0) | (x != np.round(x))
    if bad.any():
        raise InputError(
            f"`frequency` must be a whole number of repeat purchases >= 0; {_rows(bad, x)} are not. "
            "Count repeat purchase days per customer (see `rfm_summary`)."
        )
    bad = big_t < 0
    if bad.any():
        raise InputError(
            f"`T` (time from first purchase to the calibration end) must be >= 0; {_rows(bad, big_t)} are not. "
            "Customers whose first purchase falls after the calibration end belong to the holdout: drop them."
        )
    bad = (t_x < 0) | (t_x > big_t * (1 + 1e-12))
    if bad.any():
        raise InputError(
            f"`recency` must lie between 0 and `T`; {_rows(bad, t_x)} do not. "
            "Recency is the time from the first to the last purchase within the calibration period."
        )
    bad = (x == 0) & (t_x != 0)
    if bad.any():
        raise InputError(
            f"`recency` must be 0 for customers with `frequency` 0; {_rows(bad, t_x)} are not. "
            "Recency is measured from the first purchase, so a customer with no repeat purchase has recency 0."
        )
    return x, np.minimum(t_x, big_t), big_t


def time_scale(T: FloatArray, model: str) -> float:
    """Factor that rescales time so the oldest customer has T = 10.

    The optimiser then starts near the optimum of alpha (and beta) whatever the time unit, and
    the Hessian is well conditioned. ModelError if every customer has T = 0.
    """
    longest = float(T.max())
    if longest <= 0:
        raise ModelError(
            f"{model} cannot be fitted: every customer has T = 0 (first purchase on the calibration end). "
            "Move the calibration end later."
        )
    return 10.0 / longest


def unique_rows(*columns: FloatArray) -> tuple[tuple[FloatArray, ...], FloatArray, NDArray[np.intp]]:
    """Collapse identical rows: returns (unique columns, counts, inverse index).

    Customers sharing (x, t_x, T) have the same likelihood term and the same predictions;
    evaluating each distinct row once makes a fit on a million customers cost the same as on
    the distinct histories they contain. Rows are grouped by hashing (no sort), column by
    column, re-compacting the combined code after each column so it never overflows.
    """
    codes = np.zeros(columns[0].size, dtype=np.int64)
    for col in columns:
        col_codes, col_uniques = pd.factorize(col)
        codes, _ = pd.factorize(codes * len(col_uniques) + col_codes)
    n_groups = int(codes.max()) + 1 if codes.size else 0
    first = np.empty(n_groups, dtype=np.intp)
    # Writing positions in reverse order leaves each group's first occurrence.
    first[codes[::-1]] = np.arange(codes.size - 1, -1, -1)
    counts = np.bincount(codes, minlength=n_groups).astype(np.float64)
    return tuple(col[first] for col in columns), counts, codes.astype(np.intp)


def x_levels(x: FloatArray) -> tuple[FloatArray, NDArray[np.intp]]:
    """Distinct values of the purchase count x and each row's index into them.

    Special functions of x alone (gammaln(r + x), digamma(b + x), ...) are the costly part of
    a likelihood evaluation; counts take few distinct values, so they are computed per value.
    """
    codes, levels = pd.factorize(x)
    return np.asarray(levels, dtype=np.float64), codes.astype(np.intp)


def fit_log_params(
    model: str,
    names: Sequence[str],
    objective: Callable[[FloatArray], tuple[float, FloatArray]] | Callable[[FloatArray], float],
    x0: FloatArray,
    n_obs: float,
    *,
    has_gradient: bool,
    maxiter: int,
    tol: float,
    hint: str,
) -> tuple[FloatArray, float, int]:
    """Minimise `objective(log_params)` (a mean negative log-likelihood) and check convergence.

    Returns (log-parameters at the optimum, total log-likelihood, iterations). Raises ModelError
    naming the parameter whose log ran past +-18 (it went to 0 or infinity) or the optimiser's
    message when it stopped without converging; `hint` says what to try.
    """
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(names)
    with np.errstate(all="ignore"):
        res = minimize(
            objective,
            x0,
            jac=has_gradient,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": maxiter, "ftol": tol, "gtol": 1e-9},
        )
    runaway = [i for i, v in enumerate(res.x) if abs(v) > RUNAWAY_LOG]
    if runaway:
        i = runaway[0]
        direction = "infinity" if res.x[i] > 0 else "zero"
        raise ModelError(
            f"{model} did not converge: parameter `{names[i]}` ran away towards {direction} "
            f"(reached {np.exp(res.x[i]):.3g}); the data carry no information to pin it down. {hint}"
        )
    value = float(res.fun)
    if not np.isfinite(value):
        raise ModelError(f"{model} did not converge: the log-likelihood is not finite at the optimum. {hint}")
    # L-BFGS-B stops with ABNORMAL when the line search cannot improve a point that is already
    # optimal to machine precision; accept that when the gradient is small.
    if not res.success:
        grad = res.jac if has_gradient else None
        small = grad is not None and np.max(np.abs(grad)) < 1e-5
        if not small:
            raise ModelError(
                f"{model} did not converge after {res.nit} iterations ({optimiser_reason(res)}). {hint}"
            )
    return np.asarray(res.x, dtype=np.float64), -value * n_obs, int(res.nit)


def optimiser_reason(res: Any) -> str:
    """Why L-BFGS-B stopped, in words: its own message, or an explanation when that is empty.

    SciPy reports a failed line search as "ABNORMAL: " with nothing after the colon; that
    happens when no step along the search direction lowers the objective, i.e. the
    likelihood is flat or badly scaled where the optimiser stopped.
    """
    message = str(res.message).strip()
    detail = message.split(":", 1)[1].strip() if ":" in message else message
    if detail:
        return message
    grad = getattr(res, "jac", None)
    steepest = f"; largest gradient component {float(np.max(np.abs(grad))):.3g}" if grad is not None else ""
    return (
        "the line search found no step that improves the fit: the likelihood is flat or badly "
        f"scaled where the optimiser stopped, so the data cannot pin the parameters down{steepest}"
    )


def standard_errors(
    model: str,
    names: Sequence[str],
    gradient: Callable[[FloatArray], FloatArray],
    log_params: FloatArray,
    n_obs: float,
    theta: FloatArray,
    hint: str,
) -> dict[str, float]:
    """Standard errors from the inverse Hessian of the total negative log-likelihood.

    The Hessian of the mean negative log-likelihood with respect to the log-parameters is
    taken by central differences of `gradient` (step 1e-4), symmetrised and scaled by `n_obs`;
    ``se(theta_i) = theta_i * sqrt([H^-1]_ii)`` with `theta` the natural-scale estimate (a model
    fitted on rescaled time passes its parameters in the caller's unit; log-scale errors are
    unchanged by rescaling).

    A Hessian that is not positive definite means the optimum is not a proper maximum: the
    likelihood is flat along some direction. That raises ModelError naming the parameter that
    drifted furthest out when one is beyond |log| > 6 (a factor ~400 from 1 on the rescaled
    axis: it was running away to 0 or infinity when the optimiser stopped on the plateau), else
    the parameter dominating the flat direction.
    """
    k = log_params.size
    h = 1e-4
    hess = np.empty((k, k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = h
        hess[i] = (gradient(log_params + step) - gradient(log_params - step)) / (2 * h)
    hess = 0.5 * (hess + hess.T) * n_obs
    if not np.all(np.isfinite(hess)):
        raise ModelError(f"{model} did not converge: the likelihood is not finite near the optimum. {hint}")
    eigenvalues, eigenvectors = np.linalg.eigh(hess)
    if eigenvalues[0] <= 1e-8 * max(1.0, abs(eigenvalues[-1])):
        far = int(np.argmax(np.abs(log_params)))
        if abs(log_params[far]) > PLATEAU_LOG:
            direction = "infinity" if log_params[far] > 0 else "zero"
            what = f"ran away towards {direction} (stopped at {theta[far]:.3g} on a flat likelihood)"
        else:
            far = int(np.argmax(np.abs(eigenvectors[:, 0])))
            what = f"is not identified (the likelihood is flat along it, at {theta[far]:.3g})"
        raise ModelError(
            f"{model} did not converge: parameter `{names[far]}` {what}; the data carry no information "
            f"to pin it down. {hint}"
        )
    cov = np.linalg.inv(hess)
    se = theta * np.sqrt(np.diag(cov))
    return {name: float(v) for name, v in zip(names, se, strict=True)}


def numerical_gradient(
    fun: Callable[[FloatArray], float], h: float = 1e-5
) -> Callable[[FloatArray], FloatArray]:
    """Central-difference gradient of `fun` (for models without an analytic gradient)."""

    def grad(z: FloatArray) -> FloatArray:
        out = np.empty(z.size)
        for i in range(z.size):
            step = np.zeros(z.size)
            step[i] = h
            out[i] = (fun(z + step) - fun(z - step)) / (2 * h)
        return out

    return grad


def horizon_array(t: float | ArrayLike, n: int) -> FloatArray:
    """The prediction horizon `t` broadcast to `n` customers; InputError unless finite and >= 0."""
    arr = np.asarray(t, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    elif arr.shape != (n,):
        raise InputError(f"`t` must be a number or one value per customer ({n}); received shape {arr.shape}.")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        raise InputError(f"`t` (the horizon) must be finite and >= 0; received {arr[bad][0]!r}.")
    return arr


def require_fitted(model: object, attr: str = "params_") -> None:
    """ModelError unless `model.fit` has run."""
    if not hasattr(model, attr):
        raise ModelError(f"{type(model).__name__} is not fitted yet; call .fit(...) first.")
