"""Loading a file into the store: read, map, validate, quarantine, dedupe, write.

Each file loads in one transaction: a failure, Ctrl-C or a crash leaves the store as it was.
Every record read is counted once: `read = loaded + duplicates + rejected`.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute

from cartwise.core.errors import ConfigError, InputError
from cartwise.ingest import quarantine as qr
from cartwise.ingest.insert import content_hash, insert_new_events
from cartwise.ingest.kinds import EVENT_FORMATS, KINDS
from cartwise.ingest.mapping import resolve_mapping, with_constants
from cartwise.ingest.readers import (
    HIDDEN_COLUMNS,
    ROW_COLUMN,
    Malformed,
    editor_lines,
    is_plain_parquet,
    parquet_layout,
    read_input,
)
from cartwise.ingest.validate import (
    Staging,
    TimeWindow,
    lit,
    q,
    quarantine_sql,
    staging_sql,
    timestamp_mode,
)
from cartwise.schema import Table
from cartwise.schema import table as canonical_table
from cartwise.store import Store

_SRC, _STAGED, _VALID, _SEEN = "_cw_src", "_cw_staged", "_cw_valid", "_cw_seen"
CHUNK_ROWS = 5_000_000
"""Event files load in slices of this many rows (still one transaction for the file). Each slice
after the first checks its ids against every event stored before it, so fewer slices cost
less: a 10M-event CSV took 27.8-29.8 s with 5M-row slices against 30.0-31.6 s with 2M, and
peaked at 3.45-3.48 GiB against 3.55-3.63 (bench/ingest.py's loader, store closed)."""


@dataclass
class LoadOptions:
    """How to read and map an input file."""

    format: str = "auto"
    delimiter: str | None = None
    header: bool = True
    encoding: str = "utf-8"
    mapping: dict[str, str] = field(default_factory=dict)
    ts_format: str | None = None
    timezone: str = "UTC"
    window: TimeWindow = field(default_factory=TimeWindow)
    """Times accepted; `TimeWindow.for_loads(settings)` follows the settings."""
    constants: dict[str, str] = field(default_factory=dict)
    """Canonical column -> one value for every row (`--set type=rating`), for a column the file lacks."""


@dataclass
class LoadSummary:
    """Counts of one load; `read == loaded + duplicates + rejected` always holds."""

    source: str
    table: str
    read: int = 0
    loaded: int = 0
    duplicates: int = 0
    rejected: int = 0
    updated: int = 0
    warnings: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    quarantine_file: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    format: str = ""
    load_id: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ts_modes(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    mapping: dict[str, str],
    types: dict[str, pa.DataType],
    ts_format: str | None,
) -> dict[str, tuple[str, str | None]]:
    """How each mapped time column is written (ISO text, epoch seconds or ms, a format), from a sample."""
    modes = {}
    for column in table.columns:
        source = mapping.get(column.name)
        if column.kind != "timestamp" or source is None:
            continue
        if pa.types.is_timestamp(types[source]) or pa.types.is_date(types[source]):
            continue  # typed times need no reading (0.17 s of sampling a 10M-row Parquet file)
        sample = con.execute(
            f"SELECT CAST({q(source)} AS VARCHAR) FROM {_SRC} WHERE {q(source)} IS NOT NULL "
            f"AND trim(CAST({q(source)} AS VARCHAR)) <> '' LIMIT 2000"
        ).fetchall()
        modes[column.name] = timestamp_mode([r[0] for r in sample], ts_format)
    return modes


class _Rows:
    """The records of one input, which the loader sees in slices as the relation `_SRC`.

    Either an Arrow table in memory (text formats, with ROW_COLUMN) or a Parquet file that
    DuckDB reads itself, slice by slice: no Arrow copy of the whole file, so a big file
    loads faster and memory holds one slice at a time.
    """

    def __init__(
        self,
        table: pa.Table | None = None,
        parquet: Path | None = None,
        layout: tuple[pa.Schema, int] | None = None,
    ):
        """Either `table`, or `parquet` with its `layout` (`readers.parquet_layout`)."""
        self.table, self.parquet = table, parquet
        if table is not None:
            self.types = {name: table.schema.field(name).type for name in table.column_names}
            self.num_rows = table.num_rows
        else:
            assert parquet is not None and layout is not None
            schema, self.num_rows = layout
            self.types = {name: schema.field(name).type for name in schema.names}
            self.types[ROW_COLUMN] = pa.int64()

    @property
    def column_names(self) -> list[str]:
        return [c for c in self.types if c not in HIDDEN_COLUMNS]

    def show(self, con: duckdb.DuckDBPyConnection, offset: int = 0, size: int | None = None) -> None:
        """Make rows [offset, offset + size) (all by default) the relation `_SRC` on `con`."""
        self.hide(con)
        if self.table is not None:
            con.register(_SRC, self.table if size is None else self.table.slice(offset, size))
            return
        end = self.num_rows if size is None else offset + size
        con.execute(
            f"CREATE TEMP VIEW {_SRC} AS SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS {ROW_COLUMN} "
            f"FROM read_parquet({lit(str(self.parquet))}, file_row_number = true) "
            f"WHERE file_row_number >= {offset} AND file_row_number < {end}"
        )

    def hide(self, con: duckdb.DuckDBPyConnection) -> None:
        if self.table is not None:
            con.unregister(_SRC)
        else:
            con.execute(f"DROP VIEW IF EXISTS {_SRC}")


class _Loader:
    """One load of one table from one input, inside the caller's transaction."""

    def __init__(
        self,
        store: Store,
        table: Table,
        data: _Rows,
        options: LoadOptions,
        source: str,
        malformed: list[Malformed],
    ):
        self.store, self.con, self.table = store, store.con, table
        self.data, self.options, self.source, self.malformed = data, options, source, malformed
        self.load_id = uuid.uuid4().hex
        columns = data.column_names
        self.mapping = resolve_mapping(table, columns, options.mapping, source, header=options.header)
        from_file = {k: v for k, v in self.mapping.items() if k not in options.constants}
        self.summary = LoadSummary(source=source, table=table.name, mapping=from_file, load_id=self.load_id)
        self._future: list[Any] = [0, [], None]  # future timestamps: count, first rows, latest

    def run(self) -> LoadSummary:
        con, table = self.con, self.table
        started = datetime.now(UTC).replace(tzinfo=None)
        if not self.store.knows_time_zone(self.options.timezone):
            raise ConfigError(
                f"{self.options.timezone!r} is not a time zone name (e.g. UTC, Europe/Paris).",
                parameter="timezone",
            )
        self.data.show(con)
        try:
            types = self.data.types
            modes = _ts_modes(con, table, self.mapping, types, self.options.ts_format)
            derive = table.name == "events" and "event_id" not in self.mapping
            staging = staging_sql(
                table,
                _SRC,
                self.mapping,
                types,
                modes,
                derive_ids=table.name == "events",
                window=self.options.window,
            )
            self._quarantine_malformed()
            con.execute(f"CREATE OR REPLACE TEMP TABLE {_SEEN} (hash VARCHAR PRIMARY KEY, n BIGINT)")
            # Event files go through in slices, inside the same transaction, to bound memory. The
            # others need the whole file at once: the last row per key wins (items, users), and
            # an order's lines may lie anywhere in a transaction log.
            size = CHUNK_ROWS if table.name == "events" else max(self.data.num_rows, 1)
            valid = 0
            for offset in range(0, max(self.data.num_rows, 1), size):
                self.data.show(con, offset, size)
                con.execute(f"SET TimeZone = '{self.options.timezone}'")
                con.execute(f"CREATE OR REPLACE TEMP TABLE {_STAGED} AS {staging.sql}")
                con.execute("SET TimeZone = 'UTC'")
                part_rows, part_valid = con.execute(
                    f"SELECT count(*), count(*) FILTER (_problem IS NULL) FROM {_STAGED}"
                ).fetchall()[0]
                if part_valid < part_rows:
                    self._quarantine(staging)
                self._collect_warnings()
                getattr(self, f"_load_{table.name}")(part_valid, derive)
                valid += part_valid
            self._finish_warnings()
            self.summary.read = self.data.num_rows + len(self.malformed)
            self.summary.rejected = self.data.num_rows - valid + len(self.malformed)
            self._record(started)
        except (duckdb.InvalidInputException, duckdb.IOException) as exc:
            if "KeyboardInterrupt" in str(exc):
                # Ctrl-C while DuckDB read the Arrow input comes back as this error's text.
                raise KeyboardInterrupt from exc
            if self.data.parquet is None:
                raise
            raise InputError(
                f"{self.source} has a damaged part that cannot be read ({exc}); nothing was loaded. "
                "Export the file again."
            ) from exc
        finally:
            try:
                con.abort()  # a query stopped by Ctrl-C leaves its result unfinished, blocking the rest
                self.data.hide(con)
                for name in (_STAGED, _VALID, _SEEN):
                    con.execute(f"DROP TABLE IF EXISTS {name}")
            except duckdb.TransactionException:
                pass  # the load failed: the caller's rollback drops these temporary objects
        return self.summary

    def _count(self, sql: str) -> int:
        row = self.con.execute(sql).fetchall()[0]
        return int(row[0]) if row else 0

    def _quarantine(self, staging: Staging) -> None:
        self.con.execute(
            f'INSERT INTO quarantine SELECT ?, ?, ?, _row, "column", "value", reason, CAST(record AS JSON) '
            f"FROM ({quarantine_sql(staging, _SRC, _STAGED)})",
            [self.load_id, self.table.name, self.source],
        )

    def _quarantine_malformed(self) -> None:
        if not self.malformed:
            return
        count = len(self.malformed)
        rows = pa.table(
            {
                "load_id": [self.load_id] * count,
                "table_name": [self.table.name] * count,
                "source": [self.source] * count,
                "row": [m.row for m in self.malformed],
                "column": pa.array([None] * count, pa.string()),
                "value": [m.text for m in self.malformed],
                "reason": ["record " + m.reason for m in self.malformed],
                "record": pa.array([None] * count, pa.string()),
            }
        )
        self.store.append("quarantine", rows)

    def _collect_warnings(self) -> None:
        """Count future timestamps among this slice's valid rows (reported once, in `_finish_warnings`)."""
        if "ts" not in self.table.column_names:
            return
        count, rows, latest = self.con.execute(
            f"SELECT count(*), list(_row ORDER BY _row)[1:5], max(ts) FROM {_STAGED} WHERE _future AND _problem IS NULL"
        ).fetchall()[0]
        if count:
            self._future[0] += count
            self._future[1] = (self._future[1] + list(rows))[:5]
            self._future[2] = max(filter(None, [self._future[2], latest]), default=None)

    def _finish_warnings(self) -> None:
        count, rows, latest = self._future
        if count:
            self.summary.warnings.append(
                {
                    "column": "ts",
                    "count": count,
                    "rows": rows,
                    "message": f"{count} timestamp(s) are in the future (latest {latest}); they were loaded. "
                    "Check the time zone (`timezone`) or the clock of the system that wrote them.",
                }
            )

    def _valid_with_ids(self, derive: bool) -> str:
        """SELECT over valid staged rows with missing ids derived from content.

        A derived id is md5(content hash || '#' || occurrence), the occurrence counting
        identical rows in file order across all slices (`_SEEN` carries the counts), so the
        same file always yields the same ids. Rows with derived ids carry `_hash`.
        """
        table = self.table
        key = q(table.key[0])
        cols = [q(c) for c in table.column_names]
        derivable = table.name in ("events", "transactions")
        missing = derive or self._count(
            f"SELECT count(*) FROM {_STAGED} WHERE _problem IS NULL AND {key} IS NULL"
        )
        if not (derivable and missing):
            return f"SELECT s._row, {', '.join('s.' + c for c in cols)} FROM {_STAGED} AS s WHERE s._problem IS NULL"
        occurrence = "COALESCE(seen.n, 0) + row_number() OVER (PARTITION BY s._hash ORDER BY s._row)"
        select = [
            f"COALESCE(s.{key}, md5(s._hash || '#' || ({occurrence}))) AS {key}" if c == key else f"s.{c}"
            for c in cols
        ]
        return (
            f"SELECT s._row, s._hash, {', '.join(select)} "
            f"FROM (SELECT *, {content_hash(table, 'x')} AS _hash FROM {_STAGED} AS x WHERE x._problem IS NULL) AS s "
            f"LEFT JOIN {_SEEN} AS seen ON seen.hash = s._hash"
        )

    def _remember_hashes(self) -> None:
        """Add this slice's content-hash counts to `_SEEN` (after `_VALID` was built with `_hash`)."""
        if "_hash" not in [r[0] for r in self.con.execute(f"DESCRIBE {_VALID}").fetchall()]:
            return
        self.con.execute(
            f"INSERT INTO {_SEEN} SELECT _hash, count(*) FROM {_VALID} GROUP BY _hash "
            f"ON CONFLICT (hash) DO UPDATE SET n = {_SEEN}.n + excluded.n"
        )

    def _load_events(self, valid: int, derive: bool) -> None:
        key = q("event_id")
        needs_ids = derive or self._count(
            f"SELECT count(*) FROM {_STAGED} WHERE _problem IS NULL AND {key} IS NULL"
        )
        if needs_ids:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {_VALID} AS {self._valid_with_ids(True)}")
            self._remember_hashes()
            source = _VALID
        else:
            source = f"(SELECT * FROM {_STAGED} WHERE _problem IS NULL)"
        inserted = insert_new_events(self.store, source, bulk=True)
        self.summary.loaded += inserted
        self.summary.duplicates += valid - inserted

    def _upsert(self, valid: int) -> None:
        """Items and users: the last row for a key wins; a row identical to the stored one is a duplicate."""
        con, table = self.con, self.table
        key = q(table.key[0])
        cols = [q(c) for c in table.column_names]
        fill = " REPLACE (COALESCE(active, true) AS active)" if table.name == "items" else ""
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_VALID} AS SELECT *{fill} FROM ({self._valid_with_ids(False)}) "
            f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _row DESC) = 1"
        )
        same = " AND ".join(
            f"CAST(t.{c} AS VARCHAR) IS NOT DISTINCT FROM CAST(v.{c} AS VARCHAR)" for c in cols
        )
        con.execute(f"DELETE FROM {_VALID} v WHERE EXISTS (SELECT 1 FROM {q(table.name)} t WHERE {same})")
        unique_changed = self._count(f"SELECT count(*) FROM {_VALID}")
        updated = self._count(f"DELETE FROM {q(table.name)} WHERE {key} IN (SELECT {key} FROM {_VALID})")
        col_list = ", ".join(cols)
        con.execute(f"INSERT INTO {q(table.name)} ({col_list}) SELECT {col_list} FROM {_VALID}")
        self.summary.loaded = unique_changed
        self.summary.updated = updated
        self.summary.duplicates = valid - unique_changed

    def _load_items(self, valid: int, derive: bool) -> None:
        self._upsert(valid)

    def _load_users(self, valid: int, derive: bool) -> None:
        self._upsert(valid)

    def _load_transactions(self, valid: int, derive: bool) -> None:
        con = self.con
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_VALID} AS "
            f"SELECT * REPLACE (COALESCE(amount, price * COALESCE(quantity, 1)) AS amount) FROM ({self._valid_with_ids(False)}) v"
        )
        con.execute(
            f"DELETE FROM {_VALID} v WHERE EXISTS (SELECT 1 FROM orders o WHERE o.order_id = v.order_id)"
        )
        new_rows = self._count(f"SELECT count(*) FROM {_VALID}")
        con.execute(
            f"""INSERT INTO orders (order_id, user_id, ts, amount, lines, units, source)
                SELECT order_id, arg_min(user_id, _row), min(ts), sum(amount), count(item_id), sum(quantity), 'transactions'
                FROM {_VALID} GROUP BY order_id"""
        )
        con.execute(
            f"""INSERT INTO order_lines (order_id, item_id, quantity, price, revenue)
                SELECT order_id, item_id, sum(quantity), arg_min(price, _row), sum(amount)
                FROM {_VALID} WHERE item_id IS NOT NULL GROUP BY order_id, item_id"""
        )
        self.summary.loaded += new_rows
        self.summary.duplicates += valid - new_rows

    def _record(self, started: datetime) -> None:
        summary = self.summary
        qr.forget_earlier(self.con, self.load_id, self.table.name, self.source)
        if summary.rejected:
            summary.rejections = qr.summarise_rejections(self.con, self.load_id)
        self.con.execute(
            "INSERT INTO loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                self.load_id,
                self.table.name,
                self.source,
                started,
                datetime.now(UTC).replace(tzinfo=None),
                summary.read,
                summary.loaded,
                summary.duplicates,
                summary.rejected,
                sum(w["count"] for w in summary.warnings),
                orjson.dumps(self.mapping).decode(),
            ],
        )


