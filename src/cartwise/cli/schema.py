"""`cartwise schema`: show the canonical data model."""

from __future__ import annotations

from typing import Any

import click

from cartwise.cli.common import emit, json_option
from cartwise.schema import table as canonical_table
from cartwise.schema.docs import data_model_markdown
from cartwise.schema.tables import LOADABLE, TABLES


@click.command()
@click.option("--markdown", is_flag=True, help="Print the data model document (docs/data-model.md).")
@json_option
def schema(markdown: bool, as_json: bool) -> None:
    """The canonical tables, their columns, types and rules."""
    if markdown:
        click.echo(data_model_markdown(), nl=False)
        return
    names = dict.fromkeys([*LOADABLE, *TABLES])
    result: dict[str, list[dict[str, Any]]] = {
        name: [
            {"name": c.name, "type": c.kind, "required": c.required, "description": c.description}
            for c in canonical_table(name).columns
        ]
        for name in names
    }
    if as_json:
        emit(result, True)
    else:
        for name, columns in result.items():
            click.echo(
                f"{name}: " + ", ".join(str(c["name"]) + ("*" if c["required"] else "") for c in columns)
            )
        click.echo("(* required; `cartwise schema --markdown` for the full document)")
