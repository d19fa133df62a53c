"""The Cartwise store: one DuckDB file, versioned migrations, one writer.

A `Store` owns one read-write DuckDB connection (DuckDB itself refuses a second writing
process, which is how "one writer" is enforced across processes). Reads for analytics go
through `store.ibis()`, an Ibis backend over the same connection, so the same expressions
run on Spark.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from cartwise.core.errors import StoreError
from cartwise.core.settings import Settings, get_settings
from cartwise.schema import TABLES
from cartwise.store.erasure_log import key_the_erasure_log
from cartwise.store.migrations import MIGRATIONS, Migration

if TYPE_CHECKING:  # Arrow (and NumPy under it) cost ~0.15 s to import: not for opening a store
    import pyarrow as pa

SCHEMA_VERSION = MIGRATIONS[-1].version
NOT_EXPORTED = (
    "schema_migrations",
    "event_rollup",
    "event_rollup_state",
    "event_timeline",
    "event_timeline_months",
)
"""Bookkeeping, the events' rollup and timeline, which the importing store rebuilds from its own events."""
_MANIFEST = "cartwise-export.json"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quiet(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """No progress bar: DuckDB draws one on the terminal for queries over 2 s, into the middle
    of a command's output (and its --json). A session setting, so each cursor needs it too."""
    con.execute("SET enable_progress_bar = false")
    return con


class Store:
    """An open Cartwise store. Use `open_store()` or `Store(path)`; close with `close()` or `with`."""

    def __init__(
        self,
        path: str | Path,
        *,
        settings: Settings | None = None,
        read_only: bool = False,
        create: bool = True,
    ):
        """`create=False`: a missing file is an error (for commands that need the store's data)."""
        self.settings = settings or get_settings()
        self.path = Path(path)
        self.read_only = read_only
        if (read_only or not create) and not self.path.exists():
            raise StoreError(
                f"No store at {self.path}; create one with `cartwise ingest` or `cartwise demo`."
            )
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "memory_limit": self.settings.memory_limit,
            "checkpoint_threshold": self.settings.checkpoint_wal,
        }
        if self.settings.threads:
            config["threads"] = self.settings.threads
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only, config=config)
            _quiet(self.con)
        except duckdb.Error as exc:  # not a store (a CSV file, say) raises other kinds than IOException
            if isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower():
                raise StoreError(
                    f"The store {self.path} is in use by another process (one writer at a time). "
                    "Stop `cartwise serve` or the other command, or send data through the API."
                ) from exc
            raise StoreError(f"Cannot open the store {self.path}: {exc}") from exc
        self.con.execute("SET TimeZone = 'UTC'")
        self._ibis: Any = None
        if not read_only:
            self.migrate()
        else:
            self._check_version()

    def artefacts_path(self) -> Path:
        """Folder for this store's trained models and reports (the `artefacts_dir` setting, or beside the store)."""
        if self.settings.artefacts_dir is not None:
            return self.settings.artefacts_dir
        return self.path.with_name(self.path.stem + "_artefacts")

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ----------------------------------------------------------------------------
    def schema_version(self) -> int:
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        ).fetchall()[0]
        if not exists or not exists[0]:
            return 0
        row = self.con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()[0]
        return int(row[0]) if row else 0

    def _check_version(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"The store {self.path} has schema version {version}, newer than this Cartwise "
                f"({SCHEMA_VERSION}); upgrade Cartwise."
            )

    def migrate(self) -> list[int]:
        """Apply pending migrations, each in its own transaction; returns the versions applied.

        Pending means not recorded in `schema_migrations`, not only above the highest recorded
        version: a migration numbered below one a store already has (work merged from a
        parallel branch) is still applied once.

        A new store (nothing recorded) gets every migration in one transaction: the same
        statements and the same `schema_migrations` rows, for one commit instead of one per
        migration (a command that creates a store pays half the time); it is created whole or
        not at all."""
        self._check_version()
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER, description VARCHAR, applied_at TIMESTAMP)"
        )
        recorded = {int(v) for (v,) in self.con.execute("SELECT version FROM schema_migrations").fetchall()}
        pending = [migration for migration in MIGRATIONS if migration.version not in recorded]
        if not recorded and pending:
            with self.transaction():
                for migration in pending:
                    self._apply(migration)
        else:
            for migration in pending:
                with self.transaction():
                    self._apply(migration)
        return [migration.version for migration in pending]

    def _apply(self, migration: Migration) -> None:
        """Run one migration's statements and step and record it (inside the caller's transaction)."""
        for statement in migration.statements:
            self.con.execute(statement)
        if migration.after is not None:
            migration.after(self.con)
        self.con.execute(
            "INSERT INTO schema_migrations VALUES (?, ?, ?)",
            [migration.version, migration.description, datetime.now(UTC).replace(tzinfo=None)],
        )

    # -- transactions and writes -----------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing: commits on success, rolls back on any exception, Ctrl-C included."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.abort()  # drop a result left unfinished (a query stopped by Ctrl-C), or ROLLBACK fails
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def knows_time_zone(self, name: str) -> bool:
        """Whether DuckDB knows the time zone `name` (any case), checked without a failing SET,
        which would abort an open transaction."""
        found = self.con.execute(
            "SELECT count(*) FROM pg_timezone_names() WHERE lower(name) = lower(?)", [name]
        ).fetchall()[0][0]
        return bool(found)

    def table_names(self) -> list[str]:
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name"
        ).fetchall()
        return [r[0] for r in rows]

    def has_table(self, name: str) -> bool:
        return name in self.table_names()

    def count(self, name: str) -> int:
        row = self.con.execute(f"SELECT count(*) FROM {_quote(name)}").fetchall()[0]
        return int(row[0]) if row else 0

    def append(self, name: str, data: pa.Table) -> int:
        """Append an Arrow table to an existing table, matching columns by name; returns rows added."""
        self.con.register("_cartwise_append", data)
        try:
            cols = ", ".join(_quote(c) for c in data.column_names)
            self.con.execute(f"INSERT INTO {_quote(name)} ({cols}) SELECT {cols} FROM _cartwise_append")
        finally:
            self.con.unregister("_cartwise_append")
        return data.num_rows

    def replace(self, name: str, data: pa.Table) -> None:
        """Create or replace table `name` with the content of an Arrow table (for derived and truth tables)."""
        self.con.register("_cartwise_replace", data)
        try:
            self.con.execute(f"CREATE OR REPLACE TABLE {_quote(name)} AS SELECT * FROM _cartwise_replace")
        finally:
            self.con.unregister("_cartwise_replace")

    def arrow(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        """Run a query and return the whole result as an Arrow table."""
        return self.con.sql(sql, params=params or None).to_arrow_table()

    # -- reads beside the writer -------------------------------------------------------------
    def reader(self) -> Store:
        """A read-only view of this store on its own DuckDB cursor, inside one transaction, so
        every query through it sees the same snapshot (DuckDB's MVCC) while this connection keeps
        writing; nothing it runs waits for the writer or holds it up. Close it with `close()`
        (which rolls the transaction back: a reader never commits)."""
        view = object.__new__(Store)
        view.settings = self.settings
        view.path = self.path
        view.read_only = True
        view._ibis = None
        view.con = _quiet(self.con.cursor())
        try:
            view.con.execute("SET TimeZone = 'UTC'")
            view.con.execute("BEGIN TRANSACTION")
        except BaseException:
            view.con.close()
            raise
        return view

    # -- reads through Ibis ------------------------------------------------------------------
    def ibis(self) -> Any:
        """An Ibis DuckDB backend over this store's connection."""
        if self._ibis is None:
            import ibis

            self._ibis = ibis.duckdb.from_connection(self.con)
            if self.read_only:  # a reader's view: compiled SQL is kept across reads
                from cartwise.store.compiled import remember_compiles

                remember_compiles(self._ibis)
        return self._ibis

    # -- information, export and import --------------------------------------------------------
    def info(self) -> dict[str, Any]:
        tables = {name: self.count(name) for name in self.table_names() if name != "schema_migrations"}
        span = self.con.execute("SELECT min(ts), max(ts) FROM events").fetchall()[0]
        return {
            "path": str(self.path),
            "schema_version": self.schema_version(),
            "size_bytes": self.path.stat().st_size if self.path.exists() else 0,
            "tables": tables,
            "events_from": span[0].isoformat() if span and span[0] else None,
            "events_to": span[1].isoformat() if span and span[1] else None,
        }

    def copy_to(self, target: Path) -> None:
        """Write every table, view and constraint into a new database file `target`, row by
        row (DuckDB's `COPY FROM DATABASE`): the copy holds no trace of deleted rows, which the
        original keeps in its blocks until the engine reuses them. Row ids are renumbered."""
        if target.exists():
            raise StoreError(f"{target} exists; remove it (a compaction that was interrupted) and retry.")
        quoted = str(target).replace("'", "''")
        source = self.con.execute("SELECT current_database()").fetchall()[0][0]
        self.con.execute(f"ATTACH '{quoted}' AS cw_copy")
        try:
            self.con.execute(f'COPY FROM DATABASE "{source}" TO cw_copy')
        finally:
            self.con.execute("DETACH cw_copy")

    def export(self, directory: str | Path) -> dict[str, int]:
        """Write every table to `directory/<table>.parquet` plus a manifest; returns rows per table."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        counts = {}
        for name in self.table_names():
            if name in NOT_EXPORTED:
                continue
            target = out / f"{name}.parquet"
            self.con.execute(f"COPY {_quote(name)} TO '{target.as_posix()}' (FORMAT parquet)")
            counts[name] = self.count(name)
        manifest = {"schema_version": self.schema_version(), "tables": counts}
        (out / _MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        return counts

    def import_(self, directory: str | Path) -> dict[str, int]:
        """Load an export made by `export`, in one transaction; returns rows added per table.

        Canonical tables get the rows whose key is not yet present (so importing twice adds
        nothing); other tables (ground truth, derived) are replaced by the exported copy.
        """
        src = Path(directory)
        manifest_path = src / _MANIFEST
        if not manifest_path.is_file():
            raise StoreError(f"{src} has no {_MANIFEST}; it was not made by `cartwise db export`.")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("schema_version", 0) > SCHEMA_VERSION:
            raise StoreError(
                f"{src} was exported from schema version {manifest['schema_version']}, newer than this Cartwise ({SCHEMA_VERSION}); upgrade Cartwise."
            )
        added: dict[str, int] = {}
        with self.transaction():
            for name in manifest["tables"]:
                path = (src / f"{name}.parquet").as_posix()
                reader = f"read_parquet('{path}')"
                before = self.count(name) if self.has_table(name) else 0
                if name in TABLES:
                    key = TABLES[name].key
                    cols = ", ".join(_quote(c) for c in TABLES[name].column_names)
                    join = " AND ".join(f"t.{_quote(k)} IS NOT DISTINCT FROM s.{_quote(k)}" for k in key)
                    self.con.execute(
                        f"INSERT INTO {_quote(name)} ({cols}) SELECT {cols} FROM {reader} s "
                        f"WHERE NOT EXISTS (SELECT 1 FROM {_quote(name)} t WHERE {join})"
                    )
                    added[name] = self.count(name) - before
                elif name in ("loads", "quarantine"):
                    self.con.execute(f"INSERT INTO {_quote(name)} SELECT * FROM {reader}")
                    added[name] = self.count(name) - before
                else:
                    self.con.execute(f"CREATE OR REPLACE TABLE {_quote(name)} AS SELECT * FROM {reader}")
                    added[name] = self.count(name)
            # An export older than the keyed erasure log is keyed as migration 17 does.
            key_the_erasure_log(self.con)
        return added


def open_store(
    path: str | Path | None = None,
    *,
    read_only: bool = False,
    settings: Settings | None = None,
    create: bool = True,
) -> Store:
    """Open (and migrate) the store at `path`, or at the `db` setting; with `create=False` or
    `read_only`, a missing file is an error instead of a new empty store."""
    settings = settings or get_settings()
    return Store(path or settings.db, settings=settings, read_only=read_only, create=create)


def remove_store(path: str | Path) -> None:
    """Delete a store file and its write-ahead log (used by `demo` to start afresh)."""
    p = Path(path)
    for candidate in (p, p.with_name(p.name + ".wal")):
        if candidate.exists():
            candidate.unlink()
    artefacts = p.with_name(p.stem + "_artefacts")
    if artefacts.is_dir():
        shutil.rmtree(artefacts)
