"""Build the demo shop into a store: simulate, write, derive orders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cartwise.analytics import refresh_rollup
from cartwise.core.errors import StoreError
from cartwise.ingest import derive_orders
from cartwise.pipelines.campaigns import register_past_campaign as record_campaign
from cartwise.pipelines.choices import PAST_CAMPAIGN_DAYS_BEFORE_END, demo_config
from cartwise.pipelines.experiments import register_past_campaign as record_experiment
from cartwise.simulate import ShopConfig, simulate_shop
from cartwise.store import Store, open_store
from cartwise.store.store import remove_store


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
        if "truth_campaign" in shop.truth:
            progress("recording the past campaign")
            # On the Campaigns page (send log, measured against its holdout) and as a finished
            # experiment on the Experiments page.
            record_campaign(store, shop.truth["truth_campaign"])
            record_experiment(store, config.campaign_holdout)
    progress("rolling up events for analytics")
    refresh_rollup(store)
    return counts


def clear_for_demo(path: Path) -> bool:
    """Delete the store at `path` so that a demo can be built there; returns whether one existed.

    Only a demo store (it has the simulator's `truth_params`) or one without events, users or
    items is deleted. A shop's store set as the default `db`, a file that is not a store, or a
    store a server has open raises a `StoreError` and is left as it is.
    """
    existed = path.exists()
    if existed:
        _check_replaceable(path)
    remove_store(path)
    return existed


def _check_replaceable(path: Path) -> None:
    with open_store(path, read_only=True) as store:
        if store.has_table("truth_params"):
            return
        held = {name: store.count(name) for name in ("events", "users", "items") if store.has_table(name)}
    if any(held.values()):
        found = ", ".join(f"{n:,} {name}" for name, n in held.items() if n)
        raise StoreError(
            f"The store {path} holds {found} that `cartwise demo` did not make, and the demo "
            "replaces the store at `db`: choose another path (e.g. demo.duckdb), or delete "
            "this file yourself if it is not needed.",
            mentions=("db",),
        )


__all__ = ["PAST_CAMPAIGN_DAYS_BEFORE_END", "build_demo", "clear_for_demo", "demo_config"]
