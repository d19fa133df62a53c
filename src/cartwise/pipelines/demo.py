"""Build the demo shop into a store: simulate, write, derive orders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cartwise.analytics import refresh_rollup
from cartwise.core.errors import StoreError
from cartwise.ingest import derive_orders
from cartwise.simulate import ShopConfig, make_config, simulate_shop
from cartwise.store import Store

# The demo shop's past randomised e-mail campaign went out five weeks before its last day, so
# its 5-day window and the weeks after it are in the history the Campaigns page measures.
PAST_CAMPAIGN_DAYS_BEFORE_END = 35


def demo_config(**values: Any) -> ShopConfig:
    """The demo's `ShopConfig`: the given values (None takes the default) plus a past campaign
    when the period is long enough to hold one (see `cartwise.simulate`'s `truth_campaign`)."""
    config = make_config(**values)
    if config.campaign_days_before_end is None and config.days > PAST_CAMPAIGN_DAYS_BEFORE_END:
        config = config.model_copy(update={"campaign_days_before_end": PAST_CAMPAIGN_DAYS_BEFORE_END})
    return config


def _no_progress(_message: str) -> None:
    return None


def build_demo(
    store: Store,
    config: ShopConfig | None = None,
    progress: Callable[[str], None] = _no_progress,
) -> dict[str, int]:
    """Simulate a shop with `config` and write it into `store`; returns row counts.

    In one transaction (all or nothing): items, users and events are appended, the truth tables
    (`truth_*`, `promotions`) replace any earlier copies, and `orders` and `order_lines` are
    rebuilt from the purchase events. Returns `{"events", "users", "items", "orders"}`: rows
    added to `events`, `users` and `items`, and the number of orders derived.

    The store must hold no events, users or items yet (`cartwise demo` deletes `--db` first);
    otherwise a `StoreError` is raised and nothing is written.
    """
    config = config or ShopConfig()
    held = {name: store.count(name) for name in ("events", "users", "items")}
    if any(held.values()):
        found = ", ".join(f"{n:,} {name}" for name, n in held.items() if n)
        raise StoreError(
            f"The store {store.path} already holds {found}; build the demo into a new store "
            "(`cartwise demo --db PATH` replaces the file at PATH) or delete the file first."
        )
    progress(f"simulating {config.users:,} customers, {config.items:,} items, {config.days} days")
    shop = simulate_shop(config)
    progress(f"writing {shop.events.num_rows:,} events")
    with store.transaction():
        counts = {
            "events": store.append("events", shop.events),
            "users": store.append("users", shop.users),
            "items": store.append("items", shop.items),
        }
        progress("writing the ground truth")
        for name, table in shop.truth.items():
            store.replace(name, table)
        progress("deriving orders")
        counts["orders"] = derive_orders(store)
    progress("rolling up events for analytics")
    refresh_rollup(store)
    return counts
