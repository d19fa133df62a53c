"""Template context of journey messages: the customer's cart or the trigger's items, with the
catalogue's titles, prices and links, and recommendations."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import pyarrow as pa

from cartwise.pipelines.sender import ContextFor
from cartwise.store import Store


def template_contexts(
    access: Callable[[], AbstractContextManager[Store]],
    since: datetime,
    wanted: Sequence[tuple[Any, str]],
    recs: ContextFor | None,
) -> list[dict[str, Any]]:
    """Template context per (run, template): `items` (the cart for `abandoned_cart`, else the
    trigger's items) with title, price and, when the catalogue has a `url` attribute, url;
    and each customer's recommendations when a recommender is saved (`recs`). `since`: the
    oldest cart event counted."""
    per_run: list[dict[str, float | None]] = [
        {i["item_id"]: i.get("price") for i in run.context.get("items", []) if i.get("item_id")}
        for run, _template in wanted
    ]
    cart_users = sorted({run.user_id for run, template in wanted if template == "abandoned_cart"})
    with access() as s:
        carts: dict[str, list[tuple[str, Any]]] = {}
        if cart_users:
            s.con.register("_cart_users", pa.table({"user_id": cart_users}))
            try:
                for user_id, item_id, price in s.con.execute(
                    """WITH bought AS (
                        SELECT user_id, max(ts) AS last FROM events JOIN _cart_users USING (user_id)
                        WHERE type = 'purchase' GROUP BY user_id)
                    SELECT e.user_id, e.item_id, any_value(e.price) FROM events e
                    JOIN _cart_users USING (user_id) LEFT JOIN bought b USING (user_id)
                    WHERE e.type = 'add_to_cart' AND e.item_id IS NOT NULL AND e.ts >= ?
                      AND (b.last IS NULL OR e.ts >= b.last)
                    GROUP BY e.user_id, e.item_id ORDER BY e.user_id, min(e.ts)""",
                    [since],
                ).fetchall():
                    carts.setdefault(str(user_id), []).append((str(item_id), price))
            finally:
                s.con.unregister("_cart_users")
        for (run, template), items in zip(wanted, per_run, strict=True):
            if template == "abandoned_cart":
                for item_id, price in carts.get(run.user_id, []):
                    items.setdefault(item_id, price)
        all_items = sorted({i for items in per_run for i in items})
        known: dict[str, tuple[Any, ...]] = {}
        if all_items:
            s.con.register("_items", pa.table({"item_id": all_items}))
            try:
                known = {
                    str(r[0]): r[1:]
                    for r in s.con.execute(
                        """SELECT item_id, title, price, json_extract_string(attributes, '$.url')
                        FROM items JOIN _items USING (item_id)"""
                    ).fetchall()
                }
            finally:
                s.con.unregister("_items")
    extra = recs(sorted({run.user_id for run, _t in wanted})) if recs is not None else {}
    out = []
    for (run, _template), items in zip(wanted, per_run, strict=True):
        shown = []
        for item_id, event_price in items.items():
            title, price, url = known.get(item_id, (None, None, None))
            price = price if price is not None else event_price
            if price is None:
                continue  # the templates show a price; an item without one is left out
            item: dict[str, Any] = {"item_id": item_id, "title": title or item_id, "price": float(price)}
            if url:
                item["url"] = url
            shown.append(item)
        out.append({"items": shown, **extra.get(run.user_id, {})})
    return out


__all__ = ["template_contexts"]
