"""Basket rules: exactly mlxtend's fpgrowth + association_rules on the same baskets."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from mlxtend.frequent_patterns import association_rules as mlx_rules
from mlxtend.frequent_patterns import fpgrowth

from cartwise.analytics import basket_rules, suggest_min_support
from cartwise.core.errors import ConfigError, InputError


def orders(n_orders: int = 1500, n_items: int = 300, seed: int = 3) -> pd.DataFrame:
    """Order lines shaped like a shop's: Zipf-popular items, small baskets, a few bundles."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, n_items + 1) ** 1.1
    weights /= weights.sum()
    bundles = [(5, 9), (12, 40, 41), (2, 77)]
    rows = []
    for order in range(n_orders):
        items = set(rng.choice(n_items, rng.geometric(0.35), p=weights).tolist())
        if rng.random() < 0.15:
            items.update(bundles[rng.integers(len(bundles))])
        # Now and then a line repeated: still one item of the basket.
        items_list = [*items, next(iter(items))] if rng.random() < 0.05 else list(items)
        rows += [(f"INV{order:05d}", f"SKU-{i:04d}") for i in items_list]
    return pd.DataFrame(rows, columns=["order_id", "product_id"])


def mlxtend_rules(lines: pd.DataFrame, min_support: float, min_confidence: float) -> tuple[int, set[tuple]]:
    onehot = pd.crosstab(lines.order_id, lines.product_id).astype(bool)
    frequent = fpgrowth(onehot, min_support=min_support, use_colnames=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rules = mlx_rules(
            frequent, num_itemsets=len(onehot), metric="confidence", min_threshold=min_confidence
        )
    return len(frequent), {
        (frozenset(r.antecedents), frozenset(r.consequents), r.support, r.confidence, r.lift)
        for r in rules.itertuples()
    }


@pytest.mark.parametrize(
    ("min_support", "min_confidence"), [(0.01, 0.2), (0.005, 0.5), (0.02, 0.05), (0.003, 0.9)]
)
def test_same_itemsets_and_rules_as_mlxtend(min_support: float, min_confidence: float) -> None:
    lines = orders()
    result = basket_rules(
        lines,
        basket_col="order_id",
        item_col="product_id",
        min_support=min_support,
        min_confidence=min_confidence,
    )
    n_itemsets, expected = mlxtend_rules(lines, min_support, min_confidence)
    ours = {
        (frozenset(r.antecedents), frozenset(r.consequents), r.support, r.confidence, r.lift)
        for r in result.rules.itertuples()
    }
    assert result.baskets == 1500
    assert len(result.itemsets) == n_itemsets
    assert expected  # the thresholds leave something to compare
    assert ours == expected  # exact floats, not approximately


def test_hand_computed_rules_and_order() -> None:
    lines = pd.DataFrame(
        {
            "order_id": ["1", "1", "1", "2", "2", "3", "3", "4"],
            "item_id": ["bread", "butter", "jam", "bread", "butter", "bread", "jam", "milk"],
        }
    )
    result = basket_rules(lines, min_support=0.5, min_confidence=0.6)
    # Frequent: bread 3/4, butter 2/4, jam 2/4, {bread, butter} 2/4, {bread, jam} 2/4.
    assert sorted(result.itemsets.itemset) == [
        ("bread",),
        ("bread", "butter"),
        ("bread", "jam"),
        ("butter",),
        ("jam",),
    ]
    rules = result.rules[["antecedents", "consequents", "support", "confidence", "lift"]].values.tolist()
    # butter -> bread: 0.5 / 0.5 = 1, lift 1 / 0.75; bread -> butter: 0.5 / 0.75, lift (2/3) / 0.5.
    # Sorted by lift (all 4/3 here), then confidence, descending.
    assert rules == [
        [("butter",), ("bread",), 0.5, 1.0, pytest.approx(4 / 3)],
        [("jam",), ("bread",), 0.5, 1.0, pytest.approx(4 / 3)],
        [("bread",), ("butter",), 0.5, pytest.approx(2 / 3), pytest.approx(4 / 3)],
        [("bread",), ("jam",), 0.5, pytest.approx(2 / 3), pytest.approx(4 / 3)],
    ]


def test_one_item_per_basket_gives_no_rules() -> None:
    lines = pd.DataFrame({"order_id": ["1", "2", "3"], "item_id": ["a", "a", "b"]})
    result = basket_rules(lines, min_support=0.1, min_confidence=0.1)
    assert result.baskets == 3 and len(result.itemsets) == 2 and result.rules.empty
    assert list(result.rules.columns) == ["antecedents", "consequents", "support", "confidence", "lift"]


def test_lines_without_a_basket_or_an_item_are_left_out_and_counted() -> None:
    lines = pd.DataFrame(
        {
            "order_id": ["1", "1", "2", "2", "3", None, "", " ", "4"],
            "item_id": ["a", "b", "a", "b", "a", "c", "c", "c", ""],
        }
    )
    result = basket_rules(lines, min_support=0.5, min_confidence=0.5)
    # Baskets 1, 2, 3 remain (4 has no item): a 3/3, b 2/3, {a, b} 2/3.
    assert (result.baskets, result.skipped_rows) == (3, 4)
    assert dict(zip(result.itemsets.itemset, result.itemsets.support, strict=True)) == {
        ("a",): 1.0,
        ("b",): pytest.approx(2 / 3),
        ("a", "b"): pytest.approx(2 / 3),
    }


def test_max_len_limits_itemsets() -> None:
    lines = orders()
    result = basket_rules(lines, item_col="product_id", min_support=0.01, min_confidence=0.1, max_len=2)
    assert result.itemsets.itemset.map(len).max() == 2


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"min_support": 0.0}, "`min_support`: 0.0 is outside (0, 1]"),
        ({"min_support": 1.5}, "`min_support`: 1.5 is outside (0, 1]"),
        ({"min_confidence": -0.1}, "`min_confidence`: -0.1 is outside (0, 1]"),
    ],
)
def test_thresholds_outside_0_1(kwargs: dict[str, float], fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        basket_rules(orders(50), item_col="product_id", **kwargs)
    assert fragment in str(caught.value)


def test_missing_column_is_named() -> None:
    with pytest.raises(InputError, match=r"^`item_col`: The baskets have no column 'sku'") as caught:
        basket_rules(orders(50), item_col="sku")
    assert caught.value.parameter == "item_col"


def test_suggested_support_is_the_highest_holding_the_target_number_of_pairs() -> None:
    # Pair counts: (a, b) in 4 baskets, (a, c) in 3, (b, c) in 2, (c, d) in 1.
    baskets = [["a", "b", "c"], ["a", "b", "c"], ["a", "b"], ["a", "b"], ["a", "c"], ["c", "d"], ["e"]]
    lines = pd.DataFrame(
        [(f"o{n}", i) for n, items in enumerate(baskets) for i in items], columns=["order_id", "item_id"]
    )
    two = suggest_min_support(lines, target_pairs=2)
    assert (two.min_support, two.min_baskets, two.pairs, two.baskets) == (3 / 7, 3, 2, 7)
    assert (
        len(basket_rules(lines, min_support=two.min_support, min_confidence=0.01).rules) == 4
    )  # 2 pairs, both ways
    # More pairs wanted than there are: the least count, never below 2 baskets (a pair seen once is chance).
    many = suggest_min_support(lines, target_pairs=10)
    assert (many.min_support, many.min_baskets, many.pairs) == (2 / 7, 2, 3)
    lonely = suggest_min_support(pd.DataFrame({"order_id": ["o1", "o2"], "item_id": ["a", "b"]}))
    assert lonely.min_support is None and lonely.pairs == 0


def test_suggested_support_rejects_a_target_below_one() -> None:
    with pytest.raises(ConfigError, match="target_pairs=0"):
        suggest_min_support(orders(50, 10), target_pairs=0)
