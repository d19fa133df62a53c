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


# (unit, seconds in it): a duration is shown in the largest unit it reaches at least once.
_DISPLAY_UNITS = (("d", 86_400.0), ("h", 3_600.0), ("min", 60.0), ("s", 1.0))


def format_duration(seconds: float | None) -> str:
    """A duration for people, in the unit that fits: `9.6 s`, `4.5 min`, `3.2 h`, `2.1 d`.

    The largest of days, hours, minutes and seconds that the duration reaches at least once,
    with three significant figures (`0.25 s` below one second; `0 s` for zero). `None` gives ``.
    """
    if seconds is None:
        return ""
    value = float(seconds)
    if value != value:  # NaN: nothing to show
        return ""
    magnitude = abs(value)
    for unit, size in _DISPLAY_UNITS:
        if magnitude >= size:
            return f"{_three_figures(value / size)} {unit}"
    return f"{_three_figures(value)} s" if value else "0 s"


def _three_figures(value: float) -> str:
    """Three significant figures without an exponent: 9.63, 45.2, 312, 0.0123."""
    text = f"{value:.3g}"
    if "e" in text:
        text = f"{value:.0f}" if abs(value) >= 1 else f"{value:.6f}".rstrip("0").rstrip(".")
    return text
