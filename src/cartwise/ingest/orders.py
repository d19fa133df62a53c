"""Orders and order lines derived from purchase events (file loads, the collector, the demo, erasure)."""

from __future__ import annotations

import duckdb

from cartwise.store import Store


def any_order_stored(con: duckdb.DuckDBPyConnection, order_ids_sql: str) -> bool:
    """Whether `orders` already holds an order derived from events with one of these ids."""
    found = con.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM orders WHERE source = 'events' AND order_id IN ({order_ids_sql}) LIMIT 1)"
    ).fetchall()[0][0]
    return bool(found)


def derive_orders(store: Store, order_ids_sql: str | None = None) -> int:
    """(Re)build `orders` and `order_lines` from purchase events; returns the number of orders written.

    An order's amount is the sum of its purchase events' revenue (price x quantity when a
    purchase has no revenue); its time is its first event's. With `order_ids_sql` (a query
    returning order ids) only those orders are rebuilt; otherwise all orders from events are.
    Call inside a transaction to make it atomic with the event load.
    """
    con = store.con
    scope = f"order_id IN ({order_ids_sql})" if order_ids_sql else "true"
    con.execute(
        f"DELETE FROM order_lines WHERE order_id IN (SELECT order_id FROM orders WHERE source = 'events' AND {scope})"
    )
    con.execute(f"DELETE FROM orders WHERE source = 'events' AND {scope}")
    return write_orders(con, f"SELECT * FROM events WHERE type = 'purchase' AND {scope}")


def write_orders(con: duckdb.DuckDBPyConnection, purchases: str) -> int:
    """Insert the orders and order lines of all the stored-form purchase events `purchases` selects."""
    written = con.execute(
        f"""INSERT INTO orders (order_id, user_id, ts, amount, lines, units, source)
            SELECT order_id, arg_min(user_id, ts), min(ts), COALESCE(sum(revenue), 0), count(item_id),
                   sum(COALESCE(quantity, 1)), 'events'
            FROM ({purchases}) WHERE order_id IS NOT NULL GROUP BY order_id"""
    ).fetchall()[0]
    con.execute(
        f"""INSERT INTO order_lines (order_id, item_id, quantity, price, revenue)
            SELECT order_id, item_id, sum(COALESCE(quantity, 1)), arg_min(price, ts), sum(revenue)
            FROM ({purchases}) WHERE order_id IS NOT NULL AND item_id IS NOT NULL GROUP BY order_id, item_id"""
    )
    return int(written[0]) if written else 0
