"""RFM scores and segments on hand-computed cases; the segment rule language."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from cartwise.core.errors import ConfigError
from cartwise.profiles import RFM_SEGMENTS, add_rfm, quintile_scores, rfm_segment, rule_filter


def test_quintile_scores_by_hand() -> None:
    # Ten distinct values: ranks 1..10 -> ceil(5 * r / 10) = 1,1,2,2,3,3,4,4,5,5.
    assert quintile_scores(pd.Series(range(10))).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # Lower is better for recency: the smallest value gets 5.
    assert quintile_scores(pd.Series([1.0, 50.0, 100.0, 200.0, 400.0]), higher_is_better=False).tolist() == [
        5,
        4,
        3,
        2,
        1,
    ]


def test_ties_share_the_score_of_the_customers_below_them() -> None:
    # Six one-order customers of ten: rank "min" is 1 -> score ceil(5 * 1/10) = 1.
    orders = pd.Series([1, 1, 1, 1, 1, 1, 2, 3, 3, 9])
    assert quintile_scores(orders).tolist() == [1, 1, 1, 1, 1, 1, 4, 4, 4, 5]


def test_every_r_f_pair_has_exactly_the_documented_segment() -> None:
    pairs = [(r, f) for r in range(1, 6) for f in range(1, 6)]
    names = rfm_segment(
        pd.Series([p[0] for p in pairs], dtype="Int64"), pd.Series([p[1] for p in pairs], dtype="Int64")
    )
    by_pair = dict(zip(pairs, names, strict=True))
    assert None not in by_pair.values()
    assert by_pair[(5, 5)] == "Champions" and by_pair[(1, 1)] == "Lost" and by_pair[(2, 1)] == "Hibernating"
    assert (
        by_pair[(1, 5)] == "Can't lose them" and by_pair[(5, 1)] == "New" and by_pair[(4, 1)] == "Promising"
    )
    assert by_pair[(3, 3)] == "Need attention" and by_pair[(2, 3)] == "At risk" and by_pair[(4, 4)] == "Loyal"
    assert {name for name, _, _ in RFM_SEGMENTS} == set(by_pair.values())


def test_add_rfm_leaves_non_buyers_unscored() -> None:
    frame = pd.DataFrame(
        {
            "user_id": ["a", "b", "c"],
            "orders": [0, 3, 1],
            "revenue": [0.0, 90.0, 10.0],
            "days_since_last_order": [None, 2.0, 40.0],
        }
    )
    out = add_rfm(frame).set_index("user_id")
    assert pd.isna(out.loc["a", "recency_score"]) and out.loc["a", "rfm_segment"] is None
    assert (out.loc["b", "recency_score"], out.loc["b", "frequency_score"]) == (5, 5)
    assert out.loc["b", "rfm_segment"] == "Champions"


@pytest.fixture
def table() -> ibis.Table:
    return ibis.memtable(
        pd.DataFrame(
            {
                "user_id": ["a", "b", "c", "d"],
                "p_alive": [0.1, 0.5, 0.2, None],
                "clv_12m": [300.0, 400.0, 50.0, 900.0],
                "rfm_segment": ["At risk", "Champions", "Lost", None],
                "email_consent": [True, False, True, True],
                "last_order_at": pd.to_datetime(["2025-01-01", "2025-03-01", "2024-12-01", None]),
            }
        )
    )


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("p_alive < 0.3 and clv_12m > 200", ["a"]),
        ("p_alive < 0.3 or clv_12m > 800", ["a", "c", "d"]),
        ('rfm_segment in ["At risk", "Lost"] and email_consent == true', ["a", "c"]),
        ("not (clv_12m >= 300)", ["c"]),
        ("p_alive == null", ["d"]),
        ('last_order_at >= "2025-01-01"', ["a", "b"]),
        ("0.15 < 0.3", None),
    ],
)
def test_rules_select_the_right_customers(table: ibis.Table, rule: str, expected: list[str] | None) -> None:
    if expected is None:
        with pytest.raises(ConfigError, match="profile field"):
            rule_filter(table, rule)
        return
    chosen = table.filter(rule_filter(table, rule)).user_id.execute().sort_values().tolist()
    assert chosen == expected


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("p_alive <", r"does not parse \(invalid syntax at the end\)"),
        ("(orders > 3", "does not parse .* at column 1"),
        ("orders = 3", "at column 8\\). Compare with `==`, not `=`."),
        ("palive < 0.3", "Did you mean `p_alive`"),
        ("__import__('os').system('true')", "not a condition"),
        ("clv_12m > p_alive", "expected a number"),
        ("", "empty"),
        ('clv_12m > "x"', "holds a number"),
        ('rfm_segment in ["Lost", 3]', "holds a quoted text"),
        ("email_consent == 1", "holds true or false"),
        ("last_order_at > 5", "holds a date"),
    ],
)
def test_bad_rules_are_refused_with_a_clear_message(table: ibis.Table, rule: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        rule_filter(table, rule)
