"""Uplift's campaign assignments come from the send log: treated = sent, control = the holdout
members, for any campaign Cartwise sent (hand-made rows in the send-log tables)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from cartwise.core.errors import InputError, NotFoundError
from cartwise.pipelines.uplift import DEFAULT_WINDOW_DAYS, campaign_assignments
from cartwise.store import Store, open_store

T0 = datetime(2026, 4, 1, 9)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "x.duckdb") as s:
        yield s


def _campaign(
    store: Store, name: str, members: dict[str, bool], sent: dict[str, tuple[str, datetime]]
) -> None:
    store.append(
        "campaign_members",
        pa.table(
            {"campaign": [name] * len(members), "user_id": list(members), "holdout": list(members.values())}
        ),
    )
    store.append(
        "send_log",
        pa.table(
            {
                "message_key": [f"{name}:{u}" for u in sent],
                "source": [name] * len(sent),
                "user_id": list(sent),
                "state": [state for state, _ in sent.values()],
                "sent_at": pa.array([ts for _, ts in sent.values()], pa.timestamp("us")),
            }
        ),
    )


def test_treated_are_the_sent_and_the_control_the_holdout(store: Store) -> None:
    hour = timedelta(hours=1)
    members = {"a": False, "b": False, "c": False, "d": True, "e": True}
    # `c` was skipped (no consent): neither sent nor randomised into the control, so left out.
    sent = {"a": ("sent", T0 + hour), "b": ("sent", T0), "c": ("skipped:consent", T0)}
    _campaign(store, "spring", members, sent)
    _campaign(store, "other", {"a": True, "z": False}, {"z": ("sent", T0 - hour)})
    found = campaign_assignments(store, "spring")
    assert found.assignments.to_dict("records") == [
        {"user_id": "a", "treated": True},
        {"user_id": "b", "treated": True},
        {"user_id": "d", "treated": False},
        {"user_id": "e", "treated": False},
    ]
    assert found.sent_at == T0  # the first send starts the window
    assert found.window_days == DEFAULT_WINDOW_DAYS
    assert campaign_assignments(store, "spring", window_days=3).window_days == 3


def test_a_campaign_without_holdout_or_sends_is_refused(store: Store) -> None:
    _campaign(store, "all-in", {"a": False, "b": False}, {"a": ("sent", T0), "b": ("sent", T0)})
    with pytest.raises(InputError, match=r"has no holdout.*--holdout 0\.1"):
        campaign_assignments(store, "all-in")
    with pytest.raises(NotFoundError, match=r"No campaign named 'nope'.*cartwise campaigns list"):
        campaign_assignments(store, "nope")
    with pytest.raises(InputError, match="`window_days` is 0"):
        campaign_assignments(store, "all-in", window_days=0)
