"""The analytics views keep costly results while the store is unchanged, and see new events."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from cartwise.core.settings import get_settings
from cartwise.ingest import prepare_events, store_events
from cartwise.pages.analytics import dropped_view
from cartwise.store import open_store


def _events(*rows: tuple[str, str, str]) -> pa.Table:
    return prepare_events([{"user_id": u, "type": kind, "ts": ts} for u, kind, ts in rows]).table


def test_dropped_users_are_paged_from_one_funnel_and_follow_new_events(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    with open_store(db, settings=get_settings(db=db, threads=1, memory_limit="256MB")) as store:
        store_events(
            store,
            _events(
                ("a", "view", "2025-01-01T10:00:00Z"),
                ("a", "add_to_cart", "2025-01-01T10:05:00Z"),
                ("b", "view", "2025-01-01T11:00:00Z"),
                ("c", "add_to_cart", "2025-01-01T12:00:00Z"),
            ),
        )
        first = dropped_view(store, "view,add_to_cart", "1d", "add_to_cart")
        assert (first["users"], first["total"], first["pages"]) == (["b"], 1, 1)

        store_events(store, _events(("d", "view", "2025-01-02T09:00:00Z")))
        pages = [
            dropped_view(store, "view,add_to_cart", "1d", "add_to_cart", page=p, page_size=1) for p in (1, 2)
        ]
        assert [p["users"] for p in pages] == [["b"], ["d"]] and pages[0]["pages"] == 2

        # b reaches the cart within the day after all: no longer an audience member.
        store_events(store, _events(("b", "add_to_cart", "2025-01-01T13:00:00Z")))
        assert dropped_view(store, "view,add_to_cart", "1d", "add_to_cart")["users"] == ["d"]
        # Another window is another question.
        assert dropped_view(store, "view,add_to_cart", "1h", "add_to_cart")["users"] == ["b", "d"]
