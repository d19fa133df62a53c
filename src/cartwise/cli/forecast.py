"""`cartwise forecast`: demand forecasts per series from a history file, and their backtest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cartwise.cli.common import emit, json_option, set_aside_lines
from cartwise.cli.errors import warning_text
from cartwise.core.files import require_input_file

F = TypeVar("F", bound=Callable[..., Any])

_FILE = click.Path(dir_okay=False, path_type=Path)


def _series_options(func: F) -> F:
    """Options shared by forecasting and backtesting: the history file and how to read it."""
    options = [
        click.option("--history", type=_FILE, help="Long table: one row per series and period (CSV, TSV, Parquet, JSONL, .gz)."),
        click.option("--id-col", help="Column naming the series (item, category, store...)."),
        click.option("--date-col", help="Column with the period: a date, or an integer period such as a week number."),
        click.option("--value-col", help="Column with the demand (units or revenue)."),
        click.option("--freq", default="auto", show_default=True, help="auto, D (daily), W (weekly) or an integer step."),
        click.option("--horizon", type=int, help="Periods to forecast after each series' last period."),
        click.option("--covariates", type=_FILE, default=None, help="Known regressors per id and period, history and future rows (prices, promotions, flags)."),
        click.option("--season-length", type=int, default=None, help="Periods per season [default: 7 daily, 52 weekly, 1 integer periods]."),
        click.option("--covariates-fill", type=click.Choice(["last", "drop", "error"]), default="last", show_default=True, help="A future period missing from --covariates: last carries the series' last known values forward, drop leaves the period out of the forecast, error stops. Filled periods are reported."),
        click.option("--strict", is_flag=True, help="Fail on unusable history records instead of setting them aside (counted and reported by line, like `cartwise ingest` quarantines them)."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def _require(ctx: click.Context, **values: Any) -> None:
    missing = [f"--{k.replace('_', '-')}" for k, v in values.items() if v is None]
    if missing:
        raise click.UsageError(f"Missing option(s) {', '.join(missing)}.", ctx=ctx)


def _human_fill(result: dict[str, Any]) -> list[str]:
    fill = result.get("covariates_fill")
    if not fill:
        return []
    lines = []
    if fill["series"]:
        verb = "left out" if fill["policy"] == "drop" else "filled with the last known values"
        lines.append(
            f"Covariates: {fill['periods']} future periods of {fill['series']} series {verb} (--covariates-fill {fill['policy']}):"
        )
        lines += [f"  {sid}: {', '.join(dates)}" for sid, dates in list(fill["filled"].items())[:10]]
    if fill["without_covariates"]:
        lines.append(
            f"{len(fill['without_covariates'])} series have no covariates and were forecast without them."
        )
    return lines  # fmt: skip


def _set_aside(result: dict[str, Any]) -> list[str]:
    """The history's and the covariates' records set aside, in words."""
    report = result["set_aside"]
    covariates = report.get("covariates") or {"set_aside": 0}
    return set_aside_lines(report, "history") + set_aside_lines(covariates, "covariate")


def _worded(result: dict[str, Any]) -> dict[str, Any]:
    """The result with its data warnings as text naming this command's options (`--strict`),
    as the warnings printed on stderr do; the pipeline hands over the warning objects."""
    return {**result, "warnings": [warning_text(w) for w in result["warnings"]]}


def _human_forecast(result: dict[str, Any]) -> str:
    models = ", ".join(f"{k}: {v}" for k, v in result["models"].items())
    lines = [
        f"Wrote {result['rows']} rows for {result['series']} series ({result['freq']}, horizon {result['horizon']}) to {result['out']}.",
        f"Models: {models}.",
    ]
    if result["fallbacks"]:
        lines.append(f"{len(result['fallbacks'])} series used a simpler model:")
        lines += [f"  {sid}: {why}" for sid, why in list(result["fallbacks"].items())[:10]]
    return "\n".join(lines + _human_fill(result) + _set_aside(result))


def _human_backtest(result: dict[str, Any]) -> str:
    lines = [
        f"Backtest: {result['series']} series, horizon {result['horizon']}, {result['windows']} windows.",
        f"{'model':<24}{'MASE':>8}{'sMAPE':>8}{'cov80':>8}{'cov95':>8}{'series':>8}",
    ]
    for row in result["metrics"]:
        lines.append(
            f"{row['model']:<24}{row['mase']:>8.3f}{row['smape']:>8.2f}{row['coverage_80']:>8.3f}"
            f"{row['coverage_95']:>8.3f}{row['n_series']:>8}"
        )
    return "\n".join(lines + _human_fill(result) + _set_aside(result))


@click.group(invoke_without_command=True)
@_series_options
@click.option(
    "--model",
    default="auto",
    show_default=True,
    help="auto, or one model: naive, seasonal_naive, moving_average, moving_median, ses, ets, theta, combination, croston, tsb, adida, lightgbm.",
)
@click.option(
    "--out", type=_FILE, help="Forecast CSV to write: id, date, forecast, lo_80, hi_80, lo_95, hi_95."
)
@json_option
@click.pass_context
def forecast(ctx: click.Context, history: Path | None, id_col: str | None, date_col: str | None, value_col: str | None,
             freq: str, horizon: int | None, covariates: Path | None, season_length: int | None,
             covariates_fill: str, strict: bool, model: str, out: Path | None, as_json: bool) -> None:  # fmt: skip
    """Forecast demand per series for the next --horizon periods, with 80% and 95% intervals.

    `cartwise forecast backtest ...` scores the models instead.
    """
    if ctx.invoked_subcommand is not None:
        return
    _require(
        ctx, history=history, id_col=id_col, date_col=date_col, value_col=value_col, horizon=horizon, out=out
    )
    from cartwise.pipelines.forecast import run_forecast

    result = run_forecast(
        history, id_col, date_col, value_col, horizon, out,  # type: ignore[arg-type]
        freq=freq, covariates=covariates, model=model, season_length=season_length,
        covariates_fill=covariates_fill, strict=strict,
    )  # fmt: skip
    emit(_worded(result), as_json, _human_forecast)


@forecast.command("backtest")
@_series_options
@click.option(
    "--model",
    "models",
    multiple=True,
    default=("auto",),
    show_default=True,
    help="Model to score; repeat for several.",
)
@click.option(
    "--windows", type=int, default=2, show_default=True, help="Rolling origins, each --horizon periods apart."
)
@json_option
def backtest(history: Path | None, id_col: str | None, date_col: str | None, value_col: str | None, freq: str,
             horizon: int | None, covariates: Path | None, season_length: int | None, covariates_fill: str,
             strict: bool, models: tuple[str, ...], windows: int, as_json: bool) -> None:  # fmt: skip
    """Rolling-origin backtest: MASE, sMAPE and interval coverage per model, beside naive and statsforecast AutoETS."""
    _require(
        click.get_current_context(),
        history=history,
        id_col=id_col,
        date_col=date_col,
        value_col=value_col,
        horizon=horizon,
    )
    from cartwise.pipelines.forecast import run_backtest

    result = run_backtest(
        history, id_col, date_col, value_col, horizon,  # type: ignore[arg-type]
        freq=freq, covariates=covariates, models=models, windows=windows, season_length=season_length,
        covariates_fill=covariates_fill, strict=strict,
    )  # fmt: skip
    emit(_worded(result), as_json, _human_backtest)


@forecast.command("reorder")
@click.option(
    "--forecast",
    "forecast_file",
    type=_FILE,
    required=True,
    help="Forecast CSV written by `cartwise forecast`.",
)
@click.option("--stock", type=_FILE, required=True, help="Units on hand per id (CSV, TSV, Parquet, JSONL).")
@click.option("--id-col", default="id", show_default=True, help="Id column of the stock file.")
@click.option(
    "--stock-col", default="stock", show_default=True, help="Units-on-hand column of the stock file."
)
@click.option("--lead-time", type=int, required=True, help="Periods between ordering and receiving.")
@click.option(
    "--service-level",
    type=float,
    default=0.95,
    show_default=True,
    help="Chance of no stock-out during the lead time.",
)
@click.option("--review-period", type=int, default=1, show_default=True, help="Periods between two orders.")
@click.option("--out", type=_FILE, required=True, help="Plan CSV to write, riskiest items first.")
@click.option(
    "--strict",
    is_flag=True,
    help="Fail on unusable forecast or stock records instead of setting them aside (counted and "
    "reported by line, like `cartwise ingest` quarantines them).",
)
@json_option
def reorder(forecast_file: Path, stock: Path, id_col: str, stock_col: str, lead_time: int, service_level: float,
            review_period: int, out: Path, strict: bool, as_json: bool) -> None:  # fmt: skip
    """Reorder point, order quantity, periods of cover and stock-out risk per item, from a forecast.

    Records of either file that cannot be used (no id, a value that is not a number) are set
    aside and reported by line (`set_aside`, the stock file's under `set_aside.stock`); a
    series that loses a forecast row is left out whole (`set_aside.series_left_out`).
    """
    for path, what in ((forecast_file, "forecast"), (stock, "stock")):
        require_input_file(path, what)  # before pandas and the models load: a typo fails at once
    from cartwise.pipelines.forecast import run_reorder

    result = run_reorder(
        forecast_file, stock, lead_time, out, id_col, stock_col, service_level, review_period, strict=strict
    )
    emit(result, as_json, _human_reorder)


def _human_reorder(result: dict[str, Any]) -> str:
    report = result["set_aside"]
    lines = [f"Planned {result['items']} items; {result['to_order']} to order now. Wrote {result['out']}."]
    lines += set_aside_lines(report, "forecast")
    if report["series_left_out"]:
        shown = ", ".join(report["series_left_out"][:10])
        more = ", ..." if len(report["series_left_out"]) > 10 else ""
        lines.append(
            f"  {len(report['series_left_out'])} series left out, a forecast row set aside: {shown}{more}"
        )
    return "\n".join(lines + set_aside_lines(report["stock"], "stock"))
