"""Reports printed as text show durations in the unit that fits (issue 24.5), e.g. `cartwise train`."""

from __future__ import annotations

import json

import pytest

from cartwise.cli.common import emit


def test_a_report_prints_seconds_in_the_unit_that_fits(capsys: pytest.CaptureFixture[str]) -> None:
    report = {
        "profiles": {"customers": 1200, "seconds": 130.2},
        "recommender": {"model": "hybrid", "seconds": 4.25},
        "seconds": {"fit": 0.5, "score": 7200},
        "fit_seconds": 3,
    }
    emit(report, False)
    text = capsys.readouterr().out.splitlines()
    assert text == [
        "profiles:",
        "  customers: 1200",
        "  took: 2.17 min",
        "recommender:",
        "  model: hybrid",
        "  took: 4.25 s",
        "seconds:",
        "  fit: 0.5 s",
        "  score: 2 h",
        "fit: 3 s",
    ]
    emit(report, True)  # JSON keeps the numbers in seconds
    assert json.loads(capsys.readouterr().out)["profiles"]["seconds"] == 130.2


def test_nested_reports_and_other_keys_print_as_before(capsys: pytest.CaptureFixture[str]) -> None:
    """A profile build's report: nested dictionaries and number keys (cluster ids) as they are."""
    emit({"clusters": {"k": 2, 0: "big spenders"}, "purchase_model": {"holdout": {"mae": 0.5}}}, False)
    assert capsys.readouterr().out.splitlines() == [
        "clusters:",
        "  k: 2",
        "  0: big spenders",
        "purchase_model:",
        "  holdout: {'mae': 0.5}",
    ]
