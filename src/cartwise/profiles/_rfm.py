"""RFM scores and the named RFM segments.

Scores are quintiles among customers with at least one order, 5 best:
- R (recency): days since the last order, fewer is better;
- F (frequency): number of orders, more is better;
- M (monetary): revenue, more is better.
Each score is ceil(5 * m / n), where n is the number of buyers and m is 1 plus the number
of buyers strictly worse (pandas rank method "min"): equal values share a score, and a
value shared by many customers scores by the customers below it (the many one-order
customers get F = 1).

Segments use R and F (the usual RFM grid; M is reported beside it). The first matching
rule wins:

| segment | R | F |
|---|---|---|
| Champions | 5 | 4-5 |
| Loyal | 3-4 | 4-5 |
| Potential loyalist | 4-5 | 2-3 |
| New | 5 | 1 |
| Promising | 4 | 1 |
| Need attention | 3 | 3 |
| About to sleep | 3 | 1-2 |
| Can't lose them | 1-2 | 5 |
| At risk | 1-2 | 3-4 |
| Lost | 1 | 1 |
| Hibernating | 1-2 | 1-2 |
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RFM_SEGMENTS: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    ("Champions", (5,), (4, 5)),
    ("Loyal", (3, 4), (4, 5)),
    ("Potential loyalist", (4, 5), (2, 3)),
    ("New", (5,), (1,)),
    ("Promising", (4,), (1,)),
    ("Need attention", (3,), (3,)),
    ("About to sleep", (3,), (1, 2)),
    ("Can't lose them", (1, 2), (5,)),
    ("At risk", (1, 2), (3, 4)),
    ("Lost", (1,), (1,)),
    ("Hibernating", (1, 2), (1, 2)),
)
"""(name, R scores, F scores) in priority order; every (R, F) pair is covered."""


def quintile_scores(values: pd.Series, higher_is_better: bool = True) -> pd.Series:
    """Scores 1-5: ceil(5 * m / n), m = 1 + the number of values strictly worse; ties share a score. NaN stays NaN."""
    ranked = values.rank(method="min", pct=True, ascending=higher_is_better)
    scores = np.ceil(ranked * 5).clip(1, 5)
    return scores.astype("Int64")


def rfm_segment(recency_score: pd.Series, frequency_score: pd.Series) -> pd.Series:
    """The RFM segment name for each (R, F) pair; customers without scores get None."""
    result = pd.Series([None] * len(recency_score), index=recency_score.index, dtype=object)
    for name, r_scores, f_scores in reversed(RFM_SEGMENTS):  # earlier rules win: assign them last
        mask = recency_score.isin(r_scores) & frequency_score.isin(f_scores)
        result[mask.fillna(False).to_numpy(dtype=bool)] = name
    return result


def add_rfm(profiles: pd.DataFrame) -> pd.DataFrame:
    """Add recency/frequency/monetary scores and `rfm_segment` to a profile frame.

    Needs `days_since_last_order`, `orders` and `revenue`; customers without orders get no
    scores and no segment.
    """
    buyers = profiles["orders"].fillna(0) > 0
    out = profiles.copy()
    for column in ("recency_score", "frequency_score", "monetary_score"):
        out[column] = pd.Series(pd.NA, index=out.index, dtype="Int64")
    out.loc[buyers, "recency_score"] = quintile_scores(
        profiles.loc[buyers, "days_since_last_order"], higher_is_better=False
    )
    out.loc[buyers, "frequency_score"] = quintile_scores(profiles.loc[buyers, "orders"])
    out.loc[buyers, "monetary_score"] = quintile_scores(profiles.loc[buyers, "revenue"])
    out["rfm_segment"] = rfm_segment(out["recency_score"], out["frequency_score"])
    return out
