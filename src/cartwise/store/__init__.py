"""The only place that opens DuckDB (or another engine through Ibis)."""

from cartwise.store.reads import timed_read
from cartwise.store.store import SCHEMA_VERSION, Store, open_store

__all__ = ["SCHEMA_VERSION", "Store", "open_store", "timed_read"]
