"""The store opens DuckDB with the configured limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from cartwise.core.settings import get_settings
from cartwise.store import open_store


def test_the_store_applies_the_memory_limit_and_checkpoint_size(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    settings = get_settings(db=db, memory_limit="512MiB", checkpoint_wal="64MiB")
    with open_store(db, settings=settings) as store:
        rows = store.con.execute(
            "SELECT current_setting('memory_limit'), current_setting('checkpoint_threshold')"
        ).fetchall()
    assert rows == [("512.0 MiB", "64.0 MiB")]


@pytest.mark.parametrize(
    "command",
    [
        ["db", "info"],
        ["train"],
        ["profiles", "build"],
        ["segments", "list"],
        ["churn", "score"],
        ["demand", "build"],
    ],
)
def test_commands_that_need_data_refuse_a_missing_store_and_create_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    from cartwise.cli import main

    missing = tmp_path / "typo.duckdb"
    with pytest.raises(SystemExit) as stopped:
        main([*command, "--db", str(missing)])
    assert stopped.value.code == 2
    assert f"No store at {missing}" in capsys.readouterr().err
    assert not missing.exists()


def test_a_migration_numbered_below_the_stores_newest_is_still_applied_once(tmp_path: Path) -> None:
    """Work merged from parallel branches: a store that recorded 15 and 17 but not 14 gets 14."""
    from cartwise.store.migrations import MIGRATIONS

    db = tmp_path / "shop.duckdb"
    with open_store(db, settings=get_settings(db=db)) as store:
        store.con.execute("DROP TABLE journey_runs")
        store.con.execute("DELETE FROM schema_migrations WHERE version = 14")
        assert store.schema_version() == MIGRATIONS[-1].version
        assert store.migrate() == [14]
        assert store.count("journey_runs") == 0
        assert store.migrate() == []


def test_long_queries_draw_no_progress_bar_into_a_commands_output(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    with open_store(db, settings=get_settings(db=db)) as store:
        assert store.con.execute("SELECT current_setting('enable_progress_bar')").fetchall() == [(False,)]
        with store.reader() as view:
            assert view.con.execute("SELECT current_setting('enable_progress_bar')").fetchall() == [(False,)]
