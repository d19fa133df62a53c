"""The Campaigns page in a real browser: a broadcast sent through the API shows the API's
counts and increments, and the preview renders a template for a customer."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from service_support import Running, serve_shop

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "campaigns"))
from smtp_support import SmtpServer, make_shop

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    smtp = SmtpServer().start()
    env = {"CARTWISE_SMTP_PORT": str(smtp.port), "CARTWISE_SMTP_FROM": "shop@cartwise.test"}
    try:
        with serve_shop(
            tmp_path_factory.mktemp("campaigns_e2e"),
            lambda s: make_shop(s, 30, consent=lambda i: i % 3 != 0),
            env=env,
        ) as run:
            with run.client("admin") as admin:
                admin.post(
                    "/api/v1/campaigns",
                    json={"name": "spring", "rule": "orders >= 0", "template": "win_back", "holdout": 0.2},
                ).raise_for_status()
            yield run
    finally:
        smtp.stop()


def test_campaign_counts_and_preview(page: Any, sign_in: Any, shop: Running) -> None:
    sign_in(shop.url, "campaigns")
    assert page.locator("h1").inner_text() == "Campaigns"
    with shop.client("read") as api:
        (spring,) = api.get("/api/v1/pages/campaigns").json()["data"]["campaigns"]
    row = page.locator('#campaigns tr[data-campaign="spring"]')
    for field in ("audience", "holdout", "sent", "opens", "clicks", "conversions"):
        assert row.locator(f'[data-field="{field}"]').inner_text() == f"{spring[field]:,}", field
    assert (
        row.locator('[data-field="skipped"]').inner_text()
        == f"no_consent {spring['skipped']['no_consent']:,}"
    )

    page.select_option("#preview-template", "newsletter")
    page.fill("#preview-user", "u00004")
    page.click("#preview-button")
    page.wait_for_function("document.getElementById('preview-subject').textContent.length > 0")
    assert page.locator("#preview-subject").inner_text() == "Picked for you this week"
    assert "Unsubscribe" in page.locator("#preview-text").inner_text()
