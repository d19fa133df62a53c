"""Uplift metrics on a hand-computed case (see the module docstring's formulas), ties, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from cartwise.core.errors import InputError
from cartwise.evaluation.uplift import auuc, qini_coefficient, qini_curve, uplift_at_k, uplift_curve

# Sorted by score already: T1 T0 C1 C0 T1 C0 (arm, outcome).
Y = [1, 0, 1, 0, 1, 0]
T = [1, 1, 0, 0, 1, 0]
S = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]


def test_qini_curve_by_hand() -> None:
    # Q(t) = Y_T - Y_C N_T / N_C: t=3: 1 - 1*2/1 = -1; t=5: 2 - 1*3/2 = 0.5; t=6: 2 - 1*3/3 = 1.
    curve = qini_curve(Y, T, S)
    assert curve.targeted.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert curve.value.tolist() == pytest.approx([0, 1, 1, -1, 0, 0.5, 1])
    assert curve.share.tolist() == pytest.approx(np.arange(7) / 6)


def test_uplift_curve_by_hand() -> None:
    # U(t) = (Y_T/N_T - Y_C/N_C)(N_T + N_C), 0 while an arm is empty:
    # t=3: (1/2 - 1)*3 = -1.5; t=4: 0; t=5: (2/3 - 1/2)*5 = 5/6; t=6: (2/3 - 1/3)*6 = 2.
    curve = uplift_curve(Y, T, S)
    assert curve.value.tolist() == pytest.approx([0, 0, 0, -1.5, 0, 5 / 6, 2])


def test_areas_over_random_by_hand() -> None:
    # Qini trapezoids: (1/6)(0.5 + 1 + 0 - 0.5 + 0.25 + 0.75) = 1/3; random line area 1/2.
    assert qini_coefficient(Y, T, S) == pytest.approx(1 / 3 - 1 / 2)
    # Uplift trapezoids: (1/6)(0 + 0 - 0.75 - 0.75 + 5/12 + 17/12) = 1/18; random line area 1.
    assert auuc(Y, T, S) == pytest.approx(1 / 18 - 1)


def test_uplift_at_k_by_hand() -> None:
    # Top 3: treated outcomes (1, 0), control (1): 1/2 - 1 = -0.5; all: 2/3 - 1/3.
    assert uplift_at_k(Y, T, S, k=0.5) == pytest.approx(-0.5)
    assert uplift_at_k(Y, T, S, k=1.0) == pytest.approx(1 / 3)
    # ceil(0.34 * 6) = 3 customers.
    assert uplift_at_k(Y, T, S, k=0.34) == pytest.approx(-0.5)


def test_a_ranking_by_true_effect_beats_random_and_its_reverse() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    effect = rng.uniform(0, 0.4, n)
    treated = rng.random(n) < 0.5
    y = (rng.random(n) < 0.1 + effect * treated).astype(int)
    assert qini_coefficient(y, treated, effect) > 20
    assert auuc(y, treated, effect) > 20
    assert qini_coefficient(y, treated, -effect) < -20
    assert abs(qini_coefficient(y, treated, rng.random(n))) < 15
    assert uplift_at_k(y, treated, effect, 0.3) > uplift_at_k(y, treated, -effect, 0.3) + 0.2


def test_tied_scores_form_one_step_whatever_the_input_order() -> None:
    y, t, s = [1, 0, 0, 1], [1, 0, 1, 0], [0.5, 0.5, 0.5, 0.1]
    curve = qini_curve(y, t, s)
    assert curve.targeted.tolist() == [0, 3, 4]
    # After the tied group: Y_T = 1, N_T = 2, Y_C = 0, N_C = 1 -> Q = 1.
    assert curve.value.tolist() == pytest.approx([0, 1, 0])
    order = [2, 1, 0, 3]
    swapped = qini_curve(np.take(y, order), np.take(t, order), np.take(s, order))
    assert swapped.value.tolist() == pytest.approx(curve.value.tolist())


def test_continuous_outcomes_are_allowed() -> None:
    # Revenue: treated 10 and 0, control 4: U(3) = (5 - 4) * 3.
    assert uplift_curve([10.0, 4.0, 0.0], [1, 0, 1], [3, 2, 1]).value[-1] == pytest.approx(3.0)


def test_bad_input_is_refused_with_the_field_and_the_fix() -> None:
    with pytest.raises(InputError, match=r"treatment must hold only 1 \(sent\) and 0.*rows 1"):
        qini_curve([1, 0], [1, 2], [0.1, 0.2])
    with pytest.raises(InputError, match="one value per customer; received 2, 3 and 2"):
        uplift_curve([1, 0], [1, 0, 1], [0.1, 0.2])
    with pytest.raises(InputError, match=r"score has missing or infinite values \(rows 1\)"):
        auuc([1, 0], [1, 0], [0.1, np.nan])
    with pytest.raises(InputError, match="only one arm"):
        auuc([1, 0], [1, 1], [0.1, 0.2])
    with pytest.raises(InputError, match=r"k must be a share of customers in \(0, 1\]"):
        uplift_at_k(Y, T, S, k=30)
    with pytest.raises(InputError, match="hold 1 treated and 0 held-out customers"):
        uplift_at_k(Y, T, S, k=0.1)
    with pytest.raises(InputError, match=r"treatment must hold numbers.*Map the arms to 1 \(sent\)"):
        qini_curve([1, 0], ["sent", "holdout"], [0.1, 0.2])
    with pytest.raises(InputError, match="empty"):
        qini_curve([], [], [])
