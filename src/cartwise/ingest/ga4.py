"""Google Analytics 4's BigQuery export (`--format ga4`) as canonical events.

The export has one row per GA4 event (the `events_YYYYMMDD` tables, as Parquet or
newline-delimited JSON, gzipped or not). Each row becomes one canonical event, or one per
entry of its `items` array for the item-level events (`ITEM_EVENTS`: a purchase becomes one
`purchase` per item, the order's lines). The columns:

- `ts`: `event_timestamp`, microseconds since 1970 UTC (a JSON export may write it as text).
- `user_id`: `user_id` when set, else `user_pseudo_id`; `anonymous_id`: `user_pseudo_id`. An
  event with a `user_id` is evidence linking the browser's pseudo id to that customer
  (README "Identity stitching"); without one the event is anonymous.
- `session_id`: `<user_pseudo_id>-<ga_session_id>` (GA4 session ids are unique per user only).
- `type`: `EVENT_TYPES` maps GA4's recommended names (view_item -> view, ...); any other name
  is kept as a custom type (`view_item_list`, `page_view`, `session_start`, ...).
- items: `item_id`, `price`, `quantity`; a line's `revenue` is `item_revenue` when the export
  has it, else price x quantity (the loader's rule). A refund line's revenue is minus
  `item_refund` (or minus price x quantity); a refund without items is minus `refund_value`.
- `order_id`: `ecommerce.transaction_id` (or the `transaction_id` parameter).
- `properties`: every event parameter not used above (`page_location`, `currency`, `value`,
  custom ones), an item's other non-empty fields (`item_name`, `item_category`, ...), the
  order's `purchase_revenue`, `shipping_value` and `tax_value`, `user_properties`, `device`
  (`device.category`) and `country` (`geo.country`); an item's `item_params` are flattened
  into its properties like event parameters; for `search` and `view_search_results`,
  `search_term` as `query`.
  Events that are not item-level keep their `items` array in `properties.items`.

A row that is not a JSON object, or whose `event_name`, `event_timestamp`, `user_pseudo_id`,
`event_params` or `items` cannot be read, is reported as malformed with its row number (and
quarantined); values inside a readable row are validated by the loader's usual rules.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from cartwise.core.errors import InputError
from cartwise.ingest.readers import ROW_COLUMN, Malformed, ReadResult, records_to_table

EVENT_TYPES: dict[str, str] = {
    "view_item": "view",
    "add_to_cart": "add_to_cart",
    "remove_from_cart": "remove_from_cart",
    "begin_checkout": "begin_checkout",
    "purchase": "purchase",
    "refund": "refund",
    "search": "search",
    "view_search_results": "search",
    "page_view": "page",
}
"""GA4 event names with a canonical type; every other name is kept as it is."""

ITEM_EVENTS = frozenset({"view_item", "add_to_cart", "remove_from_cart", "purchase", "refund", "select_item"})
"""GA4 events that become one canonical event per entry of `items`."""

_VALUE_FIELDS = ("string_value", "int_value", "float_value", "double_value")
_EPOCH = datetime(1970, 1, 1)
_ORDER_FIELDS = ("purchase_revenue", "shipping_value", "tax_value", "refund_value", "total_item_quantity")


class _Bad(Exception):
    """A row that cannot be read as a GA4 event; the text says what is wrong."""


def _param_value(entry: Any, where: str) -> Any:
    if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
        raise _Bad(f"has an entry of `{where}` without a text `key` (got {str(entry)[:80]!r})")
    value = entry.get("value")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Bad(f"has `{where}` {entry['key']!r} whose `value` is not an object")
    return next((value[f] for f in _VALUE_FIELDS if value.get(f) is not None), None)


def _params(row: dict[str, Any], name: str) -> dict[str, Any]:
    entries = row.get(name)
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise _Bad(f"has `{name}` that is not a list of {{key, value}} entries")
    return {entry["key"]: _param_value(entry, name) for entry in entries}


def _micros(value: Any) -> int:
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int):
        raise _Bad(f"has `event_timestamp` {value!r}, which is not a whole number of microseconds since 1970")
    return value


def _iso(micros: int) -> str:
    """An exact ISO 8601 UTC text of `micros` (no float on the way)."""
    try:
        return (_EPOCH + timedelta(microseconds=micros)).isoformat(timespec="microseconds") + "Z"
    except OverflowError:
        raise _Bad(f"has `event_timestamp` {micros}, outside the years 1-9999") from None


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _drop_empty(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != "" and v != [] and v != {}}


def _line(base: dict[str, Any], kind: str, item: Any, n: int) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise _Bad(f"has `items[{n}]` that is not an object")
    rest = _drop_empty(dict(item))
    if "item_params" in rest:  # custom item parameters: {key, value} entries like event_params
        rest.update(_drop_empty(_params(rest, "item_params")))
        del rest["item_params"]
    event = {**base, "type": kind, "item_id": rest.pop("item_id", None)}
    quantity = rest.pop("quantity", None)
    if isinstance(quantity, str) and quantity.strip().lstrip("-").isdigit():
        quantity = int(quantity)  # JSON exports may write INT64 values as text
    event["quantity"] = quantity
    event["price"] = rest.pop("price", None)
    item_revenue, item_refund = rest.pop("item_revenue", None), rest.pop("item_refund", None)
    if kind == "purchase" and item_revenue is not None:
        event["revenue"] = item_revenue
    if kind == "refund":
        refund = item_refund
        if refund is None and isinstance(event["price"], int | float):
            quantity = event["quantity"] if isinstance(event["quantity"], int | float) else 1
            refund = event["price"] * quantity
        if isinstance(refund, int | float) and not isinstance(refund, bool):
            event["revenue"] = -abs(refund)
        elif refund is not None:
            event["revenue"] = refund  # not a number: the loader refuses it with the row
    event["properties"] = {**base["properties"], **rest} or None
    return event


def convert_row(row: Any) -> list[dict[str, Any]]:
    """The canonical events (dicts) of one GA4 export row; raises `_Bad` with the reason."""
    if not isinstance(row, dict):
        raise _Bad("is not a JSON object")
    name = _text(row.get("event_name"))
    if name is None:
        raise _Bad("has no `event_name`")
    ts = _iso(_micros(row.get("event_timestamp")))
    pseudo, user = _text(row.get("user_pseudo_id")), _text(row.get("user_id"))
    if pseudo is None and user is None:
        raise _Bad("has neither `user_pseudo_id` nor `user_id`")
    params = _drop_empty(_params(row, "event_params"))
    user_properties = _drop_empty(_params(row, "user_properties"))
    ecommerce = row.get("ecommerce") or {}
    if not isinstance(ecommerce, dict):
        raise _Bad("has `ecommerce` that is not an object")
    items = row.get("items") or []
    if not isinstance(items, list):
        raise _Bad("has `items` that is not a list")
    kind = EVENT_TYPES.get(name, name)
    session = params.pop("ga_session_id", None)
    base: dict[str, Any] = {"ts": ts, "user_id": user or pseudo, "anonymous_id": pseudo}
    if session is not None:
        base["session_id"] = f"{pseudo or user}-{session}"
    order_id = _text(ecommerce.get("transaction_id")) or _text(params.pop("transaction_id", None))
    params.pop("transaction_id", None)
    if order_id is not None and kind in ("purchase", "refund"):
        base["order_id"] = order_id
    properties = dict(params)
    if kind == "search" and "search_term" in properties:
        properties["query"] = properties.pop("search_term")
    if kind in ("purchase", "refund"):
        properties.update(_drop_empty({k: ecommerce.get(k) for k in _ORDER_FIELDS}))
    elif order_id is not None:
        properties["transaction_id"] = order_id
    if user_properties:
        properties["user_properties"] = user_properties
    device, geo = row.get("device"), row.get("geo")
    if isinstance(device, dict) and device.get("category"):
        properties["device"] = device["category"]
    if isinstance(geo, dict) and geo.get("country"):
        properties["country"] = geo["country"]
    base["properties"] = properties
    if name in ITEM_EVENTS and items:
        return [_line(base, kind, item, n) for n, item in enumerate(items)]
    event = {**base, "type": kind}
    if items:
        event["properties"] = {
            **properties,
            "items": [_drop_empty(i) if isinstance(i, dict) else i for i in items],
        }
    if kind == "purchase":
        total = ecommerce.get("purchase_revenue", params.get("value"))
        if total is not None:
            event["revenue"] = total
    if kind == "refund":
        total = ecommerce.get("refund_value", params.get("value"))
        if isinstance(total, int | float) and not isinstance(total, bool):
            event["revenue"] = -abs(total)
    event["properties"] = event["properties"] or None
    return [event]


def _rows(path: Path, data: bytes | None) -> Iterator[tuple[int, Any, str]]:
    """(row number, parsed row, raw text for reports) of a GA4 export file."""
    if data is None or data[:4] == b"PAR1":
        # Parquet (gzipped too): read in record batches, so only a batch's Python objects live at once.
        try:
            reader = pq.ParquetFile(path if data is None else io.BytesIO(data))
            row = 0
            for batch in reader.iter_batches(batch_size=10_000):
                for record in batch.to_pylist():
                    row += 1
                    yield row, record, ""
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"{path} is not a readable Parquet file ({exc}).") from exc
        return
    row = 0
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        row += 1
        text = raw[:200].decode("utf-8", "replace")
        try:
            yield row, orjson.loads(raw), text
        except orjson.JSONDecodeError as exc:
            yield row, _Bad(f"is not valid JSON ({exc})"), text


def read_ga4(path: Path, data: bytes | None) -> ReadResult:
    """Canonical event columns (text, plus ROW_COLUMN: the export row each event came from)
    from a GA4 export: `data` holds the bytes of a JSON-lines export, None for Parquet."""
    events: list[dict[str, Any]] = []
    rows: list[int] = []
    malformed: list[Malformed] = []
    for row, record, text in _rows(path, data):
        try:
            if isinstance(record, _Bad):
                raise record
            converted = convert_row(record)
        except _Bad as exc:
            shown = text or orjson.dumps(record, default=str).decode()[:200]
            malformed.append(Malformed(row, str(exc), shown))
            continue
        events.extend(converted)
        rows.extend([row] * len(converted))
    table = records_to_table(events)
    table = table.append_column(ROW_COLUMN, pa.array(rows, pa.int64()))
    return ReadResult(table, "ga4", malformed)


__all__ = ["EVENT_TYPES", "ITEM_EVENTS", "convert_row", "read_ga4"]
