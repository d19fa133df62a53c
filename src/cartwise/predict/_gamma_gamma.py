"""Gamma-Gamma model of average transaction value.

Fader, Hardie and Lee (2005), "RFM and CLV: using iso-value curves for customer base
analysis", JMR 42(4); Fader and Hardie (2013), "The Gamma-Gamma model of monetary value".
Each transaction value is Gamma(p, nu) with the customer's nu ~ Gamma(q, gamma); the model is
fitted on customers with at least one repeat purchase, using the mean of their x repeat
transaction values, and assumes spend is independent of purchase frequency.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, gammaln

from cartwise.core.errors import InputError, ModelError
from cartwise.predict._base import SpendModel
from cartwise.predict._mle import FloatArray, as_float_array, x_levels

_NAMES = ("p", "q", "v")
_HINT = (
    "Check that `monetary_value` is the mean repeat-transaction value of customers with "
    "frequency > 0, remove extreme outliers, or set `penalizer` (e.g. 0.001)."
)


def _check(frequency: ArrayLike, monetary_value: ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = as_float_array(frequency, "frequency")
    m = as_float_array(monetary_value, "monetary_value")
    if x.size != m.size:
        raise InputError(
            f"`frequency` and `monetary_value` must have the same length; received {x.size} and {m.size}."
        )
    return x, m


def _loglik(params: FloatArray, x: FloatArray, m: FloatArray) -> FloatArray:
    """Per-customer log-likelihood of the mean value m of x transactions.

    ``log L = lnG(px+q) - lnG(px) - lnG(q) + q ln(gamma) + (px-1) ln(m) + px ln(x)
              - (px+q) ln(gamma + m x)``; the gamma functions of x alone are computed once per
    distinct x.
    """
    p, q, v = params
    xv, xi = x_levels(x)
    px = p * x
    return (
        (gammaln(p * xv + q) - gammaln(p * xv) - gammaln(q) + q * np.log(v))[xi]
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(v + m * x)
    )


def _loglik_and_gradient(params: FloatArray, x: FloatArray, m: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The log-likelihood and its analytic derivatives in (p, q, v)."""
    p, q, v = params
    xv, xi = x_levels(x)
    px = p * x
    log_vmx = np.log(v + m * x)
    ll = _loglik(params, x, m)
    d_common = digamma(p * xv + q)
    d_p = x * ((d_common - digamma(p * xv))[xi] + np.log(m) + np.log(x) - log_vmx)
    d_q = (d_common - digamma(q) + np.log(v))[xi] - log_vmx
    d_v = q / v - (px + q) / (v + m * x)
    return ll, np.stack([d_p, d_q, d_v])


class GammaGamma(SpendModel):
    """Gamma-Gamma spend model, fitted by maximum likelihood on repeat customers.

    Parameters
    ----------
    penalizer:
        L2 penalty ``penalizer * sum(theta^2)`` added to the mean negative log-likelihood.
    maxiter, tol:
        Optimiser iteration limit and tolerance.

    Attributes (after `fit`)
    ------------------------
    params_ : dict with p, q and v (v is the paper's gamma, in money units).
    standard_errors_, log_likelihood_, n_customers_ : as for BGNBD.
    """

    model_name = "Gamma-Gamma"
    param_names = _NAMES
    scaled_params = (2,)  # v is in money units
    fit_hint = _HINT

    def fit(self, frequency: ArrayLike, monetary_value: ArrayLike) -> GammaGamma:
        """Fit on customers' repeat-transaction counts x >= 1 and mean repeat value m > 0.

        Raises InputError naming the rows with x < 1 or m <= 0: select customers with
        `frequency > 0` and a positive mean value first.
        """
        x, m = _check(frequency, monetary_value)
        bad = ~np.isfinite(x) | (x < 1) | (x != np.round(x))
        if bad.any():
            idx = np.flatnonzero(bad)
            raise InputError(
                f"Gamma-Gamma needs customers with at least one repeat purchase; `frequency` is below 1 "
                f"or not whole in {idx.size} rows (positions {', '.join(map(str, idx[:3]))}, e.g. {x[idx[0]]:g}). "
                "Pass only customers with frequency > 0."
            )
        bad = ~np.isfinite(m) | (m <= 0)
        if bad.any():
            idx = np.flatnonzero(bad)
            raise InputError(
                f"`monetary_value` must be > 0; {idx.size} rows are not (positions "
                f"{', '.join(map(str, idx[:3]))}, e.g. {m[idx[0]]:g}). Exclude zero or negative "
                "averages (refunds, free orders) before fitting."
            )
        if x.size < 3:
            raise ModelError(f"Gamma-Gamma needs at least 3 repeat customers; received {x.size}.")
        # Rescale money so the median mean value is 1: v starts near its optimum for any currency.
        scale = 1.0 / float(np.median(m))
        return self._fit_mle((x, m * scale), float(x.size), scale, (1,))

    def _loglik(self, theta: FloatArray, *columns: FloatArray) -> FloatArray:
        x, m = columns
        return _loglik(theta, x, m)

    def _loglik_and_gradient(self, theta: FloatArray, *columns: FloatArray) -> tuple[FloatArray, FloatArray]:
        x, m = columns
        return _loglik_and_gradient(theta, x, m)

    def expected_average_value(self, frequency: ArrayLike, monetary_value: ArrayLike) -> FloatArray:
        """E[mean transaction value | x, m] in money units.

        ``E = p (v + x m) / (p x + q - 1)``, a weighted mean of the population mean
        ``p v / (q - 1)`` and the customer's own mean m. Customers with x = 0 or a missing or
        non-positive m get the population mean. Needs q > 1 (a finite population mean).
        """
        p, q, v = self._theta()
        if q <= 1:
            raise ModelError(
                f"Gamma-Gamma fitted q = {q:.3g} <= 1, so the mean spend is infinite: extreme values "
                "dominate. Remove outliers or cap `monetary_value`, then refit."
            )
        x, m = _check(frequency, monetary_value)
        own = (x > 0) & np.isfinite(m) & (m > 0)
        xs = np.where(own, x, 0.0)
        ms = np.where(own, m, 0.0)
        return p * (v + xs * ms) / (p * xs + q - 1)

    def population_mean(self) -> float:
        """Mean transaction value of a random customer, ``p v / (q - 1)``."""
        p, q, v = self._theta()
        return float(p * v / (q - 1)) if q > 1 else float("inf")


__all__ = ["GammaGamma"]
