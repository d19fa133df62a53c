"""`cartwise churn`: evaluate churn and purchase-propensity models out of time, and score customers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import click

from cartwise.cli.common import db_option, emit, json_option, progress, settings_for
from cartwise.pipelines.choices import TARGETS, Target
from cartwise.pipelines.stores import opened

SCORER_LABELS = {
    "model": "model (LightGBM, calibrated)",
    "rfm": "RFM quintiles (R+F)",
    "p_alive": "P(alive) (the profiles' model: MBG/NBD or Pareto/NBD)",
    "bgnbd_p_alive": "BG/NBD P(alive)",
    "bgnbd_horizon": "BG/NBD P(outcome in horizon)",
}


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_evaluation(report: dict[str, Any]) -> str:
    """The evaluation report as a readable table: one row per scorer, then the model's details."""
    train, test = report["train"], report["test"]
    outcome = "no order" if report["target"] == "churn" else "an order"
    lines = [
        f"target {report['target']}: {outcome} in the {report['horizon_days']} days after the cutoff",
        f"trained at {train['cutoff']} ({train['customers']:,} customers, base rate {train['base_rate']:.1%}); "
        f"evaluated at {test['cutoff']} ({test['customers']:,} customers, base rate {test['base_rate']:.1%})",
        "",
        f"{'scorer':<30} {'ROC-AUC':>8} {'PR-AUC':>8} {'Brier':>8} {'ECE':>8} {'lift@10%':>9}",
    ]
    for name, scores in report["scores"].items():
        label = SCORER_LABELS.get(name, name)
        if "error" in scores:
            lines.append(f"{label:<30} not available: {scores['error']}")
            continue
        lines.append(
            f"{label:<30} {_number(scores['roc_auc']):>8} {_number(scores['average_precision']):>8} "
            f"{_number(scores['brier']):>8} {_number(scores['expected_calibration_error']):>8} "
            f"{scores['lift'][0]['lift']:>9.2f}"
        )
    model = report["scores"]["model"]
    lines += [
        f"{'base rate (always predict it)':<30} {0.5:>8.3f} {model['base_rate']:>8.3f} "
        f"{model['brier_reference']:>8.3f} {'-':>8} {1.0:>9.2f}",
        "",
        "lift by decile (model): " + " ".join(f"{d['lift']:.2f}" for d in model["lift"]),
        "calibration (model), predicted -> observed: "
        + ", ".join(
            f"{b['mean_predicted']:.2f}->{b['observed_rate']:.2f} (n={b['customers']})"
            for b in model["calibration"]
        ),
        "feature importance (share of gain): "
        + ", ".join(f"{f['feature']} {f['share']:.1%}" for f in report["feature_importance"][:10]),
    ]
    return "\n".join(lines)


def _format_scores(result: dict[str, Any]) -> str:
    return (
        f"scored {result['customers']:,} customers as of {result['as_of']} over the next {result['horizon_days']} days "
        f"(models trained at {result['train_cutoff']}); mean P(churn) {result['mean_p_churn']:.3f}, "
        f"mean P(purchase) {result['mean_p_purchase']:.3f}; saved to the `{result['table']}` table"
    )


_horizon = click.option(
    "--horizon",
    type=int,
    default=30,
    show_default=True,
    help="Days after the cutoff in which the outcome is observed (churn: no order; purchase: an order).",
)


@click.group()
def churn() -> None:
    """Churn and purchase propensity: calibrated gradient boosting against RFM and BG/NBD baselines."""


@churn.command("evaluate")
@_horizon
@click.option(
    "--cutoff",
    default=None,
    help="Evaluation day YYYY-MM-DD; the model trains at this day minus --horizon "
    "[default: the last data day minus --horizon].",
)
@click.option(
    "--target",
    type=click.Choice(list(TARGETS)),
    default="churn",
    show_default=True,
    help="churn: no order in the horizon; purchase: at least one order in it.",
)
@db_option
@json_option
def evaluate(horizon: int, cutoff: str | None, target: str, db: Path | None, as_json: bool) -> None:
    """Train on one cutoff, evaluate on a later one: ROC-AUC, PR-AUC, Brier, calibration, lift, importance."""
    with opened(settings_for(db), read_only=True) as store, progress("Evaluating", not as_json):
        from cartwise.pipelines.churn import evaluate_churn

        report = evaluate_churn(store, horizon=horizon, cutoff=cutoff, target=cast(Target, target))
    emit(report, as_json, format_evaluation)


@churn.command("score")
@_horizon
@db_option
@json_option
def score(horizon: int, db: Path | None, as_json: bool) -> None:
    """Score every customer as of the latest data and save the `churn_scores` table."""
    with opened(settings_for(db), create=False) as store, progress("Scoring", not as_json):
        from cartwise.pipelines.churn import score_churn

        result = score_churn(store, horizon=horizon)
    emit(result, as_json, _format_scores)


__all__ = ["churn", "format_evaluation"]
