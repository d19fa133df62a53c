"""The canonical data model.

Each `Table` lists its columns with a logical kind, whether a row needs it, and what it
means. The store creates tables from these definitions, ingestion validates against them,
and `docs/data-model.md` is generated from them (a test keeps it in sync).

Conventions: ids are strings (an id read as a number is kept as its text); timestamps are
UTC without an offset; money is a float in the shop's currency; `properties`/`attributes`
hold a JSON object with anything that has no canonical column (unmapped input columns land
there, so nothing read is lost).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["id", "string", "timestamp", "integer", "float", "boolean", "json"]

DUCKDB_TYPES: dict[str, str] = {
    "id": "VARCHAR",
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "integer": "BIGINT",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "json": "JSON",
}

EVENT_TYPES: tuple[str, ...] = (
    "view",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "begin_checkout",
    "purchase",
    "refund",
)
"""Standard event types; any other non-empty type is accepted as a custom event."""

# Event types whose quantity and revenue may be negative (money or goods going back).
NEGATIVE_ALLOWED_TYPES: tuple[str, ...] = ("refund", "remove_from_cart")


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    description: str
    required: bool = False
    non_negative: bool = False

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPES[self.kind]


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    # Column holding leftover input columns as JSON, if any.
    extras_column: str | None = None
    loadable: bool = True
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def ddl(self) -> str:
        cols = ", ".join(f'"{c.name}" {c.duckdb_type}' for c in self.columns)
        return f'CREATE TABLE IF NOT EXISTS "{self.name}" ({cols})'


_USER_SYNONYMS = ("customer_id", "customer", "visitor_id", "client_id", "user", "userid", "customerid")
_ITEM_SYNONYMS = ("product_id", "product", "sku", "item", "itemid", "productid", "stock_code", "stockcode")
_TS_SYNONYMS = (
    "timestamp",
    "time",
    "event_time",
    "datetime",
    "date",
    "created",
    "event_timestamp",
    "invoice_date",
)

EVENTS = Table(
    name="events",
    description="Everything shoppers do, one row per event. Purchases also feed `orders`.",
    columns=(
        Column(
            "event_id",
            "id",
            "Unique id. When the input has none it is derived from the row's content (and its occurrence number among identical rows), so re-ingesting a file adds nothing.",
            required=True,
        ),
        Column(
            "ts",
            "timestamp",
            "When it happened, UTC. Input may be ISO 8601 (with or without offset), epoch seconds or milliseconds, or the format a load is given (`ts_format`).",
            required=True,
        ),
        Column(
            "user_id",
            "id",
            "Who did it: a customer id, or an anonymous visitor id from the tracker.",
            required=True,
        ),
        Column("session_id", "id", "Visit the event belongs to; optional."),
        Column(
            "type",
            "string",
            "`view`, `search`, `add_to_cart`, `remove_from_cart`, `begin_checkout`, `purchase`, `refund`, or any custom type.",
            required=True,
        ),
        Column("item_id", "id", "Item concerned, if any."),
        Column("quantity", "integer", "Units; negative only for `refund` and `remove_from_cart`."),
        Column("price", "float", "Unit price paid or shown; never negative.", non_negative=True),
        Column(
            "order_id",
            "id",
            "Order a `purchase` or `refund` belongs to; a purchase without one forms an order of its own.",
        ),
        Column(
            "revenue",
            "float",
            "Money of this event (for a purchase line: price x quantity unless given); negative only for refunds.",
        ),
        Column(
            "properties",
            "json",
            "JSON object with anything else (search query, device, page, promotion, unmapped input columns).",
        ),
        Column(
            "anonymous_id",
            "id",
            "The tracker's anonymous visitor id beside `user_id`; an event with both links the two into one customer (identity stitching). For `alias` events, the previous id.",
        ),
    ),
    key=("event_id",),
    extras_column="properties",
    synonyms={
        "event_id": ("id", "eventid", "uuid"),
        "ts": _TS_SYNONYMS,
        "user_id": _USER_SYNONYMS,
        "session_id": ("session", "sessionid", "visit_id"),
        "type": ("event_type", "event", "action", "event_name", "eventtype"),
        "item_id": _ITEM_SYNONYMS,
        "quantity": ("qty", "units", "quantity_sold"),
        "price": ("unit_price", "unitprice"),
        "order_id": ("transaction_id", "invoice", "invoice_no", "invoiceno", "orderid"),
        "revenue": ("value", "total", "line_total"),
        "anonymous_id": ("anonymousid", "anon_id", "anonymous_user_id"),
    },
)

ITEMS = Table(
    name="items",
    description="The catalogue, one row per item. Loading an item that exists replaces it.",
    columns=(
        Column("item_id", "id", "Unique item id.", required=True),
        Column("title", "string", "Product name."),
        Column("description", "string", "Product text."),
        Column(
            "category", "string", "Category path, levels separated by ` > `, e.g. `Home > Kitchen > Knives`."
        ),
        Column("brand", "string", "Brand name."),
        Column("price", "float", "Current list price; never negative.", non_negative=True),
        Column("cost", "float", "Unit cost; never negative.", non_negative=True),
        Column("stock", "integer", "Units in stock now."),
        Column("active", "boolean", "Whether the item can be sold (true/false, 1/0, yes/no); default true."),
        Column(
            "attributes", "json", "JSON object with other attributes (colour, size, unmapped input columns)."
        ),
        Column("created_at", "timestamp", "When the item was added to the catalogue, UTC."),
    ),
    key=("item_id",),
    extras_column="attributes",
    synonyms={
        "item_id": _ITEM_SYNONYMS,
        "title": ("name", "product_name", "item_name"),
        "category": ("categories", "category_path", "genre"),
        "brand": ("manufacturer", "vendor"),
        "price": ("list_price", "unit_price"),
        "cost": ("unit_cost", "cogs"),
        "stock": ("inventory", "stock_level", "quantity_in_stock"),
        "active": ("is_active", "enabled", "available"),
    },
)

USERS = Table(
    name="users",
    description="Customers, one row per user. Loading a user that exists replaces it.",
    columns=(
        Column("user_id", "id", "Unique customer id, the same id events use.", required=True),
        Column("created_at", "timestamp", "Sign-up time, UTC."),
        Column("email", "string", "E-mail address; must contain one `@` with text on both sides."),
        Column("country", "string", "Country code or name."),
        Column(
            "acquisition_channel",
            "string",
            "Where the customer came from (organic, paid_search, social, email, referral, ...).",
        ),
        Column("email_consent", "boolean", "Whether the customer accepts marketing e-mail."),
        Column("email_consent_at", "timestamp", "When e-mail consent was last given or withdrawn, UTC."),
        Column("sms_consent", "boolean", "Whether the customer accepts marketing SMS."),
        Column("sms_consent_at", "timestamp", "When SMS consent was last given or withdrawn, UTC."),
        Column(
            "attributes",
            "json",
            "JSON object with other attributes (age band, gender, unmapped input columns).",
        ),
    ),
    key=("user_id",),
    extras_column="attributes",
    synonyms={
        "user_id": _USER_SYNONYMS,
        "created_at": ("signup_date", "registered_at", "created", "signup_at"),
        "email": ("email_address", "mail"),
        "acquisition_channel": ("channel", "source", "utm_source"),
    },
)

TRANSACTIONS = Table(
    name="transactions",
    description="Input shape of a transaction log (`cartwise ingest transactions`); rows become `orders` and `order_lines`.",
    columns=(
        Column(
            "order_id",
            "id",
            "Order id; rows sharing one are lines of one order. When absent each row is its own order, with an id derived from its content.",
        ),
        Column("user_id", "id", "Customer.", required=True),
        Column("ts", "timestamp", "Order time, UTC.", required=True),
        Column(
            "amount",
            "float",
            "Money of the row (the order, or the line); negative for refunds. When absent: price x quantity.",
        ),
        Column("item_id", "id", "Item of the line, if lines are given."),
        Column("quantity", "integer", "Units of the line."),
        Column("price", "float", "Unit price of the line; never negative.", non_negative=True),
    ),
    key=("order_id",),
    extras_column=None,
    synonyms={
        "order_id": ("transaction_id", "invoice", "invoice_no", "invoiceno", "orderid"),
        "user_id": _USER_SYNONYMS,
        "ts": _TS_SYNONYMS,
        "amount": ("revenue", "value", "total", "dollar_value", "sales", "spend"),
        "item_id": _ITEM_SYNONYMS,
        "quantity": ("qty", "units", "number_of_cds"),
        "price": ("unit_price", "unitprice"),
    },
)

ORDERS = Table(
    name="orders",
    description="One row per order: derived from `purchase` events, or loaded from a transaction log.",
    columns=(
        Column("order_id", "id", "Unique order id.", required=True),
        Column("user_id", "id", "Customer.", required=True),
        Column("ts", "timestamp", "Order time (the first line's), UTC.", required=True),
        Column("amount", "float", "Order value: sum of its lines' revenue.", required=True),
        Column("lines", "integer", "Number of lines (0 when the log has no item detail)."),
        Column("units", "integer", "Units over all lines."),
        Column("source", "string", "`events` or `transactions`: where the order came from."),
    ),
    key=("order_id",),
    loadable=False,
)

ORDER_LINES = Table(
    name="order_lines",
    description="Items of each order.",
    columns=(
        Column("order_id", "id", "Order.", required=True),
        Column("item_id", "id", "Item.", required=True),
        Column("quantity", "integer", "Units."),
        Column("price", "float", "Unit price."),
        Column("revenue", "float", "Money of the line."),
    ),
    key=("order_id", "item_id"),
    loadable=False,
)

TABLES: dict[str, Table] = {t.name: t for t in (EVENTS, ITEMS, USERS, ORDERS, ORDER_LINES)}
"""Tables the store creates; `transactions` is an input shape only."""

LOADABLE: dict[str, Table] = {"events": EVENTS, "items": ITEMS, "users": USERS, "transactions": TRANSACTIONS}


def table(name: str) -> Table:
    """The canonical table `name` (including the `transactions` input shape)."""
    if name in LOADABLE:
        return LOADABLE[name]
    return TABLES[name]
