"""The Recommendations page says when the offline evaluation will be ready, not "computing…"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cartwise.pages.recommendations import offline_note
from cartwise.service.recs.offline import SECONDS_PER_INTERACTION, estimate_seconds

NOW = datetime(2026, 12, 7, 12, 3, 0, tzinfo=UTC)


def test_a_first_run_is_estimated_from_its_size_later_ones_from_the_last_pace() -> None:
    seconds, basis = estimate_seconds(2_000_000, None)
    assert seconds == pytest.approx(2_000_000 * SECONDS_PER_INTERACTION) and basis == "a first-run estimate"
    seconds, basis = estimate_seconds(3_000, {"seconds": 12.0, "interactions": 1_000, "models": []})
    assert seconds == pytest.approx(36.0) and basis == "the last evaluation's pace"


def test_the_note_gives_the_time_left_and_the_clock_time() -> None:
    running = {
        "status": "running",
        "models": [],
        "started_at": "2026-12-07T12:00:00Z",
        "interactions": 2_000_000,
        "eta_seconds": 600.0,
        "eta_basis": "a first-run estimate",
    }
    assert offline_note(running, NOW) == (
        "evaluating 2,000,000 item events: ready in about 7 min (around 12:10 UTC, a first-run estimate)"
    )
    late = offline_note(running, datetime(2026, 12, 7, 12, 15, tzinfo=UTC))
    assert late == "evaluating 2,000,000 item events: taking longer than the 10 min estimated"
    again = {**running, "models": [{"model": "itemknn"}], "split": "leave-last-5", "test_users": 900}
    assert offline_note(again, NOW).startswith("re-evaluating 2,000,000 item events: ready in about 7 min")


@pytest.mark.parametrize(
    ("offline", "note"),
    [
        ({"status": "queued", "models": []}, "queued: starts in a moment"),
        (
            {"status": "waiting", "models": []},
            "runs after the first training (`cartwise recs train` or Retrain now)",
        ),
        ({"status": "disabled", "models": []}, "not configured"),
        ({"error": "out of memory", "models": []}, "failed: out of memory"),
        (
            {"models": [{"model": "itemknn"}], "split": "leave-last-5", "test_users": 1234},
            "leave-last-5, 1,234 test users",
        ),
    ],
)
def test_the_note_says_why_there_are_no_figures_yet(offline: dict[str, object], note: str) -> None:
    assert offline_note(offline, NOW) == note
