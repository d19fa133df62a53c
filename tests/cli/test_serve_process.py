"""What `cartwise serve` sets for its process: the interpreter's switch interval.

How much a shorter interval helps the collector beside a funnel is a figure for
bench/store_reads.py (BENCHMARKS.md); this checks the setting reaches the interpreter.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cartwise.cli.serve import prepare_process
from cartwise.core.settings import get_settings


@pytest.fixture
def switch_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # Python's own
    yield
    sys.setswitchinterval(before)


def test_the_server_lets_a_waiting_thread_in_after_one_millisecond(
    tmp_path: Path, switch_interval: None
) -> None:
    prepare_process(get_settings(db=tmp_path / "s.duckdb", keep_freed_memory=False))
    assert sys.getswitchinterval() == pytest.approx(0.001)


def test_an_operator_sets_the_switch_interval_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, switch_interval: None
) -> None:
    monkeypatch.setenv("CARTWISE_SWITCH_INTERVAL_MS", "2.5")
    prepare_process(get_settings(db=tmp_path / "s.duckdb", keep_freed_memory=False))
    assert sys.getswitchinterval() == pytest.approx(0.0025)
