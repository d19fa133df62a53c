"""Data planted through the collector shows as text in the dashboard's charts, never as markup,
and the pages run under a Content-Security-Policy without violating it."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from service_support import Running

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PLANTED = '<a href="https://evil.example/login">Session expired</a>'


def _plant(run: Running) -> None:
    """A `collect` key sends a visitor whose `device` property is a link, and waits until it is stored."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    events = [
        {"event_id": str(uuid.uuid4()), "ts": now, "user_id": f"planted-{i}", "session_id": f"ps-{i}",
         "type": kind, "item_id": "sku-1", "properties": {"device": PLANTED}}
        for i in range(2)
        for kind in ("view", "add_to_cart")
    ]  # fmt: skip
    with run.client("collect") as c:
        sent = c.post("/api/v1/events", json={"events": events})
    assert sent.status_code == 202 and sent.json()["accepted"] == 4, sent.text
    deadline = time.monotonic() + 30
    with run.client("read") as c:
        while time.monotonic() < deadline:
            funnel = c.get("/api/v1/analytics/funnel", params={"breakdown": "device"})
            if funnel.status_code == 200 and PLANTED in [s["segment"] for s in funnel.json()["segments"]]:
                return
            time.sleep(0.3)
    raise AssertionError(f"the planted events never reached the funnel: {funnel.text}")


def test_a_planted_link_shows_as_text_in_the_funnel_legend(
    page: Any, sign_in: Any, dashboard_server: Running
) -> None:
    _plant(dashboard_server)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    sign_in(dashboard_server.url, "analytics")
    page.wait_for_selector("body[data-analytics-ready=true]")
    page.select_option("#funnel-breakdown", "device")
    page.click("#funnel-form button[type=submit]")
    page.wait_for_function("document.getElementById('funnel-card').dataset.breakdown === 'device'")
    page.wait_for_selector("#funnel-chart .legend .legendtext")
    legend = page.locator("#funnel-chart .legend")
    assert PLANTED in legend.text_content()  # the label reads as the text that was sent
    assert legend.locator("a").count() == 0
    assert page.locator("#funnel-chart a").count() == 0  # no link anywhere in the chart
    assert page.locator("a[href*='evil.example']").count() == 0
    assert problems == []


@pytest.mark.parametrize(
    "slug", ["overview", "analytics", "customers", "forecasts", "inventory", "recommendations"]
)
def test_pages_carry_a_content_security_policy_and_run_under_it(
    page: Any, sign_in: Any, dashboard_server: Running, slug: str
) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    sign_in(dashboard_server.url, slug)
    response = page.reload(wait_until="networkidle")
    policy = response.headers["content-security-policy"]
    assert (
        "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    )
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    # Charts drew (plotly ran under the policy) wherever the page has data to chart.
    assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == []
    assert [p for p in problems if "Failed to load resource" not in p] == []
