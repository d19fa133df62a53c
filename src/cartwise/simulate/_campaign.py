"""A past randomised e-mail campaign with a known effect per customer (`truth_campaign`).

On day `send_day` (`days - campaign_days_before_end`), at 10:00 UTC, the shop e-mailed every
customer whose first purchase occasion came before the send and who consented to e-mail, except a random holdout (`campaign_holdout`).
How a recipient responds is latent, heterogeneous and recorded:

* Persuadable: a live customer who buys because of the message. With probability `p_add_i`
  the customer gains one extra purchase occasion, at a uniform time in the `campaign_window_days`
  after the send. The chance of being persuadable depends on what a shop can observe:
  `0.10 + 0.25 [high price sensitivity] + 0.15 [acquired by e-mail or social] - 0.05 [acquired
  by affiliates]` (price sensitivity shows in the prices a customer pays); `p_add_i ~ U(0.3, 0.6)`.
* Put off (a "sleeping dog"): 5% of recipients (10% of those acquired by paid search or
  affiliates) skip each purchase occasion of theirs inside the window with probability 0.8.
* Everyone else behaves as without the message: "sure things" buy anyway, "lost causes" do not.

Customers who dropped out before the end of the window do not respond. Holdout customers get
no message and carry the same latent type, so `uplift` (the true change in the probability of
buying within the window, from the customer's own purchase rate) is known for both arms and
`incremental` counts the purchase occasions the message added (+) or removed (-) for recipients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cartwise.simulate._common import _CHANNELS, _Calendar
from cartwise.simulate._config import ShopConfig
from cartwise.simulate._people import _People

# Price-sensitivity level "high" (see _SENSITIVITY) and acquisition channels by name.
_HIGH = 2
_CHANNEL = {name: code for code, name in enumerate(_CHANNELS)}
_SKIP_PROBABILITY = 0.8


@dataclass
class _Campaign:
    send_day: int
    sent_us: int  # time of the send, microseconds
    window_days: int
    email_consent: np.ndarray  # per customer: the users table's e-mail consent
    eligible: np.ndarray  # bought before the send day and consented
    treated: np.ndarray  # eligible and not in the holdout
    response: np.ndarray  # "persuadable", "put_off" or "none"
    uplift: np.ndarray  # true change in P(a purchase within the window), per customer
    incremental: np.ndarray  # occasions added (+) or removed (-) by the message, recipients only


def _campaign(config: ShopConfig, cal: _Calendar, people: _People, rng: np.random.Generator) -> _Campaign:
    """Draw the campaign and apply its effect to `people`'s purchase occasions (in place)."""
    assert config.campaign_days_before_end is not None
    n = people.n_users
    send_day = config.days - config.campaign_days_before_end
    window = config.campaign_window_days
    sent_us = cal.start_us + send_day * 86_400_000_000 + 10 * 3_600_000_000  # 10:00 UTC
    end_us = sent_us + window * 86_400_000_000

    email_consent = rng.random(n) < 0.6
    first_ts = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_ts, people.occ_person, people.occ_ts)
    eligible = email_consent & (first_ts < sent_us)
    treated = eligible & (rng.random(n) >= config.campaign_holdout)

    channel = people.channel
    high = people.sensitivity[:n] == _HIGH
    p_persuadable = (
        0.10
        + 0.25 * high
        + 0.15 * np.isin(channel, (_CHANNEL["email"], _CHANNEL["social"]))
        - 0.05 * (channel == _CHANNEL["affiliate"])
    )
    p_put_off = np.where(np.isin(channel, (_CHANNEL["paid_search"], _CHANNEL["affiliate"])), 0.10, 0.05)
    u = rng.random(n)
    response = np.where(
        u < p_put_off, "put_off", np.where(u < p_put_off + p_persuadable, "persuadable", "none")
    )
    p_add = rng.uniform(0.3, 0.6, n)

    # Alive through the window: the customer's own process has not dropped out by its end.
    last_ts = np.full(n, np.iinfo(np.int64).max)
    ends = np.flatnonzero(np.r_[people.occ_person[1:] != people.occ_person[:-1], True])
    dropped_last = people.dropped[people.occ_person[ends]]
    last_ts[people.occ_person[ends][dropped_last]] = people.occ_ts[ends][dropped_last]
    alive = last_ts >= end_us

    # Baseline chance of a purchase in the window: 1 - exp(-lambda * window), while alive.
    base = np.where(alive, 1 - np.exp(-people.lam * window), 0.0)
    uplift = np.where(
        response == "persuadable",
        np.where(alive, p_add * (1 - base), 0.0),
        np.where(response == "put_off", -_SKIP_PROBABILITY * base, 0.0),
    )

    # Persuaded recipients gain an occasion in the window.
    gains = treated & alive & (response == "persuadable") & (rng.random(n) < p_add)
    gainers = np.flatnonzero(gains)
    gain_ts = sent_us + (rng.random(gainers.size) * (end_us - sent_us - 1)).astype(np.int64)
    # Put-off recipients skip their occasions in the window.
    in_window = (people.occ_ts >= sent_us) & (people.occ_ts < end_us)
    skip = (
        in_window
        & treated[people.occ_person]
        & (response[people.occ_person] == "put_off")
        & (rng.random(people.occ_person.size) < _SKIP_PROBABILITY)
    )
    incremental = np.zeros(n, dtype=np.int64)
    incremental[gainers] += 1
    np.subtract.at(incremental, people.occ_person[skip], 1)

    person = np.r_[people.occ_person[~skip], gainers]
    ts = np.r_[people.occ_ts[~skip], gain_ts]
    order = np.lexsort((ts, person))
    people.occ_person = person[order]
    people.occ_ts = ts[order]
    people.occ_day = np.clip((people.occ_ts - cal.start_us) // 86_400_000_000, 0, config.days - 1)
    return _Campaign(
        send_day=send_day,
        sent_us=sent_us,
        window_days=window,
        email_consent=email_consent,
        eligible=eligible,
        treated=treated,
        response=response,
        uplift=uplift,
        incremental=incremental,
    )
