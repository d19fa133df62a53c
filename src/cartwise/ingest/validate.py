"""Row validation, written once as SQL so file ingestion and the collector share every rule.

`staging_sql` turns a registered input relation into canonical typed columns plus
`_row` (the input row number) and `_problem` (NULL for a valid row, else the 1-based index of
the first rule it breaks in `Check` order). Rules, in order, for each mapped column:
- a value longer than 1 MiB is rejected (usually a missing line break or an unescaped quote);
- a value that does not parse as the column's kind is rejected (numbers, whole numbers,
  booleans true/false/1/0/yes/no, JSON objects, timestamps);
- a required column may not be empty;
- money and price columns marked non-negative may not be negative; event quantity and revenue
  may be negative only for `refund` and `remove_from_cart`;
- a user's e-mail must contain one `@` with text on both sides;
- ids and text may not hold a NUL character; JSON objects may not hold NaN or Infinity;
- a timestamp must lie inside the `TimeWindow`: not before its earliest date, not more than
  its allowance ahead of the clock, and before year 10000 whatever the allowance.
Timestamps in the future (more than 5 minutes ahead) are loaded but flagged in `_future`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.types as pat

from cartwise.core.settings import Settings
from cartwise.ingest.readers import HIDDEN_COLUMNS, NESTED_COLUMN
from cartwise.schema import Column, Table
from cartwise.schema.tables import NEGATIVE_ALLOWED_TYPES

MAX_VALUE_BYTES = 1 << 20
FUTURE_TOLERANCE = "INTERVAL 5 MINUTES"
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_YEAR_10000 = "TIMESTAMP '10000-01-01'"
# NaN or Infinity (DuckDB's JSON reader also takes nan, inf) outside every string of a JSON text.
_NON_FINITE_JSON = r'^(?:[^"]|"(?:[^"\\]|\\.)*")*?(?i:nan|inf)'


@dataclass(frozen=True)
class TimeWindow:
    """The times a load accepts: from `earliest` (UTC) to `max_ahead_seconds` past the clock.

    `ahead_setting` names the setting that allows the look-ahead, for the rejection message.
    Times from year 10000 on are refused whatever the window (Python and the analytics
    views cannot hold them).
    """

    earliest: date = date(1990, 1, 1)
    max_ahead_seconds: float = 366 * 86_400.0
    ahead_setting: str = "load_max_ahead_days"

    @classmethod
    def for_loads(cls, settings: Settings) -> TimeWindow:
        return cls(settings.ts_earliest, settings.load_max_ahead_days * 86_400.0, "load_max_ahead_days")

    @classmethod
    def for_collector(cls, settings: Settings) -> TimeWindow:
        return cls(
            settings.ts_earliest, settings.collect_max_ahead_hours * 3_600.0, "collect_max_ahead_hours"
        )

    def latest(self, now: datetime) -> datetime:
        """The latest time accepted at `now` (naive UTC), capped just before year 10000."""
        try:
            return now + timedelta(seconds=self.max_ahead_seconds)
        except OverflowError:
            return datetime.max

    @classmethod
    def for_replay(cls) -> TimeWindow:
        """Anything before year 10000: events the collector already acknowledged are kept."""
        return cls(date(1, 1, 1), float("inf"), "collect_max_ahead_hours")

    def ahead_text(self) -> str:
        seconds = self.max_ahead_seconds
        if seconds % 86_400 == 0 and seconds >= 2 * 86_400:
            return f"{seconds / 86_400:g} days"
        return f"{seconds / 3_600:g} hours"


COLLECTOR_WINDOW = TimeWindow(max_ahead_seconds=86_400.0, ahead_setting="collect_max_ahead_hours")
"""The collector's default window (the settings' defaults): from 1990 to a day ahead."""


def q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    """Quote an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Check:
    column: str
    stage: str  # "raw": over the input relation `s`; "typed": over canonical columns `t`
    condition: str  # SQL, true when the row breaks the rule
    message: str  # SQL expression giving the reason text
    raw: str  # SQL expression giving the offending input value


@dataclass
class Staging:
    sql: str
    checks: list[Check]


