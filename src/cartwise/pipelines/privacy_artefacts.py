"""Erasure in trained artefacts: what a saved model holds about a customer goes at once.

The recommender saved by `cartwise train` (artefacts folder `recommender`), and each one a
recommender experiment fitted and saved (`recommenders/<name>`), keeps every
training user's id, their interactions and per-user state (factors, last items, the hybrid's
training events). `forget_in_artefacts` loads it, anonymises the customers
(`Recommender.forget_users`) and writes it back atomically (a sibling folder, then two
renames), so neither the next start nor a running server's `reload` serves them. Item-level
statistics they contributed to keep no id and are refitted by the next `cartwise train`.
Profiles, scores, uplift scores and segment memberships live in store tables, which the
erasure deletes; CSV files written with `--out` are the operator's copies and are not tracked.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from cartwise.store import Store


def _replace_dir(fresh: Path, target: Path) -> None:
    old = target.with_name(target.name + ".erasing-old")
    shutil.rmtree(old, ignore_errors=True)
    target.rename(old)
    fresh.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _forget_in_model(path: Path, user_ids: list[str]) -> int:
    from cartwise.recommend import load_model  # heavy: only when a model is saved

    model = load_model(path)
    found = model.forget_users(user_ids)
    if found:
        fresh = path.with_name(path.name + ".erasing-new")
        shutil.rmtree(fresh, ignore_errors=True)
        model.save(fresh)
        _replace_dir(fresh, path)
    return found


def _leftovers(folder: Path) -> list[Path]:
    """Model folders a crash left mid-save or mid-rewrite (hidden temporary or replaced copies,
    `*.erasing-new`/`*.erasing-old`): never read again, but they may hold the customer."""
    if not folder.is_dir():
        return []
    return [
        p
        for p in folder.iterdir()
        if p.is_dir()
        and (p / "model.json").is_file()
        and (p.name.startswith(".") or p.name.endswith((".erasing-new", ".erasing-old")))
    ]


def forget_in_artefacts(store: Store, user_ids: list[str]) -> dict[str, int]:
    """Anonymise `user_ids` in the store's saved recommender and in the saved models of
    recommender experiments (`recommenders/<name>`), and delete model folders a crash left
    behind; returns users found per model folder, `{"recommender": n, "recommenders/itemknn":
    n, ...}`, plus `"leftovers"` (folders deleted) when there were any; empty when no model is
    saved. A running service calls it while holding its model builds off
    (`cartwise.service.recs.erasures`), so no save is under way."""
    artefacts = store.artefacts_path()
    found: dict[str, int] = {}
    leftovers = _leftovers(artefacts) + _leftovers(artefacts / "recommenders")
    for path in leftovers:
        shutil.rmtree(path)
    folders = [artefacts / "recommender"]
    if (artefacts / "recommenders").is_dir():
        folders += sorted(p for p in (artefacts / "recommenders").iterdir() if p.is_dir())
    for path in folders:
        if (path / "model.json").is_file():
            found[path.relative_to(artefacts).as_posix()] = _forget_in_model(path, user_ids)
    if leftovers:
        found["leftovers"] = len(leftovers)
    return found


def artefacts_note(forgotten: dict[str, int]) -> str:
    """What the erasure did to trained artefacts, in a sentence."""
    users = forgotten.get("recommender", 0)
    arms = sum(n for folder, n in forgotten.items() if folder.startswith("recommenders/"))
    leftovers = forgotten.get("leftovers", 0)
    cleaned = f"; {leftovers} model folder(s) a crash left behind were deleted" if leftovers else ""
    if not users and not arms:
        return "no saved model held the customer" + cleaned
    where = f"the saved recommender anonymised {users} id(s)" if users else "no saved recommender held them"
    if arms:
        where += f", the saved experiment recommenders {arms} id(s),"
    return (
        f"{where} at once (id, history and per-user state "
        "removed); item statistics they fed are refitted at the next `cartwise train`" + cleaned
    )
