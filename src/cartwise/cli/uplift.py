"""`cartwise uplift`: fit uplift models on a randomised campaign, validate them, score customers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cartwise.cli.common import db_option, emit, json_option, progress, settings_for
from cartwise.pipelines.choices import PAST_CAMPAIGN
from cartwise.pipelines.stores import opened

_LEARNERS = ("x", "t")
STRATEGY_LABELS = {
    "x_learner": "uplift, X-learner",
    "t_learner": "uplift, T-learner",
    "propensity": "purchase propensity",
    "random": "random (expected)",
}


def _number(value: float | None, fmt: str = ".1f") -> str:
    return "-" if value is None else format(value, fmt)


def format_evaluation(report: dict[str, Any]) -> str:
    """The cross-fitted comparison as a table: one row per targeting strategy."""
    rate = report["outcome_rate"]
    lines = [
        f"campaign {report['campaign']} sent {report['sent_at']}: {report['audience']:,} customers "
        f"({report['treated']:,} sent), bought within {report['window_days']} days: "
        f"{rate['treated']:.1%} sent vs {rate['held_out']:.1%} held out",
        f"targeting the top {report['k']:.0%} by each score ({report['folds']}-fold cross-fitted):",
        "",
        f"{'strategy':<26} {'targeted':>9} {'realised incr.':>15} {'true incr.':>11} {'Qini':>8} {'AUUC':>8}",
    ]
    for name, row in report["strategies"].items():
        lines.append(
            f"{STRATEGY_LABELS.get(name, name):<26} {row['targeted']:>9,} "
            f"{_number(row['realised_incremental']):>15} {_number(row['true_incremental']):>11} "
            f"{_number(row['qini'], '.2f'):>8} {_number(row['auuc'], '.2f'):>8}"
        )
    return "\n".join(lines)


def _format_fit(report: dict[str, Any]) -> str:
    rate = report["outcome_rate"]
    text = (
        f"{report['learner'].upper()}-learner fitted on {report['campaign']} ({report['treated']:,} sent, "
        f"{report['held_out']:,} held out; bought within {report['window_days']} days: {rate['treated']:.1%} vs "
        f"{rate['held_out']:.1%}); scored {report['customers_scored']:,} customers, mean uplift "
        f"{_number(report['mean_uplift'], '+.4f')}; saved to `{report['table']}` and the profiles' `uplift`"
    )
    return text + (f"; wrote {report['out']}" if report["out"] else "")


@click.group()
def uplift() -> None:
    """Uplift models: who buys because of a message, learned from a campaign's holdout."""


_campaign = click.option(
    "--campaign",
    required=True,
    help="A campaign sent by Cartwise with a holdout (its send log and holdout members) to learn "
    f"from, e.g. {PAST_CAMPAIGN}.",
)


_window = click.option(
    "--window-days",
    type=click.IntRange(min=1),
    default=None,
    help="Days after the first send in which an order counts [default: the campaign's attribution "
    "window, the one its results are measured over].",
)


@uplift.command("fit")
@_campaign
@_window
@click.option(
    "--learner",
    type=click.Choice(list(_LEARNERS)),
    default="x",
    show_default=True,
    help="x: X-learner; t: T-learner (one LightGBM model per arm).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV file to write with user_id, uplift for every customer.",
)
@db_option
@json_option
def fit(
    campaign: str, window_days: int | None, learner: str, out: Path | None, db: Path | None, as_json: bool
) -> None:
    """Fit on the campaign, score every customer as of the latest data, save `uplift_scores`.

    Uplift is the predicted change in the probability of a purchase within the campaign's
    window if the customer is sent the message; the profiles' `uplift` field takes it, so
    audience rules such as `uplift > 0.05` work. With --json: {"campaign", "learner",
    "audience", "treated", "held_out", "outcome_rate", "customers_scored", "mean_uplift",
    "table", "out", ...}.
    """
    settings = settings_for(db)
    with opened(settings, create=False) as store, progress("Fitting", not as_json):
        from cartwise.pipelines.uplift import fit_uplift  # ~2 s (scikit-learn): after the store check

        report = fit_uplift(store, campaign, learner=learner, out=out, window_days=window_days)
    emit(report, as_json, _format_fit)


@uplift.command("evaluate")
@_campaign
@_window
@click.option("--k", type=float, default=0.3, show_default=True, help="Share of the audience targeted.")
@click.option("--folds", type=int, default=5, show_default=True, help="Cross-fitting folds.")
@db_option
@json_option
def evaluate(
    campaign: str, window_days: int | None, k: float, folds: int, db: Path | None, as_json: bool
) -> None:
    """Compare targeting the top k by uplift (X and T learner), by purchase propensity and at random.

    Every customer of the campaign gets a score from models fitted on the other folds. Realised
    incremental purchasers = (sent rate - held-out rate among the targeted) x targeted; true
    incremental = the sum of the simulator's known uplift (demo stores only).
    """
    settings = settings_for(db)
    with opened(settings, read_only=True) as store, progress("Evaluating", not as_json):
        from cartwise.pipelines.uplift import evaluate_uplift  # ~2 s (scikit-learn): after the store check

        report = evaluate_uplift(store, campaign, k=k, folds=folds, window_days=window_days)
    emit(report, as_json, format_evaluation)


__all__ = ["format_evaluation", "uplift"]
