"""Batches of event records (the collector's requests): validate them with the file loader's
rules, and store the new ones. Plain batches skip the SQL (`plain`); the rest run one cached
SELECT on a per-thread scratch DuckDB.
"""

from __future__ import annotations

import functools
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute

from cartwise.ingest.insert import EVENT_FILLS, StoredIds, content_hash, insert_new_events
from cartwise.ingest.mapping import MissingColumns, resolve_mapping
from cartwise.ingest.plain import prepare_plain
from cartwise.ingest.readers import HIDDEN_COLUMNS, NESTED_COLUMN, ROW_COLUMN, records_to_table
from cartwise.ingest.validate import (
    COLLECTOR_WINDOW,
    Staging,
    TimeWindow,
    q,
    quarantine_sql,
    staging_sql,
    timestamp_mode,
)
from cartwise.schema import EVENTS
from cartwise.store import Store

_SRC, _STAGED = "_cw_src", "_cw_staged"


@dataclass
class PreparedEvents:
    """Validated canonical events (`table`) and the records refused (`rejected`: index and reason)."""

    table: pa.Table
    rejected: list[dict[str, Any]]


_local = threading.local()
# The extra copy DuckDB warns about for Arrow from execute() is nothing for a batch of events.
# A module-wide filter: catch_warnings() is not thread-safe, and the collector validates in a thread.
warnings.filterwarnings("ignore", "Arrow output on a DB-API result", UserWarning, __name__)


def _scratch() -> duckdb.DuckDBPyConnection:
    con = getattr(_local, "con", None)
    if con is None:
        # One thread: batches are small, and scheduling work across threads costs more than it saves.
        con = _local.con = duckdb.connect(config={"threads": 1})
        con.execute("SET TimeZone = 'UTC'")
    return con


@functools.lru_cache(maxsize=64)
def _batch_plan(
    columns: tuple[str, ...], ts_mode: tuple[str, str | None], has_ids: bool, window: TimeWindow, nested: bool
) -> tuple[str, Staging] | str:
    """The one SELECT that validates a batch with these columns, or the mapping error for them.

    Cached by column names and timestamp form: a collector sees the same few shapes again
    and again, and building and binding the SQL is most of the cost of a small batch.
    """
    try:
        mapping = resolve_mapping(EVENTS, list(columns), {}, "the batch")
    except MissingColumns as exc:  # no event of the batch has the field: say it in the API's terms
        return f"missing {', '.join(f'`{m}`' for m in exc.missing)}; every event needs `ts`, `user_id` and `type`"
    types = {name: pa.string() for name in columns}
    if nested:
        types[NESTED_COLUMN] = pa.list_(pa.string())
    types[ROW_COLUMN] = pa.int64()
    staging = staging_sql(EVENTS, _SRC, mapping, types, {"ts": ts_mode}, derive_ids=True, window=window)
    key_hash = content_hash(EVENTS, "s")
    select = ", ".join(f"{EVENT_FILLS.get(c, q(c))} AS {q(c)}" for c in EVENTS.column_names)
    if has_ids:  # every record brings its id: no content hashing needed
        return f"SELECT {select}, _problem, _row FROM ({staging.sql}) ORDER BY _row", staging
    # Ids are numbered among valid rows only, as in file loads.
    sql = f"""SELECT {select}, _problem, _row
              FROM (SELECT s.* REPLACE (COALESCE(s.event_id, md5({key_hash} || '#' || row_number()
                    OVER (PARTITION BY s._problem IS NULL, {key_hash} ORDER BY s._row))) AS event_id)
                    FROM ({staging.sql}) s) ORDER BY _row"""
    return sql, staging


