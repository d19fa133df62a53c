"""P(alive) in the profiles of a real transaction log: one-time buyers are not certainly alive.

The committed sample holds the first 250 customers of the CDNOW log (all their purchases from
1997-01 to 1998-06), loaded as a shop would load it; BG/NBD would give each of its one-time
buyers P(alive) = 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from cartwise.ingest import LoadOptions, ingest_file
from cartwise.pipelines.profiles import refresh_profiles
from cartwise.predict import BGNBD, rfm_summary
from cartwise.store import Store

SAMPLE = Path(__file__).parents[1] / "predict" / "fixtures" / "cdnow_transactions_250.txt"


def test_one_time_buyers_fade_with_time_since_their_purchase(store: Store) -> None:
    ingest_file(store, "transactions", SAMPLE, LoadOptions(format="cdnow"))
    report = refresh_profiles(store, clusters=False)
    assert report["clv"]["model"] in ("mbgnbd", "pareto")
    profiles = store.arrow(
        "SELECT user_id, orders, days_since_last_order, p_alive, rfm_segment, model_version FROM profiles"
    ).to_pandas()
    assert len(profiles) == 250 and profiles["p_alive"].between(0, 1).all()
    assert (profiles["model_version"] == f"{report['clv']['model']}+gammagamma/2").all()
    one_time = profiles[profiles["orders"] == 1]
    assert len(one_time) > 100
    assert one_time["p_alive"].max() < 0.6
    # Among repeat buyers, the longer the silence the lower P(alive).
    repeat = profiles[profiles["orders"] > 1]
    assert spearmanr(repeat["days_since_last_order"], repeat["p_alive"]).statistic < -0.5
    lost = profiles.loc[profiles["rfm_segment"] == "Lost", "p_alive"]
    assert len(lost) > 10 and lost.mean() < 0.5
    # The same orders under BG/NBD: every one-time buyer alive with certainty (the bug this fixes).
    orders = store.arrow("SELECT user_id AS customer_id, ts AS date, amount FROM orders").to_pandas()
    end = orders["date"].max().date()
    c = rfm_summary(orders, calibration_end=end, time_unit="week").customers
    bgnbd = BGNBD().fit(c["frequency"], c["recency"], c["T"])
    assert np.all(bgnbd.p_alive(c["frequency"], c["recency"], c["T"])[c["frequency"] == 0] == 1.0)
