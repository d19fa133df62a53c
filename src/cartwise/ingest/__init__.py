"""Loading shop data: file readers, column mapping, validation, quarantine, orders."""

from cartwise.ingest.load import (
    KINDS,
    LoadOptions,
    LoadSummary,
    PreparedEvents,
    StoredIds,
    derive_orders,
    ingest_file,
    prepare_events,
    store_events,
)
from cartwise.ingest.mapping import load_mapping_file, parse_map_options, save_mapping_file
from cartwise.ingest.readers import FORMATS, ReadResult, read_file, read_input
from cartwise.ingest.validate import TimeWindow

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
    "prepare_events",
    "read_file",
    "read_input",
    "save_mapping_file",
    "store_events",
]
