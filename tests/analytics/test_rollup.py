"""The store's daily rollup of events gives exactly the answers of the events themselves."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cartwise.analytics import kpis, refresh_rollup, retention, stored_facts
from cartwise.analytics._facts import KEYS, ROLLUP
from cartwise.cli.analytics import analytics
from cartwise.cli.db import db
from cartwise.cli.ingest import ingest
from cartwise.ingest import ingest_file
from cartwise.pipelines.demo import build_demo
from cartwise.schema import EVENTS
from cartwise.simulate import ShopConfig
from cartwise.store import Store

SHOP = ShopConfig(seed=7, users=300, items=60, days=45)
FIELDS = [c for c in EVENTS.column_names if c not in ("properties", "anonymous_id")]


@pytest.fixture
def shop(store: Store) -> Store:
    build_demo(store, SHOP)  # folds its events into the rollup
    return store


def assert_rollup_answers_like_events(store: Store, **bounds: str) -> None:
    events = store.ibis().table("events")
    facts = stored_facts(store)
    assert facts is not None
    for grain in ("day", "week", "month"):
        pd.testing.assert_frame_equal(
            kpis(events, grain, **bounds), kpis(events, grain, facts=facts, **bounds)
        )
    for by in ("week", "month"):
        for cohort in ("first_purchase", "first_seen"):
            for activity in ("any", "purchase"):
                options = {"cohort": cohort, "activity": activity, **bounds}
                pd.testing.assert_frame_equal(
                    retention(events, by, **options),  # type: ignore[arg-type]
                    retention(events, by, facts=facts, **options),  # type: ignore[arg-type]
                )


def state(store: Store) -> tuple[int, int]:
    """(watermark, events folded) of the rollup."""
    row = store.con.execute("SELECT watermark, folded FROM event_rollup_state").fetchall()[0]
    return int(row[0]), int(row[1])


def extra_events(store: Store, path: Path, tag: str) -> Path:
    """Events that land on keys the rollup already holds, plus what the demo shop lacks:
    refunds, a purchase without a session, an order whose lines fall on two days."""
    user, session, day = store.con.execute(
        "SELECT user_id, session_id, ts::DATE FROM events WHERE type = 'purchase' ORDER BY ts LIMIT 1"
    ).fetchall()[0]
    # A day after the shop's history (inside the loads' time window, which refuses the far future).
    later = store.con.execute("SELECT max(ts)::DATE + 2 FROM events").fetchall()[0][0]
    rows = [
        (f"{tag}1", f"{day} 23:59:00", user, session, "view", "i1", "", "", "", ""),
        (f"{tag}2", f"{day} 23:59:30", user, session, "purchase", "i1", "2", "5.0", f"{tag}-o", ""),
        (f"{tag}3", f"{day} 00:00:10", user, session, "purchase", "i2", "1", "3.0", f"{tag}-o", "3.0"),
        (f"{tag}4", f"{day} 12:00:00", user, "", "purchase", "i3", "", "8.0", "", ""),
        (f"{tag}5", f"{day} 13:00:00", user, session, "refund", "i1", "-1", "5.0", f"{tag}-o", "-5.0"),
        (f"{tag}6", f"{later} 09:00:00", f"{tag}-new", f"{tag}-s", "purchase", "i1", "1", "2.5", "", ""),
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        writer.writerows(rows)
    return path


def test_demo_shop_is_rolled_up_into_far_fewer_rows_with_the_same_answers(shop: Store) -> None:
    events = shop.count("events")
    assert state(shop) == (events - 1, events)
    assert shop.count(ROLLUP) < events / 2
    assert_rollup_answers_like_events(shop)


def test_events_stored_after_the_last_refresh_count_until_they_are_folded_in(
    shop: Store, tmp_path: Path
) -> None:
    before = state(shop)
    summary = ingest_file(shop, "events", extra_events(shop, tmp_path / "more.csv", "x"))
    assert summary.loaded == 6
    assert state(shop) == before  # not folded yet: read from the events
    assert_rollup_answers_like_events(shop)

    assert refresh_rollup(shop)["folded"] == 6
    assert state(shop)[1] == before[1] + 6
    assert_rollup_answers_like_events(shop)
    assert refresh_rollup(shop)["folded"] == 0


def test_compaction_regroups_repeated_keys_and_keeps_the_answers(shop: Store, tmp_path: Path) -> None:
    rows = shop.count(ROLLUP)
    # Each load repeats keys the rollup holds; appends grow it until it is regrouped.
    shop.con.execute("UPDATE event_rollup_state SET compacted_rows = 4")
    ingest_file(shop, "events", extra_events(shop, tmp_path / "a.csv", "a"))
    result = refresh_rollup(shop)
    assert result["compacted"]
    keys = ", ".join(KEYS)
    repeated = shop.con.execute(
        f"SELECT count(*) FROM (SELECT {keys} FROM {ROLLUP} GROUP BY ALL HAVING count(*) > 1)"
    ).fetchall()[0][0]
    assert repeated == 0
    assert shop.count(ROLLUP) <= rows + 6
    assert_rollup_answers_like_events(shop)


def test_deleted_events_are_read_from_the_events_until_the_rollup_is_rebuilt(shop: Store) -> None:
    shop.con.execute(
        "DELETE FROM events WHERE type = 'view' AND user_id IN (SELECT user_id FROM users LIMIT 20)"
    )
    assert stored_facts(shop) is None  # the rollup no longer matches: answers come from events
    result = refresh_rollup(shop)
    assert result["rebuilt"] and result["folded"] == shop.count("events")
    assert_rollup_answers_like_events(shop)


def test_bounds_inside_a_day_are_answered_from_the_events(shop: Store) -> None:
    middle = shop.con.execute("SELECT min(ts) + (max(ts) - min(ts)) / 2 FROM events").fetchall()[0][0]
    assert_rollup_answers_like_events(shop, start=str(middle.date()), end=middle.isoformat())


def test_an_export_leaves_the_rollup_to_the_importing_store(shop: Store, tmp_path: Path) -> None:
    counts = shop.export(tmp_path / "export")
    assert ROLLUP not in counts and not (tmp_path / "export" / f"{ROLLUP}.parquet").exists()
    with Store(tmp_path / "copy.duckdb") as copy:
        copy.migrate()
        copy.import_(tmp_path / "export")
        assert state(copy) == (-1, 0)
        assert_rollup_answers_like_events(copy)  # everything read through the view of new events
        refresh_rollup(copy)
        assert state(copy)[1] == copy.count("events")
        assert_rollup_answers_like_events(copy)
    # `cartwise db import` folds the imported events itself.
    target = tmp_path / "cli-copy.duckdb"
    done = CliRunner().invoke(db, ["import", str(tmp_path / "export"), "--db", str(target), "--json"])
    assert done.exit_code == 0, done.output
    with Store(target) as copy:
        assert state(copy)[1] == copy.count("events") > 0


def test_cli_ingest_folds_the_loaded_events_and_kpis_on_the_store_equal_kpis_on_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        for day in range(1, 20):
            for user in range(day % 5 + 1):
                ts = f"2026-03-{day:02d} 1{user}:00:00"
                writer.writerow(
                    [f"v{day}-{user}", ts, f"u{user}", f"s{day}-{user}", "view", "i1", "", "", "", ""]
                )
                if (day + user) % 3 == 0:
                    row = [
                        f"p{day}-{user}",
                        ts,
                        f"u{user}",
                        f"s{day}-{user}",
                        "purchase",
                        "i1",
                        "2",
                        "4.5",
                        "",
                        "",
                    ]
                    writer.writerow(row)
    db = tmp_path / "shop.duckdb"
    runner = CliRunner()
    assert runner.invoke(ingest, ["events", str(path), "--db", str(db), "--json"]).exit_code == 0
    with Store(db) as store:
        assert state(store)[1] == store.count("events") > 0
    on_store = runner.invoke(analytics, ["kpis", "--db", str(db), "--by", "week", "--json"])
    on_file = runner.invoke(analytics, ["kpis", "--events", str(path), "--by", "week", "--json"])
    assert on_store.exit_code == 0, on_store.output
    assert json.loads(on_store.output) == json.loads(on_file.output)


def test_cli_kpis_and_retention_on_a_store_read_the_rollup(shop: Store, tmp_path: Path) -> None:
    # A rollup that disagrees with the events in revenue only (the count check cannot see it)
    # shows which command reads it.
    shop.con.execute(f"UPDATE {ROLLUP} SET revenue = revenue * 2")
    shop.con.execute("CHECKPOINT")
    truth = kpis(shop.ibis().table("events"), "month")
    shop.close()
    db = str(tmp_path / "shop.duckdb")
    runner = CliRunner()
    on_store = runner.invoke(analytics, ["kpis", "--db", db, "--by", "month", "--json"])
    assert on_store.exit_code == 0, on_store.output
    revenue = sum(p["revenue"] for p in json.loads(on_store.output)["periods"])
    assert revenue == pytest.approx(2 * truth.revenue.sum())
    cells = runner.invoke(analytics, ["retention", "--db", db, "--by", "month", "--json"])
    assert cells.exit_code == 0, cells.output
    assert sum(c["revenue"] for c in json.loads(cells.output)["cells"]) == pytest.approx(
        2 * truth.revenue.sum()
    )
