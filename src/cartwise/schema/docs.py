"""The data model as Markdown, generated from the table definitions (docs/data-model.md)."""

from __future__ import annotations

from cartwise.schema.tables import EVENT_TYPES, LOADABLE, TABLES, Table

_INTRO = """# Cartwise data model

Generated from `src/cartwise/schema/tables.py` by `cartwise schema --markdown`; a test keeps it in sync.

Conventions: ids are strings (an id read as a number keeps its text); timestamps are UTC
without an offset; money is a float in the shop's currency; `properties` and `attributes`
hold a JSON object, and input columns that map to no canonical column land there, so
nothing read is lost. Standard event types: {types}; any other non-empty type is a custom
event. Event types are normalised to lower case with `_` for spaces and hyphens
(`Add to Cart` becomes `add_to_cart`).

Rows are numbered from 1 in messages and in the quarantine: row N is the N-th data record
of the file, not counting the header or blank lines.
"""


def _table(table: Table) -> str:
    lines = [f"## `{table.name}`", "", table.description, ""]
    lines.append("| column | type | required | meaning |")
    lines.append("|---|---|---|---|")
    for column in table.columns:
        required = "yes" if column.required else ""
        lines.append(f"| `{column.name}` | {column.kind} | {required} | {column.description} |")
    if table.synonyms:
        lines.append("")
        lines.append(
            "Input columns recognised without a mapping (besides the canonical name, case-insensitive):"
        )
        lines.append("")
        for name, synonyms in table.synonyms.items():
            lines.append(f"- `{name}`: {', '.join(f'`{s}`' for s in synonyms)}")
    return "\n".join(lines)


def data_model_markdown() -> str:
    """The whole data model document."""
    tables = {**LOADABLE, **TABLES}
    parts = [_INTRO.format(types=", ".join(f"`{t}`" for t in EVENT_TYPES))]
    parts += [_table(t) for t in tables.values()]
    return "\n\n".join(parts) + "\n"
