"""The store opens DuckDB with the configured limits."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from cartwise.core.settings import get_settings
from cartwise.schema import TABLES
from cartwise.store import Store, open_store


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
        ["audiences", "list"],
        ["customers", "export", "u1"],
        ["events", "delete", "--user", "u1"],
        ["experiments", "show", "k"],
        ["uplift", "fit", "--campaign", "c"],
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


def _columns(store: Store) -> list[tuple[str, str, str]]:
    return [
        (str(t), str(c), str(k))
        for t, c, k in store.con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "ORDER BY table_name, ordinal_position"
        ).fetchall()
    ]


def test_a_new_store_gets_every_migration_recorded_and_the_same_tables_as_one_migrated_in_steps(
    tmp_path: Path,
) -> None:
    """A new store takes all migrations in one transaction; an older store upgraded one by one
    (here: one that had only migration 1) ends with the same columns and the same record."""
    from cartwise.store.migrations import MIGRATIONS

    new_db, old_db = tmp_path / "new.duckdb", tmp_path / "old.duckdb"
    with open_store(new_db, settings=get_settings(db=new_db)) as store:
        new_columns = _columns(store)
        new_versions = store.con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
        secrets = store.con.execute("SELECT count(*) FROM erasure_key").fetchall()
    with open_store(old_db, settings=get_settings(db=old_db)) as store:
        # Back to the store as migration 1 left it, then upgraded by `migrate`.
        store.con.execute("DELETE FROM schema_migrations WHERE version > 1")
        for name in store.table_names():
            if name not in ("schema_migrations", "loads", "quarantine", *TABLES):
                store.con.execute(f'DROP TABLE "{name}"')
        store.con.execute("DROP VIEW events_after_rollup")
        assert store.migrate() == [m.version for m in MIGRATIONS[1:]]
        assert _columns(store) == new_columns
    assert new_versions == [(m.version,) for m in MIGRATIONS]
    assert secrets == [(1,)]


def test_a_new_store_is_created_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A migration that fails on a new store leaves none of the earlier ones applied: opening it
    again starts from nothing rather than from a half-made store."""
    import cartwise.store.store as store_module
    from cartwise.store.migrations import MIGRATIONS, Migration

    broken = Migration(MIGRATIONS[-1].version + 1, "broken", ("CREATE TABLE broken (x NO_SUCH_TYPE)",))
    monkeypatch.setattr(store_module, "MIGRATIONS", (*MIGRATIONS, broken))
    db = tmp_path / "shop.duckdb"
    with pytest.raises(duckdb.Error):
        open_store(db, settings=get_settings(db=db))
    monkeypatch.undo()
    con = duckdb.connect(str(db))
    try:
        assert con.execute("SELECT count(*) FROM schema_migrations").fetchall() == [(0,)]
        tables = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert tables == {"schema_migrations"}
    finally:
        con.close()
