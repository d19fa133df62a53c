"""The Python path for plain event batches gives exactly what the SQL rules give, or steps aside."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartwise.ingest import TimeWindow, prepare_events
from cartwise.ingest.batches import prepare_events_sql
from cartwise.ingest.plain import prepare_plain

IDS = st.one_of(
    st.text("abcXYZ019-_:", min_size=1, max_size=12),
    st.integers(-(10**20), 10**20),
    st.sampled_from(["", " e1", "e1 ", "é", "\u00a0x", "a\tb"]),
)
TIMES = st.one_of(
    st.builds(
        "{:04d}-{:02d}-{:02d}{}{:02d}:{:02d}:{:02d}{}{}".format,
        st.one_of(st.integers(1970, 2099), st.sampled_from([1, 9999])),  # the calendar's ends too
        st.integers(1, 12),
        st.integers(1, 31),
        st.sampled_from(["T", " "]),
        st.integers(0, 23),
        st.integers(0, 59),
        st.integers(0, 59),
        st.sampled_from(["", ".5", ".123", ".123456", ".1234567"]),
        st.sampled_from(
            ["", "Z", "+02:00", "-05:30", "+0200", "+02", "+14:00", "+15:00", "-00:00", "+05:60", " UTC"]
        ),
    ),
    st.sampled_from(["2025-03-01", "1709287200", "yesterday", "", "2025-13-01T00:00:00Z"]),
    st.integers(0, 2_000_000_000),
    st.none(),
)
TYPES = st.sampled_from(
    [
        "view",
        "View",
        "add to cart",
        "add-to-cart",
        "purchase",
        "refund",
        "remove_from_cart",
        " view",
        "vïew",
        "",
    ]
)
NUMBERS = st.one_of(
    st.none(),
    st.integers(-5, 5),
    st.integers(2**62, 2**64),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from(["2", "1.5", True]),
)
PROPERTIES = st.one_of(
    st.none(),
    st.dictionaries(st.text("abc", min_size=1, max_size=3), st.one_of(st.integers(), st.text(max_size=3))),
    st.sampled_from([[], "text", '{"a": 1}']),
)


def _record(draw: st.DrawFn, fields: dict[str, st.SearchStrategy]) -> dict:
    record = {}
    for name, strategy in fields.items():
        if draw(st.integers(0, 9)) > 0:  # a field is sometimes left out
            record[name] = draw(strategy)
    return record


@st.composite
def any_records(draw: st.DrawFn) -> list[dict]:
    fields = {
        "event_id": IDS,
        "ts": TIMES,
        "user_id": IDS,
        "session_id": IDS,
        "type": TYPES,
        "item_id": IDS,
        "quantity": NUMBERS,
        "price": NUMBERS,
        "order_id": IDS,
        "revenue": NUMBERS,
        "properties": PROPERTIES,
    }
    records = [_record(draw, fields) for _ in range(draw(st.integers(1, 4)))]
    if draw(st.booleans()):
        records[0]["device"] = "mobile"  # not a canonical field
    return records


def _plain_time(text: object) -> bool:
    """ISO times the plain path takes: microseconds at most, offsets within +-14:59, no zone names."""
    unusual = ("4567", "UTC", "+15", ":60")
    return isinstance(text, str) and len(text) > 10 and not any(u in text for u in unusual)


@st.composite
def plain_records(draw: st.DrawFn) -> list[dict]:
    ids = st.text("abcXYZ019-_:", min_size=1, max_size=12)
    records = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["view", "Add to cart", "purchase", "refund", "remove-from-cart"]))
        negative_ok = kind in ("refund", "Remove-from-cart".lower())
        low = -3 if negative_ok else 0
        records.append(
            {
                "event_id": draw(ids),
                "ts": draw(TIMES.filter(_plain_time)),
                "user_id": draw(st.one_of(ids, st.integers(0, 10**9))),
                "type": kind,
                "session_id": draw(st.one_of(st.none(), ids)),
                "item_id": draw(st.one_of(st.none(), ids)),
                "quantity": draw(st.one_of(st.none(), st.integers(low, 5))),
                "price": draw(st.one_of(st.none(), st.floats(0, 1e6))),
                "revenue": draw(st.one_of(st.none(), st.floats(low, 1e6))),
                "properties": draw(
                    st.one_of(
                        st.none(),
                        st.dictionaries(st.text("ab", min_size=1), st.integers(-(2**63), 2**63 - 1)),
                    )
                ),
            }
        )
    return records


def _same_as_sql(records: list[dict]) -> bool:
    """Whether the plain path took the batch; when it did, its table is the SQL rules' table."""
    plain = prepare_plain(records)
    if plain is None:
        return False
    reference = prepare_events_sql(records)
    assert reference.rejected == []
    assert plain.schema == reference.table.schema
    assert _comparable(plain) == _comparable(reference.table)
    return True


