"""The storefront tracker (`/static/cartwise.js`) from another origin, through CORS, into live KPIs."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from service_support import SERVER_ENV, Running, seed_store

from cartwise.service.server_process import ServerProcess, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOP_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
<script src="{cartwise}/static/cartwise.js"></script></head>
<body><h1>Chef knife</h1><script>
cartwise.init({{ endpoint: "{cartwise}", key: "{key}", flushMs: 200 }});
cartwise.view("sku-1");
cartwise.addToCart("sku-1", {{ quantity: 1, price: 49.0 }});
cartwise.purchase("web-order-1", [{{ item_id: "sku-1", quantity: 1, price: 49.0 }}]);
</script></body></html>"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Running]]:
    tmp = tmp_path_factory.mktemp("tracker")
    shop_port = free_port()
    shop_origin = f"http://127.0.0.1:{shop_port}"
    db = tmp / "shop.duckdb"
    keys, ids = seed_store(db)
    server = ServerProcess(
        db, log_path=tmp / "server.log", env={**SERVER_ENV, "CARTWISE_CORS_ORIGINS": shop_origin}
    ).start()
    site = tmp / "site"
    site.mkdir()
    (site / "index.html").write_text(
        SHOP_PAGE.format(cartwise=server.url, key=keys["collect"]), encoding="utf-8"
    )
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", shop_port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield shop_origin, Running(server, db, tmp / "server.log", keys, ids)
    finally:
        httpd.shutdown()
        httpd.server_close()
        server.stop()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_tracker_sends_view_cart_and_purchase_from_a_storefront(page: Any, shop: tuple[str, Running]) -> None:
    origin, running = shop
    with running.client("read") as api:
        before = api.get("/api/v1/live").json()["windows"]["5m"]
    page.goto(origin + "/index.html")
    # The queue empties only when the collector acknowledged the batch (202).
    page.wait_for_function(
        "() => window.cartwise && cartwise.pending() === 0 && localStorage.getItem('cartwise_visitor')"
    )
    visitor = page.evaluate("() => localStorage.getItem('cartwise_visitor')")
    session = page.evaluate("() => sessionStorage.getItem('cartwise_session')")
    assert visitor.startswith("v-") and session.startswith("s-")
    with running.client("read") as api:
        after = api.get("/api/v1/live").json()["windows"]["5m"]
    assert after["views"] == before["views"] + 1
    assert after["add_to_carts"] == before["add_to_carts"] + 1
    assert after["orders"] == before["orders"] + 1
    assert after["revenue"] == pytest.approx(before["revenue"] + 49.0)
    # A reload keeps the visitor id and sends a new view, not the old events again.
    page.reload()
    page.wait_for_function("() => cartwise.pending() === 0")
    assert page.evaluate("() => localStorage.getItem('cartwise_visitor')") == visitor
    with running.client("read") as api:
        again = api.get("/api/v1/live").json()["windows"]["5m"]
    assert again["views"] == after["views"] + 1
    assert again["active_users"] == after["active_users"]


def test_tracker_keeps_events_until_the_collector_answers(page: Any, shop: tuple[str, Running]) -> None:
    origin, running = shop
    page.goto(origin + "/index.html")
    page.wait_for_function("() => cartwise.pending() === 0")
    # Point the tracker at a port where nothing listens: events wait in localStorage.
    dead = f"http://127.0.0.1:{free_port()}"
    page.evaluate(f"() => {{ cartwise.init({{ endpoint: '{dead}' }}); cartwise.view('sku-2'); }}")
    page.wait_for_timeout(1000)
    assert page.evaluate("() => cartwise.pending()") == 1
    # Back to the real collector: the retry delivers it.
    page.evaluate(f"() => {{ cartwise.init({{ endpoint: '{running.url}' }}); return cartwise.flush(); }}")
    page.wait_for_function("() => cartwise.pending() === 0", timeout=20_000)


def test_cors_grants_only_the_configured_origin(shop: tuple[str, Running]) -> None:
    import httpx

    origin, running = shop
    for asked, allowed in ((origin, True), ("https://evil.example", False)):
        response = httpx.options(
            running.url + "/api/v1/events",
            headers={
                "Origin": asked,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert (response.headers.get("access-control-allow-origin") == asked) is allowed


def test_tracker_variant_asks_once_per_page_and_matches_the_hash(
    page: Any, shop: tuple[str, Running]
) -> None:
    from cartwise.experiments import assign, make_experiment, parse_variants

    origin, running = shop
    with running.client("admin") as admin:
        created = admin.post(
            "/api/v1/experiments",
            json={"key": "hero-banner", "variants": parse_variants("control:0.5,b:0.5")},
        )
        assert created.status_code == 201, created.text
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/assign" in r.url else None)
    page.goto(origin + "/index.html")
    page.wait_for_function("() => cartwise.pending() === 0")
    got = page.evaluate(
        "async () => [await cartwise.variant('hero-banner'), await cartwise.variant('hero-banner'),"
        " await cartwise.variant('no-such-test')]"
    )
    visitor = page.evaluate("() => localStorage.getItem('cartwise_visitor')")
    exp = make_experiment(key="hero-banner", variants=parse_variants("control:0.5,b:0.5"))
    assert got == [assign(exp, visitor), assign(exp, visitor), None]
    assert len([u for u in asked if "hero-banner" in u]) == 1  # cached for the page
