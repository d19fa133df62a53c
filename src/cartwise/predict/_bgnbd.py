"""BG/NBD: the beta-geometric / negative binomial model of repeat purchases.

Fader, Hardie and Lee (2005), "Counting your customers the easy way: an alternative to the
Pareto/NBD model", Marketing Science 24(2). While alive, a customer buys as a Poisson process
with rate lambda ~ Gamma(r, alpha); after every purchase she drops out with probability
p ~ Beta(a, b).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from cartwise.predict._base import PurchaseModel
from cartwise.predict._mle import (
    FloatArray,
    check_rfm,
    fit_log_params,
    require_fitted,
    standard_errors,
    time_scale,
    unique_rows,
    x_levels,
)

_NAMES = ("r", "alpha", "a", "b")
_HINT = (
    "Try a longer calibration period, check that `frequency` counts repeat purchase days, "
    "set `penalizer` (e.g. 0.001), or use the Pareto/NBD model."
)


def _loglik_terms(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> tuple[Any, ...]:
    """Per-row log-likelihood and the pieces its gradient needs.

    ``L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
        + [x>0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))``
    (FHL 2005, eq. 6), evaluated as ``A + logsumexp(term1, term2)``. Terms that depend on x
    alone are computed once per distinct x (a few hundred values) and indexed per row.
    """
    r, alpha, a, b = params
    xv, xi = x_levels(x)
    repeat_v = xv > 0
    with np.errstate(all="ignore"):
        head = (gammaln(r + xv) - gammaln(r) + r * np.log(alpha))[xi]
        beta1 = (betaln(a, b + xv) - betaln(a, b))[xi]
        beta2 = np.where(
            repeat_v, betaln(a + 1, np.where(repeat_v, b + xv - 1, 1.0)) - betaln(a, b), -np.inf
        )[xi]
        log_at, log_atx = np.log(alpha + T), np.log(alpha + t_x)
        term1 = beta1 - (r + x) * log_at
        term2 = beta2 - (r + x) * log_atx
    ll = head + np.logaddexp(term1, term2)
    return ll, term1, term2, (log_at, log_atx), (xv, xi)


def _objective(
    log_params: FloatArray,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
    w: FloatArray,
    n: float,
    penalizer: float,
) -> tuple[float, FloatArray]:
    """Mean negative log-likelihood (plus penalty) and its analytic gradient in log-parameters."""
    params = np.exp(log_params)
    r, alpha, a, b = params
    ll, term1, term2, (log_at, log_atx), (xv, xi) = _loglik_terms(params, x, t_x, T)
    # Weights of the two mixture components in d log(e^t1 + e^t2).
    w1 = np.exp(term1 - np.logaddexp(term1, term2))
    w2 = 1.0 - w1
    repeat_v = xv > 0
    d_ab = digamma(a + b)
    d_abx = digamma(a + b + xv)
    # x-only derivative pieces, per distinct x.
    dr_x = (digamma(r + xv) - digamma(r) + np.log(alpha))[xi]
    da1 = (d_ab - d_abx)[xi]
    da2 = (digamma(a + 1) - d_abx - digamma(a) + d_ab)[xi]
    db1 = (digamma(b + xv) - d_abx - digamma(b) + d_ab)[xi]
    db2 = np.where(repeat_v, digamma(np.where(repeat_v, b + xv - 1, 1.0)) - d_abx - digamma(b) + d_ab, 0.0)[
        xi
    ]
    d_r = dr_x - w1 * log_at - w2 * log_atx
    d_alpha = r / alpha - (r + x) * (w1 / (alpha + T) + w2 / (alpha + t_x))
    d_a = w1 * da1 + w2 * da2
    d_b = w1 * db1 + w2 * db2
    grads = np.stack([d_r, d_alpha, d_a, d_b])
    value = -float(w @ ll) / n + penalizer * float(params @ params)
    # Chain rule for theta = exp(z): d/dz = theta * d/dtheta.
    grad = (-(grads @ w) / n + 2 * penalizer * params) * params
    return value, grad


class BGNBD(PurchaseModel):
    """BG/NBD model of repeat purchase counts, fitted by maximum likelihood.

    Parameters
    ----------
    penalizer:
        L2 penalty added to the mean negative log-likelihood, ``penalizer * sum(theta^2)``;
        0 gives the plain maximum-likelihood estimate. A small value (1e-3) tames runaway fits.
    maxiter, tol:
        Optimiser iteration limit and relative tolerance on the objective.

    Attributes (after `fit`)
    ------------------------
    params_ : dict with r, alpha (in the time unit of the inputs), a, b.
    standard_errors_ : dict, same keys; from the inverse Hessian.
    log_likelihood_ : total log-likelihood at the optimum (without the penalty).
    n_customers_ : number of customers fitted.
    """

    model_name = "BG/NBD"
    param_names = _NAMES
    zero_repeat_alive_is_certain = True

    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> BGNBD:
        """Fit on per-customer repeat frequency x, recency t_x and age T (same time unit)."""
        x, t_x, big_t = check_rfm(frequency, recency, T)
        n = float(x.size)
        scale = time_scale(big_t, self.model_name)
        (ux, ut_x, uT), w, _ = unique_rows(x, t_x * scale, big_t * scale)
        x0 = np.zeros(4)

        def objective(z: FloatArray) -> tuple[float, FloatArray]:
            return _objective(z, ux, ut_x, uT, w, n, self.penalizer)

        z, _, iterations = fit_log_params(
            self.model_name,
            _NAMES,
            objective,
            x0,
            n,
            has_gradient=True,
            maxiter=self.maxiter,
            tol=self.tol,
            hint=_HINT,
        )
        params = np.exp(z)
        params[1] /= scale
        ses = standard_errors(
            self.model_name, _NAMES, lambda v: _objective(v, ux, ut_x, uT, w, n, 0.0)[1], z, n, params, _HINT
        )
        # Rescaling time changes the density of the purchase times by a constant factor, so the
        # log-likelihood is reported in the caller's time unit.
        ll = float(w @ _loglik_terms(params, ux, ut_x / scale, uT / scale)[0])
        self.params_ = dict(zip(_NAMES, map(float, params), strict=True))
        self.standard_errors_ = ses
        self.log_likelihood_ = ll
        self.n_customers_ = int(n)
        self.n_iter_ = iterations
        return self

    def _params(self) -> tuple[float, float, float, float]:
        require_fitted(self)
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """P(still active at T | x, t_x, T) (FHL 2005, eq. 13).

        ``1 / (1 + [x>0] a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x))``; 1 for x = 0.
        """
        r, alpha, a, b = self._params()
        x, t_x, big_t = check_rfm(frequency, recency, T)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds = (
                np.log(a)
                - np.log(np.where(x > 0, b + x - 1, 1.0))
                + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
            )
        return np.where(x > 0, expit(-log_odds), 1.0)

    def _conditional_expected_purchases(
        self, t: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray, alive: FloatArray | None = None
    ) -> FloatArray:
        """Expected repeat purchases in (T, T + t] for a customer with history (x, t_x, T).

        FHL 2005, eq. 10:
        ``E[Y(t)] = (a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x)
                     * 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))] / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``.
        The bracket is evaluated after Euler's transformation,
        ``(1-z)^(r+x) 2F1(r+x, b+x; c; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z)``, which stays
        bounded for large x where the original form overflows. `t` is in the time unit of T.

        The 2F1 depends on (x, T, t) only, so it is evaluated once per distinct triple.
        """
        r, alpha, a, b = self._params()
        if abs(a - 1) < 1e-9:
            # bracket/(a-1) has a finite limit at a = 1; nudge a to avoid 0/0.
            a = 1 + 1e-9
        (ux, uT, ut), _, inverse = unique_rows(x, T, t)
        z = ut / (alpha + uT + ut)
        c = a + b + ux - 1
        bracket = (c / (a - 1) * (1.0 - (1.0 - z) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, c, z)))[inverse]
        if alive is None:
            alive = self.p_alive(x, t_x, T)
        return np.asarray(bracket * alive, dtype=np.float64)

    def _probability_of_purchase(
        self, t: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray
    ) -> FloatArray:
        """``P(alive) * [1 - ((alpha+T)/(alpha+T+t))^(r+x)]``: alive at T, she buys at a rate whose
        posterior is Gamma(r+x, alpha+T) and cannot drop out before her next purchase."""
        r, alpha, _, _ = self._params()
        quiet = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
        return np.asarray(self.p_alive(x, t_x, T) * (1.0 - quiet), dtype=np.float64)

    def expected_purchases(self, t: float | ArrayLike) -> FloatArray:
        """Expected purchases in (0, t] for a randomly chosen new customer (FHL 2005, eq. 7).

        ``E[X(t)] = (a+b-1)/(a-1) * [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]``.
        """
        r, alpha, a, b = self._params()
        t_arr = np.atleast_1d(np.asarray(t, dtype=np.float64))
        z = t_arr / (alpha + t_arr)
        return (a + b - 1) / (a - 1) * (1 - (1 - z) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, a + b - 1, z))

    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Per-customer log-likelihood of (x, t_x, T) under the fitted parameters."""
        x, t_x, big_t = check_rfm(frequency, recency, T)
        r, alpha, a, b = self._params()
        return _loglik_terms(np.array([r, alpha, a, b]), x, t_x, big_t)[0]


__all__ = ["BGNBD"]
