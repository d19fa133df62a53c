"""Column mapping: which input column feeds each canonical column.

Resolution order for each canonical column: a constant (`--set canonical=value`, for a
column the file lacks, e.g. `--set type=rating` for a ratings export), an explicit
`--map canonical=source` (or a mapping file), then an input column with the canonical name (case-insensitive), then a
known synonym (`customer_id` -> `user_id`, `timestamp` -> `ts`, ...). Input columns left
unmapped go into the table's JSON column (`properties` or `attributes`), so nothing is lost.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cartwise.core.errors import ConfigError, InputError
from cartwise.schema import Table

if TYPE_CHECKING:
    import pyarrow as pa

    from cartwise.ingest.load import LoadOptions

_NUMBERED = re.compile(r"^[-+]?\d+([.,:/-]\d+)*$")


def parse_map_options(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`("ts=timestamp", "type=event")` -> `{"ts": "timestamp", "type": "event"}`."""
    mapping = {}
    for pair in pairs:
        canonical, sep, source = pair.partition("=")
        if not sep or not canonical.strip() or not source.strip():
            raise ConfigError(
                f"{pair!r} is not of the form canonical=source, e.g. ts=timestamp.", parameter="map"
            )
        mapping[canonical.strip()] = source.strip()
    return mapping


def parse_set_options(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`("type=rating",)` -> `{"type": "rating"}`: constants for canonical columns."""
    constants = {}
    for pair in pairs:
        canonical, sep, value = pair.partition("=")
        if not sep or not canonical.strip():
            raise ConfigError(
                f"{pair!r} is not of the form canonical=value, e.g. type=rating.", parameter="set"
            )
        constants[canonical.strip()] = value.strip()
    return constants


def with_constants(data: pa.Table, options: LoadOptions, table: Table) -> tuple[pa.Table, LoadOptions]:
    """`data` with one column per constant of `options`, and options mapping each canonical
    column to its constant's column (named `--set NAME`, which no file header holds)."""
    if not options.constants:
        return data, options
    import pyarrow as pa

    unknown = [c for c in options.constants if c not in table.column_names]
    if unknown:
        raise ConfigError(
            f"names {', '.join(map(repr, unknown))}, not a column of {table.name}; "
            f"canonical columns are: {', '.join(table.column_names)}.",
            parameter="set",
        )
    both = sorted(set(options.constants) & set(options.mapping))
    if both:
        raise ConfigError(
            f"{', '.join(both)} is given both a column (`map`) and a constant; keep one.",
            parameter="set",
            mentions=("map",),
        )
    mapping = dict(options.mapping)
    for canonical, value in options.constants.items():
        name = f"--set {canonical}"
        data = data.append_column(name, pa.array([value] * data.num_rows, pa.string()))
        mapping[canonical] = name
    return data, dataclasses.replace(options, mapping=mapping)


def load_mapping_file(path: str | Path) -> dict[str, Any]:
    """Read a saved mapping (TOML): a `[map]` table, an optional `[set]` table of constants,
    and optional `ts_format`, `timezone`, `format`, `delimiter`, `header`, `encoding` keys."""
    path = Path(path)
    try:
        content = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such file.", parameter="mapping") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.", parameter="mapping") from exc
    allowed = {"map", "set", "ts_format", "timezone", "format", "delimiter", "header", "encoding"}
    unknown = set(content) - allowed
    if unknown:
        raise ConfigError(
            f"{path} has unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}.", parameter="mapping"
        )
    return content


def save_mapping_file(
    path: str | Path, mapping: dict[str, str], constants: dict[str, str] | None = None, **options: Any
) -> None:
    """Write a mapping file that `load_mapping_file` reads back (constants as a `[set]` table)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in options.items() if v is not None]
    lines.append("")
    lines.append("[map]")
    lines += [f"{k} = {_toml_value(v)}" for k, v in mapping.items()]
    if constants:
        lines += ["", "[set]", *(f"{k} = {_toml_value(v)}" for k, v in constants.items())]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


class MissingColumns(InputError):
    """A required column has no source; `missing` lists the canonical names."""

    def __init__(self, message: str, missing: list[str], *, mentions: tuple[str, ...] = ()) -> None:
        super().__init__(message, mentions=mentions)
        self.missing = missing


def resolve_mapping(
    table: Table, columns: list[str], explicit: dict[str, str], source: str, *, header: bool = True
) -> dict[str, str]:
    """Map canonical column -> input column; raises InputError naming the fix when a required one is missing.

    `header` says whether `columns` came from the file's header line (for the hint that a
    header of numbers and dates is probably the first data record)."""
    unknown = [c for c in explicit if c not in table.column_names]
    if unknown:
        raise ConfigError(
            f"names {', '.join(map(repr, unknown))}, not a column of {table.name}; "
            f"canonical columns are: {', '.join(table.column_names)}.",
            parameter="map",
        )
    for canonical, src in explicit.items():
        if src not in columns:
            near = difflib.get_close_matches(src, columns, n=1)
            hint = f" Did you mean {near[0]!r}?" if near else ""
            raise InputError(
                f"{canonical}={src}: {source} has no column {src!r}. Columns found: {', '.join(columns)}.{hint}",
                parameter="map",
            )
    mapping = dict(explicit)
    taken = set(mapping.values())
    lower = {c.lower(): c for c in columns}
    for column in table.column_names:
        if column in mapping:
            continue
        for candidate in (column, *table.synonyms.get(column, ())):
            found = lower.get(candidate.lower())
            if found is not None and found not in taken:
                mapping[column] = found
                taken.add(found)
                break
    missing = [c.name for c in table.columns if c.required and c.name not in mapping]
    # Ids that are derived when absent are not needed in the input.
    missing = [m for m in missing if not (m == "event_id" and table.name == "events")]
    if missing:
        lines = []
        for name in missing:
            near = difflib.get_close_matches(name, columns, n=1, cutoff=0.5)
            suggestion = near[0] if near else "<column>"
            lines.append(
                f"`{name}` (map one with `map` {name}={suggestion}, or give every row one value with `set` {name}=VALUE)"
            )
        wrong_delimiter = ""
        if len(columns) == 1:
            for delimiter, label in ((",", "commas"), (";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
                if delimiter in columns[0]:
                    wrong_delimiter = (
                        f" Only one column was found and its name contains {label}: the file is probably "
                        f"separated by {delimiter!r}; pass `delimiter` {delimiter!r} (or `format` csv/tsv)."
                    )
                    break
        no_header = ""
        if header and columns and sum(bool(_NUMBERED.match(c)) for c in columns) * 2 >= len(columns):
            no_header = (
                " The first line looks like data, not a header: if the file has no header line, pass "
                "`no_header` and map columns by number from 0 (e.g. `map` user_id=0 `map` ts=1)."
            )
        raise MissingColumns(
            f"{source} has no column for required {', '.join(lines)}. "
            f"Columns found: {', '.join(columns) or '(none)'}.{wrong_delimiter}{no_header}",
            missing,
            mentions=("map", "set", "delimiter", "format", "no_header"),
        )
    return mapping
