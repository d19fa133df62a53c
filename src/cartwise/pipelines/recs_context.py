"""Recommendations as template context: each reader's top items from the saved recommender."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

import pyarrow as pa

from cartwise.core.settings import Settings
from cartwise.store import Store

N = 4  # recommendations per message


def for_store(
    store: Store, settings: Settings, gate: Callable[[], AbstractContextManager[Store]]
) -> Callable[[list[str]], Mapping[str, Mapping[str, Any]]] | None:
    """A function from user ids to `{"recommendations": [...]}` per user, using the recommender
    saved by `cartwise train` (artefacts folder `recommender`); None when there is none."""
    path = store.artefacts_path() / "recommender"
    if not path.exists():
        return None
    from cartwise.recommend import load_model

    model = load_model(path)
    base = settings.public_url.rstrip("/")

    def context(user_ids: list[str]) -> Mapping[str, Mapping[str, Any]]:
        if not user_ids:
            return {}
        items, _scores = model.recommend(user_ids, n=N)
        wanted = sorted({i for row in items for i in row if i is not None})
        with gate() as s:
            s.con.register("_wanted", pa.table({"item_id": wanted}))
            try:
                rows = s.con.execute(
                    "SELECT item_id, title, price FROM items JOIN _wanted USING (item_id)"
                ).fetchall()
            finally:
                s.con.unregister("_wanted")
        known = {r[0]: {"item_id": r[0], "title": r[1] or r[0], "price": float(r[2] or 0.0)} for r in rows}
        out: dict[str, dict[str, Any]] = {}
        for user, row in zip(user_ids, items, strict=True):
            recs = [dict(known[i], url=f"{base}/?item={i}") for i in row if i in known]
            out[user] = {"recommendations": recs}
        return out

    return context
