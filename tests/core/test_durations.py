"""Durations shown to people in the unit that fits (issue 24.5)."""

from __future__ import annotations

import pytest

from cartwise.core.durations import format_duration


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (9.6, "9.6 s"),
        (0.25, "0.25 s"),
        (0, "0 s"),
        (59.9, "59.9 s"),
        (60, "1 min"),
        (270, "4.5 min"),
        (3_600, "1 h"),
        (11_520, "3.2 h"),
        (86_400, "1 d"),
        (200_000, "2.31 d"),
        (10**9, "11574 d"),
        (-30, "-30 s"),
        (None, ""),
    ],
)
def test_a_duration_is_shown_in_the_largest_unit_it_reaches(seconds: float | None, shown: str) -> None:
    assert format_duration(seconds) == shown
