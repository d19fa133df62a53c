"""Lifetime-value pipeline: transactions -> per-customer summary -> fitted models -> predictions.

`fit_clv` summarises a transaction log, fits a purchase-count model (BG/NBD, MBG/NBD,
Pareto/NBD, or the best of the three on the holdout) and the Gamma-Gamma spend model; `predict_clv` scores
every customer over a horizon after the calibration end. `read_transactions` loads a file with
`cartwise.ingest.read_file`, reading it without a header when the columns are given by number.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from cartwise.core.errors import CartwiseError, InputError, ModelError
from cartwise.evaluation.clv import holdout_errors
from cartwise.ingest import read_file
from cartwise.pipelines.choices import CLV_MODEL_CHOICES, ClvModelChoice
from cartwise.predict import (
    PURCHASE_MODELS,
    GammaGamma,
    PurchaseModel,
    RFMSummary,
    TimeUnit,
    customer_lifetime_value,
    rfm_summary,
)
from cartwise.predict._summary import DAYS_PER_UNIT

ModelChoice = ClvModelChoice
MODEL_CHOICES = CLV_MODEL_CHOICES
PREDICTION_COLUMNS = ("customer_id", "expected_purchases", "p_alive", "expected_avg_value", "clv")


@dataclass
class ClvFit:
    """A fitted lifetime-value pipeline and what a user needs to judge it."""

    model: Literal["bgnbd", "mbgnbd", "pareto"]
    purchase_model: PurchaseModel
    spend_model: GammaGamma
    summary: RFMSummary
    holdout: dict[str, dict[str, float | None]]
    selection: str
    spend_customers: int
    spend_excluded_nonpositive: int
    frequency_value_correlation: float | None
    failed_models: dict[str, str]
    regularisation: dict[str, str]
    """Per fitted model (`bgnbd`, ..., `gamma_gamma`): why it fell back to `FALLBACK_PENALIZER`."""

    def to_dict(self) -> dict[str, Any]:
        """The `cartwise clv fit --json` document (stable keys first, extras after)."""
        out: dict[str, Any] = {
            "model": self.model,
            "params": self.purchase_model.params_,
            "log_likelihood": self.purchase_model.log_likelihood_,
            "gamma_gamma": self.spend_model.params_,
            "customers": len(self.summary.customers),
            "standard_errors": {
                "params": self.purchase_model.standard_errors_,
                "gamma_gamma": self.spend_model.standard_errors_,
            },
            "gamma_gamma_log_likelihood": self.spend_model.log_likelihood_,
            "gamma_gamma_customers": self.spend_customers,
            "gamma_gamma_excluded_nonpositive": self.spend_excluded_nonpositive,
            "frequency_value_correlation": self.frequency_value_correlation,
            "selection": self.selection,
            "holdout": self.holdout.get(self.model),
            "holdout_by_model": self.holdout,
            "failed_models": self.failed_models,
            "regularisation": self.regularisation,
            "summary": self.summary.report(),
        }
        return out


def _is_position(ref: str | int | None) -> bool:
    return ref is None or isinstance(ref, int) or str(ref).isdigit()


def read_transactions(
    path: str | Path,
    customer_col: str | int,
    date_col: str | int,
    amount_col: str | int | None,
) -> pd.DataFrame:
    """Read a transaction file into a data frame of strings.

    When every column reference is a number, the file is read without a header and columns
    are named "0", "1", ... (so `customer_col=0` selects the first column); otherwise the first
    line is the header. Formats are those of `cartwise.ingest.read_file`.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{str(path)!r} does not exist or is not a file.", parameter="transactions")
    refs = [customer_col, date_col, amount_col]
    header = not all(_is_position(r) for r in refs)
    table = read_file(path, header=header)
    return table.to_pandas()


