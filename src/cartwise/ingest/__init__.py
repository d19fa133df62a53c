"""Loading shop data: file readers, column mapping, validation, quarantine, orders.

The loaders are imported on first use (PEP 562), so that `cartwise.ingest.kinds` (the table
kinds and input formats a command lists in its `--help`) costs no DuckDB or Arrow import.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from cartwise.core.lazy import lazy_getattr
from cartwise.ingest.kinds import FORMATS, KINDS

if TYPE_CHECKING:
    from cartwise.ingest.batches import PreparedEvents, prepare_events, store_events
    from cartwise.ingest.insert import StoredIds
    from cartwise.ingest.load import LoadOptions, LoadSummary, ingest_file
    from cartwise.ingest.mapping import (
        load_mapping_file,
        parse_map_options,
        parse_set_options,
        save_mapping_file,
    )
    from cartwise.ingest.orders import derive_orders
    from cartwise.ingest.readers import ReadResult, read_file, read_input
    from cartwise.ingest.validate import TimeWindow

_MODULES = {
    "batches": lambda: import_module("cartwise.ingest.batches"),
    "insert": lambda: import_module("cartwise.ingest.insert"),
    "load": lambda: import_module("cartwise.ingest.load"),
    "mapping": lambda: import_module("cartwise.ingest.mapping"),
    "orders": lambda: import_module("cartwise.ingest.orders"),
    "readers": lambda: import_module("cartwise.ingest.readers"),
    "validate": lambda: import_module("cartwise.ingest.validate"),
}
"""Each submodule and how to load it."""

_MODULE_OF = {
    "PreparedEvents": "batches",
    "prepare_events": "batches",
    "store_events": "batches",
    "StoredIds": "insert",
    "LoadOptions": "load",
    "LoadSummary": "load",
    "ingest_file": "load",
    "load_mapping_file": "mapping",
    "parse_map_options": "mapping",
    "parse_set_options": "mapping",
    "save_mapping_file": "mapping",
    "derive_orders": "orders",
    "ReadResult": "readers",
    "read_file": "readers",
    "read_input": "readers",
    "TimeWindow": "validate",
}
"""Which submodule defines each public name."""


__getattr__ = lazy_getattr(globals(), _MODULES, _MODULE_OF)

__all__ = [
    "FORMATS",
    "KINDS",
    "LoadOptions",
    "LoadSummary",
    "PreparedEvents",
    "ReadResult",
    "StoredIds",
    "TimeWindow",
    "derive_orders",
    "ingest_file",
    "load_mapping_file",
    "parse_map_options",
    "parse_set_options",
    "prepare_events",
    "read_file",
    "read_input",
    "save_mapping_file",
    "store_events",
]
