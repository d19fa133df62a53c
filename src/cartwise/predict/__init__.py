"""Predictive customer models: lifetime value (BG/NBD, MBG/NBD, Pareto/NBD, Gamma-Gamma).

Purchase-count models share the `PurchaseModel` contract and spend models the `SpendModel`
contract. Models take arrays or data frames and return arrays; they never open the store.
"""

from cartwise.predict._alive import ALIVE_MODELS, MIN_CALIBRATION_DAYS, AliveFit, fit_alive_model
from cartwise.predict._base import PurchaseModel, SpendModel
from cartwise.predict._bgnbd import BGNBD
from cartwise.predict._churn import (
    MIN_CLASS_COUNT,
    PropensityModel,
    bgnbd_p_no_purchase,
    rfm_quintile_score,
)
from cartwise.predict._clv import customer_lifetime_value
from cartwise.predict._fallback import RUNAWAY_PENALIZER, fit_bgnbd, fit_with_fallback
from cartwise.predict._gamma_gamma import GammaGamma
from cartwise.predict._mbgnbd import MBGNBD
from cartwise.predict._pareto import ParetoNBD
from cartwise.predict._summary import SUMMARY_COLUMNS, RFMSummary, TimeUnit, rfm_summary

PURCHASE_MODELS: dict[str, type[PurchaseModel]] = {"bgnbd": BGNBD, "mbgnbd": MBGNBD, "pareto": ParetoNBD}
"""Every purchase-count model by its short name (the `--model` choices of `cartwise clv`)."""
SPEND_MODELS: dict[str, type[SpendModel]] = {"gammagamma": GammaGamma}
"""Every spend model by its short name."""

__all__ = [
    "ALIVE_MODELS",
    "BGNBD",
    "MBGNBD",
    "MIN_CALIBRATION_DAYS",
    "MIN_CLASS_COUNT",
    "PURCHASE_MODELS",
    "RUNAWAY_PENALIZER",
    "SPEND_MODELS",
    "SUMMARY_COLUMNS",
    "AliveFit",
    "GammaGamma",
    "ParetoNBD",
    "PropensityModel",
    "PurchaseModel",
    "RFMSummary",
    "SpendModel",
    "TimeUnit",
    "bgnbd_p_no_purchase",
    "customer_lifetime_value",
    "fit_alive_model",
    "fit_bgnbd",
    "fit_with_fallback",
    "rfm_quintile_score",
    "rfm_summary",
]
