"""Recommendation pipelines on files: train a model, write recommendations, evaluate models.

No store is needed: interactions come from any file `cartwise.ingest.read_file` reads (CSV,
TSV, Parquet, JSONL, RecBole atomic files, gzip). Model directories hold JSON, numpy archives
and LightGBM's text format only, so loading one never runs code.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cartwise.core.errors import ConfigError, InputError, NotFoundError
from cartwise.core.files import require_input_file
from cartwise.evaluation.ranking import ranking_report
from cartwise.evaluation.splits import Split, last_basket, leave_last_n, temporal_split
from cartwise.recommend import (
    ALS,
    RECOMMENDERS,
    Interactions,
    Popularity,
    Recommender,
    RepeatPurchase,
    available,
    create,
    load_model,
)
from cartwise.schema.tables import ITEMS

MODEL_CHOICES = ("auto", *sorted(RECOMMENDERS))
"""Values of `--model`: `auto` or any registered recommender."""

# `auto` trains the hybrid only when enough users have history to learn a ranking from.
AUTO_MIN_USERS_WITH_HISTORY = 20
AUTO_MIN_EVENTS_PER_USER = 4

BASELINES = {
    "baseline: popularity": lambda: Popularity(),
    "baseline: own most frequent": lambda: RepeatPurchase(half_life_days=None),
    # implicit's own defaults (factors=100, regularization=0.01, alpha=1, 15 iterations), raw counts.
    "baseline: implicit ALS (defaults)": lambda: ALS(
        factors=100, regularization=0.01, alpha=1.0, iterations=15, weighting="none"
    ),
}
ALS_BASELINE = "baseline: implicit ALS (defaults)"


# ----- reading ----------------------------------------------------------------------------------
def load_interactions(
    path: str | Path,
    *,
    user_col: str,
    item_col: str,
    time_col: str | None = None,
    basket_col: str | None = None,
    strict: bool = False,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read an interactions file into a frame with columns `user_id`, `item_id` (strings) and,
    when named, `ts` and `basket_id`. Names a missing column and lists the columns present.

    Records that cannot be used (a wrong number of fields, no user or item id, a time that is
    neither a date-time nor epoch seconds) are set aside and reported by the line an editor
    shows (`cartwise.pipelines.bad_rows`); with `strict` they are an error. Returns the frame
    and that report (`{"set_aside", "reasons"}`)."""
    from cartwise.pipelines.bad_rows import read_checked

    path = require_input_file(path, "interactions")
    columns = {"user": user_col, "item": item_col, "time": time_col, "basket": basket_col}
    table, report = read_checked(path, True, columns, strict=strict)
    for role, col in columns.items():
        if col is not None and col not in table.columns:
            raise InputError(
                f"Column `{col}` is not in {path} (columns: {', '.join(map(str, table.columns))}); "
                "name the right one.",
                parameter=f"{role}_col",
            )
    if len(table) == 0:
        raise InputError(f"{path} has no rows; a recommender needs at least one interaction.")
    out = pd.DataFrame({"user_id": table[user_col], "item_id": table[item_col]})
    if time_col:
        out["ts"] = table[time_col]
    if basket_col:
        out["basket_id"] = table[basket_col]
    # Validates ids (missing ones are named by row) and times once, up front.
    Interactions.from_frame(
        out, time_col="ts" if time_col else None, basket_col="basket_id" if basket_col else None
    )
    out["user_id"] = out["user_id"].astype(str)
    out["item_id"] = out["item_id"].astype(str)
    return out, report


