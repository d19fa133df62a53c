"""The serving layer on a simulated shop: rules hold, lists are fresh, impressions are attributed,
sessions and new users update online, and a retrain swaps models without failing a request."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from cartwise.core.errors import InputError, NotFoundError
from cartwise.core.settings import get_settings
from cartwise.pipelines.demo import build_demo
from cartwise.pipelines.train import train_recommender
from cartwise.service.collector import StoreGate
from cartwise.service.recs import RecsOptions, RecsServer
from cartwise.simulate import ShopConfig
from cartwise.store import Store, open_store

GATES: dict[int, StoreGate] = {}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, StoreGate]]:
    db = tmp_path_factory.mktemp("recs") / "shop.duckdb"
    store = open_store(db, settings=get_settings(db=db, memory_limit="1GB", threads=1))
    build_demo(store, ShopConfig(seed=11, users=500, items=90, days=60))
    # Take the most popular items off sale, so the rules have something to refuse.
    store.con.execute(
        """UPDATE items SET stock = 0 WHERE item_id IN (
             SELECT item_id FROM events WHERE type = 'purchase' GROUP BY 1 ORDER BY count(*) DESC LIMIT 3)"""
    )
    store.con.execute(
        """UPDATE items SET active = false WHERE item_id IN (
             SELECT item_id FROM events WHERE type = 'purchase' GROUP BY 1 ORDER BY count(*) DESC LIMIT 3 OFFSET 3)"""
    )
    train_recommender(store)
    try:
        GATES[id(store)] = StoreGate(store)
        yield store, GATES[id(store)]
    finally:
        store.close()


@pytest.fixture(scope="module")
def server(shop: tuple[Store, StoreGate]) -> Iterator[RecsServer]:
    store, gate = shop
    options = RecsOptions(poll_seconds=60, flush_seconds=60, offline_models=["itemknn"])
    srv = RecsServer(gate, store.artefacts_path(), options).start()
    cache = srv.state.cache
    assert cache is not None
    # Known users are served from the batch-scored candidates once they are ready.
    deadline = time.monotonic() + 60
    while cache.done < len(cache.ready) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cache.done == len(cache.ready)
    try:
        yield srv
    finally:
        srv.stop()


def _rows(store: Store, sql: str, params: list[object] | None = None) -> list[tuple[Any, ...]]:
    # Through the gate, as every reader in the service: the server's threads use the store too.
    with GATES[id(store)]:
        return store.con.execute(sql, params or []).fetchall()


def _add_events(store: Store, gate: StoreGate, events: list[dict[str, object]]) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    table = pa.table(
        {
            "event_id": [uuid.uuid4().hex for _ in events],
            "ts": pa.array([now] * len(events), pa.timestamp("us")),
            "user_id": [e["user_id"] for e in events],
            "session_id": [e.get("session_id") for e in events],
            "type": [e["type"] for e in events],
            "item_id": [e["item_id"] for e in events],
            "revenue": [e.get("revenue") for e in events],
            "properties": [
                orjson.dumps(e["properties"]).decode() if "properties" in e else None for e in events
            ],
        }
    )
    with gate:
        store.append("events", table)


def test_rules_hold_for_every_user(shop: tuple[Store, StoreGate], server: RecsServer) -> None:
    store, _ = shop
    blocked = {r[0] for r in _rows(store, "SELECT item_id FROM items WHERE stock <= 0 OR NOT active")}
    assert len(blocked) >= 6
    bought: dict[str, set[str]] = {}
    for user, item in _rows(store, "SELECT DISTINCT user_id, item_id FROM events WHERE type = 'purchase'"):
        bought.setdefault(str(user), set()).add(str(item))
    category = dict(_rows(store, "SELECT item_id, category FROM items"))
    users = sorted(bought)[:80]
    for user in users:
        served = server.recommend(user, 10, seed=1, log_impression=False)
        ids = [it["item_id"] for it in served.items]
        assert len(ids) == 10 and len(set(ids)) == 10
        assert not set(ids) & blocked, user
        assert not set(ids) & bought[user], user
        groups = [" > ".join(str(category[i]).split(" > ")[:2]) for i in ids]
        assert max(groups.count(g) for g in groups) <= server.options.category_cap
        assert all(it["reason"] for it in served.items)


def test_consumables_may_be_recommended_again(shop: tuple[Store, StoreGate]) -> None:
    store, gate = shop
    tops = sorted({str(r[0]).split(" > ")[0] for r in _rows(store, "SELECT category FROM items")})
    options = RecsOptions(
        poll_seconds=60, flush_seconds=60, consumable_categories=tops, offline_models=[], category_cap=1000
    )
    srv = RecsServer(gate, store.artefacts_path(), options)
    srv.start()
    try:
        again = 0
        for user, items in _rows(
            store,
            "SELECT user_id, list(DISTINCT item_id) FROM events WHERE type = 'purchase' GROUP BY 1 ORDER BY 1 LIMIT 60",
        ):
            # The whole ranking: the rule lets bought consumables back in; the model places them.
            served = srv.recommend(str(user), 100, seed=1, log_impression=False)
            again += len({it["item_id"] for it in served.items} & set(items))
        assert again > 0
    finally:
        srv.stop()


def test_lists_are_fresh_but_a_seed_repeats_them(server: RecsServer) -> None:
    user = "u000001"
    served = server.recommend(user, 10, seed=5, log_impression=False)
    assert not served.cold_start
    first = [it["item_id"] for it in served.items]
    assert first == [it["item_id"] for it in server.recommend(user, 10, seed=5, log_impression=False).items]
    lists = {
        tuple(it["item_id"] for it in server.recommend(user, 10, log_impression=False).items)
        for _ in range(20)
    }
    assert len(lists) > 1


def test_unknown_user_gets_trending_and_bad_n_is_refused(server: RecsServer) -> None:
    served = server.recommend("nobody-ever", 5, log_impression=False)
    assert served.cold_start and len(served.items) == 5
    assert [it["reason"] for it in served.items] == ["Trending now"] * 5
    for bad in (0, 101):
        with pytest.raises(InputError, match="n must be between 1 and 100"):
            server.recommend("nobody-ever", bad)
    with pytest.raises(NotFoundError, match="item_id 'no-such-item'"):
        server.similar("no-such-item")


def test_impressions_are_logged_and_a_purchase_is_attributed(
    shop: tuple[Store, StoreGate], server: RecsServer
) -> None:
    store, gate = shop
    before = server.online_metrics()
    served = server.recommend("u000002", 10, seed=3)
    bought = served.items[2]["item_id"]
    clicked = served.items[0]["item_id"]
    _add_events(
        store,
        gate,
        [
            {"user_id": "u000002", "type": "view", "item_id": clicked},
            {
                "user_id": "u000002",
                "type": "purchase",
                "item_id": bought,
                "revenue": 40.0,
                "properties": {"request_id": served.request_id},
            },
        ],
    )
    after = server.online_metrics()
    rows = _rows(store, "SELECT count(*) FROM rec_impressions WHERE request_id = ?", [served.request_id])
    assert rows[0][0] == 10
    assert after["impressions"] - before["impressions"] == 10
    assert after["requests"] - before["requests"] == 1
    assert after["clicks"] - before["clicks"] == 1
    assert after["purchases"] - before["purchases"] == 1
    assert after["revenue"] - before["revenue"] == pytest.approx(40.0)
    assert after["conversion"] == pytest.approx(after["purchases"] / after["impressions"])


def test_a_view_changes_session_recommendations_at_once(
    shop: tuple[Store, StoreGate], server: RecsServer
) -> None:
    store, gate = shop
    session = "live-" + uuid.uuid4().hex
    before = server.recommend("visitor-1", 10, session_id=session, seed=1, log_impression=False)
    assert before.cold_start and before.session_items == 0
    item = before.items[0]["item_id"]
    _add_events(
        store, gate, [{"user_id": "visitor-1", "session_id": session, "type": "view", "item_id": item}]
    )
    assert server.poll() >= 1
    after = server.recommend("visitor-1", 10, session_id=session, seed=1, log_impression=False)
    assert not after.cold_start and after.session_items == 1
    ids = [it["item_id"] for it in after.items]
    assert item not in ids and ids != [it["item_id"] for it in before.items]
    title = _rows(store, "SELECT title FROM items WHERE item_id = ?", [item])[0][0]
    assert f"Because you are looking at {title}" in {it["reason"] for it in after.items}


def test_a_session_keeps_time_order_when_rows_are_stored_out_of_it(
    shop: tuple[Store, StoreGate], server: RecsServer
) -> None:
    store, gate = shop
    session = "bulk-" + uuid.uuid4().hex
    first, second = (it["item_id"] for it in server.trending(2))
    now = datetime.now(UTC).replace(tzinfo=None)
    table = pa.table(  # the later view is stored first, as a file load may store rows
        {
            "event_id": [uuid.uuid4().hex, uuid.uuid4().hex],
            "ts": pa.array([now, now - timedelta(minutes=1)], pa.timestamp("us")),
            "user_id": ["visitor-2", "visitor-2"],
            "session_id": [session, session],
            "type": ["view", "view"],
            "item_id": [second, first],
        }
    )
    with gate:
        store.append("events", table)
    assert server.poll() >= 2
    assert list(server.live.sessions[session]) == [first, second]  # the session's items, oldest first


def test_a_new_customer_is_folded_in_without_retraining(
    shop: tuple[Store, StoreGate], server: RecsServer
) -> None:
    store, gate = shop
    user = "new-" + uuid.uuid4().hex
    item = server.trending(1)[0]["item_id"]
    _add_events(store, gate, [{"user_id": user, "type": "purchase", "item_id": item, "revenue": 10.0}])
    server.poll()
    served = server.recommend(user, 10, seed=2, log_impression=False)
    assert not served.cold_start
    assert item not in [it["item_id"] for it in served.items]
    title = _rows(store, "SELECT title FROM items WHERE item_id = ?", [item])[0][0]
    assert f"Because you bought {title}" in {it["reason"] for it in served.items}


def test_retrain_swaps_the_model_while_serving(server: RecsServer) -> None:
    old = server.state.version
    errors: list[BaseException] = []
    versions: set[str] = set()
    done = threading.Event()

    def hammer() -> None:
        while not done.is_set():
            try:
                versions.add(server.recommend("u000003", 10, log_impression=False).model_version)
            except BaseException as exc:
                errors.append(exc)

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        report = server.retrain()
    finally:
        done.set()
        thread.join()
    assert report["state"] == "done", report
    assert not errors
    assert server.state.version == report["version"] != old
    assert old in versions
    assert server.recommend("u000003", 10, log_impression=False).model_version == report["version"]
    assert Path(server.model_dir / "model.json").is_file()


def test_without_a_model_trending_is_served_under_the_same_rules(
    shop: tuple[Store, StoreGate], tmp_path: Path
) -> None:
    store, gate = shop
    srv = RecsServer(
        gate, tmp_path, RecsOptions(poll_seconds=60, flush_seconds=60, offline_models=[])
    ).start()
    try:
        assert srv.state.version == "trending" and srv.state.model is None
        blocked = {r[0] for r in _rows(store, "SELECT item_id FROM items WHERE stock <= 0 OR NOT active")}
        for user, items in _rows(
            store,
            "SELECT user_id, list(DISTINCT item_id) FROM events WHERE type = 'purchase' GROUP BY 1 ORDER BY 1 LIMIT 30",
        ):
            ids = {it["item_id"] for it in srv.recommend(str(user), 10, log_impression=False).items}
            assert len(ids) == 10 and not ids & set(items) and not ids & blocked
    finally:
        srv.stop()


def test_stock_changes_apply_without_a_retrain(shop: tuple[Store, StoreGate], server: RecsServer) -> None:
    store, gate = shop
    served = server.recommend("u000009", 10, seed=1, log_impression=False)
    gone = served.items[0]["item_id"]
    with gate:
        store.con.execute("UPDATE items SET stock = 0 WHERE item_id = ?", [gone])
    try:
        server.refresh_catalogue()
        assert gone not in {
            it["item_id"] for it in server.recommend("u000009", 10, log_impression=False).items
        }
        assert gone not in {it["item_id"] for it in server.trending(100)}
    finally:
        with gate:
            store.con.execute("UPDATE items SET stock = 5 WHERE item_id = ?", [gone])
        server.refresh_catalogue()
    assert gone in {
        it["item_id"] for it in server.recommend("u000009", 10, seed=1, log_impression=False).items
    }


def test_sessions_and_fresh_events_fold_through_the_models_public_similarity(server: RecsServer) -> None:
    state = server.state
    assert state.model is not None and state.model.has_item_similarity()
    assert (state.sim != state.model.item_similarity(k=100)).nnz == 0
    assert state.sim.nnz > 0


def test_serving_reads_models_only_through_the_recommender_contract() -> None:
    """No private generator or learned matrix of a particular model: only the common learned
    state every recommender has (`Recommender`'s docstring) and public methods."""
    import ast

    import cartwise.service.recs

    common = {"user_ids_", "item_ids_", "seen_", "popularity_"}
    problems = []
    for path in sorted(Path(cartwise.service.recs.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            private = isinstance(node, ast.Attribute) and node.attr.endswith("_") and node.attr[:2] != "__"
            if private and node.attr not in common:
                problems.append(f"{path.name}:{node.lineno}: .{node.attr}")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cartwise.recommend._"):
                problems.append(f"{path.name}:{node.lineno}: from {node.module}")
            if isinstance(node, ast.Constant) and node.value in ("generators_", "similarity_"):
                problems.append(f"{path.name}:{node.lineno}: {node.value!r}")
    assert problems == []


def test_offline_evaluation_reports_its_size_and_time_for_the_next_estimate(
    shop: tuple[Store, StoreGate], server: RecsServer
) -> None:
    store, _ = shop
    deadline = time.monotonic() + 180
    while not (server.offline or {}).get("evaluated_at") and time.monotonic() < deadline:
        assert (server.offline or {}).get("status") in {"queued", "running", None}
        time.sleep(0.2)
    report = server.offline or {}
    assert report.get("models"), report
    item_events = _rows(
        store,
        "SELECT count(*) FROM events WHERE item_id IS NOT NULL "
        "AND type IN ('view', 'add_to_cart', 'begin_checkout', 'purchase')",
    )[0][0]
    # Other tests add events while the server runs: the report counts those of its own start.
    assert 0 < report["interactions"] <= item_events and report["seconds"] >= 0
