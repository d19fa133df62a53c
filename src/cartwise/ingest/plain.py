"""Plain event batches validated in Python, without a DuckDB query.

The collector validates small batches many times a second, and DuckDB spends about 7 ms
binding and optimising the validation query whatever the batch size. Most batches are
plain: canonical field names, ids present, ISO 8601 times, numbers as numbers, nothing a
rule refuses. For those `prepare_plain` builds the canonical rows directly; it returns None
for anything else (any record outside that subset, or any record a rule would refuse), and
the caller runs the SQL rules in `validate`, which stay the one definition of validity.
`tests/ingest/test_plain.py` checks that both give the same table on generated batches.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa

from cartwise.schema import EVENTS
from cartwise.schema.tables import NEGATIVE_ALLOWED_TYPES

_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(Z|[+-](?:0\d|1[0-4])(?::?[0-5]\d)?)?"
)
_TYPE = re.compile(r"[A-Za-z0-9_ -]+")
_KINDS: dict[str, str] = {}  # type as sent -> as stored; a shop has a handful of types
_OFFSETS: dict[str, timedelta] = {}  # zone suffix as sent -> offset from UTC; a shop sends a few
_MAX_CHARS = 1 << 18  # 4 bytes per character at most: within the 1 MiB limit on a value
_INT64 = (-(1 << 63), 1 << 63)
_FIELDS = frozenset(EVENTS.column_names)
SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("ts", pa.timestamp("us")),
        ("user_id", pa.string()),
        ("session_id", pa.string()),
        ("type", pa.string()),
        ("item_id", pa.string()),
        ("quantity", pa.int64()),
        ("price", pa.float64()),
        ("order_id", pa.string()),
        ("revenue", pa.float64()),
        ("properties", pa.string()),
    ]
)
assert SCHEMA.names == list(EVENTS.column_names), "plain batches must follow the events table"


class _NotPlain(Exception):
    """The record needs the full SQL rules (an unusual form, or a value they refuse)."""


def _text(value: Any, required: bool = False) -> str | None:
    if type(value) is str and value and len(value) <= _MAX_CHARS and value == value.strip():
        return value
    if value is None or value == "":
        if required:
            raise _NotPlain
        return None
    if type(value) is not int:  # bool, float, list, dict, or text with surrounding spaces
        raise _NotPlain
    return str(value)


def _number(value: Any, whole: bool) -> float | int | None:
    kind = type(value)
    if value is None:
        return None
    if kind is int and _INT64[0] <= value < _INT64[1]:
        return value if whole else float(value)
    if kind is float and not whole and math.isfinite(value):
        return value
    raise _NotPlain  # bool, text, a float where a whole number is due, or out of range


def _timestamp(value: Any) -> datetime:
    match = _ISO.fullmatch(value) if type(value) is str else None
    if match is None:
        raise _NotPlain
    zone = match.group(1)
    try:  # the local part alone: converting aware datetimes costs ten times more
        moment = datetime.fromisoformat(value[: match.start(1)] if zone else value)
    except ValueError as exc:  # e.g. February 30th
        raise _NotPlain from exc
    if zone and zone != "Z":
        offset = _OFFSETS.get(zone)
        if offset is None:  # building it cost 1.2 us, 40% of parsing a time
            digits = zone[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
            offset = offset if zone[0] == "+" else -offset
            if len(_OFFSETS) < 1000:
                _OFFSETS[zone] = offset
        moment -= offset
    return moment


def _kind(value: Any) -> str:
    kind = _KINDS.get(value) if type(value) is str else None
    if kind is None:
        if type(value) is not str or not _TYPE.fullmatch(value) or value != value.strip():
            raise _NotPlain
        kind = value.lower().replace(" ", "_").replace("-", "_")
        if len(_KINDS) < 1000:
            _KINDS[value] = kind
    return kind


def _row(record: dict[str, Any]) -> tuple[Any, ...]:
    if not _FIELDS.issuperset(record):
        raise _NotPlain
    get = record.get
    event_id, user_id = _text(get("event_id"), required=True), _text(get("user_id"), required=True)
    session_id, item_id, order_id = _text(get("session_id")), _text(get("item_id")), _text(get("order_id"))
    kind = _kind(get("type"))
    quantity = _number(get("quantity"), whole=True)
    price = _number(get("price"), whole=False)
    revenue = _number(get("revenue"), whole=False)
    if price is not None and price < 0:
        raise _NotPlain
    negative = (quantity is not None and quantity < 0) or (revenue is not None and revenue < 0)
    if negative and kind not in NEGATIVE_ALLOWED_TYPES:
        raise _NotPlain
    properties = get("properties")
    if properties is not None:
        if not isinstance(properties, dict):
            raise _NotPlain
        try:
            properties = orjson.dumps(properties).decode()
        except orjson.JSONEncodeError as exc:  # e.g. an integer beyond 64 bits
            raise _NotPlain from exc
    if kind == "purchase":  # the same fills as file loads: an order of its own, price x quantity
        order_id = order_id if order_id is not None else event_id
        if revenue is None and price is not None:
            revenue = price * (quantity if quantity is not None else 1)
    return (
        event_id,
        _timestamp(get("ts")),
        user_id,
        session_id,
        kind,
        item_id,
        quantity,
        price,
        order_id,
        revenue,
        properties,
    )


def prepare_plain(records: list[dict[str, Any]]) -> pa.Table | None:
    """The canonical events of a plain batch (times as UTC), or None when any record is not plain.

    Plain: only canonical field names; `event_id`, `user_id`, `type` and `ts` present;
    ids as strings or integers without surrounding spaces; `ts` an ISO 8601 string (a
    naive time is UTC); `type` ASCII letters, digits, spaces, `-` and `_`; numbers as JSON
    numbers (`quantity` whole) that the rules accept; `properties` an object or absent.
    """
    try:
        rows = [_row(record) for record in records]
    except _NotPlain:
        return None
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(SCHEMA)
    return pa.table(
        [pa.array(column, type=f.type) for column, f in zip(columns, SCHEMA, strict=True)], schema=SCHEMA
    )
