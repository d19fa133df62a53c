"""`cartwise demand`: forecasts, a reorder plan and price elasticities from the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cartwise.cli.common import db_option, emit, json_option, progress, settings_for
from cartwise.pipelines.stores import opened


def _number(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _human_build(report: dict[str, Any]) -> str:
    unit = "weeks" if report["freq"] == "W" else "days"
    history = report["history"]
    lines = [
        f"History: {history['periods']} complete {unit}, {history['first']} to {history['last']}; "
        f"forecasting {report['horizon']} {unit} from {report['forecast_from']}.",
        f"{'series':<18}{'count':>7}{'MASE':>8}{'sMAPE':>8}{'cov80':>8}{'cov95':>8}",
    ]
    for name, level in report["levels"].items():
        b = level["backtest"]
        lines.append(
            f"{name:<18}{level['series']:>7}{_number(b.get('mase')):>8}{_number(b.get('smape'), 1):>8}"
            f"{_number(b.get('coverage_80')):>8}{_number(b.get('coverage_95')):>8}"
        )
    r = report["reorder"]
    lines.append(
        f"Reorder plan ({r['lead_time']} {unit} lead time, {r['service_level']:.0%} service): {r['items']} items, "
        f"{r['to_order']} to order now, {r['at_risk']} likely to run out within the lead time."
    )
    for row in r["riskiest"][:5]:
        lines.append(
            f"  {row['item_id']}: stock {row['stock']:.0f}, lead-time demand {row['lead_time_demand']:.1f}, "
            f"order {row['order_quantity']:.0f}, stock-out risk {row['stockout_risk']:.0%}"
        )
    if "elasticities" in report:
        lines.append(_human_elasticity(report["elasticities"]))
    lines.append(f"Tables written: {', '.join(f'{k} ({v})' for k, v in report['tables'].items())}.")
    return "\n".join(lines)


def _human_elasticity(report: dict[str, Any]) -> str:
    lines = [
        f"Price elasticities: {report['items_own_estimate']} items with their own estimate, "
        f"{report['items_pooled']} pooled with their category; median {_number(report['median_item_elasticity'])}, "
        f"spread within categories {_number(report['spread_within_category'])}.",
    ]
    for row in report["categories"]:
        lines.append(
            f"  {row['id']:<24}{_number(row['elasticity']):>8} ± {_number(row['std_error'])}  ({row['items']} items)"
        )
    return "\n".join(lines)


@click.group()
def demand() -> None:
    """Demand forecasts, reorder suggestions and price elasticities from the store's orders."""


@demand.command("build")
@db_option
@click.option("--horizon", type=int, default=12, show_default=True, help="Periods to forecast.")
@click.option(
    "--freq",
    type=click.Choice(["W", "D"], case_sensitive=False),
    default="W",
    show_default=True,
    help="Period: W (weeks starting Monday) or D (days).",
)
@click.option(
    "--lead-time",
    type=int,
    default=2,
    show_default=True,
    help="Periods between placing and receiving an order.",
)
@click.option(
    "--service-level",
    type=float,
    default=0.95,
    show_default=True,
    help="Wanted chance of no stock-out during the lead time.",
)
@click.option("--review-period", type=int, default=1, show_default=True, help="Periods between two orders.")
@json_option
def build(
    db: Path | None,
    horizon: int,
    freq: str,
    lead_time: int,
    service_level: float,
    review_period: int,
    as_json: bool,
) -> None:
    """Forecast demand per item and category, plan reorders from `items.stock`, estimate price elasticities.

    Writes the tables demand, forecasts, forecast_models, reorder_plan and elasticities.
    """
    with opened(settings_for(db), create=False) as store, progress("Forecasting", not as_json):
        from cartwise.pipelines.demand import build_forecasts  # statsforecast: only when forecasting

        report = build_forecasts(
            store,
            horizon=horizon,
            freq=freq,
            lead_time=lead_time,
            service_level=service_level,
            review_period=review_period,
        )
    emit(report, as_json, _human_build)


@demand.command("elasticity")
@db_option
@click.option(
    "--min-price-changes",
    type=int,
    default=3,
    show_default=True,
    help="Days at another price an item needs for its own estimate; others get their category's.",
)
@json_option
def elasticity(db: Path | None, min_price_changes: int, as_json: bool) -> None:
    """Price elasticity per item and per top-level category, from prices that changed (promotions).

    Writes the table elasticities.
    """
    with opened(settings_for(db), create=False) as store:
        from cartwise.pipelines.demand import build_elasticities

        report = build_elasticities(store, min_price_changes=min_price_changes)
    emit(report, as_json, _human_elasticity)
