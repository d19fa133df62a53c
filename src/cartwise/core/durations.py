"""Parsing of human durations such as `30m`, `2h`, `1d`, `7d`."""

from __future__ import annotations

import re
from datetime import timedelta

from cartwise.core.errors import ConfigError

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str, *, name: str = "duration") -> timedelta:
    """`"30m"` -> 30 minutes. Units: s, m, h, d, w. Raises ConfigError naming `name` otherwise."""
    match = _PATTERN.match(str(text))
    if not match:
        raise ConfigError(
            f"{text!r} is not a duration; use a number and a unit s, m, h, d or w, e.g. 30m, 2h, 1d, 7d.",
            parameter=name,
        )
    value, unit = float(match.group(1)), match.group(2)
    return timedelta(**{_UNITS[unit]: value})
