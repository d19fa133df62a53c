"""The retention heatmap of a year of weekly cohorts in a real browser: 53 x 53 cells are too
small for labels, so none is printed (hover shows each value) and a hint says so; the same
year in monthly cohorts labels every cell."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from service_support import Running, serve_shop

from cartwise.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.slow]

START = datetime(2025, 1, 6)  # a Monday
WEEKS = 53


def _a_year_of_weekly_cohorts(store: Store) -> None:
    # Three new users a week; each comes back every other week.
    rows: dict[str, list[Any]] = {k: [] for k in ("event_id", "ts", "user_id", "session_id", "type")}
    for week in range(WEEKS):
        for n in range(3):
            user = f"u{week}-{n}"
            for later in range(week, WEEKS, 2):
                ts = START + timedelta(weeks=later, hours=n)
                rows["event_id"].append(f"{user}-{later}")
                rows["ts"].append(ts)
                rows["user_id"].append(user)
                rows["session_id"].append(f"{user}-{later}")
                rows["type"].append("view")
    store.append("events", pa.table({**rows, "ts": pa.array(rows["ts"], pa.timestamp("us"))}))


@pytest.fixture(scope="module")
def year_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with serve_shop(tmp_path_factory.mktemp("retention_labels"), _a_year_of_weekly_cohorts) as run:
        yield run


def test_labels_only_where_they_fit(page: Any, sign_in: Any, year_shop: Running) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(year_shop.url, "analytics")
    page.wait_for_selector("body[data-analytics-ready=true]")
    page.select_option("#retention-cohort", "first_seen")
    page.wait_for_function(
        "document.getElementById('retention-heatmap').data"
        f" && document.getElementById('retention-heatmap').data[0].y.length === {WEEKS}"
    )
    heat = page.evaluate("document.getElementById('retention-heatmap').data[0]")
    assert heat["texttemplate"] == ""  # no label in any cell
    assert "%{z:.1%}" in heat["hovertemplate"]  # hover gives each cell's value
    assert page.locator("#retention-heatmap").get_attribute("data-labels") == "off"
    assert page.locator("#retention-hint").inner_text().startswith("Too many cells to label: hover a cell")

    page.select_option("#retention-grain", "month")
    page.wait_for_function(
        "document.getElementById('retention-card').dataset.state === 'ready'"
        " && document.getElementById('retention-heatmap').data[0].y.length < 15"
    )
    heat = page.evaluate("document.getElementById('retention-heatmap').data[0]")
    assert heat["texttemplate"] == "%{text}"
    assert page.locator("#retention-heatmap").get_attribute("data-labels") == "on"
    assert page.locator("#retention-hint").is_hidden()
    assert errors == []
