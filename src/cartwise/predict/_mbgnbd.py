"""MBG/NBD: the modified BG/NBD model, in which a customer may drop out right after any purchase.

Batislam, Denizel and Filiztekin (2007), "Empirical validation and comparison of models for
customer base analysis", IJRM 24(3); the same model as lifetimes' `ModifiedBetaGeoFitter`.
While alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after
every purchase, the first one included, she drops out with probability p ~ Beta(a, b). Unlike
BG/NBD, a customer with no repeat purchase can be dead, so P(alive) falls with time since the
last purchase for every customer, one-time buyers too. The likelihood, P(alive) and conditional
expectations are shared with BG/NBD (`_betageo`); this module states what is MBG/NBD's own.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import hyp2f1

from cartwise.predict._betageo import BetaGeometricModel
from cartwise.predict._mle import FloatArray


class MBGNBD(BetaGeometricModel):
    """MBG/NBD model of repeat purchase counts, fitted by maximum likelihood.

    Same contract and hyperparameters as `BGNBD`; `params_` holds r, alpha (in the time unit of
    the inputs), a and b. Use it where one-time buyers are common: BG/NBD keeps each of them
    alive with certainty.
    """

    model_name = "MBG/NBD"
    first_purchase_dropout = 1  # a drop-out opportunity after every purchase: k = x + 1

    def expected_purchases(self, t: float | ArrayLike) -> FloatArray:
        """Expected repeat purchases in (0, t] for a new customer (Batislam et al. 2007).

        ``E[X(t)] = b/(a-1) * [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))]``.
        """
        r, alpha, a, b = self._theta()
        if abs(a - 1) < 1e-9:
            a = 1 + 1e-9
        t_arr = np.atleast_1d(np.asarray(t, dtype=np.float64))
        z = t_arr / (alpha + t_arr)
        return np.asarray(b / (a - 1) * (1 - (1 - z) ** (a - 1) * hyp2f1(a + b - r, a - 1, a + b, z)))


__all__ = ["MBGNBD"]
