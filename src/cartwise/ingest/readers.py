"""File readers: every supported format becomes one Arrow table plus a list of malformed records.

Row numbers: `row` N is the N-th data record of a file, counting from 1, with the header and
blank lines not counted. Text formats (CSV, TSV, whitespace logs, JSONL, RecBole) give string
columns, so that validation sees exactly what the file says; Parquet keeps its types.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import math
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cartwise.core.errors import InputError
from cartwise.core.files import require_file
from cartwise.ingest.kinds import FORMATS, HEADED_FORMATS

ROW_COLUMN = "_row"
NESTED_COLUMN = "_cw_nested"
"""Added by `records_to_table`: per record, the fields that held a JSON object or array (as JSON
text in the table), so validation can refuse them where a single value is due."""
HIDDEN_COLUMNS = (ROW_COLUMN, NESTED_COLUMN)
"""Name of the column holding each record's row number in tables returned by `read_input`."""

CDNOW_COLUMNS = ("customer_id", "customer_index", "date", "quantity", "amount")
"""Columns of a CDNOW-style transaction log (whitespace separated, no header, dates as YYYYMMDD):
the 5-column sample form (`CDNOW_sample.txt`)."""
CDNOW_MASTER_COLUMNS = ("customer_id", "date", "quantity", "amount")
"""The 4-column master form of the CDNOW log (`CDNOW_master.txt`): customer, date, CDs, dollars."""

_SUFFIX_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".inter": "recbole",
    ".item": "recbole",
    ".user": "recbole",
}
_RECBOLE_HEADER = re.compile(r"^[^\s:]+:(token|token_seq|float|float_seq)$")
_BLOCK_SIZES = (1 << 24, 1 << 26, 1 << 28)  # retry sizes for records longer than a block


@dataclass
class Malformed:
    """A record that could not be split into the file's columns."""

    row: int
    reason: str
    text: str


@dataclass
class ReadResult:
    table: pa.Table  # file columns plus ROW_COLUMN
    format: str
    malformed: list[Malformed] = field(default_factory=list)


def _strip_gz(path: Path) -> str:
    name = path.name.lower()
    return name[:-3] if name.endswith(".gz") else name


