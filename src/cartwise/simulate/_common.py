"""Shared pieces of the shop simulator: time units, the calendar, id columns and array helpers."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cartwise.schema.tables import Table
from cartwise.simulate._config import ShopConfig

US_PER_DAY = 86_400_000_000
US_PER_HOUR = 3_600_000_000

_ARROW_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(),
    "string": pa.string(),
    "timestamp": pa.timestamp("us"),
    "integer": pa.int64(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
    "json": pa.string(),
}

# Relative traffic by hour of day (UTC), evening peak.
_HOURS = np.array(
    [
        0.5,
        0.3,
        0.2,
        0.15,
        0.15,
        0.3,
        0.6,
        1.0,
        1.4,
        1.6,
        1.7,
        1.8,
        2.0,
        1.9,
        1.8,
        1.8,
        1.9,
        2.1,
        2.4,
        2.8,
        3.0,
        2.7,
        1.9,
        1.0,
    ]
)
_DEVICES = ("mobile", "desktop", "tablet")
_CHANNELS = ("organic", "paid_search", "social", "email", "referral", "affiliate")
_CHANNEL_SHARES = (0.35, 0.25, 0.15, 0.1, 0.1, 0.05)
# P(price sensitivity low / medium / high) by acquisition channel, in the order of _CHANNELS.
_SENSITIVITY_BY_CHANNEL = (
    (0.35, 0.45, 0.2),
    (0.2, 0.45, 0.35),
    (0.3, 0.45, 0.25),
    (0.45, 0.4, 0.15),
    (0.35, 0.45, 0.2),
    (0.1, 0.4, 0.5),
)
_COUNTRIES = ("DE", "FR", "NL", "GB", "ES", "IT", "BE", "AT", "SE", "PL")
_AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
# Price-sensitivity levels beta: weight of an item scales with (relative price)^(-beta).
_SENSITIVITY = np.array([0.0, 1.0, 2.0])
_SENSITIVITY_NAMES = ("low", "medium", "high")
_DISCOUNTS = np.array([0.1, 0.15, 0.2, 0.25, 0.3])

# Event type codes, in the order of EVENT_TYPES where they exist.
_T_VIEW, _T_SEARCH, _T_ADD, _T_REMOVE, _T_CHECKOUT, _T_PURCHASE = range(6)
_TYPE_NAMES = ("view", "search", "add_to_cart", "remove_from_cart", "begin_checkout", "purchase")
# Session kinds.
_BROWSE, _CART, _CHECKOUT, _BUY = range(4)
# Roles of an item in a session.
_EXTRA, _OOS, _BOUGHT, _ABANDONED, _REMOVED = range(5)


def arrow_schema(table: Table) -> pa.Schema:
    """The Arrow schema of a canonical table (JSON columns are strings holding a JSON object)."""
    return pa.schema([pa.field(c.name, _ARROW_TYPES[c.kind]) for c in table.columns])


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, type=pa.int64()), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


def _width(n: int) -> int:
    return max(6, len(str(max(n - 1, 1))))


def _ranks_within(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within runs of equal values of a sorted `groups` array."""
    n = groups.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[True, groups[1:] != groups[:-1]]
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    return np.arange(n) - first


def _cumsum_within(groups: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Running sum of `values` within runs of equal `groups` (groups sorted)."""
    cs = np.cumsum(values)
    starts = np.r_[True, groups[1:] != groups[:-1]] if groups.size else np.zeros(0, bool)
    base = np.maximum.accumulate(np.where(starts, cs - values, 0)) if groups.size else cs
    return cs - base


class _Calendar:
    """Daily multipliers and the mapping between operational and calendar time."""

    def __init__(self, config: ShopConfig):
        self.days = config.days
        dates = np.datetime64(config.start, "D") + np.arange(config.days)
        self.dates = dates
        # 1970-01-01 was a Thursday (weekday 3 with Monday = 0).
        weekday = (dates.astype(np.int64) + 3) % 7
        profile = np.asarray(config.weekly_profile, dtype=float)
        self.weekly = (profile / profile.mean())[weekday]
        doy = (dates - dates.astype("datetime64[Y]")).astype(np.int64) + 1
        self.yearly = 1 + config.yearly_amplitude * np.cos(
            2 * np.pi * (doy - config.yearly_peak_day) / 365.25
        )
        raw = self.weekly * self.yearly
        self.multiplier = raw / raw.mean()
        # Operational time at the start of each day; cum[-1] == days because the mean is 1.
        self.cum = np.r_[0.0, np.cumsum(self.multiplier)]
        self.start_us = int(np.datetime64(config.start, "us").astype(np.int64))
        self.end_us = self.start_us + config.days * US_PER_DAY

    def day_of(self, tau: np.ndarray) -> np.ndarray:
        """Calendar day index of operational times `tau`."""
        day = np.interp(tau, self.cum, np.arange(self.days + 1))
        return np.clip(np.floor(day).astype(np.int64), 0, self.days - 1)

    def timestamps(self, rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
        """Microsecond timestamps on `days`, with the hour of day drawn from the daily profile."""
        hour = rng.choice(24, size=days.size, p=_HOURS / _HOURS.sum())
        within = (rng.random(days.size) * US_PER_HOUR).astype(np.int64)
        return self.start_us + days * US_PER_DAY + hour * US_PER_HOUR + within


def _draw_tops(rng: np.random.Generator, affinity_cum: np.ndarray, people: np.ndarray) -> np.ndarray:
    u = rng.random(people.size)
    tops = np.empty(people.size, dtype=np.int64)
    # Chunks keep the (draws x categories) comparison small.
    for s in range(0, people.size, 500_000):
        rows = affinity_cum[people[s : s + 500_000]]
        tops[s : s + 500_000] = (u[s : s + 500_000, None] > rows).sum(axis=1)
    return np.minimum(tops, affinity_cum.shape[1] - 1)


def item_ids(n_items: int) -> pa.Array:
    """`SKU-00000`, `SKU-00001`, ... for item numbers 0 .. n_items - 1."""
    return _ids("SKU-", np.arange(n_items), max(5, len(str(n_items - 1))))


def person_ids(n_users: int, n_visitors: int) -> pa.Array:
    """Customers `u...` first, then anonymous visitors `v...`, indexed by person number."""
    return pa.concat_arrays(
        [_ids("u", np.arange(n_users), _width(n_users)), _ids("v", np.arange(n_visitors), _width(n_visitors))]
    )
