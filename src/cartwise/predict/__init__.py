"""Predictive customer models: lifetime value (BG/NBD, Pareto/NBD, Gamma-Gamma).

Models take arrays or data frames and return arrays; they never open the store.
"""

from cartwise.predict._bgnbd import BGNBD
from cartwise.predict._clv import PurchaseModel, customer_lifetime_value
from cartwise.predict._gamma_gamma import GammaGamma
from cartwise.predict._pareto import ParetoNBD
from cartwise.predict._summary import SUMMARY_COLUMNS, RFMSummary, TimeUnit, rfm_summary

__all__ = [
    "BGNBD",
    "SUMMARY_COLUMNS",
    "GammaGamma",
    "ParetoNBD",
    "PurchaseModel",
    "RFMSummary",
    "TimeUnit",
    "customer_lifetime_value",
    "rfm_summary",
]
