"""Erasing a customer leaves no trace of their id in any table; exporting returns every row."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import orjson
import pyarrow as pa

from cartwise.analytics import kpis, refresh_rollup, stored_facts
from cartwise.core.settings import get_settings
from cartwise.ingest import prepare_events, store_events
from cartwise.pipelines.privacy import erasures_of, export_customer, forget_customer, subject_hash
from cartwise.service.event_log import read_segment
from cartwise.service.log_erase import forget_in_log, forget_offline, log_dir
from cartwise.store import Store, open_store

WHO = "ann@example.com/7"


def _fill(store: Store) -> None:
    records = [
        {
            "event_id": f"e{n}",
            "ts": f"2025-03-0{1 + n % 5}T10:0{n % 10}:00Z",
            "user_id": user,
            "type": kind,
            "item_id": "sku-1",
            "order_id": f"o-{user}-{n}" if kind == "purchase" else None,
            "revenue": 12.0 if kind == "purchase" else None,
            "properties": {"device": "mobile"},
        }
        for n, (user, kind) in enumerate(
            [(WHO, "view"), (WHO, "purchase"), ("bob", "view"), ("bob", "purchase"), (WHO, "view")]
        )
    ]
    store_events(store, prepare_events(records).table)
    # `store_events` derived the orders of the purchases; add one loaded from transactions.
    store.con.execute(
        "INSERT INTO orders VALUES ('t-1', ?, TIMESTAMP '2024-12-01', 40.0, 1, 2, 'transactions')", [WHO]
    )
    store.con.execute("INSERT INTO order_lines VALUES ('t-1', 'sku-2', 2, 20.0, 40.0)")
    store.append(
        "users", pa.table({"user_id": [WHO, "bob"], "email": ["ann@example.com", "bob@example.com"]})
    )
    store.con.execute("INSERT INTO segment_members VALUES ('vip', ?), ('vip', 'bob')", [WHO])
    store.con.execute(
        "INSERT INTO rec_impressions (request_id, ts, user_id, item_id, position) VALUES ('r1', TIMESTAMP '2025-03-02', ?, 'sku-3', 1)",
        [WHO],
    )
    store.con.execute(
        "INSERT INTO quarantine (load_id, table_name, \"row\", reason, record) VALUES ('l1', 'events', 3, 'bad ts', ?)",
        [json.dumps({"user_id": WHO, "ts": "yesterday"})],
    )
    # A message to her address that hard-bounced, so the address is suppressed (bob's too).
    store.con.execute(
        "INSERT INTO send_log (message_key, user_id, address, state) VALUES ('m1', ?, 'ann@example.com', "
        "'failed_permanent'), ('m2', 'bob', 'bob@example.com', 'failed_permanent')",
        [WHO],
    )
    store.con.execute(
        "INSERT INTO suppressions VALUES ('ann@example.com', '550', TIMESTAMP '2025-03-03'), "
        "('bob@example.com', '550', TIMESTAMP '2025-03-03')"
    )
    # A table added later by some feature, never registered: found by its user_id column.
    store.con.execute("CREATE TABLE send_log_draft AS SELECT ? AS user_id, 'welcome' AS template", [WHO])
    refresh_rollup(store)


def _traces(store: Store, needle: str) -> list[str]:
    """`table.column` of every text or JSON value anywhere in the store that contains `needle`."""
    found = []
    rows = store.con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main' "
        "AND data_type IN ('VARCHAR', 'JSON')"
    ).fetchall()
    for table, column in rows:
        hits = store.con.execute(
            f'SELECT count(*) FROM "{table}" WHERE CAST("{column}" AS VARCHAR) LIKE ?', [f"%{needle}%"]
        ).fetchall()[0][0]
        if hits:
            found.append(f"{table}.{column}")
    return found


def test_forget_removes_the_customer_everywhere_once_and_logs_only_a_hash(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    with open_store(db, settings=get_settings(db=db, memory_limit="512MB", threads=1)) as store:
        _fill(store)
        held = export_customer(store, WHO)
        assert set(held["tables"]) >= {
            "events",
            "orders",
            "order_lines",
            "users",
            "segment_members",
            "rec_impressions",
            "quarantine",
            "send_log_draft",
        }
        assert held["tables"]["events"][0]["properties"] == {"device": "mobile"}
        assert {o["order_id"] for o in held["tables"]["orders"]} == {"o-ann@example.com/7-1", "t-1"}
        assert _traces(store, "ann@example.com")

        result = forget_customer(store, WHO)
        assert result["removed"] == {
            "events": 3,
            "orders": 2,
            "order_lines": 2,
            "users": 1,
            "segment_members": 1,
            "rec_impressions": 1,
            "quarantine": 1,
            "suppressions": 1,
            "send_log_draft": 1,
            "identities": 0,
            "merges": 0,
            # Tables later features made hold no row of hers here, but are swept all the same.
            "campaign_members": 0,
            "send_log": 1,
            "message_events": 0,
            "exposures": 0,
            "journey_runs": 0,
            "journey_steps": 0,
        }
        assert _traces(store, "ann@example.com") == []
        assert store.con.execute("SELECT address FROM suppressions").fetchall() == [("bob@example.com",)]
        # Bob is untouched, and the rollup answers as the events do.
        assert store.con.execute("SELECT count(*) FROM events WHERE user_id = 'bob'").fetchall()[0][0] == 2
        events = store.ibis().table("events")
        assert kpis(events, "day", facts=stored_facts(store)).equals(kpis(events, "day"))

        again = forget_customer(store, WHO)
        assert again["total"] == 0 and again["subject_hash"] == subject_hash(store, WHO)
        log = store.con.execute("SELECT subject_hash, total FROM erasures ORDER BY erased_at").fetchall()
        assert log == [(subject_hash(store, WHO), 14), (subject_hash(store, WHO), 0)]
        # The log cannot be searched by hashing guessed ids, but the store can say who was erased.
        assert hashlib.sha256(WHO.encode()).hexdigest() not in {row[0] for row in log}
        assert [e["total"] for e in erasures_of(store, WHO)] == [14, 0]
        assert erasures_of(store, "bob") == []
        assert export_customer(store, WHO)["tables"] == {}


def test_the_cli_version_also_rewrites_the_collectors_log(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    settings = get_settings(db=db, memory_limit="512MB", threads=1)
    with open_store(db, settings=settings) as store:
        _fill(store)
    folder = log_dir(settings)
    folder.mkdir()
    # Segments a crashed server left: one mixed, one with only the customer's events, one without.
    lines = {
        1: [
            [
                {"event_id": "x1", "user_id": WHO, "type": "view"},
                {"event_id": "x2", "user_id": "bob", "type": "view"},
            ]
        ],
        2: [[{"event_id": "x3", "user_id": WHO, "type": "view"}]],
        3: [[{"event_id": "x4", "user_id": "bob", "type": "view"}]],
    }
    for number, batches in lines.items():
        (folder / f"segment-{number:010d}.jsonl").write_bytes(
            b"".join(orjson.dumps(b) + b"\n" for b in batches)
        )
    result = forget_offline(settings, WHO)
    assert result["removed"]["events"] == 3 and result["log"].startswith("2 ")
    left = {p.name: [r["event_id"] for r in read_segment(p)] for p in sorted(folder.iterdir())}
    assert left == {"segment-0000000001.jsonl": ["x2"], "segment-0000000003.jsonl": ["x4"]}
    assert forget_in_log(folder, WHO) == 0


def test_a_table_registers_once_with_one_placeholder_for_the_id() -> None:
    import pytest

    from cartwise.core.errors import ConfigError
    from cartwise.pipelines.privacy import REGISTRY, register_personal_data

    assert {
        "events",
        "orders",
        "users",
        "profiles",
        "segment_members",
        "rec_impressions",
        "quarantine",
    } <= set(REGISTRY)
    with pytest.raises(ConfigError, match="already registered"):
        register_personal_data("users")
    with pytest.raises(ConfigError, match="exactly one `\\?`"):
        register_personal_data("send_log", "user_id = ? OR email = ?")
    assert "send_log" not in REGISTRY


def test_each_store_keys_its_erasure_log_with_its_own_secret(tmp_path: Path) -> None:
    hashes = []
    for name in ("a", "b"):
        db = tmp_path / f"{name}.duckdb"
        with open_store(db, settings=get_settings(db=db, memory_limit="512MB", threads=1)) as store:
            hashes.append(forget_customer(store, WHO)["subject_hash"])
    assert hashes[0] != hashes[1]


def test_an_older_stores_bare_sha256_log_is_keyed_by_the_migration(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    settings = get_settings(db=db, memory_limit="512MB", threads=1)
    with open_store(db, settings=settings) as store:
        # The store as version 16 left it: the log held sha256(id).
        store.con.execute("DROP TABLE erasure_key")
        store.con.execute("ALTER TABLE erasures RENAME COLUMN subject_hash TO subject_sha256")
        store.con.execute("DELETE FROM schema_migrations WHERE version >= 17")
        bare = hashlib.sha256(WHO.encode()).hexdigest()
        store.con.execute("INSERT INTO erasures VALUES (TIMESTAMP '2025-01-02', ?, '{}', 5, 'cli')", [bare])
    with open_store(db, settings=settings) as store:
        logged = store.con.execute("SELECT subject_hash FROM erasures").fetchall()
        assert logged != [(bare,)] and [e["total"] for e in erasures_of(store, WHO)] == [5]
