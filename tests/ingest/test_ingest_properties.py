"""Any file, however odd its values, loads with every record stored or reported, or fails with a clear error."""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import datetime
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartwise.core.errors import CartwiseError
from cartwise.core.settings import get_settings
from cartwise.ingest import ingest_file
from cartwise.schema import table
from cartwise.store import open_store

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=10)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | TEXT,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner, max_size=2),
    max_leaves=4,
)
TIMES = st.one_of(
    TEXT,
    st.from_regex(
        r"\A[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,2}([T ][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?)?"
        r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?\Z"
    ),
    st.integers(-(10**13), 10**13).map(str),  # epoch seconds or milliseconds, in range or not
)
VALUES = st.one_of(
    TEXT,
    st.sampled_from(["", "0", "-1", "1.5", "nan", "inf", "true", "1e400", " 7 ", "a@b", "00", "{}", "[]"]),
    st.integers(-(10**20), 10**20).map(str),
    st.floats().map(str),
    JSON.map(lambda v: orjson.dumps(v).decode()),
)
TIME_COLUMNS = {"ts", "created_at", "email_consent_at", "sms_consent_at"}
RAW_JSON = st.one_of(
    JSON, st.floats(), st.integers(-(2**63), 2**63 - 1)
)  # JSON lines may hold any JSON value
STORED_IN = {"events": "events", "items": "items", "users": "users", "transactions": "orders"}


@st.composite
def files(draw: st.DrawFn) -> tuple[str, str, list[str], list[dict[str, str]]]:
    kind = draw(st.sampled_from(["events", "items", "users", "transactions"]))
    names = [c.name for c in table(kind).columns] + ["device"]  # plus a column to keep in properties
    names = [n for n in names if draw(st.integers(0, 4)) > 0]  # some columns left out
    fmt = draw(st.sampled_from(["csv", "jsonl"]))
    other = st.one_of(VALUES, RAW_JSON) if fmt == "jsonl" else VALUES
    row = st.fixed_dictionaries({n: TIMES if n in TIME_COLUMNS else other for n in names})
    return kind, fmt, names, draw(st.lists(row, min_size=1, max_size=5))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(files())
def test_every_record_of_any_file_is_stored_or_reported(spec: tuple[str, str, list[str], list[dict]]) -> None:
    kind, fmt, names, rows = spec
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input.{fmt}"
        if fmt == "csv":
            text = io.StringIO()
            writer = csv.writer(text)
            writer.writerows([names, *([r[n] for n in names] for r in rows)])
            path.write_text(text.getvalue(), encoding="utf-8")
        else:
            path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows))
        db = Path(tmp) / "store.duckdb"
        with open_store(db, settings=get_settings(db=db, threads=1)) as store:
            try:
                summary = ingest_file(store, kind, path)
            except CartwiseError:
                return  # a clear error for the whole file (e.g. a required column missing)
            assert summary.read == len(rows)
            assert summary.read == summary.loaded + summary.duplicates + summary.rejected
            if kind == "events":  # a fresh store: what was loaded is what is there
                assert store.count("events") == summary.loaded
            # Stored times lie in the accepted window (from 1990, before year 10000): they read
            # back as datetimes, never as text.
            stored = STORED_IN[kind]
            for name in TIME_COLUMNS & set(store.con.table(stored).columns):
                for (value,) in store.con.execute(f'SELECT "{name}" FROM {stored}').fetchall():
                    assert value is None or (isinstance(value, datetime) and value >= datetime(1990, 1, 1))
            if kind == "events":  # ids are text as sent: never an object's JSON text
                for (user_id,) in store.con.execute("SELECT user_id FROM events").fetchall():
                    assert not user_id.startswith(("{", "[")) or any(
                        r.get("user_id") == user_id for r in rows
                    )
