"""The journey engine over a real store and a real SMTP server on loopback, with a clock the test moves."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from cartwise.pipelines.journey_engine import JourneyEngine, next_local_time
from cartwise.pipelines.journeys import apply_journey, show_journey
from cartwise.store import open_store

from .smtp_support import SmtpServer, make_shop, settings_for_smtp

CONTRACT = """\
name: abandoned-cart
trigger: {event: add_to_cart}
exit_on: [{event: purchase}]
steps:
  - wait: 2s
  - send: {channel: email, template: abandoned_cart}
"""


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now().replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def events(*rows: tuple[str, str, str, str | None, float | None], at: datetime) -> pa.Table:
    return pa.table(
        {
            "event_id": [r[0] for r in rows],
            "user_id": [r[1] for r in rows],
            "type": [r[2] for r in rows],
            "ts": pa.array([at] * len(rows), pa.timestamp("us")),
            "item_id": [r[3] for r in rows],
            "price": pa.array([r[4] for r in rows], pa.float64()),
            "session_id": ["s"] * len(rows),
        }
    )


def add_items(store) -> None:
    store.append(
        "items",
        pa.table(
            {
                "item_id": ["sku-1", "sku-2"],
                "title": ["Chef knife", "Tea towel"],
                "price": [49.5, 6.0],
                "attributes": ['{"url": "https://shop.example/knife"}', "{}"],
            }
        ),
    )


def text_of(message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode()


def test_the_contract_sends_once_after_the_wait_with_the_cart(tmp_path: Path, smtp: SmtpServer) -> None:
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port)
    clock = Clock()
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 2)
        add_items(store)
        assert apply_journey(store, settings, CONTRACT) == {
            "journey": "abandoned-cart",
            "version": 1,
            "changed": True,
        }
        cart = events(
            ("e1", "u00000", "add_to_cart", "sku-1", 49.5),
            ("e2", "u00000", "add_to_cart", "sku-2", 6.0),
            at=clock.now,
        )
        store.append("events", cart)
        engine = JourneyEngine(store, settings, clock=clock)
        try:
            assert engine.handle_events(cart) == 1  # one run per customer, not per event
            assert engine.next_due() == clock.now + timedelta(seconds=2)
            clock.tick(1)
            engine.run_due()
            assert smtp.sink.messages == []
            clock.tick(1.5)
            engine.run_due()
            assert len(smtp.sink.messages) == 1
            # The same events again (a replayed log): nobody enters twice, nothing is sent again.
            assert engine.handle_events(cart) == 0
            clock.tick(10)
            engine.run_due()
        finally:
            engine.close()
        shown = show_journey(store, "abandoned-cart")
    assert len(smtp.sink.messages) == 1
    body = text_of(smtp.sink.messages[0])
    assert "Chef knife (49.50)" in body and "Tea towel (6.00)" in body
    assert "/api/v1/campaigns/click/" in body  # the knife's catalogue url, as a tracked link
    # The second add_to_cart found the customer in the journey: recorded as skipped, so a replay skips it too.
    assert shown["versions"][0]["runs"] == {"active": 0, "waiting": 0, "done": 1, "exited": 0, "skipped": 1}
    steps = {s["path"]: s["counts"] for s in shown["versions"][0]["steps"]}
    assert steps["0"] == {"entered": 1, "waited": 1} and steps["1"] == {"entered": 1, "sent": 1, "done": 1}


class SlowClock(Clock):
    """A clock that moves `step` seconds at each reading, as if every step of the engine took time."""

    step = 0.0

    def __call__(self) -> datetime:
        now = self.now
        self.now += timedelta(seconds=self.step)
        return now


def test_run_due_returns_after_the_runs_due_when_it_was_called(tmp_path: Path, smtp: SmtpServer) -> None:
    # The service's thread takes new events between calls: runs that fall due while it walks
    # (a steady stream at 200 events/s) must wait for the next call, not keep it from its events.
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port)
    clock = SlowClock()
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 3)
        add_items(store)
        apply_journey(store, settings, CONTRACT)
        engine = JourneyEngine(store, settings, clock=clock)
        try:
            start = clock.now
            for i in range(3):  # entered half a second apart: due at +2, +2.5 and +3 s
                cart = events((f"e{i}", f"u{i:05d}", "add_to_cart", "sku-1", 49.5), at=clock.now)
                store.append("events", cart)
                assert engine.handle_events(cart) == 1
                clock.tick(0.5)
            clock.now, clock.step = start + timedelta(seconds=2), 1.0
            engine.run_due()
            assert [m["To"] for m in smtp.sink.messages] == ["u00000@example.test"]
            clock.step = 0.0
            clock.now = start + timedelta(seconds=10)
            engine.run_due()
        finally:
            engine.close()
    assert sorted(m["To"] for m in smtp.sink.messages) == [f"u{i:05d}@example.test" for i in range(3)]


def test_a_replayed_log_never_enters_a_customer_again(tmp_path: Path, smtp: SmtpServer) -> None:
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port)
    clock = Clock()
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 1)
        add_items(store)
        apply_journey(store, settings, CONTRACT)
        first = events(("e1", "u00000", "add_to_cart", "sku-1", 49.5), at=clock.now)
        clock.tick(1)
        second = events(("e2", "u00000", "add_to_cart", "sku-2", 6.0), at=clock.now)
        engine = JourneyEngine(store, settings, clock=clock)
        try:
            assert engine.handle_events(first) == 1
            assert engine.handle_events(second) == 0  # in the journey already
            clock.tick(5)
            engine.run_due()
            assert len(smtp.sink.messages) == 1
            # After a crash the collector replays its log: the segment holding the second event
            # (the first's was stored and dropped), then both in one batch.
            assert engine.handle_events(second) == 0
            assert engine.handle_events(pa.concat_tables([first, second])) == 0
            clock.tick(5)
            engine.run_due()
        finally:
            engine.close()
        states = store.con.execute(
            "SELECT run_key, state, exit_reason FROM journey_runs ORDER BY run_key"
        ).fetchall()
    assert len(smtp.sink.messages) == 1
    assert states == [("e1", "done", None), ("e2", "skipped", "already_in_journey")]


@pytest.mark.parametrize("seen_by", ["collector", "store"])
def test_a_purchase_within_the_wait_exits(tmp_path: Path, smtp: SmtpServer, seen_by: str) -> None:
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port)
    clock = Clock()
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 1)
        add_items(store)
        apply_journey(store, settings, CONTRACT)
        engine = JourneyEngine(store, settings, clock=clock)
        try:
            engine.handle_events(events(("e1", "u00000", "add_to_cart", "sku-1", 49.5), at=clock.now))
            clock.tick(1)
            bought = events(("e2", "u00000", "purchase", "sku-1", 49.5), at=clock.now)
            if seen_by == "collector":
                engine.handle_events(bought)
            else:  # loaded by a batch import: the check before the next step finds it
                store.append("events", bought)
            clock.tick(5)
            engine.run_due()
        finally:
            engine.close()
        state = store.con.execute("SELECT state, exit_reason FROM journey_runs").fetchall()
    assert smtp.sink.messages == []
    assert state == [("exited", "event:purchase")]


def test_in_flight_customers_finish_the_version_they_entered(tmp_path: Path, smtp: SmtpServer) -> None:
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port)
    clock = Clock()
    v2 = CONTRACT.replace("template: abandoned_cart", "template: welcome")
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 2)
        add_items(store)
        apply_journey(store, settings, CONTRACT)
        assert apply_journey(store, settings, CONTRACT.replace("\n", "\r\n") + "\n")["changed"] is False
        engine = JourneyEngine(store, settings, clock=clock)
        try:
            engine.handle_events(events(("e1", "u00000", "add_to_cart", "sku-1", 49.5), at=clock.now))
            assert apply_journey(store, settings, v2) == {
                "journey": "abandoned-cart",
                "version": 2,
                "changed": True,
            }
            engine.reload()
            engine.handle_events(events(("e2", "u00001", "add_to_cart", "sku-1", 49.5), at=clock.now))
            clock.tick(3)
            engine.run_due()
        finally:
            engine.close()
        runs = store.con.execute(
            "SELECT user_id, version, state FROM journey_runs ORDER BY user_id"
        ).fetchall()
        sources = store.con.execute(
            "SELECT user_id, source, template FROM send_log ORDER BY user_id"
        ).fetchall()
    assert runs == [("u00000", 1, "done"), ("u00001", 2, "done")]
    assert sources == [
        ("u00000", "journey:abandoned-cart:v1", "abandoned_cart"),
        ("u00001", "journey:abandoned-cart:v2", "welcome"),
    ]
    subjects = sorted(m["Subject"] for m in smtp.sink.messages)
    assert subjects == ["Welcome", "You left something in your cart"]


def test_no_consent_is_skipped_with_its_reason(tmp_path: Path, smtp: SmtpServer) -> None:
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port)
    clock = Clock()
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 1, consent=False)
        add_items(store)
        apply_journey(store, settings, CONTRACT)
        engine = JourneyEngine(store, settings, clock=clock)
        try:
            engine.handle_events(events(("e1", "u00000", "add_to_cart", "sku-1", 49.5), at=clock.now))
            clock.tick(3)
            engine.run_due()
        finally:
            engine.close()
        log = store.con.execute("SELECT state FROM send_log").fetchall()
        steps = {
            s["path"]: s["counts"] for s in show_journey(store, "abandoned-cart")["versions"][0]["steps"]
        }
    assert smtp.sink.messages == []
    assert log == [("skipped:no_consent",)]
    assert steps["1"] == {"entered": 1, "skipped:no_consent": 1, "done": 1}


BRANCHY = """\
name: browse
trigger: {event: view, where: "orders >= 0"}
steps:
  - wait_for: {event: add_to_cart, timeout: 1h, on_timeout: [exit]}
  - branch:
      if: "did(add_to_cart, within=1d)"
      then:
        - split:
            - {variant: a, weight: 50, steps: [{send: {channel: email, template: browse_abandonment}}]}
            - {variant: b, weight: 50, steps: [{send: {channel: email, template: welcome}}]}
      else: [exit]
