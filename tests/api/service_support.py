"""Start a real `cartwise serve` on 127.0.0.1 over a small hand-made store (used by tests/api and tests/e2e)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa

from cartwise.core.settings import get_settings
from cartwise.jobs import keys as keys_job
from cartwise.jobs.server_process import ServerProcess
from cartwise.store import open_store

PASSWORD = "correct horse battery staple"
# Keep DuckDB small: several servers may run side by side on a 2-core machine.
SERVER_ENV = {"CARTWISE_MEMORY_LIMIT": "512MB", "CARTWISE_THREADS": "1", "CARTWISE_LOG_LEVEL": "INFO"}


@dataclass
class Running:
    server: ServerProcess
    db: Path
    log_path: Path
    keys: dict[str, str] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, scope: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[scope]}"} if scope else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def now_naive() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def seed_store(db: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Items, ten minutes of events, one order, keys of every scope (one revoked) and user `alice`."""
    settings = get_settings(db=db, memory_limit="512MB", threads=1)
    ts = now_naive() - timedelta(minutes=10)
    keys: dict[str, str] = {}
    ids: dict[str, str] = {}
    with open_store(db, settings=settings) as store:
        store.append(
            "items",
            pa.table(
                {
                    "item_id": ["sku-1", "sku-2", "sku-3"],
                    "title": ["Chef knife", "Cutting board", "Tea towel"],
                    "category": ["Kitchen > Knives", "Kitchen > Boards", "Home > Textiles"],
                    "price": [49.0, 19.5, 6.0],
                }
            ),
        )
        store.append(
            "events",
            pa.table(
                {
                    "event_id": ["seed-1", "seed-2", "seed-3", "seed-4", "seed-5"],
                    "ts": pa.array([ts] * 5, pa.timestamp("us")),
                    "user_id": ["u1", "u1", "u2", "u2", "u1"],
                    "session_id": ["s1", "s1", "s2", "s2", "s1"],
                    "type": ["view", "add_to_cart", "view", "view", "purchase"],
                    "item_id": ["sku-1", "sku-1", "sku-2", "sku-3", "sku-1"],
                    "quantity": [None, 1, None, None, 2],
                    "price": [49.0, 49.0, 19.5, 6.0, 49.0],
                    "order_id": [None, None, None, None, "order-1"],
                    "revenue": [None, None, None, None, 98.0],
                }
            ),
        )
        store.append(
            "orders",
            pa.table(
                {
                    "order_id": ["order-1"],
                    "user_id": ["u1"],
                    "ts": pa.array([ts], pa.timestamp("us")),
                    "amount": [98.0],
                    "lines": [1],
                    "units": [2],
                    "source": ["events"],
                }
            ),
        )
        for scope in ("admin", "read", "collect", "revoked"):
            info, key = keys_job.create_key(
                store, scope="read" if scope == "revoked" else scope, name=f"test-{scope}"
            )
            keys[scope], ids[scope] = key, info.key_id
        keys_job.revoke_key(store, ids["revoked"])
        keys_job.add_user(store, "alice", PASSWORD)
    return keys, ids


def start(tmp: Path) -> Running:
    db = tmp / "shop.duckdb"
    keys, ids = seed_store(db)
    log_path = tmp / "server.log"
    server = ServerProcess(db, log_path=log_path, env=SERVER_ENV).start()
    return Running(server, db, log_path, keys, ids)


def fuzz_operations(
    schema: Any, headers: dict[str, str], wanted: Callable[[str], bool], max_examples: int
) -> list[str]:
    """Send schemathesis-generated requests to each operation whose path `wanted` accepts.

    Asserts what a client relies on: never a 5xx, and every 4xx is a JSON error with `error`
    and `message`. Returns "METHOD path" of each operation checked.
    """
    from hypothesis import HealthCheck, given, settings

    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()  # an invalid schema raises here
        if not wanted(operation.path):
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=max_examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call(headers=headers, timeout=30)
            where = f"{case.method} {case.formatted_path} {case.query}"
            assert response.status_code < 500, f"{where} -> {response.status_code}: {response.text[:300]}"
            if response.status_code >= 400:
                body = response.json()
                assert body["error"] and body["message"], where

        check()
        checked.append(f"{operation.method.upper()} {operation.path}")
    return checked
