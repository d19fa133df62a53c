"""Column mapping: which input column feeds each canonical column.

Resolution order for each canonical column: an explicit `--map canonical=source` (or a
mapping file), then an input column with the canonical name (case-insensitive), then a
known synonym (`customer_id` -> `user_id`, `timestamp` -> `ts`, ...). Input columns left
unmapped go into the table's JSON column (`properties` or `attributes`), so nothing is lost.
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any

from cartwise.core.errors import ConfigError, InputError
from cartwise.schema import Table


def parse_map_options(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`("ts=timestamp", "type=event")` -> `{"ts": "timestamp", "type": "event"}`."""
    mapping = {}
    for pair in pairs:
        canonical, sep, source = pair.partition("=")
        if not sep or not canonical.strip() or not source.strip():
            raise ConfigError(f"--map {pair!r} is not of the form canonical=source, e.g. --map ts=timestamp.")
        mapping[canonical.strip()] = source.strip()
    return mapping


def load_mapping_file(path: str | Path) -> dict[str, Any]:
    """Read a saved mapping (TOML): a `[map]` table plus optional `ts_format`, `timezone`,
    `format`, `delimiter`, `header`, `encoding` keys."""
    path = Path(path)
    try:
        content = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"--mapping {path}: no such file.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--mapping {path} is not valid TOML: {exc}.") from exc
    allowed = {"map", "ts_format", "timezone", "format", "delimiter", "header", "encoding"}
    unknown = set(content) - allowed
    if unknown:
        raise ConfigError(f"--mapping {path} has unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}.")
    return content


def save_mapping_file(path: str | Path, mapping: dict[str, str], **options: Any) -> None:
    """Write a mapping file that `load_mapping_file` reads back."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in options.items() if v is not None]
    lines.append("")
    lines.append("[map]")
    lines += [f"{k} = {_toml_value(v)}" for k, v in mapping.items()]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


class MissingColumns(InputError):
    """A required column has no source; `missing` lists the canonical names."""

    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing


def resolve_mapping(
    table: Table, columns: list[str], explicit: dict[str, str], source: str
) -> dict[str, str]:
    """Map canonical column -> input column; raises InputError naming the fix when a required one is missing."""
    unknown = [c for c in explicit if c not in table.column_names]
    if unknown:
        raise ConfigError(
            f"--map names {', '.join(map(repr, unknown))}, not a column of {table.name}; "
            f"canonical columns are: {', '.join(table.column_names)}."
        )
    for canonical, src in explicit.items():
        if src not in columns:
            near = difflib.get_close_matches(src, columns, n=1)
            hint = f" Did you mean {near[0]!r}?" if near else ""
            raise InputError(
                f"--map {canonical}={src}: {source} has no column {src!r}. Columns found: {', '.join(columns)}.{hint}"
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
            lines.append(f"`{name}` (map one with --map {name}={suggestion})")
        wrong_delimiter = ""
        if len(columns) == 1:
            for delimiter, label in ((",", "commas"), (";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
                if delimiter in columns[0]:
                    wrong_delimiter = (
                        f" Only one column was found and its name contains {label}: the file is probably "
                        f"separated by {delimiter!r}; pass --delimiter {delimiter!r} (or --format csv/tsv)."
                    )
                    break
        raise MissingColumns(
            f"{source} has no column for required {', '.join(lines)}. "
            f"Columns found: {', '.join(columns) or '(none)'}.{wrong_delimiter}",
            missing,
        )
    return mapping
