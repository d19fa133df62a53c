"""Shopify's orders CSV export (`--format shopify`) as canonical events.

The export has one row per line item; order-level columns (`Email`, `Financial Status`,
`Paid at`, `Currency`, `Subtotal`, `Total`, `Created at`, ...) are filled on an order's
first row only, and every row carries the order's `Name` (`#1001`). Each row becomes:

- a `purchase` event (an order line): `order_id` the order's `Name`, `item_id` the
  `Lineitem sku` (the `Lineitem name` when the sku is empty), `quantity` and `price` from
  `Lineitem quantity` and `Lineitem price` (the line's revenue is price x quantity; the
  order's amount is the sum of its lines, before discounts, shipping and taxes, which stay
  in `properties`), at the order's `Created at`; event id `shopify:<Name>:<line number>`,
  so loading an export again (or a later export holding the same orders) adds nothing.
- Customer: the order's e-mail address, lower-cased, is the buyer's id and is marked
  anonymous (`anonymous_id` = `user_id`) as a guest checkout is: identity stitching links it,
  on the evidence "email on order" (`properties.email`), to the known customer whose `users`
  row has that e-mail, and never merges two known customers on it. An order without an
  e-mail is the guest `shopify-guest:<Name>`.
- `Financial Status` (in `properties.financial_status`): `paid`, `partially_paid`,
  `pending` and `authorized` orders load as purchases. `refunded` and `partially_refunded`
  orders load as purchases plus one `refund` event (id `shopify:<Name>:refund`) with revenue
  minus `Refunded Amount` (minus `Total` when the export has no refunded amount), dated
  `Cancelled at` when set, else `Created at` (the export carries no refund time). `voided`
  orders were never paid: their lines load as `purchase_voided` events, which count in no
  order, revenue or purchase figure.

Other columns (billing, shipping, tags, ...) are kept in `properties` under snake_case
names. A row without `Name` is malformed (quarantined with its row number); values are
validated by the loader's rules (a price of `N/A` is rejected with its row and column).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from cartwise.core.errors import InputError
from cartwise.ingest.readers import ROW_COLUMN, Malformed, ReadResult, _read_delimited, records_to_table

REQUIRED = ("Name", "Created at", "Lineitem quantity", "Lineitem price")
"""Columns a Shopify orders export must have (besides `Lineitem sku` or `Lineitem name`)."""

ORDER_COLUMNS = (
    "Email",
    "Financial Status",
    "Paid at",
    "Fulfillment Status",
    "Fulfilled at",
    "Accepts Marketing",
    "Currency",
    "Subtotal",
    "Shipping",
    "Taxes",
    "Total",
    "Discount Code",
    "Discount Amount",
    "Shipping Method",
    "Created at",
    "Cancelled at",
    "Refunded Amount",
    "Source",
    "Tags",
)
"""Order-level columns: read from the order's first row."""

PAID = frozenset({"paid", "partially_paid", "pending", "authorized"})
REFUNDED = frozenset({"refunded", "partially_refunded"})
VOIDED = "voided"

