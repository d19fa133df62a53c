"""MBG/NBD: the modified BG/NBD model, in which a customer may drop out right after any purchase.

Batislam, Denizel and Filiztekin (2007), "Empirical validation and comparison of models for
customer base analysis", IJRM 24(3); the same model as lifetimes' `ModifiedBetaGeoFitter`.
While alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after
every purchase, the first one included, she drops out with probability p ~ Beta(a, b). Unlike
BG/NBD, a customer with no repeat purchase can be dead, so P(alive) falls with time since the
last purchase for every customer, one-time buyers too.
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

    ``L = B(a, b+x+1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
        + B(a+1, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))``
    (Batislam et al. 2007): alive at T after x + 1 purchases, or dropped out right after the
    last one at t_x (for x = 0, at the first purchase). Evaluated as ``A + logsumexp(term1,
    term2)``, with terms of x alone computed once per distinct x.
    """
    r, alpha, a, b = params
    xv, xi = x_levels(x)
    with np.errstate(all="ignore"):
        head = (gammaln(r + xv) - gammaln(r) + r * np.log(alpha))[xi]
        beta1 = (betaln(a, b + xv + 1) - betaln(a, b))[xi]
        beta2 = (betaln(a + 1, b + xv) - betaln(a, b))[xi]
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
    w1 = np.exp(term1 - np.logaddexp(term1, term2))
    w2 = 1.0 - w1
    d_ab = digamma(a + b)
    d_abx = digamma(a + b + xv + 1)
    dr_x = (digamma(r + xv) - digamma(r) + np.log(alpha))[xi]
    # d/da and d/db of log B(a, b+x+1) - log B(a, b) and of log B(a+1, b+x) - log B(a, b).
    da1 = (d_ab - d_abx)[xi]
    da2 = (digamma(a + 1) - d_abx - digamma(a) + d_ab)[xi]
    db1 = (digamma(b + xv + 1) - d_abx - digamma(b) + d_ab)[xi]
    db2 = (digamma(b + xv) - d_abx - digamma(b) + d_ab)[xi]
    d_r = dr_x - w1 * log_at - w2 * log_atx
    d_alpha = r / alpha - (r + x) * (w1 / (alpha + T) + w2 / (alpha + t_x))
    d_a = w1 * da1 + w2 * da2
    d_b = w1 * db1 + w2 * db2
    grads = np.stack([d_r, d_alpha, d_a, d_b])
    value = -float(w @ ll) / n + penalizer * float(params @ params)
    grad = (-(grads @ w) / n + 2 * penalizer * params) * params
    return value, grad


class MBGNBD(PurchaseModel):
    """MBG/NBD model of repeat purchase counts, fitted by maximum likelihood.

    Same contract and hyperparameters as `BGNBD`; `params_` holds r, alpha (in the time unit of
    the inputs), a and b. Use it where one-time buyers are common: BG/NBD keeps each of them
    alive with certainty.
    """

    model_name = "MBG/NBD"
    param_names = _NAMES

    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> MBGNBD:
        """Fit on per-customer repeat frequency x, recency t_x and age T (same time unit)."""
        x, t_x, big_t = check_rfm(frequency, recency, T)
        n = float(x.size)
        scale = time_scale(big_t, self.model_name)
        (ux, ut_x, uT), w, _ = unique_rows(x, t_x * scale, big_t * scale)

        def objective(z: FloatArray) -> tuple[float, FloatArray]:
            return _objective(z, ux, ut_x, uT, w, n, self.penalizer)

        z, _, iterations = fit_log_params(
            self.model_name,
            _NAMES,
            objective,
            np.zeros(4),
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
        self.params_ = dict(zip(_NAMES, map(float, params), strict=True))
        self.standard_errors_ = ses
        self.log_likelihood_ = float(w @ _loglik_terms(params, ux, ut_x / scale, uT / scale)[0])
        self.n_customers_ = int(n)
        self.n_iter_ = iterations
        return self

    def _params(self) -> tuple[float, float, float, float]:
        require_fitted(self)
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """P(still active at T | x, t_x, T) (Batislam et al. 2007).

        ``1 / (1 + a/(b+x) * ((alpha+T)/(alpha+t_x))^(r+x))``, below 1 for every customer with
        T > t_x, one-time buyers (x = 0, t_x = 0) included.
        """
        r, alpha, a, b = self._params()
        x, t_x, big_t = check_rfm(frequency, recency, T)
        log_odds = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
        return np.asarray(expit(-log_odds), dtype=np.float64)

    def _conditional_expected_purchases(
        self, t: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray, alive: FloatArray | None = None
    ) -> FloatArray:
        """Expected repeat purchases in (T, T + t] for a customer with history (x, t_x, T).

        ``E[Y(t)] = (a+b+x)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x)
                     * 2F1(r+x, b+x+1; a+b+x; t/(alpha+T+t))] * P(alive)``,
        the bracket evaluated after Euler's transformation
        ``(1-z)^(r+x) 2F1(r+x, b+x+1; c; z) = (1-z)^(a-1) 2F1(a+b-r, a-1; c; z)`` (bounded for
        large x). The 2F1 depends on (x, T, t) only, so it is evaluated once per distinct triple.
        """
        r, alpha, a, b = self._params()
        if abs(a - 1) < 1e-9:
            a = 1 + 1e-9
        (ux, uT, ut), _, inverse = unique_rows(x, T, t)
        z = ut / (alpha + uT + ut)
        c = a + b + ux
        bracket = (c / (a - 1) * (1.0 - (1.0 - z) ** (a - 1) * hyp2f1(a + b - r, a - 1, c, z)))[inverse]
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
        """Expected repeat purchases in (0, t] for a new customer (Batislam et al. 2007).

        ``E[X(t)] = b/(a-1) * [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))]``.
        """
        r, alpha, a, b = self._params()
        if abs(a - 1) < 1e-9:
            a = 1 + 1e-9
        t_arr = np.atleast_1d(np.asarray(t, dtype=np.float64))
        z = t_arr / (alpha + t_arr)
        return np.asarray(b / (a - 1) * (1 - (1 - z) ** (a - 1) * hyp2f1(a + b - r, a - 1, a + b, z)))

    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Per-customer log-likelihood of (x, t_x, T) under the fitted parameters."""
        x, t_x, big_t = check_rfm(frequency, recency, T)
        r, alpha, a, b = self._params()
        return np.asarray(_loglik_terms(np.array([r, alpha, a, b]), x, t_x, big_t)[0], dtype=np.float64)


__all__ = ["MBGNBD"]
