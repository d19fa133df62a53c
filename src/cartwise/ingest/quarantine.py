"""The quarantine: rejected rows of each load, their summary, and the file written beside the input.

A rejected row is kept once per input: re-loading a file replaces its earlier quarantine rows
that the new load rejects again (same table, source, row, column, value and reason), so the
table holds each rejection once, under the load that saw it last, like the data it refused.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import duckdb

from cartwise.core.errors import InputError
from cartwise.ingest.readers import Malformed
from cartwise.store import Store


def refuse_all_malformed(path: Path, malformed: list[Malformed], format: str, header: bool) -> None:
    """Raise InputError when every record of a file failed to split for one and the same reason.

    That is the file's layout, not bad rows: quarantining the whole file would only hide the
    fix (another format, delimiter or header setting)."""
    if not malformed or len({m.reason for m in malformed}) > 1:
        return
    fixes = {
        "cdnow": "check that the file is a CDNOW log (4 or 5 fields per line)",
        "whitespace": "check `format`, and `no_header` when the first line is data (map columns by number)",
    }
    fix = fixes.get(
        format,
        "check `delimiter` and `format`"
        + (
            ", and whether the header line matches the records (`no_header` when it is data)"
            if header
            else ""
        ),
    )
    raise InputError(
        f"{path}: every one of its {len(malformed):,} records {malformed[0].reason.split(';')[0]} "
        f"(e.g. row {malformed[0].row}: {malformed[0].text[:80]!r}); nothing was loaded. The file's layout is "
        f"not what was expected: {fix}.",
        parameter="format",
        mentions=("delimiter", "format", "no_header"),
    )


def forget_earlier(con: duckdb.DuckDBPyConnection, load_id: str, table_name: str, source: str) -> None:
    """Delete earlier loads' quarantine rows that load `load_id` quarantined again."""
    con.execute(
        """DELETE FROM quarantine AS old
           WHERE old.load_id <> $load AND old.table_name = $table AND old.source = $source
             AND EXISTS (
               SELECT 1 FROM quarantine AS new
               WHERE new.load_id = $load AND new.table_name = old.table_name
                 AND new.source = old.source AND new."row" = old."row"
                 AND new."column" IS NOT DISTINCT FROM old."column"
                 AND new."value" IS NOT DISTINCT FROM old."value"
                 AND new.reason = old.reason)""",
        {"load": load_id, "table": table_name, "source": source},
    )


def summarise_rejections(con: duckdb.DuckDBPyConnection, load_id: str) -> list[dict[str, Any]]:
    """Rejections grouped by column and reason, with up to 5 example rows and one example value."""
    rows = con.execute(
        """SELECT "column", regexp_replace(reason, '^is negative in a \\w+ event', 'is negative in a non-refund event') AS r,
                  count(*), list("row" ORDER BY "row")[1:5], arg_min("value", "row")
           FROM quarantine WHERE load_id = ? GROUP BY ALL ORDER BY count(*) DESC, r""",
        [load_id],
    ).fetchall()
    return [
        {"column": column, "reason": reason, "count": count, "rows": examples, "example": value}
        for column, reason, count, examples, value in rows
    ]


def quarantine_path(source: Path, store: Store) -> Path:
    beside = source.with_name(source.name + ".quarantine.csv")
    if os.access(source.parent, os.W_OK):
        return beside
    fallback = store.path.parent / "quarantine"
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback / beside.name


def write_quarantine_file(con: duckdb.DuckDBPyConnection, load_id: str, path: Path) -> None:
    rows = con.execute(
        'SELECT "row", "column", "value", reason, CAST(record AS VARCHAR) FROM quarantine WHERE load_id = ? ORDER BY "row"',
        [load_id],
    ).fetchall()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "column", "value", "reason", "record"])
        writer.writerows(rows)
