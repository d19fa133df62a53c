"""Audiences API against a real server over a small hand-made store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pyarrow as pa
import pytest
from service_support import Running, error_body, serve_shop

from cartwise.store import Store

NOW = datetime(2026, 3, 10, 12, 0)
RULE = "did(add_to_cart, within=3d) and not did(purchase, within=3d)"


def _fill(store: Store) -> None:
    rows = [
        ("a", "add_to_cart", 5),
        ("b", "add_to_cart", 10),
        ("b", "purchase", 2),
        ("c", "add_to_cart", 100),
    ]
    store.append(
        "events",
        pa.table(
            {
                "event_id": [f"e{i}" for i in range(len(rows))],
                "ts": [NOW - timedelta(hours=h) for _, _, h in rows],
                "user_id": [u for u, _, _ in rows],
                "type": [t for _, t, _ in rows],
            }
        ),
    )
    store.append(
        "users", pa.table({"user_id": ["a", "b", "c", "d"], "email": ["a@x.org", "b@x.org", None, "d@x.org"]})
    )
    store.replace(
        "profiles",
        pa.table({"user_id": ["a", "b", "c", "d"], "p_alive": [0.9, 0.1, 0.5, None], "as_of": [NOW] * 4}),
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with serve_shop(tmp_path_factory.mktemp("audiences"), _fill) as running:
        yield running


def test_count_save_list_export_delete(run: Running) -> None:
    now = NOW.isoformat()
    with run.client("read") as read, run.client("admin") as admin:
        counted = read.post("/api/v1/audiences/count", json={"rule": RULE, "now": now})
        assert counted.status_code == 200, counted.text
        assert counted.json() == {
            "audience": None,
            "rule": RULE,
            "now": "2026-03-10T12:00:00Z",
            "size": 1,
            "total": 4,
            "share": 0.25,
        }
        # Saving needs admin.
        body = {"name": "carts", "rule": RULE, "description": "left carts", "now": now}
        assert read.post("/api/v1/audiences", json=body).status_code == 403
        saved = admin.post("/api/v1/audiences", json=body)
        assert saved.status_code == 201 and saved.json()["size"] == 1 and saved.json()["replaced"] is False
        # Counting the saved audience 4 days later: c's cart is out of the window, a's too.
        later = read.post(
            "/api/v1/audiences/count", json={"rule": "carts", "now": (NOW + timedelta(days=4)).isoformat()}
        )
        assert later.json()["size"] == 0 and later.json()["audience"] == "carts"
        listed = read.get("/api/v1/audiences").json()["audiences"]
        assert [(a["name"], a["size"]) for a in listed] == [("carts", 0)]
        assert [(h["size"], h["reason"]) for h in listed[0]["history"]] == [(1, "save"), (0, "count")]
        assert listed[0]["history"][0]["now"] == "2026-03-10T12:00:00Z"

        assert read.get("/api/v1/audiences/carts/members.csv", params={"now": now}).status_code == 403
        csv_answer = admin.get("/api/v1/audiences/carts/members.csv", params={"now": now})
        assert csv_answer.status_code == 200 and csv_answer.headers["content-type"].startswith("text/csv")
        assert csv_answer.text.splitlines() == ["user_id,email,p_alive", "a,a@x.org,0.9"]
        error_body(admin.get("/api/v1/audiences/nope/members.csv"), 404)

        assert admin.delete("/api/v1/audiences/carts").json() == {"name": "carts", "deleted": True}
        assert read.get("/api/v1/audiences").json() == {"audiences": []}
        error_body(admin.delete("/api/v1/audiences/carts"), 404)


def test_a_bad_rule_is_a_400_naming_the_column(run: Running) -> None:
    with run.client("read") as read:
        body = error_body(
            read.post("/api/v1/audiences/count", json={"rule": "did(purchase, within=3x)"}), 400
        )
    assert "column 22" in body["message"] and "not a duration" in body["message"]


def test_generated_requests_never_fail_the_server(run: Running) -> None:
    import schemathesis
    from service_support import fuzz_operations

    schema = schemathesis.openapi.from_url(run.url + "/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {run.keys['admin']}"}
    checked = fuzz_operations(
        schema, headers, lambda path: path.startswith("/api/v1/audiences"), max_examples=40
    )
    assert "POST /api/v1/audiences/count" in checked and len(checked) == 6
