"""Ranking metrics on hand-computed cases (see each docstring's formula)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cartwise.core.errors import InputError
from cartwise.evaluation.ranking import (
    catalogue_coverage,
    hit_rate_at_k,
    map_at_k,
    ndcg_at_k,
    novelty,
    popularity_bias,
    precision_at_k,
    ranking_report,
    recall_at_k,
)

RECOMMENDED = np.array([["a", "b", "c", "d"], ["x", "y", "z", None], ["p", "q", "r", "s"]], dtype=object)
# The third user has no relevant items and is skipped by accuracy metrics.
RELEVANT = [{"b", "d", "e"}, {"x"}, set()]
L2, L3, L4, L5 = math.log2(2), math.log2(3), math.log2(4), math.log2(5)


def test_precision_recall_hit_rate_at_3() -> None:
    # User 1 hits only "b" (rank 2) in the top 3; user 2 hits "x" (rank 1).
    assert precision_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx((1 / 3 + 1 / 3) / 2)
    assert recall_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx((1 / 3 + 1) / 2)
    assert hit_rate_at_k(RECOMMENDED, RELEVANT, 3) == 1.0


def test_ndcg_at_3_and_4() -> None:
    idcg_3 = 1 / L2 + 1 / L3 + 1 / L4
    assert ndcg_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx(((1 / L3) / idcg_3 + 1.0) / 2)
    assert ndcg_at_k(RECOMMENDED, RELEVANT, 4) == pytest.approx(((1 / L3 + 1 / L5) / idcg_3 + 1.0) / 2)


def test_map_at_3_and_4() -> None:
    # User 1 at k=3: (1/3) * P@2 = 1/6; at k=4: (1/3) * (P@2 + P@4) = (1/3)(1/2 + 2/4) = 1/3.
    assert map_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx((1 / 6 + 1) / 2)
    assert map_at_k(RECOMMENDED, RELEVANT, 4) == pytest.approx((1 / 3 + 1) / 2)


def test_perfect_and_empty_rankings() -> None:
    perfect = np.array([["a", "b"]], dtype=object)
    for metric in (precision_at_k, recall_at_k, hit_rate_at_k, ndcg_at_k, map_at_k):
        assert metric(perfect, [{"a", "b"}], 2) == pytest.approx(1.0)
        assert metric(np.array([[None, None]], dtype=object), [{"a"}], 2) == 0.0


def test_duplicates_count_once() -> None:
    assert precision_at_k(np.array([["b", "b"]], dtype=object), [{"b"}], 2) == 0.5


def test_ids_compare_as_text() -> None:
    assert hit_rate_at_k(np.array([[7, 8]], dtype=object), [{"8"}], 2) == 1.0


def test_coverage_novelty_and_popularity_bias() -> None:
    # Top 3: a b c x y z p q r = 9 distinct items of 18.
    assert catalogue_coverage(RECOMMENDED, n_items=18, k=3) == 0.5
    recs = np.array([["a", "b"], ["b", None]], dtype=object)
    item_users = {"a": 8, "b": 4}
    # p = 1, 1/2, 1/2 -> self-information 0, 1, 1 bits; ARP = (1 + 1/2 + 1/2) / 3.
    assert novelty(recs, item_users, n_users=8) == pytest.approx(2 / 3)
    assert popularity_bias(recs, item_users, n_users=8) == pytest.approx(2 / 3)
    # An item nobody had counts as one user: -log2(1/8) = 3 bits.
    assert novelty(np.array([["new"]], dtype=object), item_users, n_users=8) == pytest.approx(3.0)


def test_report_has_every_metric() -> None:
    report = ranking_report(RECOMMENDED, RELEVANT, 3, item_users={"a": 1}, n_users=3, n_items=18)
    assert set(report) == {
        "ndcg@3",
        "recall@3",
        "precision@3",
        "map@3",
        "hit_rate@3",
        "coverage",
        "novelty",
        "popularity_bias",
    }


def test_bad_input_is_explained() -> None:
    with pytest.raises(InputError, match="k must be"):
        ndcg_at_k(RECOMMENDED, RELEVANT, 0)
    with pytest.raises(InputError, match="one relevant set per user"):
        ndcg_at_k(RECOMMENDED, RELEVANT[:2], 3)
    with pytest.raises(InputError, match="2-D"):
        ndcg_at_k(np.array(["a", "b"], dtype=object), [{"a"}, {"b"}], 1)


def test_no_user_with_relevant_items_gives_nan() -> None:
    assert math.isnan(recall_at_k(np.array([["a"]], dtype=object), [set()], 1))