def _open_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when it ends in .gz; a damaged gzip is an InputError."""
    data = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        try:
            return gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise InputError(
                f"{path} is a truncated or damaged gzip file ({exc}). Nothing was loaded; "
                "re-create or re-download the file (`gzip -t FILE` checks one)."
            ) from exc
    return data


_LINE_FORMATS = (*HEADED_FORMATS, "jsonl", "cdnow")
"""Formats with one record per line, which the readers number skipping blank lines."""


def editor_lines(path: str | Path, rows: np.ndarray | list[int], header: bool, format: str) -> np.ndarray:
    """The line an editor shows for each record number in `rows` (1-based, as ROW_COLUMN and
    the quarantine count records): the header is line 1, and blank lines, which the readers
    skip, count. A Parquet record's number is returned as it is. (A quoted field spanning
    lines is not followed: the lines after it are off by its extra lines.)"""
    rows = np.asarray(rows, dtype=np.int64)
    offset = 1 if header and format in HEADED_FORMATS else 0
    if format not in _LINE_FORMATS or not len(rows):
        return rows + offset
    data = _open_bytes(Path(path))
    if b"\n\n" not in data and b"\n\r\n" not in data and not data.startswith((b"\n", b"\r\n")):
        return rows + offset  # no blank line: the common case, without a scan
    raw = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(raw == 10)
    starts = np.concatenate(([0], ends + 1))
    lengths = np.concatenate((ends, [len(data)])) - starts
    carriage = raw[np.minimum(starts, len(data) - 1)] == 13
    filled = np.flatnonzero((lengths > 1) | ((lengths == 1) & ~carriage))  # 0-based indices
    index = rows - 1 + offset
    known = (index >= 0) & (index < len(filled))
    found = rows + offset
    found[known] = filled[index[known]] + 1
    return found


def _names_utf8(encoding: str) -> bool:
    return encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig")


def _first_line(data: bytes) -> str:
    end = data.find(b"\n")
    line = data[: end if end >= 0 else min(len(data), 65536)]
    return line.decode("utf-8", errors="replace").rstrip("\r")


def detect_format(path: Path, data: bytes | None = None) -> str:
    """The format of `path` from its name, or from its first line when the name does not say."""
    name = _strip_gz(path)
    suffix = Path(name).suffix
    if suffix in _SUFFIX_FORMATS:
        return _SUFFIX_FORMATS[suffix]
    if data is None:
        data = _open_bytes(path)
    if data[:4] == b"PAR1":
        return "parquet"
    head = _first_line(data)
    if head.lstrip().startswith("{"):
        return "jsonl"
    fields = head.split("\t")
    if len(fields) > 1 and all(_RECBOLE_HEADER.match(f) for f in fields):
        return "recbole"
    if "\t" in head:
        return "tsv"
    if "," in head or ";" in head or "|" in head:
        return "csv"
    return "whitespace"


def sniff_delimiter(header: str) -> str:
    """The most frequent of `,` `;` `|` and tab in the header line (comma on a tie)."""
    counts = {d: header.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _is_utf8(data: bytes) -> bool:
    """Whether `data` is valid UTF-8, checked by Arrow without building a str (0.4 s per GB against 0.7-0.9)."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64).tobytes())
    whole = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        whole.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def _find_bad_utf8(data: bytes, header: bool) -> list[tuple[int, int, bytes]]:
    """(row, byte offset in line, bad bytes) for each line that is not valid UTF-8."""
    found = []
    row = 0
    for index, line in enumerate(data.split(b"\n")):
        if index == 0 and header:
            pass
        elif line.strip():
            row += 1
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            found.append((row, exc.start, line[exc.start : exc.start + 4]))
    return found


def _drop_bad_utf8_lines(
    data: bytes, path: Path, header: bool, encoding_hint: str
) -> tuple[bytes, list[Malformed]]:
    """Remove lines with invalid UTF-8 and report them as malformed rows (the header must be valid)."""
    bad = _find_bad_utf8(data, header)
    if header and bad and bad[0][0] == 0:
        raise InputError(
            f"{path}: the header line is not valid UTF-8 (bytes {bad[0][2]!r}). {encoding_hint} Nothing was loaded."
        )
    bad_rows = {row for row, _, _ in bad}
    kept, malformed, row = [], [], 0
    for index, line in enumerate(data.split(b"\n")):
        if index == 0 and header:
            kept.append(line)
            continue
        if line.strip():
            row += 1
        if row in bad_rows and line.strip():
            try:
                line.decode("utf-8")
                kept.append(line)
            except UnicodeDecodeError as exc:
                malformed.append(
                    Malformed(
                        row,
                        f"bytes {line[exc.start : exc.start + 4]!r} at position {exc.start} are not valid UTF-8. {encoding_hint}",
                        line.decode("utf-8", errors="replace")[:200],
                    )
                )
                kept.append(b"")  # keep line count; blank lines are skipped by the parser
            continue
        kept.append(line)
    return b"\n".join(kept), malformed


def _with_rows(table: pa.Table, malformed: list[Malformed]) -> pa.Table:
    """Attach ROW_COLUMN: record ordinals with the malformed records' numbers left out."""
    total = table.num_rows + len(malformed)
    if malformed:
        skip = np.array(sorted(m.row for m in malformed), dtype=np.int64)
        rows = np.setdiff1d(np.arange(1, total + 1, dtype=np.int64), skip)
    else:
        rows = np.arange(1, total + 1, dtype=np.int64)
    return table.append_column(ROW_COLUMN, pa.array(rows))


