"""Counts read as counts (issue 24.10): profiles and reorder quantities."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from cartwise.cli import cli

CDNOW = [
    "00001   0001 19970101  1  11.77",
    "00002   0002 19970112  1  12.00",
    "00002   0002 19970112  5  77.00",
    "00001   0001 19970301  2  21.00",
]
EVENTS = [
    "ts,user_id,type,item_id",
    "2024-03-01T10:00:00Z,u1,view,i1",
    "2024-03-01T10:01:00Z,u1,view,i2",
]


def _profile_text(tmp_path: Path, files: list[tuple[str, Path, list[str]]], user: str) -> dict[str, str]:
    runner, db = CliRunner(), str(tmp_path / "s.duckdb")
    for kind, path, extra in files:
        done = runner.invoke(cli, ["ingest", kind, str(path), "--db", db, *extra])
        assert done.exit_code == 0, done.output
    done = runner.invoke(cli, ["profiles", "build", "--no-clusters", "--db", db])
    assert done.exit_code == 0, done.output
    done = runner.invoke(cli, ["profiles", "show", user, "--db", db])
    assert done.exit_code == 0, done.output
    return dict(line.split(": ", 1) for line in done.output.splitlines() if ": " in line)


def test_profile_of_a_store_loaded_from_a_transaction_log_only_prints_integer_counts(tmp_path: Path) -> None:
    log = tmp_path / "cdnow.txt"
    log.write_text("\n".join(CDNOW) + "\n")
    shown = _profile_text(tmp_path, [("transactions", log, ["--format", "cdnow"])], "00001")
    assert (shown["orders"], shown["events"], shown["sessions"]) == ("2", "0", "0")


def test_profile_of_a_buyer_beside_visitors_with_events_prints_integer_counts(tmp_path: Path) -> None:
    log, events = tmp_path / "cdnow.txt", tmp_path / "events.csv"
    log.write_text("\n".join(CDNOW) + "\n")
    events.write_text("\n".join(EVENTS) + "\n")
    files = [("transactions", log, ["--format", "cdnow"]), ("events", events, [])]
    assert _profile_text(tmp_path, files, "u1")["events"] == "2"
    assert _profile_text(tmp_path, files, "00002")["events"] == "0"


def test_order_quantities_round_up_only_for_items_sold_in_whole_units() -> None:
    from cartwise.pipelines.demand import _whole_units

    plan = pd.DataFrame({"id": ["shirt", "cheese", "idle"], "order_quantity": [0.625, 0.625, 0.0]})
    lines = pd.DataFrame({"item_id": ["shirt", "shirt", "cheese", "idle"], "units": [1.0, 3.0, 0.25, 2.0]})
    assert _whole_units(plan, lines).tolist() == [1.0, 0.625, 0.0]


def test_profile_shows_money_in_cents_and_keeps_the_stored_sum(tmp_path: Path) -> None:
    """Issue 24.10: 0.10 + 0.20 is 0.30000000000000004 in binary; `profiles show` prints 0.3."""
    log = tmp_path / "cdnow.txt"
    log.write_text("00003   0003 19970101  1  0.10\n00003   0003 19970201  1  0.20\n")
    shown = _profile_text(tmp_path, [("transactions", log, ["--format", "cdnow"])], "00003")
    assert (shown["revenue"], shown["avg_order_value"]) == ("0.3", "0.15")
    done = CliRunner().invoke(
        cli, ["profiles", "show", "00003", "--db", str(tmp_path / "s.duckdb"), "--json"]
    )
    assert json.loads(done.output)["revenue"] == 0.3
    from cartwise.store import open_store

    with open_store(tmp_path / "s.duckdb", read_only=True) as store:  # the store keeps the sum as computed
        stored = store.con.execute("SELECT revenue FROM profiles WHERE user_id = '00003'").fetchone()
    assert stored is not None and stored[0] == 0.1 + 0.2
