"""The built-in journeys: each is a valid file against the real templates and channels, and
`cartwise journeys apply NAME` saves one by its name."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from cartwise.campaigns import (
    BUILTIN_AUDIENCES,
    CHANNELS,
    Send,
    Templates,
    Wait,
    builtin_journey,
    builtin_journey_names,
    parse_journey,
)
from cartwise.cli import cli
from cartwise.core.settings import get_settings
from cartwise.pipelines.journey_library import apply_builtin_journeys
from cartwise.store import open_store


def test_the_six_built_ins_are_shipped() -> None:
    assert builtin_journey_names() == [
        "abandoned-cart",
        "browse-abandonment",
        "post-purchase",
        "replenishment",
        "welcome",
        "win-back",
    ]


@pytest.mark.parametrize("name", builtin_journey_names())
def test_each_built_in_parses_with_real_templates_and_sends(name: str) -> None:
    journey = parse_journey(builtin_journey(name), templates=Templates(None).names(), channels=CHANNELS)
    assert journey.name == name
    assert any(isinstance(step, Send) for _path, step in journey.paths())


def test_the_built_ins_use_their_triggers_and_realistic_waits() -> None:
    cart = parse_journey(builtin_journey("abandoned-cart"), templates=None, channels=None)
    assert (cart.trigger.kind, cart.trigger.value, cart.exit_on) == ("event", "add_to_cart", ("purchase",))
    first = cart.step("0")
    assert isinstance(first, Wait) and first.seconds == 3600
    assert [v.name for v in cart.step("2/on_timeout/0").variants] == ["reminder", "control"]  # type: ignore[union-attr]
    win_back = parse_journey(builtin_journey("win-back"), templates=None, channels=None)
    assert (win_back.trigger.kind, win_back.trigger.value) == ("audience", "lapsing-buyers")
    assert BUILTIN_AUDIENCES["win-back"] == ("lapsing-buyers", "p_alive < 0.3 and orders >= 1")
    replenish = parse_journey(builtin_journey("replenishment"), templates=None, channels=None)
    assert (replenish.trigger.kind, replenish.trigger.value) == ("date", "replenishment")


def test_apply_takes_a_built_in_name_or_says_which_exist(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    settings = get_settings(db=db, memory_limit="1GB", threads=1)
    with open_store(db, settings=settings) as store:
        store.replace("profiles", pa.table({"user_id": ["a", "b"], "p_alive": [0.1, 0.9], "orders": [2, 3]}))
    runner = CliRunner()
    applied = runner.invoke(cli, ["journeys", "apply", "win-back", "--db", str(db), "--json"])
    assert applied.exit_code == 0, applied.output
    assert json.loads(applied.output) == {"journey": "win-back", "version": 1, "changed": True}
    again = runner.invoke(cli, ["journeys", "apply", "win-back", "--db", str(db), "--json"])
    assert json.loads(again.output)["version"] == 1
    with open_store(db, settings=settings, read_only=True) as store:
        # The audience its trigger names was saved with the rule, and holds the lapsing buyer.
        assert store.con.execute("SELECT name, rule FROM audiences").fetchall() == [
            ("lapsing-buyers", "p_alive < 0.3 and orders >= 1")
        ]

    missing = runner.invoke(cli, ["journeys", "apply", "win-bak", "--db", str(db), "--json"])
    assert missing.exit_code != 0
    message = str(missing.exception)  # `main` prints it with the exit code of a NotFoundError
    assert "win-bak" in message and "abandoned-cart" in message


def test_the_demo_leaves_out_a_built_in_its_store_cannot_run_yet(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    settings = get_settings(db=db, memory_limit="1GB", threads=1)
    with open_store(db, settings=settings) as store:  # no profiles: no p_alive to find lapsing buyers
        results = {r["journey"]: r for r in apply_builtin_journeys(store, settings)}
    assert results["win-back"].keys() == {"journey", "skipped"}
    assert "p_alive" in results["win-back"]["skipped"]
    assert all(r.get("version") == 1 for name, r in results.items() if name != "win-back")
