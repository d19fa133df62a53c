"""Funnel semantics against hand-computed answers and a brute-force enumeration of chains."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import ibis
import numpy as np
import pandas as pd
import pytest

from cartwise.analytics import Step, funnel, parse_steps
from cartwise.core.errors import ConfigError, InputError

T0 = datetime(2026, 3, 2, 9, 0, 0)
STEPS = "view,add_to_cart,purchase"


def events(rows: list[tuple[str, float, str]], **extra: list[object]) -> pd.DataFrame:
    """(user, hours after T0, type) rows, in the order given."""
    frame = pd.DataFrame(
        {
            "user_id": [r[0] for r in rows],
            "ts": [T0 + timedelta(hours=r[1]) for r in rows],
            "type": [r[2] for r in rows],
        }
    )
    for name, values in extra.items():
        frame[name] = values
    return frame


def users(result: object) -> list[int]:
    return list(result.steps["users"])  # type: ignore[attr-defined]


def test_straight_path_counts_conversions_and_gaps() -> None:
    data = events(
        [
            ("a", 0, "view"),
            ("a", 1, "add_to_cart"),
            ("a", 3, "purchase"),
            ("b", 0, "view"),
            ("b", 2, "add_to_cart"),
            ("c", 5, "view"),
        ]
    )
    result = funnel(data, STEPS, "1d")
    assert users(result) == [3, 2, 1]
    assert list(result.steps.conversion_from_previous) == [1.0, 2 / 3, 0.5]
    assert list(result.steps.conversion_from_first) == [1.0, 2 / 3, 1 / 3]
    # Gaps a: 1 h, b: 2 h -> median 1.5 h; purchase: a only, 2 h.
    assert result.steps.median_seconds_from_previous.tolist()[1:] == [5400.0, 7200.0]
    assert list(result.steps.dropped) == [0, 1, 1]
    assert result.dropped == {"view": [], "add_to_cart": ["c"], "purchase": ["b"]}


def test_a_store_keeps_no_temporary_table_after_a_breakdown_with_dropped_users() -> None:
    # The per-user result is read by three queries, so it is cached for the call only.
    con = ibis.duckdb.connect()
    data = events(
        [("a", 0, "view"), ("a", 1, "add_to_cart"), ("b", 0, "view"), ("c", 0, "purchase")],
        device=["m", "m", "d", "d"],
    )
    table = con.create_table("events", data)
    result = funnel(table, STEPS, "1d", breakdown="device", dropped=True)
    assert users(result) == [2, 1, 0]
    assert result.dropped == {"view": [], "add_to_cart": ["b"], "purchase": ["a"]}
    assert result.by_segment is not None
    assert result.by_segment.groupby("segment")["users"].apply(list).to_dict() == {
        "d": [1, 0, 0],
        "m": [1, 1, 0],
    }
    temporary = con.raw_sql("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall()
    assert temporary == [(0,)]


def test_ties_in_time_count_in_either_order() -> None:
    data = events([("a", 2, "purchase"), ("a", 2, "add_to_cart"), ("a", 2, "view")])
    result = funnel(data, STEPS, "30m")
    assert users(result) == [1, 1, 1]
    assert result.steps.median_seconds_from_previous.tolist()[1:] == [0.0, 0.0]


def test_row_order_does_not_matter() -> None:
    rows = [
        ("a", 0, "view"),
        ("a", 1, "add_to_cart"),
        ("a", 2, "purchase"),
        ("b", 3, "view"),
        ("b", 1, "add_to_cart"),
    ]
    forward = funnel(events(rows), STEPS, "1d")
    backward = funnel(events(rows[::-1]), STEPS, "1d")
    assert users(forward) == users(backward) == [2, 1, 1]


def test_window_boundary_is_inclusive() -> None:
    data = events(
        [
            ("on", 0, "view"),
            ("on", 24, "add_to_cart"),
            ("over", 0, "view"),
            ("over", 24 + 1 / 3600, "add_to_cart"),
        ]
    )
    result = funnel(data, "view,add_to_cart", "1d")
    assert users(result) == [2, 1]
    assert result.dropped["add_to_cart"] == ["over"]


def test_a_later_start_can_complete_when_the_first_cannot() -> None:
    # From the 0 h view the purchase (43 h) is out of a 1-day window; from the 20 h view it is in.
    data = events([("a", 0, "view"), ("a", 20, "view"), ("a", 21, "add_to_cart"), ("a", 43, "purchase")])
    result = funnel(data, STEPS, "1d")
    assert users(result) == [1, 1, 1]
    # Shortest greedy gaps: view 20 h -> cart 21 h = 1 h; cart 21 h -> purchase 43 h = 22 h.
    assert result.steps.median_seconds_from_previous.tolist()[1:] == [3600.0, 22 * 3600.0]


def test_repeated_step_events_count_a_user_once() -> None:
    data = events([("a", h, "view") for h in range(5)] + [("a", 6, "add_to_cart"), ("a", 7, "add_to_cart")])
    result = funnel(data, "view,add_to_cart", "1d")
    assert users(result) == [1, 1]
    assert result.steps.median_seconds_from_previous.tolist()[1] == 7200.0  # from the 4 h view


def test_later_steps_without_earlier_ones_do_not_count() -> None:
    data = events(
        [
            ("cart_first", 0, "add_to_cart"),
            ("cart_first", 1, "view"),
            ("cart_first", 2, "purchase"),
            ("buyer_only", 0, "purchase"),
            ("no_view", 0, "add_to_cart"),
            ("no_view", 1, "purchase"),
        ]
    )
    result = funnel(data, STEPS, "1d")
    # cart_first: the purchase comes after the view but no cart follows the view.
    assert users(result) == [1, 0, 0]
    assert result.dropped["add_to_cart"] == ["cart_first"]


def test_step_filters_on_a_column() -> None:
    data = events(
        [("a", 0, "view"), ("a", 1, "add_to_cart"), ("b", 0, "view"), ("b", 1, "add_to_cart")],
        device=["mobile", "mobile", "desktop", "desktop"],
    )
    result = funnel(data, "view[device=mobile],add_to_cart", "1d")
    assert users(result) == [1, 1]
    assert list(result.steps.step) == ["view[device=mobile]", "add_to_cart"]


def test_breakdown_by_event_column_uses_the_first_step_one_event() -> None:
    data = events(
        [("a", 0, "view"), ("a", 5, "view"), ("a", 6, "add_to_cart"), ("b", 0, "view"), ("c", 1, "view")],
        channel=["email", "ads", None, "ads", "ads"],
    )
    result = funnel(data, "view,add_to_cart", "1d", breakdown="channel")
    seg = result.by_segment.set_index(["segment", "step"])["users"].to_dict()
    assert seg == {
        ("ads", "view"): 2,
        ("ads", "add_to_cart"): 0,
        ("email", "view"): 1,
        ("email", "add_to_cart"): 1,
    }


def test_breakdown_by_user_column() -> None:
    data = events([("a", 0, "view"), ("a", 1, "add_to_cart"), ("b", 0, "view"), ("c", 0, "view")])
    people = pd.DataFrame({"user_id": ["a", "b", "c"], "country": ["FR", "FR", "DE"]})
    result = funnel(data, "view,add_to_cart", "1d", breakdown="country", users=people)
    seg = result.by_segment.set_index(["segment", "step"])["users"].to_dict()
    assert seg == {("DE", "view"): 1, ("DE", "add_to_cart"): 0, ("FR", "view"): 2, ("FR", "add_to_cart"): 1}
    assert result.to_dict()["segments"][0]["segment"] == "DE"


def test_date_range_keeps_only_events_inside() -> None:
    data = events([("a", 0, "view"), ("a", 30, "view"), ("a", 31, "add_to_cart")])
    result = funnel(
        data, "view,add_to_cart", "2h", start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=31)
    )
    assert users(result) == [1, 0]


def test_to_dict_shape() -> None:
    data = events([("a", 0, "view"), ("a", 1, "add_to_cart")])
    out = funnel(data, "view,add_to_cart", "1d").to_dict()
    assert out["steps"][0] == {
        "step": "view",
        "users": 1,
        "conversion_from_previous": 1.0,
        "conversion_from_first": 1.0,
        "median_seconds_from_previous": None,
        "dropped": 0,
        "dropped_users": [],
    }
    assert out["window_seconds"] == 86400.0


def test_parse_steps_keeps_commas_inside_brackets() -> None:
    assert parse_steps("view[device=mobile,country=FR], purchase") == [
        Step("view", (("device", "mobile"), ("country", "FR"))),
        Step("purchase"),
    ]


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"steps": "view,cart"}, ConfigError, "types present: add_to_cart, view"),
        ({"steps": "view,add_to_cart,view"}, ConfigError, "repeats the event type 'view'"),
        ({"steps": "view"}, ConfigError, "at least two steps"),
        ({"window": "1 day"}, ConfigError, "`window`: '1 day' is not a duration"),
        ({"window": "0m"}, ConfigError, "must be positive"),
        ({"breakdown": "planet"}, ConfigError, "`breakdown`: 'planet' is not a column"),
        ({"steps": "view[device=x],add_to_cart"}, InputError, "no column 'device'"),
        ({"start": "yesterday-ish"}, ConfigError, "`start`: 'yesterday-ish' is not a date"),
    ],
)
def test_bad_input_is_named(kwargs: dict[str, str], error: type[Exception], fragment: str) -> None:
    data = events([("a", 0, "view"), ("a", 1, "add_to_cart")])
    args = {"steps": "view,add_to_cart", "window": "1d", **kwargs}
    with pytest.raises(error) as caught:
        funnel(data, args.pop("steps"), args.pop("window"), **args)
    assert fragment in str(caught.value)
    # The error carries the parameter by its Python name; the message does not name a CLI flag.
    assert caught.value.parameter == next(iter(kwargs))  # type: ignore[attr-defined]
    assert "--" not in str(caught.value)


def brute_force(data: pd.DataFrame, steps: list[str], window: float) -> list[int]:
    """Users per step by enumerating every chain (tiny data only)."""
    reached = [set() for _ in steps]
    for user, group in data.groupby("user_id"):
        times = [sorted(group.loc[group.type == s, "ts"]) for s in steps]
        for k in range(1, len(steps) + 1):
            for chain in itertools.product(*times[:k]):
                ordered = all(a <= b for a, b in itertools.pairwise(chain))
                if ordered and (chain[-1] - chain[0]).total_seconds() <= window:
                    reached[k - 1].add(user)
                    break
    return [len(r) for r in reached]


def brute_force_gaps(data: pd.DataFrame, steps: list[str], window: float) -> list[float | None]:
    """Median over users of each user's shortest gap to step k among greedy chains (step 1: None)."""
    gaps: list[list[float]] = [[] for _ in steps]
    for _, group in data.groupby("user_id"):
        times = [sorted(group.loc[group.type == s, "ts"]) for s in steps]
        best: list[float | None] = [None] * len(steps)
        for t1 in times[0]:
            prev = t1
            for k in range(1, len(steps)):
                nxt = [t for t in times[k] if prev <= t and (t - t1).total_seconds() <= window]
                if not nxt:
                    break
                gap = (nxt[0] - prev).total_seconds()
                best[k] = gap if best[k] is None else min(best[k], gap)  # type: ignore[type-var]
                prev = nxt[0]
        for k, gap in enumerate(best):
            if gap is not None:
                gaps[k].append(gap)
    return [None] + [float(np.median(g)) if g else None for g in gaps[1:]]