"""


def test_wait_for_branch_and_split(tmp_path: Path, smtp: SmtpServer) -> None:
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port)
    clock = Clock()
    with open_store(settings.db, settings=settings) as store:
        users = make_shop(store, 40)
        add_items(store)
        apply_journey(store, settings, BRANCHY)
        engine = JourneyEngine(store, settings, clock=clock)
        try:
            engine.handle_events(events(*[(f"v{u}", u, "view", "sku-1", 49.5) for u in users], at=clock.now))
            # Half add to cart within the hour; the others time out and exit.
            carts = events(*[(f"c{u}", u, "add_to_cart", "sku-1", 49.5) for u in users[:20]], at=clock.now)
            store.append("events", carts)
            engine.handle_events(carts)
            clock.tick(3601)
            engine.run_due()
        finally:
            engine.close()
        runs = dict(
            store.con.execute("SELECT user_id, variant FROM journey_runs WHERE state = 'done'").fetchall()
        )
        exited = store.con.execute(
            "SELECT count(*) FROM journey_runs WHERE exit_reason = 'exit_step'"
        ).fetchall()
    assert set(runs) == set(users[:20]) and exited == [(20,)]
    variants = {u: v.split(":")[1] for u, v in runs.items()}
    assert set(variants.values()) == {"a", "b"}  # 20 customers, 50/50: both arms get some
    by_subject = {m["To"].split("@")[0]: m["Subject"] for m in smtp.sink.messages}
    assert len(by_subject) == 20
    for user, variant in variants.items():
        assert by_subject[user] == ("Still thinking it over?" if variant == "a" else "Welcome")


def test_wait_until_a_local_time() -> None:
    now = datetime(2026, 3, 28, 23, 30)  # UTC; 00:30 on the 29th in Paris, the day clocks go forward
    paris = ZoneInfo("Europe/Paris")
    assert next_local_time(now, paris, "09:00") == datetime(2026, 3, 29, 7, 0)  # 09:00 CEST
    assert next_local_time(datetime(2026, 3, 29, 7, 0), paris, "09:00") == datetime(2026, 3, 30, 7, 0)
    assert next_local_time(now, ZoneInfo("UTC"), "23:45") == datetime(2026, 3, 28, 23, 45)


def test_an_audience_trigger_enters_each_member_once(tmp_path: Path, smtp: SmtpServer) -> None:
    from cartwise.pipelines.audiences import save_audience

    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port)
    clock = Clock()
    text = """\
