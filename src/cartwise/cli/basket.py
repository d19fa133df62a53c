"""`cartwise basket rules`: frequent itemsets and association rules over orders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cartwise.cli.common import db_option, emit, json_option, set_aside_lines, settings_for
from cartwise.pipelines.choices import FORMATS


@click.group()
def basket() -> None:
    """Market-basket analysis: which items are bought together."""


@basket.command()
@click.option(
    "--baskets",
    "baskets_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A file with one row per basket line [default: the store's order lines].",
)
@click.option(
    "--basket-col",
    default="order_id",
    show_default=True,
    help="Column of --baskets holding the basket (order) id.",
)
@click.option(
    "--item-col", default="item_id", show_default=True, help="Column of --baskets holding the item id."
)
@click.option(
    "--min-support",
    type=float,
    default=0.01,
    show_default=True,
    help="Least share of baskets holding an itemset, in (0, 1].",
)
@click.option(
    "--min-confidence",
    type=float,
    default=0.5,
    show_default=True,
    help="Least confidence of a rule, in (0, 1].",
)
@click.option(
    "--max-len", type=click.IntRange(min=2), default=None, help="Largest itemset size [default: no limit]."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the rules to this CSV file.",
)
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="auto", help="Input format of --baskets."
)
@click.option("--delimiter", default=None, help="Field separator of delimited text [default: sniffed].")
@click.option("--no-header", is_flag=True, help="The file has no header line; name columns by number.")
@click.option(
    "--strict",
    is_flag=True,
    help="Fail on records of --baskets with a wrong number of fields instead of setting them aside "
    "(counted and reported by line, like `cartwise ingest` quarantines them).",
)
@db_option
@json_option
def rules(
    baskets_file: Path | None,
    basket_col: str,
    item_col: str,
    min_support: float,
    min_confidence: float,
    max_len: int | None,
    out: Path | None,
    fmt: str,
    delimiter: str | None,
    no_header: bool,
    strict: bool,
    db: Path | None,
    as_json: bool,
) -> None:
    """Association rules A -> C with support, confidence and lift.

    support = share of baskets holding A and C; confidence = support(A and C) / support(A);
    lift = confidence / support(C). The CSV lists antecedents and consequents as item ids joined by `|`.
    """
    from cartwise.pipelines.stores import require_store

    settings = settings_for(db)
    if baskets_file is None:
        require_store(settings)  # before importing Ibis: a mistyped --db fails at once
    import pyarrow.csv as pcsv

    from cartwise.pipelines.analytics import rules_table, run_basket_rules
    from cartwise.pipelines.ingest import LoadOptions

    result = run_basket_rules(
        baskets_file=baskets_file,
        db=settings.db if baskets_file is None else None,
        basket_col=basket_col,
        item_col=item_col,
        min_support=min_support,
        min_confidence=min_confidence,
        max_len=max_len,
        options=LoadOptions(format=fmt, delimiter=delimiter, header=not no_header),
        strict=strict,
    )
    table = rules_table(result)
    if out is not None:
        pcsv.write_csv(table, out)
    summary: dict[str, Any] = {
        "baskets": result.baskets,
        "itemsets": len(result.itemsets),
        "rules": len(result.rules),
        "skipped_rows": result.skipped_rows,
    }
    if result.set_aside is not None:
        summary["set_aside"] = result.set_aside
    if out is not None:
        summary["out"] = str(out)

    def human(s: dict[str, Any]) -> str:
        lines = [f"{s['baskets']:,} baskets, {s['itemsets']:,} frequent itemsets, {s['rules']:,} rules"]
        if s["skipped_rows"]:
            lines.append(f"  {s['skipped_rows']:,} lines left out: no basket id or no item id")
        if "set_aside" in s:
            lines += ["  " + line for line in set_aside_lines(s["set_aside"], "basket")]
        for row in table.slice(0, 10).to_pylist():
            lines.append(
                f"  {row['antecedents']} -> {row['consequents']}  support {row['support']:.4f}  "
                f"confidence {row['confidence']:.3f}  lift {row['lift']:.2f}"
            )
        return "\n".join(lines)

    emit(summary, as_json, human)