@pytest.mark.parametrize("seed", range(6))
def test_matches_brute_force_on_random_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    data = pd.DataFrame(
        {
            "user_id": rng.integers(0, 40, n).astype(str),
            # Coarse times (whole hours over 3 days) make ties and boundary cases common.
            "ts": [T0 + timedelta(hours=int(h)) for h in rng.integers(0, 72, n)],
            "type": rng.choice(
                ["view", "add_to_cart", "begin_checkout", "purchase"], n, p=[0.4, 0.25, 0.2, 0.15]
            ),
        }
    )
    steps = ["view", "add_to_cart", "begin_checkout", "purchase"]
    for hours in (0, 5, 24):
        result = funnel(data, steps, timedelta(hours=hours) if hours else "1s", dropped=False)
        assert users(result) == brute_force(data, steps, max(hours * 3600, 1))
        medians = [None if pd.isna(m) else m for m in result.steps.median_seconds_from_previous]
        assert medians == brute_force_gaps(data, steps, max(hours * 3600, 1))


def test_filters_and_breakdown_read_json_properties_of_the_store() -> None:
    from cartwise.store import Store

    with Store(":memory:") as store:
        data = pd.DataFrame(
            {
                "event_id": ["1", "2", "3", "4", "5"],
                "ts": [T0, T0 + timedelta(hours=1), T0, T0 + timedelta(hours=1), T0],
                "user_id": ["a", "a", "b", "b", "c"],
                "type": ["view", "add_to_cart", "view", "add_to_cart", "view"],
                "properties": [
                    '{"device": "mobile", "n": 2}',
                    "{}",
                    '{"device": "desktop", "n": 2}',
                    "{}",
                    "{}",
                ],
            }
        )
        store.con.register("incoming", data)
        store.con.execute(
            "INSERT INTO events (event_id, ts, user_id, type, properties) SELECT * FROM incoming"
        )
        events = store.ibis().table("events")
        assert users(funnel(events, "view[device=mobile],add_to_cart", "1d")) == [1, 1]
        assert users(funnel(events, "view[n=2],add_to_cart", "1d")) == [2, 2]
        result = funnel(events, "view,add_to_cart", "1d", breakdown="device")
        seg = {(r["segment"], r["step"]): r["users"] for r in result.to_dict()["segments"]}
        assert seg[("mobile", "add_to_cart")] == 1 and seg[(None, "view")] == 1
        with pytest.raises(ConfigError, match="no event or user has this property"):
            funnel(events, "view,add_to_cart", "1d", breakdown="colour")


def test_breakdown_by_a_user_attribute_when_events_have_properties() -> None:
    data = events(
        [("a", 0, "view"), ("a", 1, "add_to_cart"), ("b", 0, "view")],
        properties=['{"page": "/"}', '{"page": "/cart"}', '{"page": "/"}'],
    )
    people = pd.DataFrame(
        {"user_id": ["a", "b"], "attributes": ['{"age_band": "25-34"}', '{"age_band": "55+"}']}
    )
    # As in the store, the extras columns are JSON.
    event_table = ibis.memtable(data).mutate(properties=ibis._.properties.cast("json"))
    user_table = ibis.memtable(people).mutate(attributes=ibis._.attributes.cast("json"))
    result = funnel(event_table, "view,add_to_cart", "1d", breakdown="age_band", users=user_table)
    seg = result.by_segment.set_index(["segment", "step"])["users"].to_dict()
    assert seg == {
        ("25-34", "view"): 1,
        ("25-34", "add_to_cart"): 1,
        ("55+", "view"): 1,
        ("55+", "add_to_cart"): 0,
    }
