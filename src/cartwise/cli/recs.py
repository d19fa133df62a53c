"""`cartwise recs`: train recommenders from files, write recommendations, evaluate models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cartwise.cli.common import emit, json_option, set_aside_lines
from cartwise.core.durations import format_duration
from cartwise.core.files import require_file, require_input_file, require_model_dir

F = TypeVar("F", bound=Callable[..., Any])

_FILE = click.Path(dir_okay=False, path_type=Path)


def _interaction_options(func: F) -> F:
    """Options naming the interactions file and its columns, shared by fit and evaluate."""
    options = [
        click.option("--interactions", type=_FILE, required=True, help="One row per interaction (CSV, TSV, Parquet, JSONL, RecBole .inter, .gz)."),
        click.option("--user-col", required=True, help="Column with the user (customer) id."),
        click.option("--item-col", required=True, help="Column with the item id."),
        click.option("--time-col", default=None, help="Column with the time (ISO 8601 or epoch seconds); enables recency and sessions."),
        click.option("--basket-col", default=None, help="Column with the order or session id."),
        click.option("--items", type=_FILE, default=None, help="Item catalogue (item_id, title, description, category, brand, price) for content features."),
        click.option("--strict", is_flag=True, help="Fail on unusable interaction or item records instead of setting them aside (counted and reported by line, like `cartwise ingest` quarantines them)."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


@click.group()
def recs() -> None:
    """Recommendations: train from a file, recommend for a list of users, evaluate models."""


@recs.command("fit")
@_interaction_options
@click.option(
    "--model",
    default="auto",
    show_default=True,
    help="auto, popularity, trending, itemknn, ease, als, content, repeat, session or hybrid.",
)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Model directory to write."
)
@json_option
def fit(interactions: Path, user_col: str, item_col: str, time_col: str | None, basket_col: str | None,
        items: Path | None, strict: bool, model: str, out: Path, as_json: bool) -> None:  # fmt: skip
    """Train a recommender from an interactions file (no store needed) and save it to --out."""
    for path in (interactions, items):
        if path is not None:
            require_file(path)  # before the recommenders load: a typo fails at once
    from cartwise.pipelines.recs import fit_from_file

    result = fit_from_file(
        interactions, user_col=user_col, item_col=item_col, time_col=time_col, basket_col=basket_col,
        items=items, model=model, out=out, strict=strict,
    )  # fmt: skip
    emit(result, as_json, _human_fit)


def _set_aside(result: dict[str, Any]) -> list[str]:
    """The interactions' and the item catalogue's records set aside, in words."""
    report = result["set_aside"]
    items = report.get("items") or {"set_aside": 0}
    return set_aside_lines(report, "interaction") + set_aside_lines(items, "item")


def _human_fit(result: dict[str, Any]) -> str:
    lines = [
        f"Trained {result['model']} on {result['interactions']} interactions ({result['users']} users, "
        f"{result['items']} items) in {format_duration(result['fit_seconds'])}; saved to {result['out']}."
    ]
    lines += [f"Note: {note}" for note in result["notes"]]
    return "\n".join(lines + _set_aside(result))


@recs.command("recommend")
@click.argument("model_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--users", type=_FILE, required=True, help="Text file with one user id per line.")
@click.option("--n", "n", type=click.IntRange(min=1), default=10, show_default=True, help="Items per user.")
@click.option("--include-seen", is_flag=True, help="Allow items the user already interacted with.")
@click.option("--out", type=_FILE, required=True, help="CSV to write: user_id, rank, item_id, score.")
@json_option
def recommend(model_dir: Path, users: Path, n: int, include_seen: bool, out: Path, as_json: bool) -> None:
    """Write the top --n items for every user in --users (unknown users get the most popular items)."""
    require_model_dir(model_dir)  # before the recommenders load: a typo fails at once
    from cartwise.pipelines.recs import recommend_to_file

    result = recommend_to_file(model_dir, users=users, out=out, n=n, include_seen=include_seen)
    emit(
        result,
        as_json,
        lambda r: (
            f"Wrote {r['rows']} rows for {r['users']} users ({r['unknown_users']} unknown, given the "
            f"most popular items) from the {r['model']} model to {r['out']}."
        ),
    )


@recs.command("evaluate")
@_interaction_options
@click.option(
    "--split",
    default="leave-last-5",
    show_default=True,
    help="leave-last-N (e.g. leave-last-5), last-basket or temporal (last 20% of time).",
)
@click.option(
    "--k",
    "k",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Cut-off of the ranking metrics.",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    help="Model to evaluate (repeatable) [default: hybrid, ease, itemknn, als, session, content].",
)
@click.option(
    "--seen",
    type=click.Choice(["auto", "exclude", "include"]),
    default="auto",
    show_default=True,
    help="Exclude items users already had (auto: except for last-basket).",
)
@json_option
def evaluate(interactions: Path, user_col: str, item_col: str, time_col: str | None, basket_col: str | None,
             items: Path | None, strict: bool, split: str, k: int, models: tuple[str, ...], seen: str,
             as_json: bool) -> None:  # fmt: skip
    """Score models on held-out interactions beside popularity, own-most-frequent and implicit ALS baselines."""
    require_input_file(interactions, "interactions")  # before the recommenders load
    from cartwise.pipelines.recs import evaluate_from_file

    result = evaluate_from_file(
        interactions, user_col=user_col, item_col=item_col, time_col=time_col, basket_col=basket_col,
        items=items, split=split, k=k, models=models, seen=seen, strict=strict,
    )  # fmt: skip
    emit(result, as_json, _human_evaluate)


def _human_evaluate(result: dict[str, Any]) -> str:
    k = result["k"]
    lines = [
        f"Split {result['split']}: {result['train_events']} training events, {result['test_users']} test users, "
        f"seen items {'excluded' if result['exclude_seen'] else 'allowed'}.",
        f"{'model':<36}{'NDCG':>8}{'recall':>8}{'MAP':>8}{'hit':>8}{'cover':>8}{'novel':>8}{'fit s':>8}{'vs ALS':>8}",
    ]
    for row in result["models"]:
        lines.append(
            f"{row['model']:<36}{row[f'ndcg@{k}']:>8.4f}{row[f'recall@{k}']:>8.4f}{row[f'map@{k}']:>8.4f}"
            f"{row[f'hit_rate@{k}']:>8.4f}{row['coverage']:>8.3f}{row['novelty']:>8.2f}{row['fit_seconds']:>8.2f}"
            f"{row[f'ndcg@{k}_vs_als']:>7.2f}x"
        )
    return "\n".join(lines + _set_aside(result))
