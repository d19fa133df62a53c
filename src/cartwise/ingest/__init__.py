"""Loading shop data: file readers, column mapping, validation, quarantine, orders.

The loaders are imported on first use (PEP 562), so that `cartwise.ingest.kinds` (the table
kinds and input formats a command lists in its `--help`) costs no DuckDB or Arrow import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cartwise.ingest.kinds import FORMATS, KINDS

if TYPE_CHECKING:
    from cartwise.ingest.load import (
        LoadOptions,
        LoadSummary,
        PreparedEvents,
        StoredIds,
        derive_orders,
        ingest_file,
        prepare_events,
        store_events,
    )
    from cartwise.ingest.mapping import (
        load_mapping_file,
        parse_map_options,
        parse_set_options,
        save_mapping_file,
    )
    from cartwise.ingest.readers import ReadResult, read_file, read_input
    from cartwise.ingest.validate import TimeWindow

_LOAD = {
    "LoadOptions",
    "LoadSummary",
    "PreparedEvents",
    "StoredIds",
    "derive_orders",
    "ingest_file",
    "prepare_events",
    "store_events",
}
_MAPPING = {"load_mapping_file", "parse_map_options", "parse_set_options", "save_mapping_file"}
_READERS = {"ReadResult", "read_file", "read_input"}
_VALIDATE = {"TimeWindow"}


def __getattr__(name: str) -> Any:
    if name in _LOAD:
        from cartwise.ingest import load

        return getattr(load, name)
    if name in _MAPPING:
        from cartwise.ingest import mapping

        return getattr(mapping, name)
    if name in _READERS:
        from cartwise.ingest import readers

        return getattr(readers, name)
    if name in _VALIDATE:
        from cartwise.ingest import validate

        return getattr(validate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
