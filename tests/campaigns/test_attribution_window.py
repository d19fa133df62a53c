"""A campaign keeps the attribution window it was started with: its results and its uplift
outcome window are measured over it, whatever the `attribution_days` setting says later."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from cartwise.core.errors import ConfigError
from cartwise.pipelines.campaign_results import measure
from cartwise.pipelines.campaigns import broadcast
from cartwise.pipelines.uplift import campaign_assignments
from cartwise.store import open_store

from .smtp_support import SmtpServer, make_shop, settings_for_smtp


def _orders_after_start(store: object, name: str, days: float, users: list[str]) -> None:
    started = store.con.execute("SELECT started_at FROM campaigns WHERE name = ?", [name]).fetchall()[0][0]  # type: ignore[attr-defined]
    store.append(  # type: ignore[attr-defined]
        "orders",
        pa.table(
            {
                "order_id": [f"{name}-{u}" for u in users],
                "user_id": users,
                "ts": pa.array([started + timedelta(days=days)] * len(users), pa.timestamp("us")),
                "amount": [10.0] * len(users),
            }
        ),
    )


def test_results_keep_the_window_the_campaign_started_with(tmp_path: Path, smtp: SmtpServer) -> None:
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port, attribution_days=5)
    with open_store(settings.db, settings=settings) as store:
        ids = make_shop(store, 40)
        broadcast(store, settings, "short", rule="orders >= 0", template="win_back", attribution_days=2)
        broadcast(store, settings, "usual", rule="orders >= 0", template="win_back")
        # Everyone buys three days after the start: inside 5 days, outside 2.
        _orders_after_start(store, "short", 3, ids)
        later = settings.model_copy(update={"attribution_days": 1})
        short, usual = measure(store, later, "short"), measure(store, later, "usual")
        assignments = campaign_assignments(store, "usual")
    assert short["attribution_days"] == 2 and short["conversions"] == 0
    # Started under the setting's 5 days, and kept them when the setting became 1.
    assert usual["attribution_days"] == 5 and usual["conversions"] > 0
    assert assignments.window_days == 5


def test_resuming_with_another_window_is_refused(tmp_path: Path, smtp: SmtpServer) -> None:
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port)
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 5)
        broadcast(store, settings, "c1", rule="orders >= 0", template="win_back", attribution_days=3)
        # Resuming without the flag keeps the window; another value is refused by name.
        broadcast(store, settings, "c1", rule="orders >= 0", template="win_back")
        with pytest.raises(ConfigError, match=r"started with 3\.0, not 7") as refused:
            broadcast(store, settings, "c1", rule="orders >= 0", template="win_back", attribution_days=7)
    assert refused.value.parameter == "attribution_days"


def test_a_campaign_from_before_cannot_be_given_a_window_on_resuming(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port)
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 5)
        broadcast(store, settings, "old", rule="orders >= 0", template="win_back")
        store.con.execute("UPDATE campaigns SET attribution_days = NULL")  # as migration 16 leaves it
        with pytest.raises(ConfigError, match="started before campaigns kept their own") as refused:
            broadcast(store, settings, "old", rule="orders >= 0", template="win_back", attribution_days=3)
        broadcast(store, settings, "old", rule="orders >= 0", template="win_back")  # resumes
    assert refused.value.parameter == "attribution_days"


@pytest.mark.parametrize("days", ["0", "-1", "400", "nan"])
def test_a_window_out_of_range_is_refused_with_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], days: str
) -> None:
    from cartwise.cli import main

    settings = settings_for_smtp(tmp_path / "shop.duckdb", 1)
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 3)
    argv = ["campaigns", "send", "bad", "--db", str(settings.db), "--rule", "orders >= 0"]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--template", "welcome", "--attribution-days", days])
    assert exit_info.value.code == 2
    assert "--attribution-days" in capsys.readouterr().err
    with open_store(settings.db, settings=settings) as store:
        assert not store.con.execute("SELECT count(*) FROM campaigns").fetchall()[0][0]


def test_a_store_from_before_keeps_its_measures(tmp_path: Path) -> None:
    """Migration 16 on a store made before it: the demo's past campaign gets the simulator's
    window it was measured over; another campaign is measured over the setting, as before."""
    settings = settings_for_smtp(tmp_path / "shop.duckdb", 1, attribution_days=4)
    with open_store(settings.db, settings=settings) as store:
        con = store.con
        con.execute("ALTER TABLE campaigns DROP COLUMN attribution_days")
        con.execute("DELETE FROM schema_migrations WHERE version = 16")
        for name in ("demo-past-campaign", "older"):
            con.execute(
                "INSERT INTO campaigns VALUES (?, 'orders >= 0', 'newsletter', 'email', 0.5, now(), now(), now())",
                [name],
            )
        con.execute("CREATE TABLE truth_campaign AS SELECT 'u1' AS user_id, 10 AS window_days")
        assert store.migrate() == [16]
        windows = dict(con.execute("SELECT name, attribution_days FROM campaigns").fetchall())
        older = measure(store, settings, "older")
    assert windows == {"demo-past-campaign": 10.0, "older": None}
    assert older["attribution_days"] == 4