def ingest_file(
    store: Store, kind: str, path: str | Path, options: LoadOptions | None = None, *, strict: bool = False
) -> LoadSummary:
    """Load one file of `kind` (events, items, users, transactions) in one transaction.

    Rejected records go to the `quarantine` table and to `<file>.quarantine.csv` beside the
    input (or under `quarantine/` beside the store when that folder is read-only). Each group
    of `rejections` names its first `rows` (records counted from 1, as the quarantine does)
    and their `lines` as an editor shows them (the header is line 1). With `strict`, a file
    with a rejected record is an InputError naming them, and nothing of it is loaded.
    """
    if kind not in KINDS:
        raise ConfigError(f"Cannot ingest {kind!r}; choose one of {', '.join(KINDS)}.")
    options = options or LoadOptions()
    if options.format in EVENT_FORMATS and kind != "events":
        raise ConfigError(
            f"{options.format!r} holds events; load it with `cartwise ingest events FILE --format {options.format}`.",
            parameter="format",
        )
    began = time.perf_counter()
    path = Path(path)
    layout = parquet_layout(path) if is_plain_parquet(path, options.format) else None
    if (
        layout is not None
        and not options.constants
        and not {ROW_COLUMN, "file_row_number"} & set(layout[0].names)
    ):
        rows, malformed, format = _Rows(parquet=path, layout=layout), [], "parquet"
    else:
        result = read_input(
            path,
            format=options.format,
            header=options.header,
            delimiter=options.delimiter,
            encoding=options.encoding,
        )
        table, options = with_constants(result.table, options, canonical_table(kind))
        rows, malformed, format = _Rows(table=table), result.malformed, result.format
    if rows.num_rows == 0 and not malformed:
        raise InputError(f"{path} has a header but no data rows; there is nothing to load.")
    if rows.num_rows == 0:
        qr.refuse_all_malformed(path, malformed, format, options.header)
    loader = _Loader(store, canonical_table(kind), rows, options, str(path), malformed)
    loader.summary.format = format
    loader.summary.constants = dict(options.constants)
    try:
        with store.transaction():
            summary = loader.run()
            listed = [int(row) for r in summary.rejections for row in r["rows"]]
            lines = iter(editor_lines(path, listed, options.header, format).tolist() if listed else [])
            for rejection in summary.rejections:
                rejection["lines"] = [next(lines) for _ in rejection["rows"]]
            if strict and summary.rejected:
                raise InputError(
                    f"{path}: {summary.rejected:,} of {summary.read:,} records cannot be loaded: "
                    + "; ".join(_rejection_words(r) for r in summary.rejections[:5])
                    + ". Nothing of this file was loaded; fix these lines, or drop `strict` to set them aside.",
                    mentions=("strict",),
                )
            if summary.rejected:
                target = qr.quarantine_path(path, store)
                qr.write_quarantine_file(store.con, summary.load_id, target)
                summary.quarantine_file = str(target)
    finally:
        store.con.execute("SET TimeZone = 'UTC'")  # after a rollback too: the load set the input's zone
    summary.seconds = round(time.perf_counter() - began, 3)
    assert summary.read == summary.loaded + summary.duplicates + summary.rejected, summary
    return summary


def _rejection_words(rejection: dict[str, Any]) -> str:
    """`3 records whose `ts` is not a timestamp (lines 4, 9, 12, e.g. 'yesterday')`."""
    lines = rejection["lines"]
    shown = ", ".join(map(str, lines)) + (", ..." if rejection["count"] > len(lines) else "")
    what = (
        rejection["reason"].removeprefix("record ")
        if rejection["column"] is None
        else f"whose `{rejection['column']}` {rejection['reason']}"
    )
    plural = "s" if rejection["count"] > 1 else ""
    return (
        f"{rejection['count']:,} record{plural} {what} (line{plural} {shown}, e.g. {rejection['example']!r})"
    )