def _read_delimited(
    data: bytes, path: Path, delimiter: str, header: bool, encoding: str, names: list[str] | None
) -> ReadResult:
    hint = "Pass `encoding` latin-1 (or the file's real encoding), or re-save the file as UTF-8."
    if _names_utf8(encoding):
        malformed_utf8: list[Malformed] = []
        if not _is_utf8(data):
            data, malformed_utf8 = _drop_bad_utf8_lines(data, path, header, hint)
    else:
        try:
            data = data.decode(encoding).encode("utf-8")
        except (LookupError, UnicodeDecodeError) as exc:
            raise InputError(
                f"{path} cannot be decoded as {encoding!r}: {exc}. Check the encoding.", parameter="encoding"
            ) from exc
        malformed_utf8 = []

    header_line = _first_line(data)
    if header:
        column_names = [c.strip() for c in next(csv.reader([header_line], delimiter=delimiter))]
    else:
        width = len(next(csv.reader([header_line], delimiter=delimiter)))
        column_names = names[:width] if names else [str(i) for i in range(width)]
        if names and len(names) != width:
            raise InputError(
                f"{path} has {width} columns per line, but {len(names)} column names were expected ({', '.join(names)})."
            )
    if len(set(column_names)) != len(column_names):
        dupes = sorted({c for c in column_names if column_names.count(c) > 1})
        raise InputError(
            f"{path}: the header repeats column names {dupes}; rename them so each column is unique."
        )
    malformed: list[Malformed] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        number = (row.number or 0) - (1 if header else 0)
        malformed.append(
            Malformed(
                number,
                f"has {row.actual_columns} fields where the header has {row.expected_columns}; "
                "check the delimiter and quoting of this line",
                (row.text or "")[:200],
            )
        )
        return "skip"

    def parse(use_threads: bool, block_size: int) -> pa.Table:
        return pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(
                use_threads=use_threads,
                block_size=block_size,
                column_names=column_names,
                skip_rows=1 if header else 0,
            ),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in column_names}, strings_can_be_null=False
            ),
        )

    table = None
    for block_size in _BLOCK_SIZES:
        malformed.clear()
        try:
            table = parse(True, block_size)
            break
        except pa.ArrowInvalid as exc:
            if "straddl" in str(exc) or "block" in str(exc):
                continue
            if "Empty CSV" in str(exc):
                table = pa.table({c: pa.array([], pa.string()) for c in column_names})
                break
            raise InputError(f"{path} cannot be parsed as delimited text ({exc}).") from exc
    if table is None:
        raise InputError(
            f"{path} has a record longer than {_BLOCK_SIZES[-1] >> 20} MiB; split the file or fix its line breaks."
        )
    if malformed:  # exact record numbers need a single-threaded pass
        malformed.clear()
        table = parse(False, block_size)
    malformed += malformed_utf8
    malformed.sort(key=lambda m: m.row)
    return ReadResult(_with_rows(table, malformed), "csv", malformed)


def _read_lines(data: bytes, path: Path, header: bool, encoding: str, names: list[str] | None) -> ReadResult:
    """Whitespace-separated text: any run of spaces or tabs separates fields."""
    try:
        text = data.decode(encoding)
    except (LookupError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path} cannot be decoded as {encoding!r}: {exc}. Give the file's encoding.",
            parameter="encoding",
        ) from exc
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines:
        return ReadResult(_with_rows(pa.table({}), []), "whitespace")
    column_names = (
        lines.pop(0) if header else (list(names) if names else [str(i) for i in range(len(lines[0]))])
    )
    width = len(column_names)
    columns: list[list[str]] = [[] for _ in range(width)]
    malformed = []
    for row, fields in enumerate(lines, start=1):
        if len(fields) != width:
            malformed.append(
                Malformed(
                    row, f"has {len(fields)} fields where {width} were expected", " ".join(fields)[:200]
                )
            )
            continue
        for col, value in zip(columns, fields, strict=True):
            col.append(value)
    table = pa.table(
        {name: pa.array(col, pa.string()) for name, col in zip(column_names, columns, strict=True)}
    )
    return ReadResult(_with_rows(table, malformed), "whitespace", malformed)


