"""Campaigns through a real `cartwise serve`: POST /api/v1/campaigns, one-click unsubscribe,
open pixel and click links, results and previews."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cartwise.campaigns import in_holdout

from .smtp_support import SmtpServer, make_shop

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from service_support import Running, serve_shop


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, SmtpServer]]:
    smtp = SmtpServer().start()
    env = {"CARTWISE_SMTP_PORT": str(smtp.port), "CARTWISE_SMTP_FROM": "shop@cartwise.test"}
    try:
        with serve_shop(tmp_path_factory.mktemp("campaigns"), lambda s: make_shop(s, 40), env=env) as run:
            yield run, smtp
    finally:
        smtp.stop()


def _local(run: Running, url: str) -> str:
    # Links start with the `public_url` setting (its default here); the test's server has its own port.
    return url.replace("http://127.0.0.1:8000", run.url)


def test_send_unsubscribe_track_and_measure_while_the_server_runs(served: tuple[Running, SmtpServer]) -> None:
    run, smtp = served
    body = {"name": "api-1", "rule": "orders >= 0", "template": "newsletter", "holdout": 0.25}
    with run.client("read") as reader:
        assert reader.post("/api/v1/campaigns", json=body).status_code == 403  # admin only
    with run.client("admin") as admin:
        result = admin.post("/api/v1/campaigns", json=body).json()
    assert result["campaign"] == "api-1" and result["audience"] == 40
    assert result["sent"] == len(smtp.sink.messages) == 40 - result["holdout"]

    message = smtp.sink.messages[0]
    recipient = message["To"].split("@")[0]
    unsubscribe = _local(run, message["List-Unsubscribe"].strip("<>"))
    html = (
        next(p for p in message.walk() if p.get_content_type() == "text/html")
        .get_payload(decode=True)
        .decode()
    )
    pixel = _local(run, html.split('<img src="')[1].split('"')[0])
    click = _local(run, html.split('href="')[1].split('"')[0].replace("&amp;", "&"))
    with httpx.Client(timeout=30) as anonymous:  # no sign-in: the signed token is enough
        assert anonymous.get(pixel).headers["content-type"] == "image/gif"
        followed = anonymous.get(click, follow_redirects=False)
        assert followed.status_code == 302 and followed.headers["location"].startswith("http")
        assert anonymous.get(unsubscribe).status_code == 200  # a GET only shows the button
        one_click = anonymous.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
        assert one_click.status_code == 200, one_click.text
        assert anonymous.post(unsubscribe[:-3] + "xyz").status_code == 400

    with run.client("admin") as admin:
        again = admin.post(
            "/api/v1/campaigns", json={**body, "name": "api-2", "attribution_days": 2.5}
        ).json()
        no_window = admin.post("/api/v1/campaigns", json={**body, "name": "api-3", "attribution_days": 0})
        listed = admin.get("/api/v1/campaigns").json()["campaigns"]
        preview = admin.get(
            "/api/v1/campaigns/preview", params={"template": "win_back", "user_id": recipient}
        )
    held_2 = again["holdout"]
    # Consent was withdrawn at once: the second campaign skips the customer, unless it held them out.
    assert again["skipped"].get("no_consent", 0) == (0 if in_holdout("api-2", recipient, 0.25) else 1)
    assert again["sent"] + again["skipped"].get("no_consent", 0) == 40 - held_2
    assert no_window.status_code == 422 and "attribution_days" in no_window.text
    assert {c["campaign"]: c["attribution_days"] for c in listed} == {"api-1": 5, "api-2": 2.5}
    first = next(c for c in listed if c["campaign"] == "api-1")
    assert first["opens"] == 1 and first["clicks"] == 1 and first["unsubscribes"] == 1
    assert {"estimate", "low", "high"} <= set(first["incremental_revenue"])
    assert preview.status_code == 200 and preview.json()["subject"] == "We miss you"


def test_restarting_the_service_delivers_what_a_crash_left_pending(tmp_path: Path) -> None:
    from cartwise.pipelines.campaigns import _start
    from cartwise.pipelines.sender import now_utc

    def crashed_after_the_outbox_write(store: object) -> None:
        make_shop(store, 12)
        _start(store, "crashed", "orders >= 0", "welcome", "email", 0.0, 5.0, now_utc())  # type: ignore[arg-type]

    smtp = SmtpServer().start()
    env = {"CARTWISE_SMTP_PORT": str(smtp.port), "CARTWISE_SMTP_FROM": "shop@cartwise.test"}
    try:
        with serve_shop(tmp_path, crashed_after_the_outbox_write, env=env) as run:
            deadline = time.monotonic() + 60
            while len(smtp.sink.messages) < 12 and time.monotonic() < deadline:
                time.sleep(0.1)
            with run.client("read") as reader:
                (crashed,) = reader.get("/api/v1/campaigns").json()["campaigns"]
    finally:
        smtp.stop()
    assert len(smtp.sink.messages) == 12 and len({m["To"] for m in smtp.sink.messages}) == 12
    assert crashed["sent"] == 12 and crashed["pending"] == 0
