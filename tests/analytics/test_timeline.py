"""The store's timeline (events sorted for funnels) holds every event and gives the funnels of the events."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner

from cartwise.analytics import funnel, refresh_rollup, stored_timeline
from cartwise.analytics._timeline import MONTHS, TIMELINE
from cartwise.cli.analytics import analytics
from cartwise.pages.analytics import funnel_view
from cartwise.pipelines.demo import build_demo
from cartwise.simulate import ShopConfig
from cartwise.store import Store

SHOP = ShopConfig(seed=11, users=300, items=60, days=45)
TYPES = np.array(["view", "add_to_cart", "purchase", "search"])


def events_in(month: str, n: int, seed: int, users: int = 40) -> pa.Table:
    """`n` events at random times of `month` (YYYY-MM), of a few users and types, on two devices."""
    rng = np.random.default_rng(seed)
    start = np.datetime64(f"{month}-01T00:00:00", "s")
    seconds = rng.integers(0, 28 * 86_400, n)
    return pa.table(
        {
            "event_id": [f"{month}-{seed}-{i}" for i in range(n)],
            "ts": pa.array((start + seconds.astype("timedelta64[s]")).astype("datetime64[us]")),
            "user_id": [f"u{u}" for u in rng.integers(0, users, n)],
            "type": TYPES[rng.choice(4, n, p=[0.6, 0.2, 0.1, 0.1])],
            "properties": [json.dumps({"device": d}) for d in rng.choice(["mobile", "desktop"], n)],
        }
    )


def rows(store: Store, table: str) -> pd.DataFrame:
    """Every `(ts, user_id, type)` of `table`, in one order whatever the storage order."""
    return store.con.execute(f"SELECT ts, user_id, type FROM {table} ORDER BY ALL").fetch_df()


def assert_funnels_agree(store: Store, **options: str) -> None:
    """Funnels read through the timeline equal those read from the events, drop-outs included."""
    events = store.ibis().table("events")
    timeline = stored_timeline(store)
    assert timeline is not None
    for steps, window in (
        ("view,add_to_cart,purchase", "1d"),
        ("add_to_cart,purchase", "2h"),
        ("view,add_to_cart[device=mobile],purchase", "1d"),  # the filtered step reads the events
    ):
        plain = funnel(events, steps, window, **options)
        fast = funnel(events, steps, window, timeline=timeline, **options)
        pd.testing.assert_frame_equal(plain.steps, fast.steps)
        assert plain.dropped == fast.dropped
        assert plain.steps.users.iloc[-1] > 0  # the comparison covers chains, not only empty steps


def months(store: Store) -> dict[str, tuple[int, int]]:
    found = store.con.execute(f"SELECT month, sorted_rows, appended_rows FROM {MONTHS} ORDER BY 1").fetchall()
    return {str(m.date())[:7]: (int(s), int(a)) for m, s, a in found}


@pytest.fixture
def shop(store: Store) -> Store:
    build_demo(store, SHOP)  # folds its events into the rollup and the timeline
    return store


def test_the_demo_shop_timeline_holds_every_event_and_answers_like_the_events(shop: Store) -> None:
    pd.testing.assert_frame_equal(rows(shop, TIMELINE), rows(shop, "events"))
    counted = {m: s + a for m, (s, a) in months(shop).items()}
    per_month = shop.con.execute("SELECT strftime(ts, '%Y-%m'), count(*) FROM events GROUP BY 1").fetchall()
    assert counted == {m: n for m, n in per_month}
    assert_funnels_agree(shop)
    middle = shop.con.execute("SELECT min(ts) + (max(ts) - min(ts)) / 2 FROM events").fetchall()[0][0]
    assert_funnels_agree(shop, start=str(middle.date()), end=(middle + pd.Timedelta(days=9)).isoformat())


def test_events_after_the_last_refresh_are_read_from_the_events_until_folded_in(shop: Store) -> None:
    last = shop.con.execute("SELECT max(ts) FROM events").fetchall()[0][0]
    user = shop.con.execute("SELECT user_id FROM events WHERE type = 'view' LIMIT 1").fetchall()[0][0]
    later = pd.Timestamp(last) + pd.Timedelta(hours=1)
    shop.append(
        "events",
        pa.table(
            {
                "event_id": ["late-1", "late-2", "late-3"],
                "ts": pa.array([later, later + pd.Timedelta(minutes=5), later + pd.Timedelta(minutes=9)]),
                "user_id": [user, user, user],
                "type": ["view", "add_to_cart", "purchase"],
            }
        ),
    )
    assert shop.count(TIMELINE) == shop.count("events") - 3
    timeline = stored_timeline(shop)
    assert timeline is not None and timeline.count().execute() == shop.count("events")
    assert_funnels_agree(shop)
    assert refresh_rollup(shop)["folded"] == 3
    pd.testing.assert_frame_equal(rows(shop, TIMELINE), rows(shop, "events"))
    assert_funnels_agree(shop)


def test_small_blocks_are_sorted_again_as_one_when_they_reach_half_the_month(store: Store) -> None:
    store.append("events", events_in("2025-01", 1000, seed=1))
    assert refresh_rollup(store)["months_sorted"] == 0
    assert months(store) == {"2025-01": (1000, 0)}

    store.append(
        "events", pa.concat_tables([events_in("2025-01", 300, seed=2), events_in("2025-02", 200, seed=3)])
    )
    assert refresh_rollup(store)["months_sorted"] == 0  # 300 appended: under half of 1,000
    assert months(store) == {"2025-01": (1000, 300), "2025-02": (200, 0)}
    january = "ts < TIMESTAMP '2025-02-01'"
    blocks = store.con.execute(
        f"SELECT type, user_id, ts FROM {TIMELINE} WHERE {january} ORDER BY rowid"
    ).fetch_df()
    assert not blocks.equals(blocks.sort_values(["type", "user_id", "ts"], ignore_index=True))  # two blocks

    store.append("events", events_in("2025-01", 250, seed=4))
    assert refresh_rollup(store)["months_sorted"] == 1  # 550 appended: half of 1,000 reached
    assert months(store) == {"2025-01": (1550, 0), "2025-02": (200, 0)}
    january_rows = store.con.execute(
        f"SELECT type, user_id, ts FROM {TIMELINE} WHERE {january} ORDER BY rowid"
    ).fetch_df()
    assert len(january_rows) == 1550
    pd.testing.assert_frame_equal(
        january_rows, january_rows.sort_values(["type", "user_id", "ts"], ignore_index=True)
    )
    pd.testing.assert_frame_equal(rows(store, TIMELINE), rows(store, "events"))
    assert_funnels_agree(store)


def test_deleted_events_are_read_from_the_events_until_the_timeline_is_rebuilt(shop: Store) -> None:
    shop.con.execute(
        "DELETE FROM events WHERE type = 'add_to_cart' AND user_id IN (SELECT user_id FROM users LIMIT 30)"
    )
    assert stored_timeline(shop) is None  # the funnel reads the events
    assert refresh_rollup(shop)["rebuilt"]
    pd.testing.assert_frame_equal(rows(shop, TIMELINE), rows(shop, "events"))
    assert sum(s + a for s, a in months(shop).values()) == shop.count("events")
    assert_funnels_agree(shop)


def test_a_store_from_before_the_timeline_folds_every_event_into_it_at_the_next_refresh(shop: Store) -> None:
    # The store as migration 5 left it: a rollup folded up to the last event, no timeline.
    shop.con.execute(f"DROP TABLE {TIMELINE}")
    shop.con.execute(f"DROP TABLE {MONTHS}")
    shop.con.execute("DELETE FROM schema_migrations WHERE version >= 6")
    assert stored_timeline(shop) is None
    assert shop.migrate()[:1] == [6]  # and the later ones, again
    assert shop.con.execute("SELECT watermark, folded FROM event_rollup_state").fetchall() == [(-1, 0)]
    assert_funnels_agree(shop)  # everything read through the view of events after the watermark
    assert refresh_rollup(shop)["folded"] == shop.count("events")
    pd.testing.assert_frame_equal(rows(shop, TIMELINE), rows(shop, "events"))


def test_steps_with_a_filter_read_the_events_and_the_others_the_timeline(shop: Store) -> None:
    events = shop.ibis().table("events")
    empty = shop.ibis().table(TIMELINE).limit(0)
    filtered = "view[device=mobile],add_to_cart,purchase"
    mobile_viewers = funnel(events, filtered, "1d").steps.users.iloc[0]
    assert mobile_viewers > 0
    # An empty timeline shows which steps read it: the filtered first step still finds its
    # users in the events, the later steps find nobody.
    assert list(funnel(events, filtered, "1d", timeline=empty).steps.users) == [mobile_viewers, 0, 0]
    assert list(funnel(events, "view,add_to_cart", "1d", timeline=empty).steps.users) == [0, 0]


def test_an_export_leaves_the_timeline_to_the_importing_store(shop: Store, tmp_path: Path) -> None:
    counts = shop.export(tmp_path / "export")
    assert TIMELINE not in counts and MONTHS not in counts
    with Store(tmp_path / "copy.duckdb") as copy:
        copy.migrate()
        copy.import_(tmp_path / "export")
        refresh_rollup(copy)
        pd.testing.assert_frame_equal(rows(copy, TIMELINE), rows(shop, "events"))


def test_cli_and_page_funnels_on_a_store_read_the_timeline(shop: Store) -> None:
    steps = "view,add_to_cart,purchase"
    expected = list(funnel(shop.ibis().table("events"), steps, "1d", dropped=False).steps.users)
    assert [s["users"] for s in funnel_view(shop, steps, "1d")["steps"]] == expected
    # Purchases taken out of the timeline only (its bookkeeping unchanged): the answers that
    # read it lose their buyers, which shows that they read it.
    shop.con.execute(f"DELETE FROM {TIMELINE} WHERE type = 'purchase'")
    assert [s["users"] for s in funnel_view(shop, steps, "1d")["steps"]] == [*expected[:2], 0]
    shop.close()
    args = ["funnel", "--db", str(shop.path), "--steps", steps, "--window", "1d", "--json"]
    done = CliRunner().invoke(analytics, args)
    assert done.exit_code == 0, done.output
    assert [s["users"] for s in json.loads(done.output)["steps"]] == [*expected[:2], 0]
