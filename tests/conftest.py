"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[object]:
    """A fresh, migrated store in a temporary folder."""
    from cartwise.core.settings import get_settings
    from cartwise.store import open_store

    settings = get_settings(db=tmp_path / "shop.duckdb", memory_limit="1GB", threads=2)
    with open_store(settings.db, settings=settings) as opened:
        yield opened
