"""Frequent itemsets and association rules over baskets (orders), on sparse matrices.

Level-wise (Apriori) counting with sparse matrix products: with `X` the baskets x items
0/1 matrix restricted to frequent items and `Y` the baskets x frequent-(k-1)-itemsets
matrix (a column is 1 where a basket holds the whole itemset), `Y.T @ X` counts every
k-itemset `S ∪ {i}` at once. Only itemsets extended by an item that sorts after their last
item are kept, so each itemset is counted once; Apriori's subset check prunes the rest.

The itemsets and rules are exactly those of mlxtend's `fpgrowth` followed by
`association_rules(metric="confidence")` on the same baskets and thresholds, with the same
floating-point formulas, so results agree to the last bit at threshold boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from cartwise.core.errors import ConfigError, InputError


@dataclass(frozen=True)
class BasketRules:
    """Result of `basket_rules`: counts, the frequent itemsets and the rules."""

    baskets: int
    """Number of distinct baskets read."""
    itemsets: pd.DataFrame
    """Columns `itemset` (tuple of item ids, sorted), `support` (share of baskets holding it)."""
    rules: pd.DataFrame
    """Columns `antecedents`, `consequents` (tuples of item ids), `support`, `confidence`, `lift`."""
    skipped_rows: int = 0
    """Lines left out because their basket or item is missing (null, empty or blank)."""
    set_aside: dict[str, Any] | None = None
    """For a file read by a pipeline: its records set aside before counting (a wrong number of
    fields), `{"set_aside", "reasons"}` as `cartwise.pipelines.bad_rows` reports them."""


def _check_fraction(value: float, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{value!r} is not a number; give a fraction in (0, 1], e.g. 0.01.", parameter=name
        ) from None
    if not 0.0 < number <= 1.0:
        raise ConfigError(
            f"{value!r} is outside (0, 1]; give a fraction such as 0.01 (1% of baskets).", parameter=name
        )
    return number


def _to_arrow(data: Any, basket_col: str, item_col: str) -> pa.Table:
    if isinstance(data, pa.Table):
        table = data
    elif isinstance(data, pd.DataFrame):
        table = pa.Table.from_pandas(data, preserve_index=False)
    elif hasattr(data, "to_pyarrow"):  # an Ibis table expression, on any engine
        missing = [c for c in (basket_col, item_col) if c not in data.columns]
        if missing:
            raise InputError(
                f"The baskets have no column {missing[0]!r}; columns are {list(data.columns)}. "
                "Name the right basket and item columns.",
                parameter="basket_col" if missing[0] == basket_col else "item_col",
            )
        table = data.select(basket_col, item_col).to_pyarrow()
    else:
        raise InputError(
            f"baskets must be a pyarrow Table, pandas DataFrame or Ibis table, got {type(data).__name__}."
        )
    for col, parameter in ((basket_col, "basket_col"), (item_col, "item_col")):
        if col not in table.column_names:
            raise InputError(
                f"The baskets have no column {col!r}; columns are {table.column_names}. Name the right one.",
                parameter=parameter,
            )
    return table.select([basket_col, item_col])


def _lines(data: Any, basket_col: str, item_col: str) -> tuple[pa.Table, int]:
    """The basket lines as text with a basket and an item each, and how many lines lacked one.

    Empty or blank text counts as missing: it is how a CSV file leaves a cell out."""
    table = _to_arrow(data, basket_col, item_col)
    text = [pc.cast(table[col], pa.string()) for col in (basket_col, item_col)]
    present = [pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(t), ""), False) for t in text]
    kept = pa.table({basket_col: text[0], item_col: text[1]}).filter(pc.and_(*present))
    return kept, table.num_rows - kept.num_rows


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and the sorted distinct values (as strings) of a column."""
    encoded = pc.cast(column, pa.string()).combine_chunks().dictionary_encode()
    values = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    order = np.argsort(values.astype(str), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[np.asarray(encoded.indices)], values[order]


def frequent_itemsets(
    data: Any,
    *,
    basket_col: str = "order_id",
    item_col: str = "item_id",
    min_support: float = 0.01,
    max_len: int | None = None,
) -> tuple[int, pd.DataFrame]:
    """Itemsets held by at least `min_support` of the baskets: `(n_baskets, itemsets)`.

    support(S) = |{baskets containing every item of S}| / n_baskets, kept when >= min_support.
    An item repeated in one basket counts once; rows with a missing (null, empty or blank)
    basket or item are left out.
    """
    min_support = _check_fraction(min_support, "min_support")
    table, _ = _lines(data, basket_col, item_col)
    empty = pd.DataFrame({"itemset": pd.Series([], dtype=object), "support": pd.Series([], dtype=float)})
    if table.num_rows == 0:
        return 0, empty
    rows, _ = _codes(table[basket_col])
    cols, items = _codes(table[item_col])
    n = int(rows.max()) + 1
    x = sp.csr_matrix((np.ones(rows.size, dtype=np.int32), (rows, cols)), shape=(n, items.size))
    x.data[:] = 1  # duplicates were summed: a basket holds an item or not

    # Level 1, and the basket x frequent-item matrix every later level multiplies by.
    counts = np.asarray(x.sum(axis=0)).ravel()
    keep = np.flatnonzero(counts / n >= min_support)
    x = x[:, keep].tocsc()
    labels = items[keep]
    found: list[tuple[tuple[int, ...], int]] = [((int(i),), int(counts[k])) for i, k in enumerate(keep)]
    level: list[tuple[int, ...]] = [s for s, _ in found]
    y = x  # column j: baskets holding level[j]
    size = 1
    while level and (max_len is None or size < max_len):
        size += 1
        pair_counts = (y.T @ x).tocoo()
        last = np.array([s[-1] for s in level])
        # Extending only by items after the itemset's last one counts each itemset once.
        # Support never grows with the itemset, so every subset of a kept itemset is
        # frequent too (no Apriori subset check needed).
        mask = (pair_counts.col > last[pair_counts.row]) & (pair_counts.data / n >= min_support)
        parents, extra = pair_counts.row[mask], pair_counts.col[mask]
        new_level = [(*level[p], int(i)) for p, i in zip(parents, extra, strict=True)]
        found += zip(new_level, (int(c) for c in pair_counts.data[mask]), strict=True)
        if not new_level:
            break
        y = y[:, parents].multiply(x[:, extra]).tocsc()
        level = new_level
    itemsets = pd.DataFrame(
        {
            "itemset": [tuple(str(labels[i]) for i in s) for s, _ in found],
            "support": np.array([c for _, c in found], dtype=float) / n,
        }
    )
    return n, itemsets if len(itemsets) else empty


@dataclass(frozen=True)
class SupportChoice:
    """Result of `suggest_min_support`: the support picked and what it means in orders."""

    min_support: float | None
    """The picked threshold (a count of baskets / `baskets`), None when no two items share a basket."""
    baskets: int
    """Number of distinct baskets read."""
    min_baskets: int
    """Baskets an itemset needs at `min_support` (the threshold as a count)."""
    pairs: int
    """Item pairs held by at least `min_baskets` baskets: the rules' raw material."""
    target_pairs: int
    """How many pairs the choice aimed at."""


def suggest_min_support(
    data: Any,
    *,
    basket_col: str = "order_id",
    item_col: str = "item_id",
    target_pairs: int = 25,
    min_baskets: int = 2,
) -> SupportChoice:
    """The highest support at which about `target_pairs` item pairs are frequent.

    Counts every pair of distinct items sharing a basket (Xᵀ X of the baskets x items 0/1
    matrix), takes the `target_pairs`-th largest count `k` (or the smallest when there are
    fewer pairs), and returns support = max(k, `min_baskets`) / n_baskets: a fixed default
    such as 0.5% finds nothing in a shop of many items and small baskets, and a pair seen
    once is chance, never a rule.
    """
    if target_pairs < 1 or min_baskets < 1:
        raise ConfigError(
            f"must be 1 or more; received target_pairs={target_pairs}, min_baskets={min_baskets}.",
            parameter="target_pairs" if target_pairs < 1 else "min_baskets",
        )
    table, _ = _lines(data, basket_col, item_col)
    if table.num_rows == 0:
        return SupportChoice(None, 0, min_baskets, 0, target_pairs)
    rows, _ = _codes(table[basket_col])
    cols, items = _codes(table[item_col])
    n = int(rows.max()) + 1
    x = sp.csr_matrix((np.ones(rows.size, dtype=np.int32), (rows, cols)), shape=(n, items.size))
    x.data[:] = 1
    counts = sp.triu((x.T @ x).tocoo(), k=1).data  # each unordered pair once
    counts = np.sort(counts[counts >= min_baskets])[::-1]
    if counts.size == 0:
        return SupportChoice(None, n, min_baskets, 0, target_pairs)
    k = int(counts[min(target_pairs, counts.size) - 1])
    return SupportChoice(k / n, n, k, int((counts >= k).sum()), target_pairs)


def association_rules(itemsets: pd.DataFrame, n_baskets: int, *, min_confidence: float = 0.5) -> pd.DataFrame:
    """Rules A -> C from every frequent itemset S = A ∪ C (A, C non-empty, disjoint).

    support = support(S); confidence = support(S) / support(A); lift = confidence / support(C).
    Kept when confidence >= min_confidence. Sorted by lift, confidence and support, descending.
    """
    min_confidence = _check_fraction(min_confidence, "min_confidence")
    support = dict(zip(itemsets["itemset"], itemsets["support"], strict=True))
    ante: list[tuple[str, ...]] = []
    cons: list[tuple[str, ...]] = []
    s_ac: list[float] = []
    s_a: list[float] = []
    s_c: list[float] = []
    for itemset, s in support.items():
        for size in range(len(itemset) - 1, 0, -1):
            for a in combinations(itemset, size):
                c = tuple(i for i in itemset if i not in a)
                ante.append(a)
                cons.append(c)
                s_ac.append(s)
                s_a.append(support[a])
                s_c.append(support[c])
    sac, sa, sc = (np.array(v, dtype=float) for v in (s_ac, s_a, s_c))
    # The same expression mlxtend evaluates, so boundary cases round identically.
    confidence = (sac * n_baskets) / (sa * n_baskets) if sac.size else sac
    rules = pd.DataFrame(
        {
            "antecedents": pd.Series(ante, dtype=object),
            "consequents": pd.Series(cons, dtype=object),
            "support": sac,
            "confidence": confidence,
            "lift": confidence / sc if sac.size else sac,
        }
    )
    rules = rules[rules["confidence"] >= min_confidence]
    return rules.sort_values(
        ["lift", "confidence", "support", "antecedents", "consequents"],
        ascending=[False, False, False, True, True],
        ignore_index=True,
    )


def basket_rules(
    data: Any,
    *,
    basket_col: str = "order_id",
    item_col: str = "item_id",
    min_support: float = 0.01,
    min_confidence: float = 0.5,
    max_len: int | None = None,
) -> BasketRules:
    """Frequent itemsets and association rules of the baskets in `data` (long format: one row per basket line).

    `data` is a pyarrow Table, a pandas DataFrame or an Ibis table with `basket_col` and
    `item_col`. Thresholds are fractions in (0, 1]; ConfigError otherwise. Baskets of one
    item give no rules (an empty table, not an error).
    """
    min_confidence = _check_fraction(min_confidence, "min_confidence")
    lines, skipped = _lines(data, basket_col, item_col)
    n, itemsets = frequent_itemsets(
        lines, basket_col=basket_col, item_col=item_col, min_support=min_support, max_len=max_len
    )
    rules = association_rules(itemsets, n, min_confidence=min_confidence)
    return BasketRules(baskets=n, itemsets=itemsets, rules=rules, skipped_rows=skipped)
