"""Classification metrics on hand-computed cases (see each docstring's formula), then against scikit-learn."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from sklearn import calibration as sk_calibration
from sklearn import metrics as sk_metrics

from cartwise.core.errors import InputError
from cartwise.evaluation.classification import (
    average_precision,
    brier_score,
    calibration_curve,
    classification_report,
    expected_calibration_error,
    lift_by_decile,
    roc_auc,
)


def test_roc_auc_counts_ordered_pairs() -> None:
    # Pairs (positive, negative): (0.35, 0.1) right, (0.35, 0.4) wrong, (0.8, 0.1), (0.8, 0.4) right.
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(3 / 4)
    # A tied pair (0.5, 0.5) counts one half: (0.5 + 1 + 1 + 1) / 4.
    assert roc_auc([1, 0, 1, 0], [0.5, 0.5, 0.9, 0.1]) == pytest.approx(3.5 / 4)
    assert roc_auc([True, False], [0.9, 0.1]) == 1.0
    assert roc_auc([1, 0], [0.1, 0.9]) == 0.0


def test_average_precision_is_the_precision_recall_step_sum() -> None:
    # Ranked: 0.8 (hit), 0.4, 0.35 (hit), 0.1 -> recall steps 0.5 at precision 1 and 0.5 at 2/3.
    assert average_precision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # The two 0.5 scores form one threshold: 0.9 gives (P 1, R 0.5); 0.5 gives (P 2/3, R 1).
    assert average_precision([1, 0, 1, 0], [0.5, 0.5, 0.9, 0.1]) == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_brier_score_is_the_mean_squared_error_of_the_probabilities() -> None:
    assert brier_score([0, 1, 1], [0.2, 0.7, 1.0]) == pytest.approx((0.04 + 0.09 + 0.0) / 3)


def test_calibration_curve_bins_and_expected_error() -> None:
    y = [0, 1, 0, 1, 1, 0]
    p = [0.05, 0.1, 0.15, 0.95, 1.0, 0.0]
    curve = calibration_curve(y, p, n_bins=10)
    # 0.0, 0.05 and 0.1 fall in the first bin (upper edge inclusive); 0.15 in the second; 0.95, 1.0 in the last.
    assert [(b["bin_lower"], b["customers"]) for b in curve] == [(0.0, 3), (0.1, 1), (pytest.approx(0.9), 2)]
    assert curve[0]["mean_predicted"] == pytest.approx(0.05)
    assert curve[0]["observed_rate"] == pytest.approx(1 / 3)
    assert curve[1]["observed_rate"] == 0.0
    assert curve[2]["mean_predicted"] == pytest.approx(0.975)
    assert curve[2]["observed_rate"] == 1.0
    expected = (3 * abs(0.05 - 1 / 3) + 1 * 0.15 + 2 * 0.025) / 6
    assert expected_calibration_error(y, p, n_bins=10) == pytest.approx(expected)


def test_lift_by_decile_on_a_ranked_list() -> None:
    # Ten customers ranked by score; positives at ranks 1, 2 and 4; base rate 0.3.
    y = [1, 1, 0, 1, 0, 0, 0, 0, 0, 0]
    scores = np.arange(10, 0, -1)
    table = lift_by_decile(y, scores, n_groups=5)
    assert [row["positives"] for row in table] == [2, 1, 0, 0, 0]
    assert [row["lift"] for row in table] == pytest.approx([1 / 0.3, 0.5 / 0.3, 0, 0, 0])
    assert [row["cumulative_share"] for row in table] == pytest.approx([2 / 3, 1, 1, 1, 1])
    # Order of the input does not matter, only the scores.
    shuffled = np.random.default_rng(0).permutation(10)
    assert lift_by_decile(np.array(y)[shuffled], scores[shuffled], n_groups=5) == table


def test_lift_groups_differ_in_size_by_at_most_one() -> None:
    table = lift_by_decile([1, 0, 0, 1, 0, 0, 1], [7, 6, 5, 4, 3, 2, 1], n_groups=3)
    assert [row["customers"] for row in table] == [2, 2, 3]
    assert [row["positives"] for row in table] == [1, 1, 1]


def test_the_documented_formulas_hold_on_random_scores_with_ties() -> None:
    # The metrics are scikit-learn's; the docstrings' formulas, computed here by brute force,
    # check that the wrapper passes the right arguments (labels, pos_label, bins).
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 300)
    # Rounded scores make many ties, where conventions differ most.
    p = np.round(np.clip(0.3 * y + rng.random(300) * 0.7, 0, 1), 2)
    pos, neg = p[y == 1], p[y == 0]
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert roc_auc(y, p) == pytest.approx(pairs / (pos.size * neg.size), rel=1e-12)
    steps, previous_recall = 0.0, 0.0
    for t in np.unique(p)[::-1]:
        flagged = p >= t
        recall = (y[flagged] == 1).sum() / y.sum()
        steps += (recall - previous_recall) * y[flagged].mean()
        previous_recall = recall
    assert average_precision(y, p) == pytest.approx(steps, rel=1e-12)
    assert brier_score(y, p) == pytest.approx(np.mean((p - y) ** 2), rel=1e-12)
    curve = calibration_curve(y, p, n_bins=10)
    assert sum(b["customers"] for b in curve) == y.size
    for b in curve:
        inside = (p > b["bin_lower"]) & (p <= b["bin_upper"])
        if b["bin_lower"] == 0:
            inside |= p == 0
        assert b["customers"] == inside.sum()
        assert b["mean_predicted"] == pytest.approx(p[inside].mean())
        assert b["observed_rate"] == pytest.approx(y[inside].mean())
    # And it is scikit-learn's answer.
    observed, predicted = sk_calibration.calibration_curve(y, p, n_bins=10, strategy="uniform")
    assert [b["observed_rate"] for b in curve] == pytest.approx(observed)
    assert [b["mean_predicted"] for b in curve] == pytest.approx(predicted)
    assert roc_auc(y, p) == sk_metrics.roc_auc_score(y, p)


def test_report_gives_every_metric_and_leaves_probability_ones_out_for_rankings() -> None:
    y = [0, 0, 1, 1] * 5
    p = [0.1, 0.4, 0.35, 0.8] * 5
    report = classification_report(y, p, probability=True)
    assert report["roc_auc"] == pytest.approx(0.75)
    assert report["base_rate"] == 0.5 and report["brier_reference"] == 0.25
    assert report["brier"] == pytest.approx(brier_score(y, p))
    assert len(report["lift"]) == 10 and report["calibration"]
    ranking = classification_report(y, [-s * 10 for s in p], probability=False)
    assert ranking["roc_auc"] == pytest.approx(0.25)
    assert ranking["brier"] is None and ranking["calibration"] is None


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: roc_auc([0, 2, 1], [0.1, 0.2, 0.3]), ["y_true", "only 0 and 1", "2"]),
        (lambda: roc_auc(["yes", "no"], [0.1, 0.2]), ["y_true", "0/1", "yes"]),
        (lambda: roc_auc([0, 1, 1], [0.1, 0.2]), ["3 customers", "2", "one score per customer"]),
        (lambda: roc_auc([1, 1, 1], [0.1, 0.2, 0.3]), ["both outcomes", "all 1"]),
        (lambda: average_precision([0, 0], [0.1, 0.2]), ["both outcomes", "all 0"]),
        (lambda: roc_auc([0, 1], [0.1, float("nan")]), ["y_score", "missing", "rows 1"]),
        (lambda: brier_score([0, 1], [0.1, 1.5]), ["probabilities in [0, 1]", "1.5"]),
        (lambda: calibration_curve([0, 1], [0.1, 0.2], n_bins=0), ["n_bins", "0"]),
        (lambda: lift_by_decile([0, 1, 1], [0.1, 0.2, 0.3]), ["n_groups=10", "received 3"]),
        (lambda: lift_by_decile([0] * 20, np.arange(20)), ["at least one positive"]),
        (lambda: roc_auc([], []), ["empty"]),
    ],
)
def test_bad_input_names_the_argument_and_what_was_received(
    call: Callable[[], object], words: list[str]
) -> None:
    with pytest.raises(InputError) as excinfo:
        call()
    for word in words:
        assert word in str(excinfo.value)
