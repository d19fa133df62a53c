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
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa

from cartwise.schema import EVENTS
from cartwise.schema.tables import NEGATIVE_ALLOWED_TYPES

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}(:?\d{2})?)?")
_TYPE = re.compile(r"[A-Za-z0-9_ -]+")
_MAX_CHARS = 1 << 18  # 4 bytes per character at most: within the 1 MiB limit on a value
_INT64 = (-(1 << 63), 1 << 63)
_FIELDS = frozenset(EVENTS.column_names)
_IDS = ("event_id", "user_id", "session_id", "item_id", "order_id")
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
    if value is None or value == "":
        if required:
            raise _NotPlain
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _NotPlain
    text = str(value)
    if text != text.strip() or len(text) > _MAX_CHARS:
        raise _NotPlain
    return text


def _number(value: Any, whole: bool) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _NotPlain
    if whole:
        if not isinstance(value, int) or not _INT64[0] <= value < _INT64[1]:
            raise _NotPlain
        return value
    number = float(value)
    if not math.isfinite(number):
        raise _NotPlain
    return number


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str) or not _ISO.fullmatch(value):
        raise _NotPlain
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:  # e.g. February 30th
        raise _NotPlain from exc
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _row(record: dict[str, Any]) -> tuple[Any, ...]:
    if not _FIELDS.issuperset(record):
        raise _NotPlain
    event_id, user_id, session_id, item_id, order_id = (
        _text(record.get(name), required=name in ("event_id", "user_id")) for name in _IDS
    )
    kind = record.get("type")
    if not isinstance(kind, str) or not kind.isascii() or not _TYPE.fullmatch(kind) or kind != kind.strip():
        raise _NotPlain
    kind = kind.lower().replace(" ", "_").replace("-", "_")
    quantity = _number(record.get("quantity"), whole=True)
    price = _number(record.get("price"), whole=False)
    revenue = _number(record.get("revenue"), whole=False)
    if price is not None and price < 0:
        raise _NotPlain
    negative = (quantity is not None and quantity < 0) or (revenue is not None and revenue < 0)
    if negative and kind not in NEGATIVE_ALLOWED_TYPES:
        raise _NotPlain
    properties = record.get("properties")
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
        _timestamp(record.get("ts")),
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
