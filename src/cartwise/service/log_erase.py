"""Deleting and erasing with the server stopped (the CLI), the collector's log included.

A running service keeps its log clean itself (`Collector.settle`). A server that stopped
uncleanly leaves segments of acknowledged events that the next start replays into the store;
`forget_in_log` rewrites them without one customer's events (write a copy, fsync, rename over
the segment, fsync the directory), so the erasure is not undone by that replay.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from cartwise.core.errors import StoreError
from cartwise.core.settings import Settings
from cartwise.pipelines.event_delete import EventFilter, delete_events
from cartwise.pipelines.privacy import export_customer, forget_customer
from cartwise.service.event_log import SEGMENT_GLOB, read_segment
from cartwise.service.service import event_log_dir
from cartwise.store import open_store


def log_dir(settings: Settings) -> Path:
    """The collector's log directory for this store (the `event_log_dir` setting, or its default)."""
    return event_log_dir(settings)


def _segments(directory: Path) -> list[Path]:
    return sorted(directory.glob(SEGMENT_GLOB)) if directory.is_dir() else []


def pending_events(directory: Path) -> int:
    """Events in log segments not yet replayed into the store."""
    return sum(1 for path in _segments(directory) for _ in read_segment(path))


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def forget_in_log(directory: Path, user_id: str) -> int:
    """Rewrite every segment without the events of `user_id`; returns events removed.
    Only while no server runs (the caller holds the store, which a server would need)."""
    removed = 0
    for path in _segments(directory):
        kept: list[dict[str, Any]] = []
        dropped = 0
        for record in read_segment(path):
            if isinstance(record, dict) and record.get("user_id") == user_id:
                dropped += 1
            else:
                kept.append(record)
        if not dropped:
            continue
        removed += dropped
        if not kept:
            path.unlink()
            continue
        temporary = path.with_suffix(".rewrite")
        with open(temporary, "wb") as handle:
            handle.write(orjson.dumps(kept) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    if removed:
        _sync_dir(directory)
    return removed


# -- the CLI's versions (server stopped) --------------------------------------------------------
def delete_events_offline(settings: Settings, flt: EventFilter, *, dry_run: bool = False) -> dict[str, Any]:
    """`delete_events` on the store with the server stopped. Refused while the collector's log
    holds events a crash left unstored: the next start would replay them, undoing the deletion."""
    with open_store(settings.db, settings=settings, create=False) as store:
        counted = delete_events(store, flt, dry_run=True)  # checks the filter first
        if dry_run:
            return counted
        waiting = pending_events(log_dir(settings))
        if waiting:
            raise StoreError(
                f"The collector's log holds {waiting} events not yet stored (the server stopped uncleanly); "
                "start `cartwise serve` once and stop it (the log is replayed), then delete."
            )
        return delete_events(store, flt)


def forget_offline(settings: Settings, user_id: str) -> dict[str, Any]:
    """`forget_customer` on the store with the server stopped, and on the collector's log."""
    with open_store(settings.db, settings=settings, create=False) as store:
        result = forget_customer(store, user_id, via="cli")
        # Still holding the store, so no server can start and replay the log meanwhile.
        from_log = forget_in_log(log_dir(settings), user_id)
    return {**result, "log": f"{from_log} unstored events removed from the collector's log"}


def export_offline(settings: Settings, user_id: str) -> dict[str, Any]:
    """`export_customer` read from the store (read-only)."""
    with open_store(settings.db, settings=settings, read_only=True) as store:
        return export_customer(store, user_id)
