"""`keep_freed_memory`: the server asks DuckDB's and Arrow's allocators to keep what they free.

The speed it buys depends on the machine (bench/fresh_memory.py, BENCHMARKS.md); these tests
check that the server sets what the allocators read, and leaves an operator's own values.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cartwise.cli.serve import ALLOCATORS_KEEP_FREED_MEMORY, keep_freed_memory
from cartwise.core.settings import get_settings
from cartwise.service.service import Service


def test_the_allocators_are_asked_to_keep_freed_memory_unless_the_operator_said_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ALLOCATORS_KEEP_FREED_MEMORY:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MIMALLOC_PURGE_DELAY", "250")
    keep_freed_memory()
    assert os.environ["DUCKDB_JE_MALLOC_CONF"] == "dirty_decay_ms:-1,muzzy_decay_ms:-1"
    assert os.environ["MIMALLOC_PURGE_DELAY"] == "250"


# 134217728B: DuckDB's default, 128 MiB.
@pytest.mark.parametrize(("keep", "expected"), [(True, "512MB"), (False, "134217728B")])
def test_duckdb_flushes_its_allocator_only_past_the_memory_limit(
    tmp_path: Path, keep: bool, expected: str
) -> None:
    settings = get_settings(db=tmp_path / "s.duckdb", memory_limit="512MB", threads=1, keep_freed_memory=keep)
    service = Service(settings)
    service.start()
    try:
        with service.require_gate() as store:
            found = store.con.execute("SELECT current_setting('allocator_flush_threshold')").fetchall()[0][0]
    finally:
        service.stop()
    assert found == expected
