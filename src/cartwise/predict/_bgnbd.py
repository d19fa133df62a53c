"""BG/NBD: the beta-geometric / negative binomial model of repeat purchases.

Fader, Hardie and Lee (2005), "Counting your customers the easy way: an alternative to the
Pareto/NBD model", Marketing Science 24(2). While alive, a customer buys as a Poisson process
with rate lambda ~ Gamma(r, alpha); after every repeat purchase she drops out with probability
p ~ Beta(a, b). The likelihood, P(alive) and conditional expectations are shared with MBG/NBD
(`_betageo`); this module states what is BG/NBD's own.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import hyp2f1

from cartwise.predict._betageo import BetaGeometricModel
from cartwise.predict._mle import FloatArray


class BGNBD(BetaGeometricModel):
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
    first_purchase_dropout = 0  # a drop-out opportunity after each repeat purchase: k = x
    zero_repeat_alive_is_certain = True

    def expected_purchases(self, t: float | ArrayLike) -> FloatArray:
        """Expected purchases in (0, t] for a randomly chosen new customer (FHL 2005, eq. 7).

        ``E[X(t)] = (a+b-1)/(a-1) * [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]``,
        evaluated after Euler's transformation as in `_conditional_expected_purchases`.
        """
        r, alpha, a, b = self._theta()
        t_arr = np.atleast_1d(np.asarray(t, dtype=np.float64))
        z = t_arr / (alpha + t_arr)
        return np.asarray(
            (a + b - 1) / (a - 1) * (1 - (1 - z) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, a + b - 1, z)),
            dtype=np.float64,
        )


__all__ = ["BGNBD"]
