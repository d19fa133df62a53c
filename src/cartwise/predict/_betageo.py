"""What BG/NBD and MBG/NBD share: a Poisson purchase process with a beta-geometric drop-out.

While alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); at each
drop-out opportunity she leaves with probability p ~ Beta(a, b). The two models differ only in
the number of opportunities after x repeat purchases: BG/NBD (Fader, Hardie and Lee 2005)
gives one after every repeat purchase, k = x; MBG/NBD (Batislam, Denizel and Filiztekin 2007)
one after every purchase, the first included, k = x + 1. Every formula below is written in k
(``k = x + first_purchase_dropout``), so each subclass states only its k and its population
expectation `expected_purchases`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from cartwise.predict._base import PurchaseModel
from cartwise.predict._mle import FloatArray, check_rfm, unique_rows, x_levels


class BetaGeometricModel(PurchaseModel):
    """A purchase-count model with Poisson purchases and beta-geometric drop-out.

    `params_` holds r, alpha (in the time unit of the inputs), a and b.
    """

    param_names = ("r", "alpha", "a", "b")
    first_purchase_dropout: ClassVar[int]
    """1 when she may drop out right after her first purchase (MBG/NBD), 0 when not (BG/NBD)."""
    fit_hint = (
        "Try a longer calibration period, check that `frequency` counts repeat purchase days, "
        "set `penalizer` (e.g. 0.001), or use the Pareto/NBD model."
    )

    def _terms(self, params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> tuple[Any, ...]:
        """Per-row log-likelihood and the pieces its gradient needs.

        With k drop-out opportunities after x repeat purchases,
        ``L = B(a, b+k)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
            + [k>0] B(a+1, b+k-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))``
        (FHL 2005, eq. 6 for k = x; Batislam et al. 2007 for k = x + 1): alive at T, or dropped
        out at the last opportunity, at t_x. Evaluated as ``A + logsumexp(term1, term2)``; terms
        of x alone are computed once per distinct x (a few hundred values) and indexed per row.
        """
        r, alpha, a, b = params
        s = self.first_purchase_dropout
        xv, xi = x_levels(x)
        # b + k and b + k - 1, written so that s = 0 and s = 1 round exactly as each paper's
        # formula does (adding or subtracting 0 is exact).
        can_drop = xv + s > 0
        with np.errstate(all="ignore"):
            head = (gammaln(r + xv) - gammaln(r) + r * np.log(alpha))[xi]
            beta1 = (betaln(a, b + xv + s) - betaln(a, b))[xi]
            beta2 = np.where(
                can_drop, betaln(a + 1, np.where(can_drop, b + xv - (1 - s), 1.0)) - betaln(a, b), -np.inf
            )[xi]
            log_at, log_atx = np.log(alpha + T), np.log(alpha + t_x)
            term1 = beta1 - (r + x) * log_at
            term2 = beta2 - (r + x) * log_atx
        ll = head + np.logaddexp(term1, term2)
        return ll, term1, term2, (log_at, log_atx), (xv, xi, can_drop)

    def _loglik(self, theta: FloatArray, *columns: FloatArray) -> FloatArray:
        x, t_x, T = columns
        return np.asarray(self._terms(theta, x, t_x, T)[0], dtype=np.float64)

    def _loglik_and_gradient(self, theta: FloatArray, *columns: FloatArray) -> tuple[FloatArray, FloatArray]:
        """The log-likelihood and its analytic derivatives in (r, alpha, a, b)."""
        x, t_x, T = columns
        r, alpha, a, b = theta
        s = self.first_purchase_dropout
        ll, term1, term2, (log_at, log_atx), (xv, xi, can_drop) = self._terms(theta, x, t_x, T)
        # Weights of the two mixture components in d log(e^t1 + e^t2).
        w1 = np.exp(term1 - np.logaddexp(term1, term2))
        w2 = 1.0 - w1
        d_ab = digamma(a + b)
        d_abk = digamma(a + b + xv + s)
        # x-only derivative pieces, per distinct x: d/da and d/db of log B(a, b+k) - log B(a, b)
        # and of log B(a+1, b+k-1) - log B(a, b).
        dr_x = (digamma(r + xv) - digamma(r) + np.log(alpha))[xi]
        da1 = (d_ab - d_abk)[xi]
        da2 = (digamma(a + 1) - d_abk - digamma(a) + d_ab)[xi]
        db1 = (digamma(b + xv + s) - d_abk - digamma(b) + d_ab)[xi]
        db2 = np.where(
            can_drop, digamma(np.where(can_drop, b + xv - (1 - s), 1.0)) - d_abk - digamma(b) + d_ab, 0.0
        )[xi]
        d_r = dr_x - w1 * log_at - w2 * log_atx
        d_alpha = r / alpha - (r + x) * (w1 / (alpha + T) + w2 / (alpha + t_x))
        d_a = w1 * da1 + w2 * da2
        d_b = w1 * db1 + w2 * db2
        return ll, np.stack([d_r, d_alpha, d_a, d_b])

    def p_alive(self, frequency: Any, recency: Any, T: Any) -> FloatArray:
        """P(still active at T | x, t_x, T) (FHL 2005, eq. 13; Batislam et al. 2007).

        ``1 / (1 + [k>0] a/(b+k-1) * ((alpha+T)/(alpha+t_x))^(r+x))``; 1 when k = 0 (a BG/NBD
        one-time buyer cannot have dropped out).
        """
        r, alpha, a, b = self._theta()
        s = self.first_purchase_dropout
        x, t_x, big_t = check_rfm(frequency, recency, T)
        can_drop = x + s > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds = (
                np.log(a)
                - np.log(np.where(can_drop, b + x - (1 - s), 1.0))
                + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
            )
        return np.asarray(np.where(can_drop, expit(-log_odds), 1.0), dtype=np.float64)

    def _conditional_expected_purchases(
        self, t: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray, alive: FloatArray | None = None
    ) -> FloatArray:
        """Expected repeat purchases in (T, T + t] for a customer with history (x, t_x, T).

        FHL 2005, eq. 10, in k:
        ``E[Y(t)] = c/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) * 2F1(r+x, b+k; c; t/(alpha+T+t))]
                    * P(alive)``, ``c = a+b+k-1``.
        The bracket is evaluated after Euler's transformation,
        ``(1-z)^(r+x) 2F1(r+x, b+k; c; z) = (1-z)^(a-1) 2F1(c-r-x, a-1; c; z)``
        (``c-r-x = a+b-1+s-r``), which stays bounded for large x where the original form
        overflows. `t` is in the time unit of T. The 2F1 depends on (x, T, t) only, so it is
        evaluated once per distinct triple.
        """
        r, alpha, a, b = self._theta()
        s = self.first_purchase_dropout
        if abs(a - 1) < 1e-9:
            # bracket/(a-1) has a finite limit at a = 1; nudge a to avoid 0/0.
            a = 1 + 1e-9
        (ux, uT, ut), _, inverse = unique_rows(x, T, t)
        z = ut / (alpha + uT + ut)
        c = a + b + ux - (1 - s)
        euler = hyp2f1(a + b - (1 - s) - r, a - 1, c, z)
        bracket = (c / (a - 1) * (1.0 - (1.0 - z) ** (a - 1) * euler))[inverse]
        if alive is None:
            alive = self.p_alive(x, t_x, T)
        return np.asarray(bracket * alive, dtype=np.float64)

    def _probability_of_purchase(
        self, t: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray
    ) -> FloatArray:
        """``P(alive) * [1 - ((alpha+T)/(alpha+T+t))^(r+x)]``: alive at T, she buys at a rate whose
        posterior is Gamma(r+x, alpha+T) and cannot drop out before her next purchase."""
        r, alpha, _, _ = self._theta()
        quiet = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
        return np.asarray(self.p_alive(x, t_x, T) * (1.0 - quiet), dtype=np.float64)


__all__ = ["BetaGeometricModel"]
