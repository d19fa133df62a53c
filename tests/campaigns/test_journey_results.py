"""Per-step measurement of journeys on hand-made step logs and orders: conversions and revenue in
the attribution window after each send, and split variants against the first with Welch's
95% interval (checked against scipy's)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from scipy import stats

from cartwise.core.settings import get_settings
from cartwise.pipelines.journey_results import journey_results
from cartwise.pipelines.journeys import apply_journey
from cartwise.store import open_store

SPLIT = """\
name: nudge
trigger: {event: add_to_cart}
steps:
  - split:
      - {variant: control, weight: 50, steps: [exit]}
      - {variant: mail, weight: 50, steps: [{send: {channel: email, template: abandoned_cart}}]}
"""
T0 = datetime(2026, 3, 1, 12, 0)


def test_sends_and_variants_are_measured_in_the_window(tmp_path: Path) -> None:
    settings = get_settings(db=tmp_path / "s.duckdb", memory_limit="1GB", threads=1, attribution_days=5)
    steps: list[tuple[str, str, str, datetime]] = []
    orders: list[tuple[str, datetime, float]] = []
    # Control: 6 customers, 1 buys 30.0 within the window, 1 buys after it (not counted).
    for i in range(6):
        steps.append(("0", f"c{i}", "variant:control", T0))
    orders += [("c0", T0 + timedelta(days=1), 30.0), ("c1", T0 + timedelta(days=6), 99.0)]
    # Mail: 6 customers, all sent at T0 + 1h; 3 buy (20, 40, 60) within 5 days of the send, one of
    # them (m2) twice; m5 bought before the send (not counted).
    for i in range(6):
        steps.append(("0", f"m{i}", "variant:mail", T0))
        steps.append(("0/mail/0", f"m{i}", "sent", T0 + timedelta(hours=1)))
    orders += [
        ("m0", T0 + timedelta(hours=2), 20.0),
        ("m1", T0 + timedelta(days=4), 40.0),
        ("m2", T0 + timedelta(days=2), 25.0),
        ("m2", T0 + timedelta(days=3), 35.0),
        ("m5", T0 - timedelta(days=1), 500.0),
    ]
    with open_store(settings.db, settings=settings) as store:
        apply_journey(store, settings, SPLIT)
        store.append(
            "journey_steps",
            pa.table(
                {
                    "journey": ["nudge"] * len(steps),
                    "version": pa.array([1] * len(steps), pa.int32()),
                    "step": [s[0] for s in steps],
                    "user_id": [s[1] for s in steps],
                    "run_key": [f"k-{s[1]}" for s in steps],
                    "outcome": [s[2] for s in steps],
                    "ts": pa.array([s[3] for s in steps], pa.timestamp("us")),
                }
            ),
        )
        store.append(
            "orders",
            pa.table(
                {
                    "order_id": [f"o{i}" for i in range(len(orders))],
                    "user_id": [o[0] for o in orders],
                    "ts": pa.array([o[1] for o in orders], pa.timestamp("us")),
                    "amount": [o[2] for o in orders],
                }
            ),
        )
        result = journey_results(store, settings, "nudge")[1]

    assert result["sends"]["0/mail/0"] == {
        "sent": 6,
        "conversions": 3,
        "conversion_rate": 0.5,
        "revenue": 120.0,
    }
    control, mail = result["splits"]["0"]
    assert (control["variant"], control["customers"], control["conversions"], control["revenue"]) == (
        "control",
        6,
        1,
        30.0,
    )
    assert (mail["variant"], mail["conversions"], mail["revenue"]) == ("mail", 3, 120.0)
    assert "vs_first" not in control

    # Welch's interval of the difference in revenue per customer, as scipy computes it.
    control_rev = [30.0, 0, 0, 0, 0, 0]
    mail_rev = [20.0, 40.0, 60.0, 0, 0, 0]
    ci = stats.ttest_ind(mail_rev, control_rev, equal_var=False).confidence_interval(0.95)
    diff = mail["vs_first"]["revenue_per_customer"]
    assert diff["estimate"] == pytest.approx(15.0)
    assert (diff["low"], diff["high"]) == (pytest.approx(ci.low, abs=1e-5), pytest.approx(ci.high, abs=1e-5))
    rate = mail["vs_first"]["conversion_rate"]
    assert rate["estimate"] == pytest.approx(0.5 - 1 / 6, abs=1e-6)