def read_transactions_checked(
    path: str | Path,
    customer_col: str | int,
    date_col: str | int,
    amount_col: str | int | None,
    *,
    date_format: str | None = None,
    strict: bool = False,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Like `read_transactions`, but records that cannot be used are set aside and reported by
    the line an editor shows (`cartwise.pipelines.bad_rows.read_checked`), or with `strict` fail."""
    from cartwise.pipelines.bad_rows import read_checked

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{str(path)!r} does not exist or is not a file.", parameter="transactions")
    header = not all(_is_position(r) for r in (customer_col, date_col, amount_col))
    roles = {"customer": customer_col, "date": date_col, "amount": amount_col}
    columns = {k: (None if v is None else str(v)) for k, v in roles.items()}
    return read_checked(path, header, columns, date_format=date_format, strict=strict)


def _spend_data(summary: RFMSummary) -> tuple[pd.DataFrame, int]:
    customers = summary.customers
    repeaters = customers[customers["frequency"] > 0]
    usable = repeaters[(repeaters["monetary_count"] > 0) & (repeaters["monetary_value"] > 0)]
    return usable, len(repeaters) - len(usable)


FALLBACK_PENALIZER = 0.001
"""L2 penalty tried when a fit without one does not converge (small or awkward logs)."""


def _with_fallback(fit: Callable[[float], Any], label: str, penalizer: float, notes: dict[str, str]) -> Any:
    """`fit(penalizer)`; when that fails to converge without a penalty, `fit(FALLBACK_PENALIZER)`.

    The fallback is stated in `notes[label]` with the reason the unpenalised fit failed; when
    the penalised fit fails too, its error is raised, saying both attempts were made.
    """
    try:
        return fit(penalizer)
    except ModelError as exc:
        if penalizer > 0:
            raise
        first = str(exc)
    try:
        fitted = fit(FALLBACK_PENALIZER)
    except ModelError as exc:
        raise ModelError(
            f"{exc} (This is the fit with penalizer {FALLBACK_PENALIZER}, tried after the fit without a "
            "penalty failed the same way: the log cannot support this model as it is; a larger `penalizer`, "
            "another `model` or a longer history may.)",
            parameter="penalizer",
            mentions=("penalizer", "model"),
        ) from exc
    notes[label] = (
        f"fitted with penalizer {FALLBACK_PENALIZER} (an L2 penalty on the log-parameters) because the "
        f"unpenalised fit failed: {first}"
    )
    return fitted


def _purchase_model(name: str, penalizer: float) -> PurchaseModel:
    return PURCHASE_MODELS[name](penalizer=penalizer)


def _purchase_fit(
    name: str, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray
) -> Callable[[float], PurchaseModel]:
    """Fitting model `name` on (x, t_x, T) with a given penalizer, for `_with_fallback`."""
    return lambda penalizer: _purchase_model(name, penalizer).fit(x, t_x, big_t)


def fit_clv(
    transactions: pd.DataFrame,
    *,
    customer_col: str,
    date_col: str,
    amount_col: str,
    calibration_end: str | date,
    observation_end: str | date | None = None,
    time_unit: TimeUnit = "week",
    date_format: str | None = None,
    model: ModelChoice = "bgnbd",
    penalizer: float = 0.0,
) -> ClvFit:
    """Summarise `transactions` and fit the purchase and spend models on the calibration period.

    `model="auto"` fits BG/NBD, MBG/NBD and Pareto/NBD and keeps the one with the lowest holdout
    mean absolute error when the holdout has purchases, else the highest log-likelihood (all
    have four parameters). A fit without a penalty that does not converge is retried with
    `FALLBACK_PENALIZER`, stated in `regularisation`; a model that still does not converge is
    skipped in "auto" mode; if all fail, the BG/NBD error is raised. Holdout errors are reported for every model fitted.
    """
    if model not in MODEL_CHOICES:
        raise InputError(f"must be one of {', '.join(MODEL_CHOICES)}; received {model!r}.", parameter="model")
    summary = rfm_summary(
        transactions,
        customer_col=customer_col,
        date_col=date_col,
        amount_col=amount_col,
        calibration_end=calibration_end,
        observation_end=observation_end,
        time_unit=time_unit,
        date_format=date_format,
    )
    cust = summary.customers
    repeaters = int((cust["frequency"] > 0).sum())
    if repeaters == 0:
        raise ModelError(
            f"All {len(cust)} customers made a single purchase (one purchase day) before the calibration end "
            f"{summary.calibration_end}; lifetime-value models learn from repeat purchases. Move the calibration end "
            "later or supply a longer transaction history.",
            parameter="calibration_end",
        )
    x, t_x, big_t = (cust[c].to_numpy(np.float64) for c in ("frequency", "recency", "T"))
    has_holdout = summary.holdout_duration > 0
    names = ["bgnbd", "mbgnbd", "pareto"] if model == "auto" else [model]
    fitted: dict[str, PurchaseModel] = {}
    holdout: dict[str, dict[str, float | None]] = {}
    errors: dict[str, CartwiseError] = {}
    notes: dict[str, str] = {}
    for name in names:
        try:
            fitted[name] = _with_fallback(_purchase_fit(name, x, t_x, big_t), name, penalizer, notes)
        except ModelError as exc:
            if model != "auto":
                raise
            errors[name] = exc
            continue
        if has_holdout:
            predicted = fitted[name].conditional_expected_purchases(summary.holdout_duration, x, t_x, big_t)
            holdout[name] = holdout_errors(cust["frequency_holdout"].to_numpy(np.float64), predicted)
    if not fitted:
        raise errors["bgnbd"]
    if len(fitted) == 1:
        chosen = next(iter(fitted))
        selection = "requested" if model != "auto" else f"only {chosen} converged"
    elif has_holdout and cust["frequency_holdout"].sum() > 0:
        chosen = min(fitted, key=lambda k: float(holdout[k]["mae"] or 0.0))
        selection = "lowest holdout mae"
    else:
        chosen = max(fitted, key=lambda k: fitted[k].log_likelihood_)
        selection = "highest log-likelihood (no holdout purchases)"

    spend, excluded = _spend_data(summary)
    if len(spend) < 3:
        raise ModelError(
            f"Only {len(spend)} customers have repeat purchases with a positive value, too few for the "
            "Gamma-Gamma spend model (at least 3). Move the calibration end later or check the amount column.",
            parameter="calibration_end",
        )
    spend_model = _with_fallback(
        lambda pen: GammaGamma(penalizer=pen).fit(spend["monetary_count"], spend["monetary_value"]),
        "gamma_gamma",
        penalizer,
        notes,
    )
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        corr = float(np.corrcoef(spend["frequency"], spend["monetary_value"])[0, 1])
    return ClvFit(
        model=chosen,  # type: ignore[arg-type]
        purchase_model=fitted[chosen],
        spend_model=spend_model,
        summary=summary,
        holdout=holdout,
        selection=selection,
        spend_customers=len(spend),
        spend_excluded_nonpositive=excluded,
        # JSON has no NaN: a constant column leaves the correlation undefined.
        frequency_value_correlation=corr if np.isfinite(corr) else None,
        failed_models={name: str(exc) for name, exc in errors.items()},
        regularisation={k: v for k, v in notes.items() if k in (chosen, "gamma_gamma")},
    )


def annual_to_unit_rate(annual_rate: float, time_unit: TimeUnit) -> float:
    """Discount rate per time unit equivalent to `annual_rate`: ``(1 + R)^(days/365.25) - 1``."""
    if not 0 <= annual_rate < 10:
        raise InputError(
            f"must be between 0 and 10 (e.g. 0.1 for 10%); received {annual_rate}.",
            parameter="annual_discount_rate",
        )
    return float((1.0 + annual_rate) ** (DAYS_PER_UNIT[time_unit] / 365.25) - 1.0)


def predict_clv(fit: ClvFit, *, horizon: float, annual_discount_rate: float = 0.1) -> pd.DataFrame:
    """One row per customer: expected purchases in (calibration end, + horizon], P(alive) at the
    calibration end, expected average transaction value and discounted CLV (money units).

    `horizon` is in the summary's time unit; `annual_discount_rate` is converted per time unit.
    """
    if not (isinstance(horizon, int | float) and np.isfinite(horizon) and horizon > 0):
        raise InputError(
            f"must be a positive number of time units; received {horizon!r}.", parameter="horizon"
        )
    cust = fit.summary.customers
    x, t_x, big_t = (cust[c].to_numpy(np.float64) for c in ("frequency", "recency", "T"))
    m = cust["monetary_value"].to_numpy(np.float64)
    counts = cust["monetary_count"].to_numpy(np.float64)
    model = fit.purchase_model
    rate = annual_to_unit_rate(annual_discount_rate, fit.summary.time_unit)
    return pd.DataFrame(
        {
            "customer_id": cust["customer_id"].to_numpy(),
            "expected_purchases": model.conditional_expected_purchases(horizon, x, t_x, big_t),
            "p_alive": model.p_alive(x, t_x, big_t),
            "expected_avg_value": fit.spend_model.expected_average_value(counts, m),
            "clv": customer_lifetime_value(
                model,
                fit.spend_model,
                x,
                t_x,
                big_t,
                m,
                horizon=float(horizon),
                discount_rate=rate,
                monetary_count=counts,
            ),
        },
        columns=list(PREDICTION_COLUMNS),
    )


__all__ = [
    "MODEL_CHOICES",
    "PREDICTION_COLUMNS",
    "ClvFit",
    "annual_to_unit_rate",
    "fit_clv",
    "predict_clv",
    "read_transactions",
    "read_transactions_checked",
]
