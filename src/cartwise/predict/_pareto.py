"""Pareto/NBD: the model of repeat purchases with exponential lifetimes.

Schmittlein, Morrison and Colombo (1987); formulas as in Fader and Hardie (2005), "A note on
deriving the Pareto/NBD model and related expressions". While alive, a customer buys as a
Poisson process with rate lambda ~ Gamma(r, alpha); her lifetime is exponential with rate
mu ~ Gamma(s, beta).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln, hyp2f1

from cartwise.predict._base import PurchaseModel
from cartwise.predict._mle import FloatArray, check_rfm, unique_rows

_NAMES = ("r", "alpha", "s", "beta")
_HINT = (
    "Try a longer calibration period, check that `frequency` counts repeat purchase days, "
    "set `penalizer` (e.g. 0.001), or use the BG/NBD model."
)


def _log_a0(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
    """log A0 = log[F(t_x) - F(T)] (Fader and Hardie 2005, eq. 19-20).

    For alpha >= beta, ``F(t) = 2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/(alpha+t)) / (alpha+t)^(r+s+x)``;
    for alpha < beta swap (alpha, s+1) with (beta, r+x). The 2F1 there has its argument near 1
    and diverges for large x, so it is rewritten with Pfaff's transformation
    ``2F1(a, b; c; z) = (1-z)^(-b) 2F1(c-a, b; c; z/(z-1))`` where c - a = 1: the new 2F1 has a
    non-positive argument and lies in (0, 1], so log F never overflows.
    """
    r, alpha, s, beta = params
    rsx = r + s + x
    if alpha >= beta:
        big, small, b_par = alpha, beta, s + 1.0
    else:
        big, small, b_par = beta, alpha, r + x
    diff = big - small

    def log_f(t: FloatArray) -> FloatArray:
        # (1 - z) = (small + t)/(big + t) and z/(z-1) = -diff/(small + t).
        return (
            -rsx * np.log(big + t)
            + b_par * (np.log(big + t) - np.log(small + t))
            + np.log(hyp2f1(1.0, b_par, rsx + 1.0, -diff / (small + t)))
        )

    log_ftx = log_f(t_x)
    log_fT = log_f(T)
    with np.errstate(divide="ignore", invalid="ignore"):
        # F is decreasing in t, so F(t_x) >= F(T); t_x == T gives log 0 = -inf (no term).
        return log_ftx + np.log1p(-np.exp(np.minimum(log_fT - log_ftx, 0.0)))


def _loglik_parts(
    params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per-row log-likelihood, and the two terms whose ratio gives P(alive).

    ``L = G(r+x) alpha^r beta^s / G(r) * [1/((alpha+T)^(r+x) (beta+T)^s) + s/(r+s+x) A0]``.
    """
    r, alpha, s, beta = params
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive_term = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    dead_term = np.log(s) - np.log(r + s + x) + _log_a0(params, x, t_x, T)
    return head + np.logaddexp(alive_term, dead_term), alive_term, dead_term


class ParetoNBD(PurchaseModel):
    """Pareto/NBD model of repeat purchase counts, fitted by maximum likelihood.

    Same contract as `BGNBD`; `params_` holds r, alpha, s, beta (alpha and beta in the time
    unit of the inputs). The gradient is numerical, so fitting is slower than BG/NBD.
    """

    model_name = "Pareto/NBD"
    param_names = _NAMES
    scaled_params = (1, 3)
    has_gradient = False
    fit_hint = _HINT

    def __init__(self, penalizer: float = 0.0, maxiter: int = 1000, tol: float = 1e-12) -> None:
        super().__init__(penalizer, maxiter, tol)

    def _loglik(self, theta: FloatArray, *columns: FloatArray) -> FloatArray:
        x, t_x, T = columns
        return _loglik_parts(theta, x, t_x, T)[0]

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """P(still active at T | x, t_x, T) (Fader and Hardie 2005, eq. 18).

        ``1 / (1 + s/(r+s+x) (alpha+T)^(r+x) (beta+T)^s A0)``.
        """
        x, t_x, big_t = check_rfm(frequency, recency, T)
        (ux, ut_x, uT), _, inverse = unique_rows(x, t_x, big_t)
        return self._p_alive(ux, ut_x, uT)[inverse]

    def _p_alive(self, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        _, alive_term, dead_term = _loglik_parts(np.array(self._theta()), x, t_x, T)
        return np.asarray(np.exp(alive_term - np.logaddexp(alive_term, dead_term)), dtype=np.float64)

    def _conditional_expected_purchases(
        self, t: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray, alive: FloatArray | None = None
    ) -> FloatArray:
        """Expected repeat purchases in (T, T + t] given (x, t_x, T) (Fader and Hardie 2005, eq. 21).

        ``E[Y(t)] = (r+x)(beta+T) / ((alpha+T)(s-1)) * [1 - ((beta+T)/(beta+T+t))^(s-1)] * P(alive)``,
        evaluated as ``-expm1((s-1) log rho)/(s-1)`` so that s -> 1 takes its limit ``-log rho``.
        """
        r, alpha, s, beta = self._theta()
        log_rho = np.log(beta + T) - np.log(beta + T + t)
        factor = -log_rho if abs(s - 1) < 1e-9 else -np.expm1((s - 1) * log_rho) / (s - 1)
        if alive is None:
            alive = self._p_alive(x, t_x, T)
        return np.asarray((r + x) * (beta + T) / (alpha + T) * factor * alive, dtype=np.float64)

    def _probability_of_purchase(
        self, t: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray
    ) -> FloatArray:
        """``P(alive) * integral_0^t E[lambda e^(-lambda u)] E[e^(-mu u)] du`` with the posteriors of the
        alive: lambda ~ Gamma(r+x, alpha+T), mu ~ Gamma(s, beta+T), i.e.
        ``P(alive) * integral_0^t (r'/alpha') (alpha'/(alpha'+u))^(r'+1) (beta'/(beta'+u))^s du``
        (the first purchase comes at u before she dies). With ``y = r' log((alpha'+u)/alpha')`` the
        integral is ``integral_0^Y e^(-y) (beta'/(beta'+u(y)))^s dy``, ``u(y) = alpha' (e^(y/r') - 1)``,
        a smooth integrand; it is cut at y = 40 (the rest is below e^-40) and taken by 48-point
        Gauss-Legendre quadrature.
        """
        r, alpha, s, beta = self._theta()
        rx, at, bt = r + x, alpha + T, beta + T
        y_end = np.minimum(rx * (np.log(at + t) - np.log(at)), 40.0)
        nodes, weights = np.polynomial.legendre.leggauss(48)
        y = 0.5 * y_end[:, None] * (nodes[None, :] + 1.0)
        u = at[:, None] * np.expm1(y / rx[:, None])
        integrand = np.exp(-y + s * (np.log(bt[:, None]) - np.log(bt[:, None] + u)))
        integral = 0.5 * y_end * (integrand @ weights)
        return np.asarray(self._p_alive(x, t_x, T) * integral, dtype=np.float64)

    def expected_purchases(self, t: float | ArrayLike) -> FloatArray:
        """Expected purchases in (0, t] for a new customer: ``r beta/(alpha (s-1)) [1 - (beta/(beta+t))^(s-1)]``."""
        r, alpha, s, beta = self._theta()
        t_arr = np.atleast_1d(np.asarray(t, dtype=np.float64))
        log_rho = np.log(beta) - np.log(beta + t_arr)
        factor = -log_rho if abs(s - 1) < 1e-9 else -np.expm1((s - 1) * log_rho) / (s - 1)
        return r * beta / alpha * factor


__all__ = ["ParetoNBD"]
