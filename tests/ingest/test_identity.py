"""Identity stitching on a real store: links, retroactive rewrites, refusals, idempotency, erasure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cartwise.analytics import refresh_rollup
from cartwise.ingest import ingest_file
from cartwise.ingest.identity import linked_ids, resolve
from cartwise.pipelines.privacy import forget_customer
from cartwise.store import Store

HEADER = "event_id,ts,user_id,anonymous_id,session_id,type,item_id,quantity,price,order_id,properties"


def load(store: Store, tmp_path: Path, name: str, rows: list[str]) -> None:
    path = tmp_path / f"{name}.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    ingest_file(store, "events", path)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "shop.duckdb")


def users_of(store: Store) -> list[tuple[str, str]]:
    return [
        (str(r[0]), str(r[1]))
        for r in store.con.execute("SELECT type, user_id FROM events ORDER BY ts").fetchall()
    ]


def test_anonymous_session_follows_the_customer_who_signs_in(store: Store, tmp_path: Path) -> None:
    load(
        store,
        tmp_path,
        "anon",
        [
            "a1,2024-03-01T10:00:00Z,anon-1,anon-1,s1,view,i1,,,,",
            "a2,2024-03-01T10:01:00Z,anon-1,anon-1,s1,add_to_cart,i1,1,9.5,,",
        ],
    )
    refresh_rollup(store)
    load(store, tmp_path, "signin", ["a3,2024-03-01T10:05:00Z,cust-1,anon-1,s1,purchase,i1,1,9.5,o1,"])
    assert users_of(store) == [("view", "cust-1"), ("add_to_cart", "cust-1"), ("purchase", "cust-1")]
    assert store.con.execute("SELECT DISTINCT user_id FROM event_timeline").fetchall() == [("cust-1",)]
    assert resolve(store, "anon-1") == "cust-1"
    assert linked_ids(store, "anon-1") == ["cust-1", "anon-1"]
    merges = store.con.execute("SELECT from_id, into_id, evidence, outcome FROM merges").fetchall()
    assert merges == [("anon-1", "cust-1", "identify", "merged")]
    # Later anonymous events under the linked id land on the customer; the same evidence again logs nothing.
    load(
        store,
        tmp_path,
        "later",
        [
            "a4,2024-03-02T10:00:00Z,anon-1,anon-1,s2,view,i2,,,,",
            "a5,2024-03-02T10:01:00Z,cust-1,anon-1,s2,view,i2,,,,",
        ],
    )
    assert {u for _, u in users_of(store)} == {"cust-1"}
    assert store.con.execute("SELECT count(*) FROM merges").fetchone() == (1,)


def test_two_known_customers_are_not_merged_on_weak_evidence(store: Store, tmp_path: Path) -> None:
    load(
        store,
        tmp_path,
        "known",
        [
            "k1,2024-03-01T10:00:00Z,cust-1,,s1,view,i1,,,,",
            "k2,2024-03-01T10:00:00Z,cust-2,,s2,view,i1,,,,",
        ],
    )
    load(store, tmp_path, "shared", ["k3,2024-03-01T11:00:00Z,cust-2,cust-1,s3,view,i1,,,,"])
    assert resolve(store, "cust-1") == "cust-1"
    row = store.con.execute("SELECT from_id, into_id, outcome, reason FROM merges").fetchone()
    assert row is not None and row[2] == "refused" and "only an explicit alias" in row[3]
    assert ("view", "cust-1") in users_of(store)
    # An explicit alias is strong evidence: it merges them.
    load(store, tmp_path, "alias", ["k4,2024-03-01T12:00:00Z,cust-2,cust-1,,alias,,,,,"])
    assert resolve(store, "cust-1") == "cust-2"
    assert {u for _, u in users_of(store)} == {"cust-2"}


def test_guest_order_with_a_known_email_and_identify_traits(store: Store, tmp_path: Path) -> None:
    traits = json.dumps({"email": "ann@example.com", "email_consent": True, "plan": "gold"}).replace(
        '"', '""'
    )
    load(store, tmp_path, "identify", [f'i1,2024-03-01T09:00:00Z,cust-9,anon-9,,identify,,,,,"{traits}"'])
    user = store.con.execute(
        "SELECT email, email_consent, attributes FROM users WHERE user_id = 'cust-9'"
    ).fetchone()
    assert user is not None and user[0] == "ann@example.com" and user[1] is True
    assert json.loads(user[2]) == {"plan": "gold"}
    guest = json.dumps({"email": "ANN@example.com"}).replace('"', '""')
    load(store, tmp_path, "guest", [f'g1,2024-03-02T09:00:00Z,guest-7,guest-7,,purchase,i1,1,5,o7,"{guest}"'])
    assert store.con.execute("SELECT user_id FROM orders WHERE order_id = 'o7'").fetchone() == ("cust-9",)
    assert resolve(store, "guest-7") == "cust-9"


def test_erasure_follows_every_linked_identity(store: Store, tmp_path: Path) -> None:
    load(
        store,
        tmp_path,
        "all",
        [
            "e1,2024-03-01T10:00:00Z,anon-1,anon-1,s1,view,i1,,,,",
            "e2,2024-03-01T10:05:00Z,cust-1,anon-1,s1,view,i1,,,,",
            "e3,2024-03-01T10:06:00Z,cust-2,,s2,view,i1,,,,",
        ],
    )
    result = forget_customer(store, "anon-1")
    assert result["removed"]["events"] == 2
    assert store.con.execute("SELECT count(*) FROM identities").fetchone() == (0,)
    assert store.con.execute("SELECT count(*) FROM merges").fetchone() == (0,)
    assert store.con.execute("SELECT count(*) FROM events WHERE anonymous_id = 'anon-1'").fetchone() == (0,)
    assert users_of(store) == [("view", "cust-2")]


def test_many_sign_ins_in_one_file_link_once_each(store: Store, tmp_path: Path) -> None:
    # Plain sign-ins (one user per anonymous id) are linked in one pass; an anonymous id seen
    # with two customers goes through the one-by-one rules: linked to the first, the second refused.
    load(
        store,
        tmp_path,
        "many",
        [
            "m1,2024-03-01T10:00:00Z,anon-a,anon-a,,view,i1,,,,",
            "m2,2024-03-01T10:01:00Z,cust-a,anon-a,,view,i2,,,,",
            "m3,2024-03-01T10:02:00Z,cust-a,anon-a,,view,i3,,,,",
            "m4,2024-03-01T10:03:00Z,cust-b,anon-b,,view,i1,,,,",
            "m5,2024-03-01T10:04:00Z,cust-c1,anon-c,,view,i1,,,,",
            "m6,2024-03-01T10:05:00Z,cust-c2,anon-c,,view,i2,,,,",
        ],
    )
    merges = store.con.execute(
        "SELECT from_id, into_id, evidence, outcome, event_id FROM merges ORDER BY from_id, outcome"
    ).fetchall()
    assert merges == [
        ("anon-a", "cust-a", "identify", "merged", "m2"),
        ("anon-b", "cust-b", "identify", "merged", "m4"),
        ("anon-c", "cust-c1", "identify", "merged", "m5"),
        ("cust-c1", "cust-c2", "identify", "refused", "m6"),
    ]
    assert users_of(store)[0] == ("view", "cust-a")  # the anonymous view follows the customer
    assert resolve(store, "anon-c") == "cust-c1"
