"""Browser tests: a real server and Debian's Chromium through Playwright; screenshots on failure."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from service_support import PASSWORD, Running, start

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def dashboard_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with start(tmp_path_factory.mktemp("dashboard")) as run:
        yield run


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's Chromium is not installed (`make chromium`)")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        page = item.funcargs.get("page") if hasattr(item, "funcargs") else None
        if page is not None:
            ARTIFACTS.mkdir(exist_ok=True)
            try:
                page.screenshot(path=str(ARTIFACTS / f"{item.name}.png"), full_page=True)
            except Exception as exc:  # a screenshot must never hide the real failure
                print(f"screenshot failed: {exc}")


def _as_function(expression: str) -> str:
    """A `wait_for_function` predicate as a function: Playwright evaluates a bare expression with
    `eval` inside the page, which the pages' Content-Security-Policy (no 'unsafe-eval') refuses."""
    text = expression.strip()
    if "=>" in text.split("\n", 1)[0] or text.startswith(("function", "async")):
        return expression
    return f"() => ({text})"


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context()  # type: ignore[attr-defined]
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    wait_for_function = pg.wait_for_function
    pg.wait_for_function = lambda expression, *args, **kw: wait_for_function(
        _as_function(expression), *args, **kw
    )
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture
def sign_in(page: Any) -> Callable[[str, str], None]:
    """`sign_in(url, slug)`: open a dashboard page signed out, which must lead to the sign-in
    form; sign in as `alice` and wait to be back on the page."""

    def open_signed_in(url: str, slug: str) -> None:
        page.goto(f"{url}/{slug}")
        assert page.url.endswith(f"/login?next=/{slug}")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", PASSWORD)
        page.click("form.stack button[type=submit] >> nth=0")
        page.wait_for_url(f"**/{slug}")

    return open_signed_in
