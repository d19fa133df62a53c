"""Writing events into the store: only ids not stored yet, the orders of new purchases and the
identity links they carry. File loads (`load`) and the collector's batches (`batches`) share it.
"""

from __future__ import annotations

import contextlib

import duckdb
import numpy as np

from cartwise.ingest.identity import stitch
from cartwise.ingest.orders import any_order_stored, derive_orders, write_orders
from cartwise.ingest.validate import q
from cartwise.schema import EVENTS, Table
from cartwise.store import Store


def content_hash(table: Table, alias: str) -> str:
    """SQL for the MD5 of a row's non-key columns: the id of a record that brings none."""
    parts = ", ".join(
        f"COALESCE(CAST({alias}.{q(c)} AS VARCHAR), chr(0))" for c in table.column_names if c not in table.key
    )
    return f"md5(concat_ws(chr(31), {parts}))"


# Purchases without an order form an order of their own; their revenue defaults to price x quantity.
EVENT_FILLS = {
    "order_id": "CASE WHEN type = 'purchase' THEN COALESCE(order_id, event_id) ELSE order_id END",
    "revenue": "CASE WHEN type = 'purchase' AND revenue IS NULL AND price IS NOT NULL "
    "THEN price * COALESCE(quantity, 1) ELSE revenue END",
}


class StoredIds:
    """Hashes of every id in `events`, for a long-lived writer (the collector) to skip work.

    Checking a batch's ids against the store is an anti-join over every stored id, so its
    cost grows with the store (about 190 ms per commit at 5M events here). With this index,
    `insert_new_events` runs it only when a batch id's hash is already stored; a match is a
    maybe (hashes can collide), so such a batch still gets the exact check and nothing new is
    ever dropped. The index compares the table's row count with its own on every use and
    rebuilds itself when they differ: another writer (a file load) or a rolled-back commit.
    Deletions (`cartwise events delete`, erasure) lower the count, so the next use rebuilds;
    events are deleted only through the same writer (the service's gate) or with the service
    stopped, so a count that matches means the same rows. (Not the last row id: rows get
    their final ids only at commit.) Memory: 8 bytes per stored event.
    """

    MERGE_AT = 262_144
    """Hashes kept in a dict before they are merged into the sorted array.

    A dict of integers, not a set: CPython does not track a dict that holds only untracked
    objects (integers, strings), and walks every entry of a set at each full collection: 11 ms
    at this size, with every thread of the server stopped (bench/recent_ids.py)."""

    def __init__(self) -> None:
        self._sorted = np.empty(0, np.uint64)
        self._recent: dict[int, None] = {}
        self._recent_arrays: list[np.ndarray] = []  # the same hashes as arrays, for the merge
        self._rows = -1  # rows of `events` the index describes
        self.rebuilds = 0

    @staticmethod
    def hashes(con: duckdb.DuckDBPyConnection, source: str) -> np.ndarray:
        """DuckDB's 64-bit hash of each `event_id` in `source`."""
        return con.execute(f"SELECT hash(event_id) AS h FROM {source}").fetchnumpy()["h"]

    @staticmethod
    def _count(con: duckdb.DuckDBPyConnection) -> int:
        return int(con.execute("SELECT count(*) FROM events").fetchall()[0][0])

    def may_hold(self, con: duckdb.DuckDBPyConnection, hashes: np.ndarray) -> bool:
        """Whether any of these id hashes may already be stored."""
        rows = self._count(con)
        if rows != self._rows:
            self.rebuilds += self._rows >= 0  # the first build is not a rebuild
            self._sorted, self._recent, self._rows = np.sort(self.hashes(con, "events")), {}, rows
            self._recent_arrays = []
        # Sorted needles make the binary search cache-friendly (2.8 ms against 6.6 for 5,000 in 5M).
        return _holds_any(self._sorted, np.sort(hashes)) or not self._recent.keys().isdisjoint(
            hashes.tolist()
        )

    def added(self, hashes: np.ndarray, inserted: int) -> None:
        """Record an insert of `inserted` rows, right after `may_hold`, from a source with these
        id hashes (a superset of the rows inserted is fine)."""
        if inserted < len(hashes):  # repeats: only hashes new to the dict go into the arrays
            hashes = np.fromiter(
                dict.fromkeys(h for h in hashes.tolist() if h not in self._recent), np.uint64
            )
        self._recent.update(dict.fromkeys(hashes.tolist()))
        self._recent_arrays.append(hashes)
        if len(self._recent) >= self.MERGE_AT:
            self._sorted = merge_hashes(self._sorted, self._recent_arrays)
            self._recent, self._recent_arrays = {}, []
        self._rows += inserted


