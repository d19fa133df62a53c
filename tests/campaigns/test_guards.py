"""Guards: caps and quiet hours property-tested over random schedules and time zones."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartwise.campaigns import Cap, Customer, decide, parse_cap, parse_quiet_hours, quiet_until, time_zone_of
from cartwise.core.errors import ConfigError

ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)
clock = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
ALICE = Customer("u1", "u1@example.test", True, None, "DE")


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(1, 5),
    days=st.integers(1, 10),
    gaps=st.lists(st.integers(1, 72 * 60), min_size=1, max_size=60),
    transactional=st.lists(st.booleans(), min_size=60, max_size=60),
)
def test_no_window_of_the_cap_holds_more_marketing_messages_than_it_allows(
    count: int, days: int, gaps: list[int], transactional: list[bool]
) -> None:
    cap = Cap(count, timedelta(days=days))
    now = datetime(2026, 3, 1, tzinfo=UTC)
    sent: list[datetime] = []
    sent_transactional = 0
    for gap, is_transactional in zip(gaps, transactional, strict=False):
        now += timedelta(minutes=gap)
        decision = decide(ALICE, now, recent_sends=sent, cap=cap, transactional=is_transactional)
        if decision.action == "send":
            if is_transactional:
                sent_transactional += 1
            else:
                sent.append(now)
        else:
            assert decision.reason == "frequency_cap" and not is_transactional
    for start in sent:  # every window that starts at a send
        assert sum(1 for t in sent if start <= t < start + cap.window) <= count
    assert sent_transactional == sum(t for t, _ in zip(transactional, gaps, strict=False))


@settings(max_examples=300, deadline=None)
@given(now=moments, zone=st.sampled_from(ZONES), start=clock, end=clock)
def test_quiet_hours_hold_a_message_until_the_window_ends_in_the_customers_zone(
    now: datetime, zone: str, start: time, end: time
) -> None:
    window = None if start == end else (start, end)
    customer = Customer("u1", "u1@example.test", True, zone, None)
    decision = decide(customer, now, quiet=window)
    local = now.astimezone(ZoneInfo(zone)).time().replace(tzinfo=None)
    quiet = window is not None and (
        (start <= local < end) if start < end else (local >= start or local < end)
    )
    if not quiet:
        assert decision.action == "send"
        return
    assert decision.action == "hold" and decision.reason == "quiet_hours" and decision.until is not None
    assert now < decision.until <= now + timedelta(hours=26)  # held, never dropped, at most a day
    assert quiet_until(decision.until, ZoneInfo(zone), window) is None  # released outside the window


def test_consent_suppression_and_address_come_before_everything() -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert decide(Customer("u", "a@b", False), now).state == "skipped:no_consent"
    assert decide(Customer("u", None, True), now).state == "skipped:no_address"
    assert decide(Customer("u", "a@b", True), now, suppressed=True).state == "skipped:bounced"
    assert decide(Customer("u", "a@b", False), now, transactional=True).action == "send"


def test_time_zone_from_the_users_column_then_the_country() -> None:
    assert time_zone_of("America/Chicago", "DE") == ZoneInfo("America/Chicago")
    assert time_zone_of(None, "fr") == ZoneInfo("Europe/Paris")
    assert time_zone_of("Not/AZone", None) == ZoneInfo("UTC")


def test_bad_cap_and_quiet_hours_name_the_setting() -> None:
    assert parse_cap("3/7d") == Cap(3, timedelta(days=7))
    with pytest.raises(ConfigError, match="frequency_cap"):
        parse_cap("three a week")
    with pytest.raises(ConfigError, match="quiet_hours"):
        parse_quiet_hours("25:00-08:00")
    assert parse_quiet_hours("21:00-08:00") == (time(21), time(8))
