"""Predictive customer models: lifetime value (BG/NBD, Pareto/NBD, Gamma-Gamma).

Models take arrays or data frames and return arrays; they never open the store.
"""

from cartwise.predict._bgnbd import BGNBD, RUNAWAY_PENALIZER, fit_bgnbd
from cartwise.predict._churn import (
    MIN_CLASS_COUNT,
    PropensityModel,
    bgnbd_p_no_purchase,
    rfm_quintile_score,
)
from cartwise.predict._clv import PurchaseModel, customer_lifetime_value
from cartwise.predict._gamma_gamma import GammaGamma
from cartwise.predict._pareto import ParetoNBD
from cartwise.predict._summary import SUMMARY_COLUMNS, RFMSummary, TimeUnit, rfm_summary

__all__ = [
    "BGNBD",
    "MIN_CLASS_COUNT",
    "RUNAWAY_PENALIZER",
    "SUMMARY_COLUMNS",
    "GammaGamma",
    "ParetoNBD",
    "PropensityModel",
    "PurchaseModel",
    "RFMSummary",
    "TimeUnit",
    "bgnbd_p_no_purchase",
    "customer_lifetime_value",
    "fit_bgnbd",
    "rfm_quintile_score",
    "rfm_summary",
]