def _comparable(table: pa.Table) -> list[dict]:
    """Rows with times as integers: an instant past year 9999 has no Python `datetime`."""
    return table.set_column(1, "ts", table["ts"].cast("int64")).to_pylist()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_records())
def test_any_batch_the_plain_path_takes_matches_the_sql_rules(records: list[dict]) -> None:
    _same_as_sql(records)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plain_records())
def test_plain_batches_take_the_plain_path_when_valid(records: list[dict]) -> None:
    taken = _same_as_sql(records)
    valid_dates = prepare_events_sql(records).rejected == []
    assert taken == valid_dates  # the only plain-looking input it refuses is an impossible date


def test_refused_records_still_get_the_sql_messages() -> None:
    records = [
        {"event_id": "e1", "ts": "2025-03-01T10:00:00Z", "user_id": "u1", "type": "view", "price": -1},
        {"event_id": "e2", "ts": "2025-03-01T10:00:00Z", "user_id": "u1", "type": "view"},
    ]
    prepared = prepare_events(records)
    assert prepared.table.column("event_id").to_pylist() == ["e2"]
    assert prepared.rejected == [{"index": 0, "reason": "price: '-1.0' is negative; it must be zero or more"}]


def test_times_whose_utc_leaves_years_1_to_9999_match_the_sql_rules() -> None:
    # Python's datetime cannot hold these instants. Year 10000 is refused whatever the window;
    # year 0 only by a window that starts later (the default starts in 1990).
    wide = TimeWindow.for_replay()
    late = [{"event_id": "e1", "ts": "9999-12-31T23:59:59-14:00", "user_id": "u1", "type": "view"}]
    assert prepare_plain(late, wide) is None
    assert "year 10000" in prepare_events_sql(late, window=wide).rejected[0]["reason"]
    early = [{"event_id": "e1", "ts": "0001-01-01T00:00:00+01:00", "user_id": "u1", "type": "view"}]
    plain = prepare_plain(early, wide)
    reference = prepare_events_sql(early, window=wide)
    assert plain is not None and reference.rejected == []
    assert plain["ts"].cast("int64").to_pylist() == reference.table["ts"].cast("int64").to_pylist()
    assert prepare_plain(early) is None
    assert "`ts_earliest`" in prepare_events_sql(early).rejected[0]["reason"]


def test_a_time_holding_a_line_break_is_refused_by_the_sql_rules() -> None:
    two_times = "2025-03-01T10:00:00Z\n2025-03-01T11:00:00Z"
    records = [{"event_id": "e1", "ts": two_times, "user_id": "u1", "type": "view"}]
    assert prepare_plain(records) is None
    prepared = prepare_events(records)
    assert prepared.table.num_rows == 0
    assert [r["index"] for r in prepared.rejected] == [0]
    assert prepared.rejected[0]["reason"].startswith("ts:")


def test_the_plain_path_and_the_sql_rules_share_one_default_window() -> None:
    # Two days ahead: past the collector's day, inside a file load's year. Both paths, given no
    # window, apply the collector's (the plain path once defaulted to the loads' and took it).
    from datetime import UTC, datetime, timedelta

    ahead = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    records = [{"event_id": "e1", "ts": ahead, "user_id": "u1", "type": "view"}]
    assert prepare_plain(records) is None
    assert "more than 24 hours ahead" in prepare_events_sql(records).rejected[0]["reason"]
    assert prepare_plain(records, TimeWindow.for_replay()) is not None
