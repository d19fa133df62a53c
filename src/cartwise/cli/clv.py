"""`cartwise clv`: fit lifetime-value models on a transaction file and score customers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cartwise.cli.common import emit, json_option
from cartwise.core.files import require_file
from cartwise.pipelines.choices import CLV_MODEL_CHOICES

if TYPE_CHECKING:
    from cartwise.pipelines.clv import ClvFit

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS: list[Callable[[Any], Any]] = [
    click.option(
        "--transactions",
        type=click.Path(dir_okay=False, path_type=Path),
        required=True,
        help="Transaction file (CSV, TSV, whitespace-separated, Parquet, JSONL; .gz too).",
    ),
    click.option(
        "--customer-col",
        required=True,
        help="Customer id column: a name, or a 0-based column number for a file without a header.",
    ),
    click.option("--date-col", required=True, help="Transaction date column (name or 0-based number)."),
    click.option("--amount-col", required=True, help="Transaction value column (name or 0-based number)."),
    click.option(
        "--date-format", default=None, help="strftime format of the dates, e.g. %Y%m%d [default: inferred]."
    ),
    click.option(
        "--calibration-end",
        required=True,
        help="Last day (YYYY-MM-DD, inclusive) of the period the models learn from.",
    ),
    click.option(
        "--observation-end",
        default=None,
        help="Last day (YYYY-MM-DD) of data to read; days after the calibration end form the holdout "
        "[default: the last transaction].",
    ),
    click.option(
        "--time-unit",
        type=click.Choice(["day", "week"]),
        default="week",
        show_default=True,
        help="Unit of recency, T, the horizon and the alpha/beta parameters.",
    ),
    click.option(
        "--model",
        type=click.Choice(list(CLV_MODEL_CHOICES)),
        default="bgnbd",
        show_default=True,
        help="Purchase model: BG/NBD, MBG/NBD (one-time buyers can drop out too), Pareto/NBD; "
        "auto keeps the best of the three on the holdout.",
    ),
    click.option(
        "--strict",
        is_flag=True,
        help="Fail on the first unusable record instead of setting bad records aside (counted and "
        "reported by line, like `cartwise ingest` quarantines them).",
    ),
    click.option(
        "--penalizer",
        type=float,
        default=0.0,
        show_default=True,
        help="L2 penalty on the parameters; a small value (0.001) tames fits that do not converge.",
    ),
]


def _common(func: F) -> F:
    for option in reversed(_OPTIONS):
        func = option(func)
    return json_option(func)


def _fit(options: dict[str, Any]) -> tuple[ClvFit, dict[str, Any]]:
    require_file(options["transactions"])  # before SciPy and pandas load: a typo fails at once
    from cartwise.pipelines.clv import fit_clv, read_transactions_checked  # SciPy, pandas: on use

    frame, report = read_transactions_checked(
        options["transactions"],
        options["customer_col"],
        options["date_col"],
        options["amount_col"],
        date_format=options["date_format"],
        strict=options["strict"],
    )
    return fit_clv(
        frame,
        customer_col=options["customer_col"],
        date_col=options["date_col"],
        amount_col=options["amount_col"],
        date_format=options["date_format"],
        calibration_end=options["calibration_end"],
        observation_end=options["observation_end"],
        time_unit=options["time_unit"],
        model=options["model"],
        penalizer=options["penalizer"],
    ), report


def _human_fit(result: dict[str, Any]) -> str:
    ses = result["standard_errors"]
    lines = [f"{result['model']} on {result['customers']} customers ({result['selection']})"]
    for name, value in result["params"].items():
        lines.append(f"  {name:<6} {value:10.4g}  (se {ses['params'][name]:.3g})")
    lines.append(f"  log-likelihood {result['log_likelihood']:.2f}")
    lines.append(f"gamma-gamma on {result['gamma_gamma_customers']} repeat customers")
    for name, value in result["gamma_gamma"].items():
        lines.append(f"  {name:<6} {value:10.4g}  (se {ses['gamma_gamma'][name]:.3g})")
    for name, why in result["regularisation"].items():
        lines.append(f"note: {name} {why}")
    if result["set_aside"]["set_aside"]:
        lines.append(f"set aside: {result['set_aside']['set_aside']:,} unusable records (see the warning)")
    if result["holdout"]:
        h = result["holdout"]
        lines.append(
            f"holdout: {h['total_predicted']:.1f} purchases predicted, {h['total_actual']:.0f} actual; "
            f"MAE {h['mae']:.3f} per customer"
        )
    return "\n".join(lines)


@click.group()
def clv() -> None:
    """Customer lifetime value: BG/NBD, MBG/NBD or Pareto/NBD purchase counts with Gamma-Gamma spend."""


@clv.command("fit")
@_common
def fit_command(as_json: bool, **options: Any) -> None:
    """Fit the models on the calibration period and print parameters and holdout fit."""
    fitted, report = _fit(options)
    emit({**fitted.to_dict(), "set_aside": report}, as_json, _human_fit)


@clv.command("predict")
@_common
@click.option(
    "--horizon",
    type=float,
    required=True,
    help="Prediction window after the calibration end, in time units (e.g. 52 weeks).",
)
@click.option(
    "--annual-discount-rate",
    type=float,
    default=0.1,
    show_default=True,
    help="Yearly discount rate for CLV, converted to the time unit.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="CSV to write: customer_id, expected_purchases, p_alive, expected_avg_value, clv.",
)
def predict_command(
    as_json: bool, horizon: float, annual_discount_rate: float, out: Path, **options: Any
) -> None:
    """Score every customer over --horizon and write one CSV row per customer."""
    fitted, report = _fit(options)
    from cartwise.pipelines.clv import predict_clv

    predictions = predict_clv(fitted, horizon=horizon, annual_discount_rate=annual_discount_rate)
    predictions.to_csv(out, index=False)
    result = {
        "model": fitted.model,
        "customers": len(predictions),
        "horizon": horizon,
        "time_unit": fitted.summary.time_unit,
        "out": str(out),
        "expected_purchases": float(predictions["expected_purchases"].sum()),
        "clv": float(predictions["clv"].sum()),
        "set_aside": report,
    }
    emit(result, as_json)


__all__ = ["clv"]
