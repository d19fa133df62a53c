"""Ids holding `/`, `%`, `?`, `#`, spaces or non-ASCII text are reachable in URL paths (issue 21, point 7)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote

import pyarrow as pa
import pytest
from service_support import Running, error_body, now_naive, serve_shop

from cartwise.pipelines.profiles import refresh_profiles
from cartwise.store import Store

ODD_IDS = ["a/b", "x/history", "100%", "50%2F", "who?", "#7", "two words", "Zoë/東京", "a//b/"]


def _odd_shop(store: Store) -> None:
    ts = now_naive() - timedelta(days=3)
    n = len(ODD_IDS)
    store.append("items", pa.table({"item_id": ODD_IDS, "title": [f"item {i}" for i in range(n)]}))
    store.append(
        "events",
        pa.table(
            {
                "event_id": [f"e{i}" for i in range(n)],
                "ts": pa.array([ts + timedelta(minutes=i) for i in range(n)], pa.timestamp("us")),
                "user_id": ODD_IDS,
                "type": ["purchase"] * n,
                "item_id": ODD_IDS,
                "quantity": [1] * n,
                "price": [10.0] * n,
                "order_id": [f"o{i}" for i in range(n)],
                "revenue": [10.0] * n,
            }
        ),
    )
    store.append(
        "orders",
        pa.table(
            {
                "order_id": [f"o{i}" for i in range(n)],
                "user_id": ODD_IDS,
                "ts": pa.array([ts + timedelta(minutes=i) for i in range(n)], pa.timestamp("us")),
                "amount": [10.0] * n,
                "lines": [1] * n,
                "units": [1] * n,
                "source": ["events"] * n,
            }
        ),
    )
    refresh_profiles(store)


@pytest.fixture(scope="module")
def odd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with serve_shop(tmp_path_factory.mktemp("odd-ids"), _odd_shop) as run:
        yield run


@pytest.mark.parametrize("user_id", ODD_IDS)
def test_customer_with_an_odd_id_is_reachable(odd: Running, user_id: str) -> None:
    with odd.client("read") as c:
        response = c.get(f"/api/v1/customers/{quote(user_id, safe='')}")
        history = c.get(f"/api/v1/recommendations/{quote(user_id, safe='')}/history")
        recs = c.get(f"/api/v1/recommendations/{quote(user_id, safe='')}", params={"log": "false"})
        similar = c.get(f"/api/v1/items/{quote(user_id, safe='')}/similar")
    assert response.status_code == 200, response.text
    assert response.json()["profile"]["user_id"] == user_id
    assert history.status_code == 200, history.text
    assert [item["item_id"] for item in history.json()["items"]] == [user_id]
    assert recs.status_code == 200 and recs.json()["user_id"] == user_id, recs.text
    assert similar.status_code == 200 and similar.json()["item_id"] == user_id, similar.text


def test_unknown_ids_and_raw_slashes_still_404(odd: Running) -> None:
    with odd.client("read") as c:
        unknown = c.get(f"/api/v1/customers/{quote('no/such', safe='')}")
        split = c.get("/api/v1/customers/a/b")  # an unencoded slash separates segments
    assert "no/such" in error_body(unknown, 404)["message"]
    assert "No such endpoint" in error_body(split, 404)["message"]
