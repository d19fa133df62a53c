"""Canonical entities and events: column names, types and validation rules, defined once."""

from cartwise.schema.tables import (
    EVENT_TYPES,
    EVENTS,
    ITEMS,
    ORDER_LINES,
    ORDERS,
    TABLES,
    TRANSACTIONS,
    USERS,
    Column,
    Kind,
    Table,
    table,
)

__all__ = [
    "EVENTS",
    "EVENT_TYPES",
    "ITEMS",
    "ORDERS",
    "ORDER_LINES",
    "TABLES",
    "TRANSACTIONS",
    "USERS",
    "Column",
    "Kind",
    "Table",
    "table",
]