def timestamp_mode(values: list[str], ts_format: str | None) -> tuple[str, str | None]:
    """How a text timestamp column is written: ("format", fmt), ("epoch_s"|"epoch_ms", None) or ("iso", None).

    Decided from a sample of non-empty values: all 8-digit 19xx/20xx numbers are YYYYMMDD
    dates; other all-numeric columns are epoch seconds, or milliseconds when the median
    magnitude exceeds 1e11 (a date after 5138 in seconds).
    """
    if ts_format:
        return "format", ts_format
    sample = [v.strip() for v in values if v and v.strip()]
    if not sample:
        return "iso", None
    if all(re.fullmatch(r"(19|20)\d{6}", v) for v in sample):
        return "format", "%Y%m%d"
    if all(re.fullmatch(r"-?\d+(\.\d+)?", v) for v in sample):
        magnitudes = sorted(abs(float(v)) for v in sample)
        return ("epoch_ms" if magnitudes[len(magnitudes) // 2] > 1e11 else "epoch_s"), None
    return "iso", None


def _raw_text(src: str) -> str:
    """The value as text without surrounding spaces; empty text is NULL.

    trim() copies every string it gets (about 0.4 s of the 1.9 s that validating a 2M-row CSV
    slice took), so only values it could change go through it: it removes Unicode space
    separators, and in ASCII text (byte length = character length) the only one is the space.
    """
    text = f"CAST({src} AS VARCHAR)"
    untouched = f"strlen({text}) = length({text}) AND NOT ({text} LIKE ' %' OR {text} LIKE '% ')"
    return f"NULLIF(CASE WHEN {untouched} THEN {text} ELSE trim({text}) END, '')"


def _typed(
    column: Column,
    src: str,
    raw: str,
    value_ref: str,
    arrow_type: pa.DataType,
    ts_mode: tuple[str, str | None],
) -> tuple[str, str | None, str]:
    """(value expression, parse-failure condition or None, failure message) for one mapped column.

    `raw` names the input value as trimmed text (`_raw_text`) and `value_ref` the value
    expression's result: the staging query computes each once, a level below its users.
    """
    kind = column.kind
    if kind in ("id", "string"):
        if pat.is_floating(arrow_type):  # ids stored as floats in Parquet: 42.0 -> "42"
            return f"CAST(CAST({src} AS BIGINT) AS VARCHAR)", None, ""
        return raw, f"contains({raw}, chr(0))", "'contains a NUL character (\\u0000); remove it'"
    if kind == "integer":
        if pat.is_integer(arrow_type):
            return f"CAST({src} AS BIGINT)", None, ""
        as_double = f"TRY_CAST({raw} AS DOUBLE)"
        # DuckDB's text-to-BIGINT cast rounds ('1.5' gives 2): only whole values may pass.
        value = f"CASE WHEN {as_double} = round({as_double}) THEN COALESCE(TRY_CAST({raw} AS BIGINT), TRY_CAST({as_double} AS BIGINT)) END"
        return value, f"{raw} IS NOT NULL AND {value_ref} IS NULL", "'is not a whole number'"
    if kind == "float":
        if pat.is_integer(arrow_type) or pat.is_floating(arrow_type) or pat.is_decimal(arrow_type):
            return (
                f"CAST({src} AS DOUBLE)",
                f"{value_ref} IS NOT NULL AND NOT isfinite({value_ref})",
                "'is not a finite number'",
            )
        return (
            f"TRY_CAST({raw} AS DOUBLE)",
            f"{raw} IS NOT NULL AND ({value_ref} IS NULL OR NOT isfinite({value_ref}))",
            "'is not a number'",
        )
    if kind == "boolean":
        if pat.is_boolean(arrow_type):
            return src, None, ""
        low = f"lower({raw})"
        value = (
            f"CASE WHEN {low} IN ({', '.join(map(lit, _TRUE))}) THEN true "
            f"WHEN {low} IN ({', '.join(map(lit, _FALSE))}) THEN false END"
        )
        return (
            value,
            f"{raw} IS NOT NULL AND {value_ref} IS NULL",
            "'is not a boolean (use true/false, 1/0 or yes/no)'",
        )
    if kind == "json":
        if pat.is_struct(arrow_type) or pat.is_map(arrow_type):
            return f"CAST(to_json({src}) AS VARCHAR)", None, ""
        condition = (
            f"{raw} IS NOT NULL AND (NOT json_valid({raw}) OR json_type(CAST({raw} AS JSON)) <> 'OBJECT' "
            f"OR (regexp_matches({raw}, '(?i)nan|inf') AND regexp_matches({raw}, {lit(_NON_FINITE_JSON)})))"
        )
        return (
            raw,
            condition,
            '\'is not a JSON object such as {"key": "value"} (NaN and Infinity are not JSON)\'',
        )
    if kind == "timestamp":
        return _timestamp(src, raw, value_ref, arrow_type, ts_mode)
    raise AssertionError(kind)


def _timestamp(
    src: str, raw: str, value_ref: str, arrow_type: pa.DataType, ts_mode: tuple[str, str | None]
) -> tuple[str, str | None, str]:
    # Naive inputs are read in the session time zone, which the loader sets to the chosen one.
    to_utc = "timezone('UTC', CAST({} AS TIMESTAMPTZ))"
    if pat.is_timestamp(arrow_type) or pat.is_date(arrow_type):
        return to_utc.format(src), None, ""
    if pat.is_integer(arrow_type) or pat.is_floating(arrow_type):
        value = _from_epoch(f"CAST({src} AS DOUBLE)", ts_mode[0])
        return value, f"{src} IS NOT NULL AND {value_ref} IS NULL", lit(_EPOCH_HINT)
    mode, fmt = ts_mode
    if mode == "format":
        value = to_utc.format(f"try_strptime({raw}, {lit(fmt or '')})")
        hint = f"does not match the timestamp format (ts_format) {fmt}"
    elif mode in ("epoch_s", "epoch_ms"):
        value = _from_epoch(f"TRY_CAST({raw} AS DOUBLE)", mode)
        hint = _EPOCH_HINT
    else:
        value = to_utc.format(f"TRY_CAST({raw} AS TIMESTAMPTZ)")
        hint = (
            # Said the same on every surface: the API has no format parameter, a file load does.
            "is not a timestamp (use ISO 8601 like 2024-03-01T12:30:00Z or epoch seconds; "
            "a file in another format loads with its strftime format, ts_format)"
        )
    return value, f"{raw} IS NOT NULL AND {value_ref} IS NULL", lit(hint)


_EPOCH_HINT = "is not an epoch time like the rest of the column, in years 1 to 9999"
_EPOCH_SECONDS = (-62_135_596_800, 253_402_300_800)  # 0001-01-01 and 10000-01-01


def _from_epoch(number: str, mode: str) -> str:
    """UTC time of an epoch number in seconds or (`epoch_ms`) milliseconds; NULL outside years
    1 to 9999 (beyond DuckDB's range the conversion would stop the statement), NaN included."""
    seconds = f"({number} / {'1000.0' if mode == 'epoch_ms' else '1.0'})"
    low, high = _EPOCH_SECONDS
    return f"CASE WHEN {seconds} >= {low} AND {seconds} < {high} THEN timezone('UTC', to_timestamp({seconds})) END"


def _free_prefix(types: dict[str, pa.DataType]) -> str:
    """A column name prefix no input column starts with, for the staging query's own columns."""
    prefix = "_cw_"
    while any(name.startswith(prefix) for name in types):
        prefix += "_"
    return prefix


def _length_check(name: str, src: str) -> Check:
    return Check(
        name,
        "raw",
        f"strlen({src}) > {MAX_VALUE_BYTES}",
        f"'is ' || strlen({src}) || ' bytes long (limit {MAX_VALUE_BYTES} bytes); "
        "a missing line break or an unescaped quote usually causes this'",
        f"left(CAST({src} AS VARCHAR), 60) || '...'",
    )


def staging_sql(
    table: Table,
    relation: str,
    mapping: dict[str, str],
    types: dict[str, pa.DataType],
    ts_modes: dict[str, tuple[str, str | None]],
    derive_ids: bool,
    window: TimeWindow | None = None,
) -> Staging:
    """SQL selecting `_row`, canonical typed columns, `_problem` and `_future` from `relation`.

    `mapping` is canonical -> input column; `types` gives input column Arrow types; input
    columns not in the mapping (other than `_row`) go to the table's JSON column. Checks
    are numbered from 1 in `Staging.checks` order; `_problem` is the first one a row breaks.
    """
    checks: list[Check] = []
    selects: list[str] = []
    # Each input value's trimmed text and parsed value are computed once, in two query levels
    # below the checks and columns that use them. Inline, DuckDB evaluated them again in every
    # check (it shares no repeated expression inside CASE branches): staging a 2M-row CSV
    # slice took 1.3-2.1 s, and 1.0-1.2 s computed once.
    prefix = _free_prefix(types)
    texts: list[str] = []
    values: list[str] = []

    def parse(column: Column, source: str, ts_mode: tuple[str, str | None]) -> tuple[str, str | None, str]:
        """(reference to the parsed value, failure condition or None, message) of a mapped column."""
        src = "s." + q(source)
        text_name, value_name = q(f"{prefix}text{len(texts)}"), q(f"{prefix}value{len(texts)}")
        value, failure, message = _typed(
            column, src, "s." + text_name, "s." + value_name, types[source], ts_mode
        )
        texts.append(f"{_raw_text(src)} AS {text_name}")
        values.append(f"{value} AS {value_name}")
        return "s." + value_name, failure, message

    extras = [c for c in types if c not in mapping.values() and c not in HIDDEN_COLUMNS]
    for column in table.columns:
        source = mapping.get(column.name)
        if column.name == table.extras_column and extras:
            continue  # built below from the mapped column and the leftovers
        if source is None:
            selects.append(f"CAST(NULL AS {column.duckdb_type}) AS {q(column.name)}")
            continue
        src = "s." + q(source)
        if NESTED_COLUMN in types and column.kind != "json":
            checks.append(
                Check(
                    column.name,
                    "raw",
                    f"list_contains(s.{q(NESTED_COLUMN)}, {lit(source)})",
                    "'is a JSON object or array; send a single value (text or a number)'",
                    f"CAST({src} AS VARCHAR)",
                )
            )
        value, failure, message = parse(column, source, ts_modes.get(column.name, ("iso", None)))
        if pat.is_string(types[source]) or pat.is_large_string(types[source]):
            checks.append(_length_check(column.name, src))
        if failure:
            checks.append(Check(column.name, "raw", failure, message, f"CAST({src} AS VARCHAR)"))
        if column.name == "type":
            value = f"replace(replace(lower({value}), ' ', '_'), '-', '_')"
        selects.append(f"{value} AS {q(column.name)}")
    for extra in extras:
        if pat.is_string(types[extra]) or pat.is_large_string(types[extra]):
            src = "s." + q(extra)
            checks.append(_length_check(extra, src))
    if table.extras_column and extras:
        column = table.column(table.extras_column)
        own_value = "NULL"
        own_source = mapping.get(column.name)
        if own_source is not None:
            src = "s." + q(own_source)
            own_value, failure, message = parse(column, own_source, ("iso", None))
            if failure:
                checks.append(Check(column.name, "raw", failure, message, f"CAST({src} AS VARCHAR)"))
        pairs = ", ".join(f"{lit(c)}, s.{q(c)}" for c in extras)
        # TRY_CAST: a row whose own value is not JSON is refused by its check, and must not
        # stop the statement before that.
        merged = (
            f"json_merge_patch(json_merge_patch('{{}}', json_object({pairs})), "
            f"COALESCE(TRY_CAST({own_value} AS JSON), '{{}}'))"
        )
        selects.append(f"CAST(NULLIF(CAST({merged} AS VARCHAR), '{{}}') AS JSON) AS {q(column.name)}")

    def typed_check(name: str, condition: str, message: str, raw: str) -> None:
        checks.append(Check(name, "typed", condition, message, raw))

    window = window or TimeWindow()
    for column in table.columns:
        t = "t." + q(column.name)
        if column.required and not (column.name == "event_id" and derive_ids):
            typed_check(column.name, f"{t} IS NULL", "'is required but empty'", "''")
        if column.kind == "timestamp" and column.name in mapping:
            _window_checks(column.name, t, window, typed_check)
        if column.non_negative and column.name in mapping:
            typed_check(
                column.name, f"{t} < 0", "'is negative; it must be zero or more'", f"CAST({t} AS VARCHAR)"
            )
    if table.name == "events":
        allowed = ", ".join(map(lit, NEGATIVE_ALLOWED_TYPES))
        for name in ("quantity", "revenue"):
            if name in mapping:
                typed_check(
                    name,
                    f"t.{q(name)} < 0 AND t.type NOT IN ({allowed})",
                    "'is negative in a ' || t.type || ' event; only refund and remove_from_cart events "
                    "may be negative: fix the sign or the event type'",
                    f"CAST(t.{q(name)} AS VARCHAR)",
                )
    if table.name == "transactions" and "amount" not in mapping:
        typed_check(
            "amount",
            "t.price IS NULL",
            "'needs an amount, or a price and quantity; map one with `map` amount=<column>'",
            "''",
        )
    if table.name == "users" and "email" in mapping:
        typed_check(
            "email",
            "t.email IS NOT NULL AND NOT regexp_matches(t.email, '^[^@\\s]+@[^@\\s]+$')",
            "'is not an e-mail address (expected name@domain)'",
            "t.email",
        )

    def case(stage: str) -> str:
        whens = " ".join(
            f"WHEN {c.condition} THEN {i}" for i, c in enumerate(checks, start=1) if c.stage == stage
        )
        return f"CASE {whens} END" if whens else "CAST(NULL AS INTEGER)"

    parsed = relation
    if texts:
        with_texts = f"(SELECT s.*, {', '.join(texts)} FROM {relation} AS s)"
        parsed = f"(SELECT s.*, {', '.join(values)} FROM {with_texts} AS s)"
    inner = f"SELECT s._row, {case('raw')} AS _raw_problem, {', '.join(selects)} FROM {parsed} AS s"
    columns = ", ".join("t." + q(c) for c in table.column_names)
    future = f"t.ts > timezone('UTC', now()) + {FUTURE_TOLERANCE}" if "ts" in table.column_names else "false"
    sql = (
        f"SELECT t._row, {columns}, COALESCE(t._raw_problem, {case('typed')}) AS _problem, "
        f"COALESCE({future}, false) AS _future FROM ({inner}) AS t"
    )
    return Staging(sql, checks)


def _window_checks(name: str, t: str, window: TimeWindow, typed_check: Any) -> None:
    """Refuse times outside `window`: in year 10000 or later, before its start, too far ahead."""
    shown = f"CAST({t} AS VARCHAR)"
    typed_check(
        name,
        f"{t} >= {_YEAR_10000}",
        "'is in year 10000 or later; times must lie before year 10000 (check the unit of epoch times)'",
        shown,
    )
    earliest = window.earliest.isoformat()
    if window.earliest > date(1, 1, 1):
        typed_check(
            name,
            f"{t} < TIMESTAMP {lit(earliest)}",
            lit(
                f"is before {earliest}, the earliest time accepted (setting `ts_earliest`); check the unit "
                "of epoch times, or a missing time written as 0"
            ),
            shown,
        )
    if math.isfinite(window.max_ahead_seconds):  # infinite: year 10000 is the bound
        ahead = (
            f"timezone('UTC', now()) + to_microseconds(CAST({int(window.max_ahead_seconds * 1e6)} AS BIGINT))"
        )
        typed_check(
            name,
            f"{t} > {ahead}",
            lit(
                f"is more than {window.ahead_text()} ahead of the server's clock (setting "
                f"`{window.ahead_setting}`); check the sender's clock and time zone"
            ),
            shown,
        )


def quarantine_sql(staging: Staging, relation: str, staged: str) -> str:
    """SQL giving `_row, column, value, reason, record` for each rejected row of `staged`.

    Joins the staged rows (alias `t`) back to the input relation (alias `s`) so messages can
    quote the input value and the whole record.
    """

    def case(field: str) -> str:
        whens = " ".join(f"WHEN {i} THEN {getattr(c, field)}" for i, c in enumerate(staging.checks, start=1))
        return f"CASE t._problem {whens} END" if whens else "NULL"

    columns = " ".join(f"WHEN {i} THEN {lit(c.column)}" for i, c in enumerate(staging.checks, start=1))
    column_case = f"CASE t._problem {columns} END" if columns else "NULL"
    drop_row = '\'{"_row": null, "' + NESTED_COLUMN + "\": null}'"
    return (
        f'SELECT t._row AS _row, {column_case} AS "column", CAST({case("raw")} AS VARCHAR) AS "value", '
        f"{case('message')} AS reason, CAST(json_merge_patch(to_json(s), {drop_row}) AS VARCHAR) AS record "
        f"FROM {staged} AS t JOIN {relation} AS s ON s._row = t._row WHERE t._problem IS NOT NULL ORDER BY t._row"
    )
