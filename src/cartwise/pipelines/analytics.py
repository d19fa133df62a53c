"""Analytics jobs: run KPIs, funnels, retention and basket rules on the store or on a file,
with DuckDB (default) or Spark as the engine.

A file is loaded with exactly the rules of `cartwise ingest` (mapping, validation,
quarantine) into an in-memory store, so answers on a file equal answers after ingesting it.
With `engine="spark"` the canonical tables are handed to a local PySpark session and the
same Ibis expressions run there.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from cartwise.analytics import (
    EVENT_KPIS,
    BasketRules,
    FunnelResult,
    Step,
    basket_rules,
    funnel,
    kpis,
    retention,
    stored_facts,
    stored_orders,
    stored_timeline,
)
from cartwise.core.errors import ConfigError, DataWarning, InputError
from cartwise.core.settings import Settings, get_settings
from cartwise.ingest import LoadOptions, ingest_file
from cartwise.pipelines.choices import ENGINES, MESSAGE_MENTIONS, Engine
from cartwise.store import Store, open_store


@dataclass
class Source:
    """Where the events come from: the store (`db`) or a file read like `cartwise ingest`.

    A file's rows that ingestion would quarantine are set aside and counted in `set_aside`
    (`{"set_aside", "reasons": [{"reason", "count", "lines", "example"}]}`, filled when the
    file is read, lines as an editor numbers them), or with `strict` an InputError."""

    db: Path | None = None
    events_file: Path | None = None
    options: LoadOptions = field(default_factory=LoadOptions)
    engine: Engine = "duckdb"
    strict: bool = False
    set_aside: dict[str, Any] | None = field(default=None, compare=False)


@functools.cache
def spark_session() -> Any:
    """One local PySpark session per process (2 threads, no UI, UTC, 4 shuffle partitions)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "spark needs PySpark: pip install 'cartwise[spark]' (Java 17 must be installed).",
            parameter="engine",
        ) from None
    return (
        SparkSession.builder.master("local[2]")
        .appName("cartwise")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


def spark_tables(tables: dict[str, pa.Table]) -> dict[str, Any]:
    """Ibis tables on the local Spark session holding the given Arrow tables (JSON as text)."""
    import ibis

    session = spark_session()
    backend = ibis.pyspark.connect(session)
    out = {}
    for name, table in tables.items():
        session.createDataFrame(
            table.to_pandas(), schema=_spark_schema(table.schema)
        ).createOrReplaceTempView(f"cartwise_{name}")
        out[name] = backend.table(f"cartwise_{name}")
    return out


def _spark_schema(schema: pa.Schema) -> Any:
    """Spark schema of an Arrow schema (given explicitly so empty tables work too)."""
    from pyspark.sql import types as st

    def convert(kind: pa.DataType) -> Any:
        if pa.types.is_timestamp(kind):
            return st.TimestampType()
        if pa.types.is_integer(kind):
            return st.LongType()
        if pa.types.is_floating(kind):
            return st.DoubleType()
        if pa.types.is_boolean(kind):
            return st.BooleanType()
        if pa.types.is_date(kind):
            return st.DateType()
        return st.StringType()

    return st.StructType([st.StructField(f.name, convert(f.type), True) for f in schema])


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ConfigError(f"{engine!r} is unknown; choose one of {', '.join(ENGINES)}.", parameter="engine")


def _set_aside(loaded: Any) -> dict[str, Any]:
    """The rows ingestion rejected, as `cartwise.pipelines.bad_rows` reports them: by the line an
    editor shows (`lines` of each rejection group)."""
    return {
        "set_aside": loaded.rejected,
        "reasons": [
            {
                "reason": f"record whose {r['column']} {r['reason']}"
                if r["column"]
                else r["reason"]
                if r["reason"].startswith("record")
                else f"record {r['reason']}",
                "count": r["count"],
                "lines": r["lines"],
                "example": r["example"],
            }
            for r in loaded.rejections
        ],
    }


def _with_set_aside(result: dict[str, Any], source: Source) -> dict[str, Any]:
    """`result`, with `set_aside` when rows of the file were (the JSON contracts stay as they are
    for a clean file)."""
    if source.set_aside and source.set_aside["set_aside"]:
        return {**result, "set_aside": source.set_aside}
    return result


@contextmanager
def _store_for(source: Source, settings: Settings | None) -> Iterator[Store]:
    if source.events_file is not None:
        with Store(":memory:", settings=settings) as store:
            loaded = ingest_file(store, "events", source.events_file, source.options)
            source.set_aside = _set_aside(loaded)
            if loaded.rejected:  # counted, not silent: the answers leave these rows out
                shown = "; ".join(
                    f"{r['count']:,} {r['reason']} (line{'s' if r['count'] > 1 else ''} "
                    f"{', '.join(map(str, r['lines']))}{', ...' if r['count'] > len(r['lines']) else ''}, "
                    f"e.g. {r['example']!r})"
                    for r in source.set_aside["reasons"][:3]
                )
                if source.strict:
                    raise InputError(
                        f"{source.events_file}: {loaded.rejected:,} of {loaded.read:,} records cannot be "
                        f"used: {shown}. All are listed in {loaded.quarantine_file}."
                    )
                warnings.warn(
                    DataWarning(
                        f"{loaded.rejected:,} of {loaded.read:,} rows of {source.events_file} are set aside: "
                        f"{shown}. All are listed in {loaded.quarantine_file}; pass `strict` to fail instead.",
                        mentions=(*MESSAGE_MENTIONS, "strict"),
                    ),
                    stacklevel=2,
                )
            yield store
        return
    settings = settings or get_settings(db=source.db)
    path = source.db or settings.db
    if not Path(path).exists():
        raise InputError(
            f"no store at {path}; load one with `cartwise ingest`, or read an events file instead.",
            parameter="db",
        )
    with open_store(path, settings=settings, read_only=True) as store:
        yield store


@contextmanager
def canonical_tables(
    source: Source,
    names: tuple[str, ...] = ("events",),
    settings: Settings | None = None,
    *,
    facts: bool = False,
    timeline: bool = False,
) -> Iterator[dict[str, Any]]:
    """Ibis tables of the canonical tables `names` on the chosen engine (missing ones omitted).

    With `facts`, from a store on DuckDB, `"facts"` is added: the events' rollup
    (`stored_facts`), which KPIs and retention read instead of every event when they can.
    With `timeline`, likewise `"timeline"`: the events sorted for funnels (`stored_timeline`).
    With `facts`, `"orders"` is left out of a store's tables unless some orders come from a
    transaction log (`stored_orders`): only those add to the events' facts.
    """
    _check_engine(source.engine)
    with _store_for(source, settings) as store:
        present = [n for n in names if store.has_table(n)]
        if source.engine == "duckdb":
            backend = store.ibis()
            tables = {n: backend.table(n) for n in present}
            extra = {}
            if source.events_file is None and "events" in present:
                if facts:
                    extra["facts"] = stored_facts(store)
                    # only orders from a transaction log add to the events' facts (`with_orders`)
                    extra["orders"] = stored_orders(store)
                if timeline:
                    extra["timeline"] = stored_timeline(store)
            if "orders" in extra and extra["orders"] is None:
                tables.pop("orders", None)
            yield tables | {name: table for name, table in extra.items() if table is not None}
        else:
            yield spark_tables({n: _arrow(store, _text_json_select(store, n)) for n in present})


def run_kpis(
    source: Source,
    by: str = "day",
    *,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
) -> dict[str, Any]:
    """`{"by": grain, "periods": [{period_start, revenue, revenue_prev, ...}], "needs_events"}`.

    Orders loaded from a transaction log count with the purchases; `needs_events` names the
    KPIs left null for want of events (`cartwise.analytics.EVENT_KPIS`; empty when none is).
    """
    with canonical_tables(source, ("events", "orders"), facts=True) as tables:
        frame = kpis(
            tables["events"], by, start=start, end=end, facts=tables.get("facts"), orders=tables.get("orders")
        )
    missing = [k for k in EVENT_KPIS if frame[k].isna().any()]
    return _with_set_aside(
        {"by": by, "periods": _records(frame.drop(columns=["period"])), "needs_events": missing}, source
    )


def run_funnel(
    source: Source,
    steps: str | Sequence[str | Step],
    window: str | timedelta = "1d",
    *,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    breakdown: str | None = None,
    with_dropped: bool = False,
) -> dict[str, Any]:
    """`{"steps": [{"step", "users", "conversion_from_previous", ...}], ...}` (see `analytics.funnel`).
    A store without events is an InputError saying so (not a funnel of zeros)."""
    with canonical_tables(source, ("events", "users"), timeline=True) as tables:
        if source.events_file is None and not int(tables["events"].count().execute()):
            # zeros would read as "nobody converted"; a store of orders alone cannot tell
            raise InputError(
                "A funnel needs events, and this store has none (orders from a transaction log give "
                "KPIs and retention, not visits or steps). Load events with `cartwise ingest events`, "
                "or give a file of events as `events`.",
                mentions=("events",),
            )
        result: FunnelResult = funnel(
            tables["events"],
            steps,
            window,
            start=start,
            end=end,
            breakdown=breakdown,
            users=tables.get("users"),
            dropped=with_dropped,
            timeline=tables.get("timeline"),
        )
    return _with_set_aside(result.to_dict(with_dropped=with_dropped), source)


def run_retention(
    source: Source,
    by: str = "week",
    *,
    cohort: str = "first_purchase",
    activity: str = "any",
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
) -> dict[str, Any]:
    """`{"by", "cohort", "activity", "cells": [{cohort_start, period, retention, ltv, ...}]}`."""
    with canonical_tables(source, ("events", "orders"), facts=True) as tables:
        frame = retention(
            tables["events"],
            by,  # type: ignore[arg-type]
            cohort=cohort,  # type: ignore[arg-type]
            activity=activity,  # type: ignore[arg-type]
            start=start,
            end=end,
            facts=tables.get("facts"),
            orders=tables.get("orders"),
        )
    return _with_set_aside(
        {"by": by, "cohort": cohort, "activity": activity, "cells": _records(frame.drop(columns=["cohort"]))},
        source,
    )


def run_basket_rules(
    *,
    baskets_file: Path | None = None,
    db: Path | None = None,
    basket_col: str = "order_id",
    item_col: str = "item_id",
    min_support: float = 0.01,
    min_confidence: float = 0.5,
    max_len: int | None = None,
    options: LoadOptions | None = None,
    settings: Settings | None = None,
    strict: bool = False,
) -> BasketRules:
    """Rules over the baskets of a file (one row per basket line) or of the store's `order_lines`.

    A file's records with a wrong number of fields are set aside and reported by the line an
    editor shows (`set_aside`; `cartwise.pipelines.bad_rows`), or with `strict` an error;
    lines without a basket or item id are left out and counted (`skipped_rows`)."""
    if baskets_file is not None:
        from cartwise.pipelines.bad_rows import read_checked

        opts = options or LoadOptions()
        data, report = read_checked(
            baskets_file,
            opts.header,
            {},
            strict=strict,
            format=opts.format,
            delimiter=opts.delimiter,
            encoding=opts.encoding,
        )
        found = basket_rules(
            pa.Table.from_pandas(data, preserve_index=False),
            basket_col=basket_col,
            item_col=item_col,
            min_support=min_support,
            min_confidence=min_confidence,
            max_len=max_len,
        )
        return dataclasses.replace(found, set_aside=report)
    with _store_for(Source(db=db), settings) as store:
        lines = _arrow(store, "SELECT order_id, item_id FROM order_lines")
    return basket_rules(
        lines,
        basket_col="order_id",
        item_col="item_id",
        min_support=min_support,
        min_confidence=min_confidence,
        max_len=max_len,
    )


def rules_table(result: BasketRules) -> pa.Table:
    """The rules as a flat table: antecedents and consequents as item ids joined by `|`."""
    rules = result.rules
    return pa.table(
        {
            "antecedents": pa.array(["|".join(a) for a in rules["antecedents"]], pa.string()),
            "consequents": pa.array(["|".join(c) for c in rules["consequents"]], pa.string()),
            "support": pa.array(rules["support"], pa.float64()),
            "confidence": pa.array(rules["confidence"], pa.float64()),
            "lift": pa.array(rules["lift"], pa.float64()),
        }
    )


def _text_json_select(store: Store, name: str) -> str:
    """SELECT of every column of `name`, JSON ones as text (Spark has no JSON type)."""
    described = _arrow(store, f'DESCRIBE "{name}"').to_pylist()
    described = [(row["column_name"], row["column_type"]) for row in described]
    cols = [f'CAST("{c}" AS VARCHAR) AS "{c}"' if t == "JSON" else f'"{c}"' for c, t in described]
    return f'SELECT {", ".join(cols)} FROM "{name}"'


def _arrow(store: Store, sql: str) -> pa.Table:
    # A cursor of its own: a result left unfinished on the main connection must not block us.
    cursor = store.con.cursor()
    try:
        return cursor.sql(sql).to_arrow_table()
    finally:
        cursor.close()


def _records(frame: Any) -> list[dict[str, Any]]:
    import pandas as pd

    return [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]
