"""`cartwise experiments`: define and stop experiments, analyse one (from the store or from
summary statistics), and size one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cartwise.cli.common import db_option, emit, existing_store, json_option, set_aside_lines
from cartwise.core.errors import ConfigError


@click.group()
def experiments() -> None:
    """A/B test statistics: lifts, intervals, chance to win, SRM, CUPED, sequential, power."""


def _weights(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError as exc:
        raise ConfigError(
            f"--weights is {text!r}; give one share per variant separated by commas, e.g. 0.5,0.5."
        ) from exc


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2%}"


def _num(value: float | None, fmt: str = ".4g") -> str:
    return "-" if value is None else format(value, fmt)


def format_analysis(report: dict[str, Any]) -> str:
    """The analysis as a readable table, one row per metric and variant against the control."""
    method = report["method"]
    kind = "always-valid (sequential)" if method["sequential"] else "Welch t"
    level = f"{1 - method['alpha']:.0%}"
    lines = [
        f"control: {report['control']}; users {dict(zip(report['variants'], report['users'], strict=True))}",
        f"SRM p-value {report['srm_p']:.4g}"
        + ("  << SAMPLE RATIO MISMATCH: do not trust these results" if report["srm_warning"] else ""),
        f"intervals: {level} {kind} on the relative lift"
        + (", CUPED" if method["cuped"] else "")
        + (f"; p-values adjusted ({method['correction']})" if method["correction"] else "")
        + (
            f"; prior N({method['prior'][0]:g}, {method['prior'][1]:g}²) on the lift"
            if method["prior"]
            else ""
        ),
        "",
        f"{'metric':<16} {'variant':<10} {'users':>8} {'mean':>10} {'control':>10} {'lift':>8} "
        f"{level + ' interval':>20} {'p':>8} {'P(win)':>7} {'risk':>8}",
    ]
    for r in report["results"]:
        ci = r["lift_ci"]
        interval = "-" if ci is None else f"[{ci[0]:+.2%}, {ci[1]:+.2%}]"
        win = "-" if r["chance_to_win"] is None else f"{r['chance_to_win']:.1%}"
        lines.append(
            f"{r['metric']:<16} {r['variant']:<10} {r['users']:>8,} {_num(r['mean']):>10} "
            f"{_num(r['control_mean']):>10} {_pct(r['lift']):>8} {interval:>20} {_num(r['p_value'], '.3g'):>8} "
            f"{win:>7} {'-' if r['risk'] is None else format(r['risk'], '.2%'):>8}"
        )
        if r["note"]:
            lines.append(f"  note: {r['note']}")
    return "\n".join(lines)


@experiments.command()
@click.argument("key", required=False)
@click.option(
    "--summary",
    "summary",
    default=None,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="CSV with variant, metric, users, sum, sum_squares (first variant = control); instead of KEY.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="With --summary: fail on the first unusable row instead of setting bad rows aside (counted and "
    "reported by line, like `cartwise ingest` quarantines them).",
)
@db_option
@click.option(
    "--days", type=float, default=None, help="With KEY: analysis window after each user's exposure, in days."
)
@click.option(
    "--pre-days",
    type=float,
    default=28.0,
    show_default=True,
    help="With KEY: days before exposure summed as the CUPED covariate.",
)
@click.option(
    "--cuped", is_flag=True, help="Adjust by the pre-period columns pre_sum, pre_sum_squares, sum_product."
)
@click.option("--sequential", is_flag=True, help="Always-valid intervals and p-values (safe to look daily).")
@click.option(
    "--correction",
    type=click.Choice(["holm", "bh"]),
    default=None,
    help="Adjust p-values across metrics and variants: holm (family-wise) or bh (false discovery rate).",
)
@click.option(
    "--weights",
    default=None,
    help="Expected traffic shares for the SRM check, e.g. 0.5,0.5 [default: equal].",
)
@click.option(
    "--alpha", type=float, default=0.05, show_default=True, help="1 - confidence level of the intervals."
)
@click.option(
    "--sequential-tuning",
    type=float,
    default=5000.0,
    show_default=True,
    help="Users (both arms) at which the --sequential interval is tightest.",
)
@click.option(
    "--prior",
    nargs=2,
    type=float,
    default=None,
    metavar="MEAN SD",
    help="A Gaussian prior on the relative lift for chance to win and risk, e.g. 0 0.3 [default: flat].",
)
@json_option
def analyze(
    key: str | None,
    summary: Path | None,
    strict: bool,
    db: Path | None,
    days: float | None,
    pre_days: float,
    cuped: bool,
    sequential: bool,
    correction: str | None,
    weights: str | None,
    alpha: float,
    sequential_tuning: float,
    prior: tuple[float, float] | None,
    as_json: bool,
) -> None:
    """Compare each variant with the control on each metric: experiment KEY from the store
    (--db), or summary statistics (--summary FILE.csv).

    From the store, exposed users are compared on conversion, revenue, orders and units per
    user and revenue per order, over purchases after each user's first exposure; a recommender
    experiment adds ctr, impression_conversion and revenue_per_mille from its impressions. Prints the relative lift with its interval, Welch's p-value of no difference, the Bayesian
    chance to win and risk, and the SRM p-value (a warning below 0.001). With --json:
    {"srm_p", "results": [{"metric", "variant", "users", "mean", "lift", "lift_ci", "p_value",
    "chance_to_win", "risk"}]}. Variants with fewer than 30 users get no interval.

    Rows of --summary that cannot be used (a wrong number of fields, a value that is not a
    number, sums that cannot come from users) are set aside and reported by line (header =
    line 1), with "set_aside": {"set_aside", "reasons", "metrics_left_out"} in the JSON; a
    metric that loses a variant's row is left out. --strict fails instead.
    """
    if (key is None) == (summary is None):
        raise ConfigError(
            "Give an experiment KEY (analysed from the store at --db) or --summary FILE.csv, not "
            + ("both." if key else "neither.")
        )
    if key is not None:
        if weights is not None or prior is not None or strict:
            raise ConfigError(
                "--weights, --prior and --strict apply to --summary; with KEY the definition's weights are used."
            )
        settings = existing_store(db)
        from cartwise.pipelines.experiments import analyze_experiment_db

        result = analyze_experiment_db(
            settings,
            key,
            days=days,
            pre_days=pre_days,
            cuped=cuped,
            sequential=sequential,
            correction=correction,
            alpha=alpha,
            sequential_tuning=sequential_tuning,
        )
        if as_json:
            emit({"experiment": key, **result.contract()}, True)
        else:
            emit(result.to_dict(), False, format_analysis)
        return
    from cartwise.pipelines.experiment_summary import analyze_summary_file

    assert summary is not None
    analysis, report = analyze_summary_file(
        summary,
        cuped=cuped,
        sequential=sequential,
        correction=correction,  # type: ignore[arg-type]
        weights=_weights(weights),
        alpha=alpha,
        sequential_tuning=sequential_tuning,
        prior=prior,
        strict=strict,
    )
    if as_json:
        # the contract is {"srm_p", "results"}; "set_aside" joins it only when rows were
        emit(analysis.contract() | ({"set_aside": report} if report["set_aside"] else {}), True)
    else:
        emit(analysis.to_dict(), False, lambda r: "\n".join([format_analysis(r), *_set_aside_lines(report)]))


def _set_aside_lines(report: dict[str, Any]) -> list[str]:
    lines = set_aside_lines(report, "summary")
    for m in report.get("metrics_left_out", []):
        lines.append(
            f"  metric {m['metric']} left out: no usable row for " + ", ".join(m["missing_variants"])
        )
    return ["", *lines] if lines else []


@experiments.command()
@click.option("--mde", type=float, required=True, help="Relative lift to detect, e.g. 0.05 for +5%.")
@click.option("--rate", type=float, default=None, help="The control's conversion rate (a binary metric).")
@click.option("--mean", type=float, default=None, help="The control's mean per user (with --sd).")
@click.option("--sd", type=float, default=None, help="The per-user standard deviation (with --mean).")
@click.option("--alpha", type=float, default=0.05, show_default=True, help="Two-sided significance level.")
@click.option("--power", "power_", type=float, default=0.8, show_default=True, help="Wanted power.")
@click.option(
    "--users",
    type=int,
    default=None,
    help="Users per variant you have: report the power they reach instead of a sample size.",
)
@json_option
def power(
    mde: float,
    rate: float | None,
    mean: float | None,
    sd: float | None,
    alpha: float,
    power_: float,
    users: int | None,
    as_json: bool,
) -> None:
    """Sample size per variant to detect a relative lift (or the power of a given size).

    Two-sided two-sample test: t test on Cohen's d = mde*mean/sd for a mean, normal test on
    Cohen's h for a conversion rate (statsmodels). With --json: {"users_per_variant", "power",
    "effect_size", "alpha", "mde"}.
    """
    from dataclasses import asdict

    from cartwise.pipelines.power import plan_power

    result = asdict(plan_power(mde, mean=mean, sd=sd, rate=rate, alpha=alpha, power=power_, users=users))
    if as_json:
        emit(result, True)
        return
    emit(
        result,
        False,
        lambda r: (
            f"{r['users_per_variant']:,} users per variant "
            + ("give" if users is not None else "are needed for")
            + f" {r['power']:.1%} power to detect a {r['mde']:+.2%} lift at alpha {r['alpha']:g} "
            f"(two-sided; effect size {r['effect_size']:.4g})."
        ),
    )


def _format_experiment(e: dict[str, Any]) -> str:
    shares = ", ".join(
        f"{v['name']} {v['weight']:g}" + (f" ({v['value']})" if v.get("value") else "") for v in e["variants"]
    )
    exposed = ", ".join(f"{k} {n:,}" for k, n in e["exposed"].items())
    lines = [f"{e['key']} [{e['status']}]: {shares}; exposed: {exposed}"]
    if e.get("layer"):
        lines.append(f"  layer {e['layer']} [{e['layer_start']:g}, {e['layer_end']:g})")
    if e.get("audience"):
        lines.append(f"  audience: {e['audience']}")
    if e.get("description"):
        lines.append(f"  {e['description']}")
    return "\n".join(lines)


@experiments.command()
@click.argument("key")
@click.option(
    "--variants",
    required=True,
    help="NAME:SHARE pairs, first = control, shares adding up to 1, e.g. control:0.5,treatment:0.5 "
    "(NAME:SHARE:VALUE names a recommender or template).",
)
@click.option("--salt", default="", help="Hashing salt [default: the key].")
@click.option("--layer", default=None, help="Experiments in one layer never share a user.")
@click.option(
    "--layer-range",
    default=None,
    metavar="START,END",
    help="This experiment's slice of the layer, e.g. 0,0.5 [default: 0,1].",
)
@click.option("--audience", default=None, help="Segment rule of who may enter, e.g. 'orders >= 2'.")
@click.option("--description", default="", help="What is tested and why.")
@db_option
@json_option
def create(
    key: str,
    variants: str,
    salt: str,
    layer: str | None,
    layer_range: str | None,
    audience: str | None,
    description: str,
    db: Path | None,
    as_json: bool,
) -> None:
    """Create and start experiment KEY in the store (stop the server first: it owns the store).

    Users are assigned by hashing (salt, user id): the same variant in every process.
    """
    settings = existing_store(db)
    from cartwise.pipelines.experiments import create_experiment_db

    start, end = 0.0, 1.0
    if layer_range is not None:
        try:
            start, end = (float(p) for p in layer_range.split(","))
        except ValueError:
            raise ConfigError(f"--layer-range is {layer_range!r}; give START,END, e.g. 0,0.5.") from None
    info = create_experiment_db(
        settings,
        {
            "key": key,
            "variants": variants,
            "salt": salt,
            "layer": layer,
            "layer_start": start,
            "layer_end": end,
            "audience": audience,
            "description": description,
        },
    )
    emit(info, as_json, _format_experiment)


@experiments.command(name="list")
@db_option
@json_option
def list_(db: Path | None, as_json: bool) -> None:
    """Every experiment with its status and exposed users per variant."""
    settings = existing_store(db)
    from cartwise.pipelines.experiments import list_experiments_db

    found = list_experiments_db(settings)
    emit(
        {"experiments": found},
        as_json,
        lambda r: "\n".join(_format_experiment(e) for e in r["experiments"]) or "No experiments.",
    )


@experiments.command()
@click.argument("key")
@db_option
@json_option
def show(key: str, db: Path | None, as_json: bool) -> None:
    """One experiment's definition, status and exposed users."""
    settings = existing_store(db)
    from cartwise.pipelines.experiments import experiment_info_db

    emit(experiment_info_db(settings, key), as_json, _format_experiment)


@experiments.command()
@click.argument("key")
@db_option
@json_option
def stop(key: str, db: Path | None, as_json: bool) -> None:
    """Stop assigning KEY; its exposures and results stay."""
    settings = existing_store(db)
    from cartwise.pipelines.experiments import stop_experiment_db

    emit(stop_experiment_db(settings, key), as_json, _format_experiment)