def prepare_events(
    records: list[dict[str, Any]], *, timezone: str = "UTC", window: TimeWindow = COLLECTOR_WINDOW
) -> PreparedEvents:
    """Validate event records (dicts with canonical keys) with the same rules as file ingestion.

    Valid records come back, in input order, as a canonical Arrow table with `event_id`
    filled in (derived from content when absent, so retrying a batch is idempotent); each
    refused record is reported with its 0-based index and the reason. Plain batches (see
    `plain.prepare_plain`) skip the SQL, whose fixed cost dominates a small batch. Times
    must lie inside `window`.
    """
    if timezone == "UTC":
        plain = prepare_plain(records, window)
        if plain is not None:
            return PreparedEvents(plain, [])
    return prepare_events_sql(records, timezone=timezone, window=window)


def prepare_events_sql(
    records: list[dict[str, Any]], *, timezone: str = "UTC", window: TimeWindow = COLLECTOR_WINDOW
) -> PreparedEvents:
    """`prepare_events` through the SQL rules alone: the reference the plain path is tested against."""
    raw = records_to_table(records)
    raw = raw.append_column(ROW_COLUMN, pa.array(range(1, len(records) + 1), pa.int64()))
    columns = tuple(c for c in raw.column_names if c not in HIDDEN_COLUMNS)
    ts_column = next((c for c in columns if c.lower() in ("ts", *EVENTS.synonyms["ts"])), None)
    sample = [str(r[ts_column]) for r in records[:200] if ts_column and r.get(ts_column) is not None]
    has_ids = all(r.get("event_id") not in (None, "") for r in records)
    nested = NESTED_COLUMN in raw.column_names
    plan = _batch_plan(columns, timestamp_mode(sample, None), has_ids, window, nested)
    if isinstance(plan, str):
        empty = pa.table({c: pa.array([], pa.string()) for c in EVENTS.column_names})
        return PreparedEvents(empty, [{"index": i, "reason": plan} for i in range(len(records))])
    sql, staging = plan
    con = _scratch()
    con.register(_SRC, raw)
    try:
        if timezone != "UTC":
            con.execute(f"SET TimeZone = '{timezone}'")
        # execute(), not sql(): a relation plans the query twice, which is half the cost of a
        # small batch (DuckDB's warning about the copy is filtered above).
        result: pa.Table = con.execute(sql).to_arrow_table()
        rejected: list[dict[str, Any]] = []
        if result["_problem"].null_count < result.num_rows:
            # Rare path: explain each refused record with the file loader's messages.
            con.execute(f"CREATE OR REPLACE TEMP TABLE {_STAGED} AS {staging.sql}")
            rejected = [
                {
                    "index": row - 1,
                    "reason": f"{column or 'record'}: {value!r} {reason}" if value else f"{column}: {reason}",
                }
                for row, column, value, reason, _ in con.execute(
                    quarantine_sql(staging, _SRC, _STAGED)
                ).fetchall()
            ]
            result = result.filter(pa.compute.is_null(result["_problem"]))
    finally:
        if timezone != "UTC":
            con.execute("SET TimeZone = 'UTC'")
        con.unregister(_SRC)
    return PreparedEvents(result.drop_columns(["_problem", "_row"]), rejected)


def store_events(store: Store, table: pa.Table, stored_ids: StoredIds | None = None) -> dict[str, int]:
    """Insert prepared canonical events, skipping ids already stored or repeated in the batch; one transaction.

    Returns {"loaded": n, "duplicates": d} with loaded + duplicates == table.num_rows. A
    long-lived writer passes its `StoredIds` to skip the anti-join for batches of new ids.
    """
    if table.num_rows == 0:
        return {"loaded": 0, "duplicates": 0}
    con = store.con
    # One chunk: DuckDB reads an Arrow table chunk by chunk, and a writer's batch joins many
    # small requests (6,500 events in 65 chunks took 18 ms to read, 6 ms once combined).
    numbered = table.append_column(ROW_COLUMN, pa.array(range(table.num_rows), pa.int64())).combine_chunks()
    con.register("_cw_batch", numbered)
    try:
        with store.transaction():
            loaded = insert_new_events(store, "_cw_batch", stored_ids=stored_ids)
    finally:
        con.unregister("_cw_batch")
    return {"loaded": loaded, "duplicates": table.num_rows - loaded}