_LINE_USED = ("Lineitem quantity", "Lineitem price", "Lineitem sku", "Name")
_SHOPIFY_TIME = "%Y-%m-%d %H:%M:%S %z"


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _time(text: str | None) -> str | None:
    """Shopify's `2026-11-20 10:00:00 +0100` as ISO 8601; other text is left for the loader to judge."""
    if not text:
        return None
    try:
        return datetime.strptime(text.strip(), _SHOPIFY_TIME).isoformat()
    except ValueError:
        return text


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _order_events(name: str, order: dict[str, str], lines: list[tuple[int, dict[str, str]]]) -> list[Any]:
    """(row, event) pairs of one order: its lines, and its refund on the first row."""
    status = (order.get("Financial Status") or "").strip().lower()
    email = (order.get("Email") or "").strip().lower() or None
    user = email or f"shopify-guest:{name}"
    created = _time(order.get("Created at"))
    order_properties = {
        _snake(column): order[column]
        for column in ORDER_COLUMNS
        if order.get(column) and column not in ("Email", "Created at")
    }
    if email:
        order_properties["email"] = email
    kind = "purchase_voided" if status == VOIDED else "purchase"
    events: list[Any] = []
    for number, (row, line) in enumerate(lines, start=1):
        extra = {
            _snake(column): value
            for column, value in line.items()
            if value and column not in _LINE_USED and column not in ORDER_COLUMNS and column != ROW_COLUMN
        }
        sku = line.get("Lineitem sku") or line.get("Lineitem name") or None
        event = {
            "event_id": f"shopify:{name}:{number}",
            "ts": created,
            "user_id": user,
            "anonymous_id": user,
            "type": kind,
            "item_id": sku,
            "quantity": line.get("Lineitem quantity") or None,
            "price": line.get("Lineitem price") or None,
            "order_id": name if kind == "purchase" else None,
            "properties": {**order_properties, **extra, "order_name": name},
        }
        events.append((row, event))
    if status in REFUNDED:
        refunded = order.get("Refunded Amount") or order.get("Total")
        amount = _number(refunded)
        refund: dict[str, Any] = {
            "event_id": f"shopify:{name}:refund",
            "ts": _time(order.get("Cancelled at")) or created,
            "user_id": user,
            "anonymous_id": user,
            "type": "refund",
            "order_id": name,
            # Not a number: passed on as written, so the loader rejects it with its row.
            "revenue": -abs(amount) if amount is not None else refunded,
            "properties": {**order_properties, "order_name": name},
        }
        events.append((lines[0][0], refund))
    return events


def read_shopify(path: Path, data: bytes, encoding: str) -> ReadResult:
    """Canonical event columns (text, plus ROW_COLUMN: the CSV row each came from) from a
    Shopify orders export; raises InputError when a required column is missing."""
    result = _read_delimited(data, path, ",", True, encoding, None)
    columns = [c for c in result.table.column_names if c != ROW_COLUMN]
    missing = [c for c in REQUIRED if c not in columns]
    if "Lineitem sku" not in columns and "Lineitem name" not in columns:
        missing.append("Lineitem sku")
    if missing:
        raise InputError(
            f"{path} is not a Shopify orders export: it lacks {', '.join(f'`{m}`' for m in missing)} "
            f"(columns found: {', '.join(columns[:12])}{', ...' if len(columns) > 12 else ''}). "
            "Export it from Shopify admin > Orders > Export (CSV for Excel or plain CSV), or load "
            "another layout with `format` csv and `map`.",
            parameter="format",
            mentions=("format", "map"),
        )
    malformed = list(result.malformed)
    orders: dict[str, dict[str, str]] = {}
    lines: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for record in result.table.to_pylist():
        row = int(record[ROW_COLUMN])
        name = (record.get("Name") or "").strip()
        if not name:
            shown = ", ".join(f"{k}={v}" for k, v in record.items() if v and k != ROW_COLUMN)
            malformed.append(Malformed(row, "has no `Name` (the order number, e.g. #1001)", shown[:200]))
            continue
        first = orders.setdefault(name, {})
        for column in ORDER_COLUMNS:  # the first row that fills an order-level column wins
            if record.get(column) and not first.get(column):
                first[column] = record[column]
        lines.setdefault(name, []).append((row, record))
    pairs = [
        pair for name, order_lines in lines.items() for pair in _order_events(name, orders[name], order_lines)
    ]
    pairs.sort(key=lambda pair: pair[0])
    table = records_to_table([event for _, event in pairs])
    table = table.append_column(ROW_COLUMN, pa.array([row for row, _ in pairs], pa.int64()))
    malformed.sort(key=lambda m: m.row)
    return ReadResult(table, "shopify", malformed)


__all__ = ["ORDER_COLUMNS", "REQUIRED", "read_shopify"]