def merge_hashes(ordered: np.ndarray, arrays: list[np.ndarray]) -> np.ndarray:
    """The sorted array `ordered` with the hashes of `arrays` merged in (a new array).

    The id indexes (`StoredIds` here, the collector's `StoredIdIndex`) keep their recent hashes
    in a dict and, alongside, in the arrays they came in, and merge from the arrays: an array
    of a dict's 262,144 keys is built holding the interpreter, and the collector's threads
    waited up to 5-10 ms against 2-5 from the arrays (two runs of bench/interpreter_waits.py)."""
    recent = np.concatenate(arrays) if arrays else np.empty(0, ordered.dtype)
    recent.sort()
    merged = np.concatenate([ordered, recent.astype(ordered.dtype, copy=False)])
    merged.sort(kind="stable")  # two sorted runs: timsort merges them in linear time
    return merged


def _holds_any(ordered: np.ndarray, values: np.ndarray) -> bool:
    """Whether the sorted array `ordered` holds any of `values`."""
    if not len(ordered):
        return False
    at = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
    return bool((ordered[at] == values).any())


def insert_new_events(
    store: Store, source: str, *, stored_ids: StoredIds | None = None, bulk: bool = False
) -> int:
    """Insert the events of `source` (canonical columns plus `_row`) whose `event_id` is new.

    An id already stored, or repeated earlier in `source` (by `_row`), is skipped. The dedupe
    steps run only when needed: an empty store skips the anti-join, and so does a source
    none of whose ids `stored_ids` may hold (a long-lived writer's index, see `StoredIds`);
    a source without repeated ids skips the window. The orders of the new purchases are
    written: from `source` alone when every row went in and none of its orders exists yet
    (the usual case, and no scan of the stored events), else rebuilt with `derive_orders`.
    Returns the number of events inserted.

    `bulk` (file loads) lets DuckDB insert in any row order. In file order it leaves a partly
    filled row group at each boundary of the input's record batches, and the next checkpoint
    (at the latest when the store closes) rewrites them: 3.5-8 s after a 10M-event CSV load,
    0.02 s without. Rowids still grow from load to load (the rollup's watermark and the
    recommendation poll page by them); readers that need time order sort by `ts`. The
    setting is global to the DuckDB instance, so it is set for this statement alone.
    """
    con = store.con
    rows, distinct, purchases, evidence = con.execute(
        f"""SELECT count(*), count(DISTINCT event_id), count(*) FILTER (type = 'purchase'),
                   count(*) FILTER (anonymous_id IS NOT NULL OR type IN ('identify', 'alias'))
            FROM {source}"""
    ).fetchall()[0]
    hashes = StoredIds.hashes(con, source) if stored_ids is not None else None
    if stored_ids is not None and hashes is not None:
        stored = stored_ids.may_hold(con, hashes)  # False for an empty store too
    else:
        stored = bool(con.execute("SELECT count(*) FROM (SELECT 1 FROM events LIMIT 1)").fetchall()[0][0])
    select = ", ".join(f"{EVENT_FILLS.get(c, q(c))} AS {q(c)}" for c in EVENTS.column_names)
    where = "WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = v.event_id)" if stored else ""
    qualify = (
        "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY _row) = 1" if rows != distinct else ""
    )
    cols = ", ".join(q(c) for c in EVENTS.column_names)
    if bulk:
        con.execute("SET preserve_insertion_order = false")
    try:
        done = con.execute(
            f"INSERT INTO events ({cols}) SELECT {select} FROM {source} AS v {where} {qualify}"
        ).fetchall()[0]
    finally:
        if bulk:  # after a Ctrl-C the connection may refuse statements; the process is ending
            with contextlib.suppress(duckdb.Error):
                con.execute("RESET preserve_insertion_order")
    inserted = int(done[0]) if done else 0
    if stored_ids is not None and hashes is not None:
        stored_ids.added(hashes, inserted)
    if inserted and purchases:  # a batch of views alone skips three statements (12 ms a commit)
        order_ids = f"SELECT DISTINCT COALESCE(order_id, event_id) FROM {source} WHERE type = 'purchase'"
        if inserted == rows and not any_order_stored(con, order_ids):
            write_orders(con, f"SELECT {select} FROM {source} AS v WHERE type = 'purchase'")
        else:
            derive_orders(store, order_ids)
    if inserted:
        stitch(store, source, evidence=bool(evidence or purchases))
    return inserted