name: loyal
trigger: {audience: loyal}
steps:
  - send: {channel: email, template: welcome}
"""
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 10)  # orders = index % 5
        save_audience(store, "loyal", "orders >= 3")
        apply_journey(store, settings, text)
        engine = JourneyEngine(store, settings, clock=clock)
        try:
            assert engine.check_triggers() == 4
            assert engine.check_triggers() == 0  # still members: nobody enters again
        finally:
            engine.close()
    assert sorted(m["To"] for m in smtp.sink.messages) == [f"u{i:05d}@example.test" for i in (3, 4, 8, 9)]


def test_a_replenishment_date_from_the_customers_own_interval(tmp_path: Path, smtp: SmtpServer) -> None:
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port)
    clock = Clock()
    text = """\
name: restock
trigger: {date: replenishment}
steps:
  - send: {channel: email, template: replenishment}
"""
    day = timedelta(days=1)
    buys = [
        ("u00000", clock.now - 21 * day),  # every 10 days: runs out a day ago
        ("u00000", clock.now - 11 * day),
        ("u00001", clock.now - 11 * day),  # bought once: no interval of its own
        ("u00002", clock.now - 40 * day),  # ran out 20 days ago: too old to remind
        ("u00002", clock.now - 30 * day),
        ("u00003", clock.now - 4 * day),  # every 3.5 days, last a day ago: runs out in 2.5 days
        ("u00003", clock.now - 8 * day),
        ("u00003", clock.now - 1 * day),
    ]
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 4)
        add_items(store)
        store.append(
            "events",
            pa.table(
                {
                    "event_id": [f"p{i}" for i in range(len(buys))],
                    "user_id": [u for u, _ in buys],
                    "type": ["purchase"] * len(buys),
                    "ts": pa.array([t for _, t in buys], pa.timestamp("us")),
                    "item_id": ["sku-2"] * len(buys),
                    "price": [6.0] * len(buys),
                }
            ),
        )
        apply_journey(store, settings, text)
        engine = JourneyEngine(store, settings, clock=clock)
        try:
            assert engine.check_triggers() == 1
            assert engine.check_triggers() == 0
        finally:
            engine.close()
    assert [m["To"] for m in smtp.sink.messages] == ["u00000@example.test"]
    assert "Tea towel (6.00)" in text_of(smtp.sink.messages[0])


def test_quiet_hours_hold_a_journey_message_and_it_goes_out_later_with_the_cart(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    # A window covering every minute but one: whatever the time, the message is held.
    quiet = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port, quiet_hours="00:00-23:59")
    clock = Clock()
    with open_store(quiet.db, settings=quiet) as store:
        make_shop(store, 1)
        add_items(store)
        apply_journey(store, quiet, CONTRACT)
        cart = events(("e1", "u00000", "add_to_cart", "sku-1", 49.5), at=clock.now)
        store.append("events", cart)
        engine = JourneyEngine(store, quiet, clock=clock)
        try:
            engine.handle_events(cart)
            clock.tick(3)
            engine.run_due()
        finally:
            engine.close()
        held = store.con.execute("SELECT state, reason FROM send_log").fetchall()
        if held != [("pending", "quiet_hours")]:
            pytest.skip("the run fell in the one open minute")
        assert smtp.sink.messages == []
        # The window ends (here: a service without quiet hours, with the held row due now).
        store.con.execute("UPDATE send_log SET not_before = NULL")
        open_hours = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port)
        engine = JourneyEngine(store, open_hours, clock=clock)
        try:
            assert engine.resume_held() == 1
        finally:
            engine.close()
        steps = {
            s["path"]: s["counts"] for s in show_journey(store, "abandoned-cart")["versions"][0]["steps"]
        }
    assert steps["1"] == {"entered": 1, "held": 1, "done": 1}
    assert len(smtp.sink.messages) == 1 and "Chef knife (49.50)" in text_of(smtp.sink.messages[0])


def test_an_audience_trigger_needs_a_saved_audience(tmp_path: Path, smtp: SmtpServer) -> None:
    from cartwise.campaigns import JourneyError

    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port)
    text = "name: lapsing\ntrigger:\n  audience: lapsing\nsteps:\n  - send: {channel: email, template: win_back}\n"
    with open_store(settings.db, settings=settings) as store, pytest.raises(JourneyError) as caught:
        apply_journey(store, settings, text)
    assert caught.value.line == 3 and caught.value.parameter == "trigger.audience"
    assert "cartwise audiences save NAME --rule RULE" in str(caught.value)
