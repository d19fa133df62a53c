"""Journeys on the Campaigns page in a real browser, over a real server and a real SMTP server
on loopback: the table and the diagram show the API's per-step counts, a split's variants get
their table, data strings stay text, and the editor validates (with the line) and applies."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from service_support import Running, serve_shop

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "campaigns"))
from smtp_support import SmtpServer, make_shop

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SPLIT = """\
name: cart-test
trigger: {event: add_to_cart}
exit_on: [{event: purchase}]
steps:
  - branch:
      if: "orders < 0"
      then: [exit]
  - split:
      - variant: mail
        weight: 50
        steps:
          - send: {channel: email, template: abandoned_cart}
      - variant: control
        weight: 50
        steps: [exit]
"""
USERS = 24


def _prepare(store: Any) -> None:
    make_shop(store, USERS, consent=lambda i: i % 4 != 0)
    store.append("items", pa.table({"item_id": ["sku-1"], "title": ["Chef knife"], "price": [49.5]}))


def _until(check: Callable[[], bool], seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.1)
    return check()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    smtp = SmtpServer().start()
    env = {"CARTWISE_SMTP_PORT": str(smtp.port), "CARTWISE_SMTP_FROM": "shop@cartwise.test"}
    try:
        with serve_shop(tmp_path_factory.mktemp("journeys_e2e"), _prepare, env=env) as run:
            with run.client("admin") as admin:
                admin.put("/api/v1/journeys/cart-test", content=SPLIT).raise_for_status()
            now = datetime.now(UTC).isoformat()
            events = [
                {
                    "event_id": str(uuid.uuid4()),
                    "ts": now,
                    "user_id": f"u{i:05d}",
                    "type": "add_to_cart",
                    "item_id": "sku-1",
                    "price": 49.5,
                }
                for i in range(USERS)
            ]
            with run.client("collect") as c:
                c.post("/api/v1/events", json={"events": events}).raise_for_status()

            def finished() -> bool:
                with run.client("read") as reader:
                    (listed,) = reader.get("/api/v1/journeys").json()["journeys"]
                return listed["runs"]["done"] + listed["runs"]["exited"] == USERS

            assert _until(finished, 30)
            yield run
    finally:
        smtp.stop()


def test_journey_table_and_diagram_show_the_step_counts(page: Any, sign_in: Any, shop: Running) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(shop.url, "campaigns")
    with shop.client("read") as api:
        (journey,) = api.get("/api/v1/pages/campaigns").json()["data"]["journeys"]
        # The campaigns route answers the same journey through its typed response model.
        assert api.get("/api/v1/campaigns").json()["journeys"] == [journey]
    branch, split = journey["steps"]
    mail, control = split["branches"]
    send = mail["steps"][0]
    assert send["kind"] == "send" and journey["entered"] == USERS
    sent, skipped = send["counts"]["sent"], send["counts"]["skipped"]
    # The demo's consent pattern: every fourth customer has none, and those in `mail` are skipped.
    assert sent > 0 and set(skipped) <= {"skipped:no_consent"}
    assert sent + sum(skipped.values()) == send["counts"]["entered"]

    row = page.locator('#journeys tr[data-journey="cart-test"]')
    assert row.locator('[data-field="entered"]').inner_text() == f"{USERS:,}"
    assert row.locator('[data-field="sent"]').inner_text() == f"{sent:,}"
    expected_skipped = ", ".join(f"{k} {n:,}" for k, n in skipped.items()) or "—"
    assert row.locator('[data-field="skipped"]').inner_text() == expected_skipped

    diagram = page.locator('.journey-diagram[data-journey="cart-test"]')
    box = diagram.locator(f'g.step[data-path="{send["path"]}"]')
    assert box.locator('[data-field="sent"]').text_content() == f"sent {sent:,}"
    assert box.locator("text.title").text_content() == "send abandoned_cart (email)"
    # The rule's `<` is shown as text (set through textContent, never parsed as markup).
    fork = diagram.locator(f'g.step[data-path="{branch["path"]}"] text.title')
    assert fork.text_content() == "branch if orders < 0"
    assert diagram.locator(f'g.step[data-path="{control["steps"][0]["path"]}"]').count() == 1

    variants = {v["variant"]: v for v in split["variants"]}
    assert sum(v["customers"] for v in variants.values()) == split["counts"]["entered"]
    table = diagram.locator(f'table[data-split="{split["path"]}"]')
    assert (
        table.locator('tr[data-variant="mail"] td >> nth=1').inner_text()
        == f"{variants['mail']['customers']:,}"
    )
    assert table.locator('tr[data-variant="mail"] td >> nth=5').inner_text() == "baseline"
    assert table.locator('tr[data-variant="control"] td >> nth=5').inner_text().endswith("]")

    # A send box opens the preview form on its template.
    box.click()
    assert page.locator("#preview-template").input_value() == "abandoned_cart"
    # The refresh redraws from the JSON twin without a script error.
    page.wait_for_timeout(5500)
    assert diagram.locator(f'g.step[data-path="{send["path"]}"]').count() == 1
    assert errors == []


def test_the_editor_validates_with_the_line_and_applies(page: Any, sign_in: Any, shop: Running) -> None:
    sign_in(shop.url, "campaigns")
    bad = SPLIT.replace("name: cart-test", "name: second").replace("abandoned_cart}", "no_such_template}")
    page.fill("#journey-yaml", bad)
    page.click("#journey-validate")
    error = page.locator("#journey-errors li")
    page.wait_for_function("!document.getElementById('journey-status').textContent.includes('Checking')")
    error.wait_for()
    assert error.get_attribute("data-line") == "12"
    assert "unknown template 'no_such_template'" in error.inner_text()

    page.fill("#journey-yaml", bad.replace("no_such_template}", "abandoned_cart}"))
    page.click("#journey-validate")
    page.wait_for_function("document.getElementById('journey-status').textContent.includes('valid')")
    assert page.locator("#journey-status").inner_text() == "Journey second is valid."
    page.click("#journey-apply")
    page.wait_for_function("document.getElementById('journey-status').textContent.includes('version')")
    assert page.locator("#journey-status").inner_text() == "Journey second: version 1 saved."
    page.locator('#journeys tr[data-journey="second"]').wait_for()
    with shop.client("read") as api:
        names = [j["journey"] for j in api.get("/api/v1/journeys").json()["journeys"]]
    assert names == ["cart-test", "second"]
