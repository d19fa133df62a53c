"""Guards every send passes, in one place: consent, suppression, frequency caps, quiet hours.

`decide` is pure: it takes what the send log and users table say about one customer and returns
`send`, `skip:<reason>` or `hold` until a time. Reasons: `no_consent` (never given or withdrawn,
including by unsubscribing), `no_address`, `bounced` (the address hard-bounced before),
`frequency_cap`. Transactional messages skip only the consent and cap checks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cartwise.core.durations import parse_duration
from cartwise.core.errors import ConfigError

# Time zone by country when the users table has no `time_zone` column or value: the zone of
# the country's capital (ISO 3166 codes and common English names).
COUNTRY_TIME_ZONES: dict[str, str] = {
    "DE": "Europe/Berlin", "FR": "Europe/Paris", "NL": "Europe/Amsterdam", "GB": "Europe/London",
    "UK": "Europe/London", "ES": "Europe/Madrid", "IT": "Europe/Rome", "BE": "Europe/Brussels",
    "AT": "Europe/Vienna", "SE": "Europe/Stockholm", "PL": "Europe/Warsaw", "CH": "Europe/Zurich",
    "DK": "Europe/Copenhagen", "NO": "Europe/Oslo", "FI": "Europe/Helsinki", "IE": "Europe/Dublin",
    "PT": "Europe/Lisbon", "CZ": "Europe/Prague", "GR": "Europe/Athens", "US": "America/New_York",
    "CA": "America/Toronto", "MX": "America/Mexico_City", "BR": "America/Sao_Paulo",
    "AU": "Australia/Sydney", "NZ": "Pacific/Auckland", "JP": "Asia/Tokyo", "CN": "Asia/Shanghai",
    "IN": "Asia/Kolkata", "SG": "Asia/Singapore", "ZA": "Africa/Johannesburg",
    "GERMANY": "Europe/Berlin", "FRANCE": "Europe/Paris", "NETHERLANDS": "Europe/Amsterdam",
    "UNITED KINGDOM": "Europe/London", "SPAIN": "Europe/Madrid", "ITALY": "Europe/Rome",
    "UNITED STATES": "America/New_York", "USA": "America/New_York",
}  # fmt: skip


@dataclass(frozen=True)
class Cap:
    count: int
    window: timedelta


def parse_cap(text: str) -> Cap:
    """`"3/7d"` -> at most 3 messages in any 7 days."""
    count, _, window = str(text).partition("/")
    if not count.strip().isdigit() or not window:
        raise ConfigError(f"`frequency_cap` {text!r} is not COUNT/DURATION; write e.g. 3/7d.")
    return Cap(int(count), parse_duration(window, name="frequency_cap"))


def parse_quiet_hours(text: str | None) -> tuple[time, time] | None:
    """`"21:00-08:00"` -> (21:00, 08:00); None or empty -> None (off)."""
    if not text:
        return None
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    if not match or int(match[1]) > 23 or int(match[3]) > 23 or int(match[2]) > 59 or int(match[4]) > 59:
        raise ConfigError(f"`quiet_hours` {text!r} is not HH:MM-HH:MM; write e.g. 21:00-08:00.")
    start, end = time(int(match[1]), int(match[2])), time(int(match[3]), int(match[4]))
    return None if start == end else (start, end)


def time_zone_of(time_zone: str | None, country: str | None) -> ZoneInfo:
    """The customer's zone: an IANA name from the users table, else by country, else UTC."""
    for name in (time_zone, COUNTRY_TIME_ZONES.get((country or "").strip().upper())):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def quiet_until(now: datetime, zone: ZoneInfo, window: tuple[time, time] | None) -> datetime | None:
    """When `now` (aware) falls in the quiet window of local time in `zone`, the aware UTC instant
    the window ends (the first local `end` after now); otherwise None."""
    if window is None:
        return None
    start, end = window
    local = now.astimezone(zone)
    t = local.time().replace(tzinfo=None)
    quiet = (start <= t < end) if start < end else (t >= start or t < end)
    if not quiet:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    # Wall-clock end on that day; on a DST gap, fold to the next valid instant via UTC round trip.
    release = datetime.combine(day, end, tzinfo=zone)
    release_utc = release.astimezone(ZoneInfo("UTC"))
    if release_utc <= now:  # a wall time that does not exist (DST gap) resolves before now
        release_utc = now + timedelta(minutes=1)
    return release_utc


@dataclass(frozen=True)
class Customer:
    """What the guards need to know about one customer for one channel."""

    user_id: str
    address: str | None
    consent: bool
    time_zone: str | None = None
    country: str | None = None


@dataclass(frozen=True)
class Decision:
    action: str  # "send", "skip" or "hold"
    reason: str = ""
    until: datetime | None = None

    @property
    def state(self) -> str:
        return f"skipped:{self.reason}" if self.action == "skip" else self.action


def decide(
    customer: Customer,
    now: datetime,
    *,
    recent_sends: Sequence[datetime] = (),
    cap: Cap | None = None,
    quiet: tuple[time, time] | None = None,
    suppressed: bool = False,
    transactional: bool = False,
) -> Decision:
    """Whether a message may go to `customer` at `now` (aware UTC).

    `recent_sends`: times of marketing messages already sent to this customer on this channel.
    Order of checks: address, suppression, consent, cap, quiet hours (so a held message is one
    that may be sent later).
    """
    if not customer.address:
        return Decision("skip", "no_address")
    if suppressed:
        return Decision("skip", "bounced")
    if transactional:
        return Decision("send")
    if not customer.consent:
        return Decision("skip", "no_consent")
    if cap is not None:
        since = now - cap.window
        if sum(1 for t in recent_sends if since < t <= now) >= cap.count:
            return Decision("skip", "frequency_cap")
    until = quiet_until(now, time_zone_of(customer.time_zone, customer.country), quiet)
    if until is not None:
        return Decision("hold", "quiet_hours", until)
    return Decision("send")