def holds_non_finite(value: object) -> bool:
    """Whether a parsed JSON value holds NaN or an infinity anywhere (orjson would write null)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(map(holds_non_finite, value.values()))
    if isinstance(value, list):
        return any(map(holds_non_finite, value))
    return False


def _json_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        text = orjson.dumps(value).decode()
        if "null" in text and holds_non_finite(value):
            # Keep NaN and Infinity visible (as non-JSON literals) so validation refuses them.
            return json.dumps(value, allow_nan=True)
        return text
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def records_to_table(records: list[dict[str, object]]) -> pa.Table:
    """Dicts (parsed JSON objects) to a string table: nested values become JSON text."""
    names: dict[str, None] = {}
    for record in records:
        for key in record:
            names.setdefault(key, None)
    if not names:  # objects without fields: still one row each, for the row numbers
        return pa.Table.from_struct_array(pa.array([{}] * len(records), pa.struct([])))
    table = pa.table(
        {name: pa.array([_json_text(r.get(name)) for r in records], pa.string()) for name in names}
    )
    nested = [[k for k, v in r.items() if isinstance(v, dict | list)] or None for r in records]
    if any(nested):
        table = table.append_column(NESTED_COLUMN, pa.array(nested, pa.list_(pa.string())))
    return table


def _read_jsonl(data: bytes, path: Path, encoding: str) -> ReadResult:
    records: list[dict[str, object]] = []
    malformed = []
    row = 0
    for raw_line in data.split(b"\n"):
        if not raw_line.strip():
            continue
        row += 1
        try:
            line = raw_line if encoding.lower() in ("utf-8", "utf8") else raw_line.decode(encoding).encode()
            value = orjson.loads(line)
        except (orjson.JSONDecodeError, UnicodeDecodeError, LookupError) as exc:
            malformed.append(
                Malformed(row, f"is not valid JSON ({exc})", raw_line[:200].decode("utf-8", "replace"))
            )
            continue
        if not isinstance(value, dict):
            malformed.append(
                Malformed(
                    row,
                    "is not a JSON object ({...}); write one object per line",
                    raw_line[:200].decode("utf-8", "replace"),
                )
            )
            continue
        records.append(value)
    return ReadResult(_with_rows(records_to_table(records), malformed), "jsonl", malformed)


def read_input(
    path: str | Path,
    *,
    format: str = "auto",
    header: bool = True,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    names: list[str] | None = None,
) -> ReadResult:
    """Read a file into a ReadResult (table with ROW_COLUMN, and the malformed records).

    Raises InputError for a missing, empty, truncated or undecodable file.
    """
    path = Path(path)
    if format not in FORMATS:
        raise InputError(f"{format!r} is not known; use one of {', '.join(FORMATS)}.", parameter="format")
    require_file(path)
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes); there is nothing to load.")
    if format == "ga4":
        from cartwise.ingest.ga4 import read_ga4  # it imports this module

        with path.open("rb") as head:
            parquet = head.read(4) == b"PAR1"
        return read_ga4(path, None if parquet else _open_bytes(path))
    if format == "shopify":
        from cartwise.ingest.shopify import read_shopify

        return read_shopify(path, _open_bytes(path), encoding)
    if format == "parquet" or (format == "auto" and _strip_gz(path).endswith((".parquet", ".pq"))):
        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"{path} is not a readable Parquet file ({exc}).") from exc
        return ReadResult(_with_rows(table, []), "parquet")
    data = _open_bytes(path)
    if data.startswith(codecs.BOM_UTF8) and _names_utf8(encoding):
        # Spreadsheets write one; left in, it would hide the first column's name. (A copy, so
        # only for files that have it.)
        data = data[len(codecs.BOM_UTF8) :]
    if not data or data.isspace():  # not strip(): that copies the whole file
        raise InputError(f"{path} holds no data (only blank lines); there is nothing to load.")
    if format == "auto":
        format = detect_format(path, data)
    if format == "parquet":
        return ReadResult(_with_rows(pq.read_table(io.BytesIO(data)), []), "parquet")
    if format == "jsonl":
        return _read_jsonl(data, path, encoding)
    if format == "cdnow":
        result = _read_lines(data, path, header=False, encoding=encoding, names=_cdnow_columns(data, path))
        result.format = "cdnow"
        return result
    if format == "whitespace":
        return _read_lines(data, path, header, encoding, names)
    if format == "recbole":
        result = _read_delimited(data, path, "\t", header, encoding, names)
        renamed = [c.split(":", 1)[0] if c != ROW_COLUMN else c for c in result.table.column_names]
        result.table = result.table.rename_columns(renamed)
        result.format = "recbole"
        return result
    if delimiter is None:
        delimiter = "\t" if format == "tsv" else sniff_delimiter(_first_line(data))
    result = _read_delimited(data, path, delimiter, header, encoding, names)
    result.format = format
    return result


def _cdnow_columns(data: bytes, path: Path) -> list[str]:
    """The CDNOW form of `data`, from the fields on its first non-blank line (4 or 5)."""
    first = next((line for line in data[:65536].splitlines() if line.strip()), b"")
    width = len(first.split())
    if width == len(CDNOW_COLUMNS):
        return list(CDNOW_COLUMNS)
    if width == len(CDNOW_MASTER_COLUMNS):
        return list(CDNOW_MASTER_COLUMNS)
    raise InputError(
        f"{path} is not a CDNOW log: its first line has {width} fields "
        f"({first.decode('utf-8', errors='replace')[:80]!r}). The cdnow format reads the 4-column master form "
        "(customer, date, CDs, dollars) or the 5-column sample form (customer, index, date, CDs, dollars), "
        "separated by spaces; for another layout use `format` whitespace with `no_header` and map columns "
        "by number.",
        parameter="format",
        mentions=("format", "no_header"),
    )


def is_plain_parquet(path: Path, format: str) -> bool:
    """Whether `path` is a Parquet file (by `format`, or by name when it is "auto") that is not gzipped."""
    if path.name.endswith(".gz"):
        return False
    return format == "parquet" or (format == "auto" and path.name.endswith((".parquet", ".pq")))


def parquet_layout(path: Path) -> tuple[pa.Schema, int]:
    """The Arrow schema and row count of a Parquet file, from its footer alone.

    Raises InputError when the file is missing, empty or has no readable footer.
    """
    require_file(path)
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes); there is nothing to load.")
    try:
        metadata = pq.read_metadata(path)
        return metadata.schema.to_arrow_schema(), metadata.num_rows
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path} is not a readable Parquet file ({exc}).") from exc


def read_file(
    path: str | Path,
    *,
    format: str = "auto",
    header: bool = True,
    delimiter: str | None = None,
    encoding: str = "utf-8",
) -> pa.Table:
    """Read a data file into an Arrow table (string columns for text formats).

    Formats: CSV, TSV, whitespace-separated logs, Parquet, JSONL, RecBole atomic files
    (`name:type` headers become `name`), CDNOW logs, each optionally gzipped. Without a
    header, columns are named "0", "1", .... Raises InputError when any record is malformed,
    naming the first ones; use `cartwise ingest` to quarantine such records instead.
    """
    result = read_input(path, format=format, header=header, delimiter=delimiter, encoding=encoding)
    if result.malformed:
        shown = "; ".join(f"row {m.row} {m.reason}" for m in result.malformed[:3])
        raise InputError(f"{path}: {len(result.malformed)} malformed record(s): {shown}.")
    return result.table.drop_columns([c for c in HIDDEN_COLUMNS if c in result.table.column_names])
