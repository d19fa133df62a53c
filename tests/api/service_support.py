"""Start a real `cartwise serve` on 127.0.0.1 over a small hand-made store (used by tests/api and tests/e2e)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pyarrow as pa

from cartwise.core.settings import get_settings
from cartwise.service import keys as keys_job
from cartwise.service.server_process import ServerProcess
from cartwise.store import Store, open_store

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

    # `with start(...) as run:` stops the server when the block ends, also on failure.
    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.stop()


@dataclass
class Shop:
    """A served shop and `truth`, a read-only copy of its store taken before the server started
    (the server holds the store's write lock while it runs), for checking answers with SQL."""

    run: Running
    truth: duckdb.DuckDBPyConnection

    def sql(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.truth.execute(query, params or []).fetchall()

    def json(self, path: str, scope: str = "read", **params: Any) -> Any:
        """The body of a GET that must answer 200."""
        with self.run.client(scope) as c:
            response = c.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()


def error_body(response: httpx.Response, status: int) -> dict[str, Any]:
    """The body of an error answer, checked to be the API's JSON error with this status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "message", "fields", "parameter"}, body
    # `parameter` is the request parameter at fault (`grain`), which `fields` names too (`query.grain`).
    assert body["parameter"] is None or body["fields"][0]["field"].split(".")[-1] == body["parameter"]
    return body


def now_naive() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def seed_store(db: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Items, ten minutes of events, one order, keys of every scope (one revoked) and user `alice`."""
    settings = get_settings(db=db, memory_limit="512MB", threads=1)
    # Ten minutes ago, but never before midnight UTC: the Overview counts top items since then.
    now = now_naive()
    ts = max(now - timedelta(minutes=10), now.replace(hour=0, minute=0, second=0, microsecond=0))
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


def add_keys_and_alice(store: Store) -> tuple[dict[str, str], dict[str, str]]:
    """Keys of scope admin, read and collect (named `test-<scope>`) and the dashboard user `alice`;
    returns the keys and their ids by scope."""
    keys: dict[str, str] = {}
    ids: dict[str, str] = {}
    for scope in ("admin", "read", "collect"):
        info, key = keys_job.create_key(store, scope=scope, name=f"test-{scope}")
        keys[scope], ids[scope] = key, info.key_id
    keys_job.add_user(store, "alice", PASSWORD)
    return keys, ids


def serve_shop(
    tmp: Path,
    prepare: Callable[[Store], object],
    *,
    truth: str | None = None,
    env: dict[str, str] | None = None,
) -> Running:
    """A real server over `tmp/shop.duckdb`, filled by `prepare`, with `add_keys_and_alice`.

    With `truth`, the store is first copied to `tmp/<truth>` for direct SQL checks (the server
    holds the store's write lock while it runs). `env` adds to `SERVER_ENV`.
    """
    db = tmp / "shop.duckdb"
    with open_store(db, settings=get_settings(db=db, memory_limit="512MB", threads=1)) as store:
        prepare(store)
        keys, ids = add_keys_and_alice(store)
        store.con.execute("CHECKPOINT")
    if truth is not None:
        shutil.copy(db, tmp / truth)
    log_path = tmp / "server.log"
    server = ServerProcess(db, log_path=log_path, env={**SERVER_ENV, **(env or {})}).start()
    return Running(server, db, log_path, keys, ids)


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