def load_items(
    path: str | Path, item_col: str | None = None, strict: bool = False
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read an item catalogue; its id column is `item_id`, `item_col`, or a known synonym (sku, product_id, ...).

    Records that cannot be used (a wrong number of fields, no item id, a price that is not a
    number) are set aside and reported by the line an editor shows, like the interactions'
    (`cartwise.pipelines.bad_rows`); with `strict` they are an error. Returns the catalogue
    and that report."""
    from cartwise.ingest import read_input
    from cartwise.pipelines.bad_rows import read_checked

    path = require_input_file(path, "items")
    found = read_input(path, header=True).table.column_names  # which column holds the id
    candidates = ["item_id", *([item_col] if item_col else []), *ITEMS.synonyms["item_id"]]
    id_col = next((c for c in candidates if c in found), None)
    if id_col is None:
        raise InputError(
            f"The items file {path} has no item id column (columns: "
            f"{', '.join(c for c in map(str, found) if not c.startswith('_'))}); "
            "name it item_id (or the same as the interactions' item column).",
            parameter="items",
        )
    renames = {id_col: "item_id"}
    for canonical in ("title", "description", "category", "brand", "price"):
        if canonical not in found:
            synonym = next((s for s in ITEMS.synonyms.get(canonical, ()) if s in found), None)
            if synonym:
                renames[synonym] = canonical
    price_col = next((k for k, v in renames.items() if v == "price"), "price")
    table, report = read_checked(path, True, {"item": id_col, "price": price_col}, strict=strict)
    items = table.rename(columns=renames)
    items["item_id"] = items["item_id"].astype(str)
    return items, report


def _load_inputs(
    interactions: str | Path,
    items: str | Path | None,
    *,
    user_col: str,
    item_col: str,
    time_col: str | None,
    basket_col: str | None,
    strict: bool,
) -> tuple[pd.DataFrame, pd.DataFrame | None, dict[str, Any]]:
    """The interactions, the catalogue when given, and what was set aside from both (the
    catalogue's under `items`): what fitting and evaluating from files both read first."""
    data, set_aside = load_interactions(
        interactions, user_col=user_col, item_col=item_col, time_col=time_col, basket_col=basket_col,
        strict=strict,
    )  # fmt: skip
    catalogue = None
    if items is not None:
        catalogue, set_aside["items"] = load_items(items, item_col, strict=strict)
    return data, catalogue, set_aside


def read_user_list(path: str | Path) -> list[str]:
    """User ids from a text file, one per line (blank lines skipped, surrounding spaces removed)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"The users file {str(path)!r} does not exist; give a file with one user id per line."
        )
    text = path.read_text(encoding="utf-8-sig")
    return [line.strip() for line in text.splitlines() if line.strip()]


# ----- choosing a model -------------------------------------------------------------------------
def choose_model(name: str, data: pd.DataFrame, items: pd.DataFrame | None) -> tuple[Recommender, list[str]]:
    """The recommender for `--model name`, and notes explaining the choice for `auto`."""
    if name not in MODEL_CHOICES:
        raise NotFoundError(f"There is no model {name!r}; choose one of: {', '.join(MODEL_CHOICES)}.")
    notes: list[str] = []
    n_users, n_items = data["user_id"].nunique(), data["item_id"].nunique()
    if n_users < 2 or n_items < 2:
        notes.append(
            f"The interactions have {n_users} user(s) and {n_items} item(s); with so little data only "
            "popularity-style answers are possible."
        )
    if name != "auto":
        return create(name), notes
    events = data.groupby("user_id").size()
    with_history = int((events >= AUTO_MIN_EVENTS_PER_USER).sum())
    if n_users < 2 or n_items < 2:
        chosen = "popularity"
    elif with_history >= AUTO_MIN_USERS_WITH_HISTORY:
        chosen = "hybrid"
    else:
        chosen = "itemknn"
        notes.append(
            f"auto chose itemknn: only {with_history} users have {AUTO_MIN_EVENTS_PER_USER}+ interactions, "
            f"fewer than the {AUTO_MIN_USERS_WITH_HISTORY} the hybrid needs to learn a ranking."
        )
    if chosen == "hybrid" and items is not None:
        notes.append("auto chose the hybrid with content candidates from the items file.")
    return create(chosen), notes


def _interactions(frame: pd.DataFrame) -> Interactions:
    return Interactions.from_frame(
        frame,
        time_col="ts" if "ts" in frame.columns else None,
        basket_col="basket_id" if "basket_id" in frame.columns else None,
    )


# ----- fit --------------------------------------------------------------------------------------
def fit_from_file(
    interactions: str | Path,
    *,
    user_col: str,
    item_col: str,
    out: str | Path,
    time_col: str | None = None,
    basket_col: str | None = None,
    items: str | Path | None = None,
    model: str = "auto",
    strict: bool = False,
) -> dict[str, Any]:
    """Train a recommender from files and save it to the directory `out`. Unusable interaction
    records are set aside and reported (`set_aside`; the items file's under `set_aside.items`),
    or with `strict` an error."""
    data, catalogue, set_aside = _load_inputs(
        interactions, items, user_col=user_col, item_col=item_col, time_col=time_col, basket_col=basket_col,
        strict=strict,
    )  # fmt: skip
    recommender, notes = choose_model(model, data, catalogue)
    if recommender.needs_items and catalogue is None:
        raise ConfigError(
            f"{recommender.name} needs item metadata; pass an items file (item_id, title, ...).",
            parameter="model",
        )
    started = time.perf_counter()
    recommender.fit(_interactions(data), items=catalogue)
    seconds = time.perf_counter() - started
    recommender.save(out)
    return {
        "model": recommender.name,
        "params": recommender.get_params(),
        "users": len(recommender.user_ids_),
        "items": len(recommender.item_ids_),
        "interactions": len(data),
        "fit_seconds": round(seconds, 3),
        "out": str(out),
        "notes": notes,
        "set_aside": set_aside,
    }


# ----- recommend --------------------------------------------------------------------------------
def recommend_to_file(
    model_dir: str | Path,
    *,
    users: str | Path,
    out: str | Path,
    n: int = 10,
    include_seen: bool = False,
) -> dict[str, Any]:
    """Write `user_id, rank, item_id, score` rows for every user listed in `users` (in file order).

    Unknown users get the cold-start list; short lists (tiny catalogues) have fewer rows.
    """
    if n < 1:
        raise ConfigError(f"must be at least 1; got {n}.", parameter="n")
    model = load_model(model_dir)
    user_ids = read_user_list(users)
    item_ids, scores = model.recommend(user_ids, n=n, exclude_seen=not include_seen)
    known = model.user_index(user_ids) >= 0 if user_ids else np.array([], dtype=bool)
    rows = pd.DataFrame(
        {
            "user_id": np.repeat(np.asarray(user_ids, dtype=object), n),
            "rank": np.tile(np.arange(1, n + 1), len(user_ids)),
            "item_id": item_ids.ravel(),
            "score": scores.ravel(),
        }
    )
    rows = rows[rows["item_id"].notna()]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(out, index=False)
    return {
        "model": model.name,
        "users": len(user_ids),
        "unknown_users": int((~known).sum()),
        "rows": len(rows),
        "out": str(out),
    }


# ----- evaluate ---------------------------------------------------------------------------------
def split_frame(data: pd.DataFrame, split: str) -> Split:
    """`leave-last-N`, `last-basket` or `temporal` (last 20% of time) on a loaded interactions frame."""
    has_time = "ts" in data.columns
    match = re.fullmatch(r"leave-last-(\d+)", split)
    if match:
        return leave_last_n(data, int(match.group(1)), time_col="ts" if has_time else None)
    if split == "last-basket":
        if "basket_id" not in data.columns:
            raise ConfigError(
                "a last-basket split needs a basket column (an order or session id).", parameter="basket_col"
            )
        return last_basket(data, basket_col="basket_id", time_col="ts" if has_time else None)
    if split == "temporal":
        if not has_time:
            raise ConfigError(
                "a temporal split needs a time column; without times use the leave-last-5 split.",
                parameter="time_col",
            )
        return temporal_split(data, time_col="ts")
    raise ConfigError(
        f"{split!r} is unknown; use leave-last-N (e.g. leave-last-5), last-basket or temporal.",
        parameter="split",
    )


def evaluate_from_file(
    interactions: str | Path,
    *,
    user_col: str,
    item_col: str,
    time_col: str | None = None,
    basket_col: str | None = None,
    items: str | Path | None = None,
    split: str = "leave-last-5",
    k: int = 10,
    models: Sequence[str] = (),
    seen: str = "auto",
    strict: bool = False,
) -> dict[str, Any]:
    """Score models on a held-out split beside the baselines, all in one run.

    `seen="auto"` excludes items a user already had, except for `last-basket`, where buying
    again is the point; held-out items the user already had are dropped from the truth when
    seen items are excluded (no model could score them).
    """
    if k < 1:
        raise ConfigError(f"must be at least 1; got {k}.", parameter="k")
    if seen not in ("auto", "exclude", "include"):
        raise ConfigError(f"must be auto, exclude or include; got {seen!r}.", parameter="seen")
    data, catalogue, set_aside = _load_inputs(
        interactions, items, user_col=user_col, item_col=item_col, time_col=time_col, basket_col=basket_col,
        strict=strict,
    )  # fmt: skip
    train, test = split_frame(data, split)
    if len(test) == 0:
        raise InputError(
            f"The {split} split left no events to test on ({data['user_id'].nunique()} users); "
            "users need more history than the held-out part."
        )
    exclude_seen = seen == "exclude" or (seen == "auto" and split != "last-basket")
    train_seen = train.groupby("user_id")["item_id"].agg(set)
    truth = test.groupby("user_id")["item_id"].agg(set)
    if exclude_seen:
        truth = pd.Series({u: t - train_seen.get(u, set()) for u, t in truth.items()}, dtype=object)
    truth = truth[truth.map(len) > 0]
    users = truth.index.to_numpy(dtype=object)
    names = list(models) or _default_models(data, catalogue)
    for name in names:
        if name not in RECOMMENDERS:
            raise NotFoundError(f"There is no model {name!r}; choose from: {', '.join(available())}.")
    if "hybrid" in names:
        import lightgbm  # noqa: F401  (loaded first so fit seconds measure training, not the import)
    train_data = _interactions(train)
    item_users = train.groupby("item_id")["user_id"].nunique().to_dict()
    n_items = len(set(data["item_id"]) | (set(catalogue["item_id"]) if catalogue is not None else set()))
    rows: list[dict[str, Any]] = []
    candidates: list[tuple[str, str, Recommender]] = [(n, "model", create(n)) for n in names]
    candidates += [(label, "baseline", make()) for label, make in BASELINES.items()]
    for label, kind, model in candidates:
        if model.needs_items and catalogue is None:
            continue
        started = time.perf_counter()
        model.fit(train_data, items=catalogue)
        fit_seconds = time.perf_counter() - started
        recommended, _ = model.recommend(users, n=k, exclude_seen=exclude_seen)
        metrics = ranking_report(
            recommended,
            list(truth),
            k,
            item_users=item_users,
            n_users=train["user_id"].nunique(),
            n_items=n_items,
        )
        rows.append({"model": label, "kind": kind, **metrics, "fit_seconds": round(fit_seconds, 3)})
    als = next(r for r in rows if r["model"] == ALS_BASELINE)
    for row in rows:
        row[f"ndcg@{k}_vs_als"] = (
            row[f"ndcg@{k}"] / als[f"ndcg@{k}"] if als[f"ndcg@{k}"] > 0 else float("nan")
        )
    return {
        "split": split,
        "k": k,
        "exclude_seen": exclude_seen,
        "train_events": len(train),
        "test_users": len(users),
        "models": rows,
        "set_aside": set_aside,
    }


def _default_models(data: pd.DataFrame, items: pd.DataFrame | None) -> list[str]:
    names = ["hybrid", "ease", "itemknn", "als"]
    if "ts" in data.columns or "basket_id" in data.columns:
        names.append("session")
    if items is not None:
        names.append("content")
    if data["item_id"].nunique() > 20_000:
        names.remove("ease")
    return names
