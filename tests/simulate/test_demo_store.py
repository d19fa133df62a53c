"""`build_demo` and `cartwise demo` write a fresh store whose tables agree with the simulation."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from cartwise.cli import cli, main
from cartwise.core.errors import StoreError
from cartwise.core.settings import get_settings
from cartwise.pipelines.demo import build_demo
from cartwise.simulate import ShopConfig
from cartwise.store import Store

TINY = ShopConfig(seed=5, users=300, items=40, days=30)
ARGS = ["--no-serve", "--seed", "5", "--users", "300", "--items", "40", "--days", "30"]


@pytest.fixture(autouse=True)
def _small_store_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARTWISE_MEMORY_LIMIT", "1GB")
    monkeypatch.setenv("CARTWISE_THREADS", "1")


def test_build_demo_writes_events_truth_and_orders(tmp_path: Path) -> None:
    messages: list[str] = []
    with Store(tmp_path / "shop.duckdb", settings=get_settings()) as store:
        counts = build_demo(store, TINY, progress=messages.append)
        assert counts["events"] == store.count("events") > 1_000
        assert counts["users"] == store.count("users") == 300
        assert counts["items"] == store.count("items") == 40
        distinct = store.con.execute(
            "SELECT count(DISTINCT order_id) FROM events WHERE type = 'purchase'"
        ).fetchone()
        assert counts["orders"] == store.count("orders") == distinct[0]
        revenue, amount = store.con.execute(
            "SELECT (SELECT sum(revenue) FROM events WHERE type = 'purchase'), (SELECT sum(amount) FROM orders)"
        ).fetchone()
        assert amount == pytest.approx(revenue)
        for name in ("truth_users", "truth_items", "truth_item_relations", "truth_params", "promotions"):
            assert store.count(name) > 0, name
        assert store.count("truth_users") == 300
        # The JSON column holds objects a query can read.
        devices = store.con.execute("SELECT DISTINCT properties->>'device' FROM events").fetchall()
        assert {d[0] for d in devices} <= {"mobile", "desktop", "tablet"}
    assert messages and "deriving orders" in messages


def test_build_demo_refuses_a_store_with_data(tmp_path: Path) -> None:
    with Store(tmp_path / "shop.duckdb", settings=get_settings()) as store:
        build_demo(store, TINY)
        events = store.count("events")
        with pytest.raises(StoreError, match=r"already holds [\d,]+ events.*new store"):
            build_demo(store, TINY)
        assert store.count("events") == events


def test_cli_prints_counts_and_rebuilds_a_fresh_store(tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    runner = CliRunner()
    first = runner.invoke(cli, ["demo", *ARGS, "--db", str(db), "--json"])
    assert first.exit_code == 0, first.output
    counts = json.loads(first.output)
    assert set(counts) == {"events", "users", "items", "orders", "journeys", "journeys_skipped"}
    assert counts["journeys"] == [
        "abandoned-cart",
        "browse-abandonment",
        "post-purchase",
        "replenishment",
        "welcome",
    ]
    # Untrained (--no-serve): no P(alive) for win-back's audience yet, and the answer says so.
    assert list(counts["journeys_skipped"]) == ["win-back"]
    assert "p_alive" in counts["journeys_skipped"]["win-back"]
    second = runner.invoke(cli, ["demo", *ARGS, "--db", str(db)])
    assert second.exit_code == 0, second.output
    assert f"Removed the existing store {db}" in second.output
    assert f"{counts['events']:,} events" in second.output
    with Store(db, settings=get_settings(), read_only=True) as store:
        assert store.count("events") == counts["events"]  # replaced, not appended twice
        assert store.count("orders") == counts["orders"]


def test_cli_rejects_a_bad_size_without_touching_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "keep.duckdb"
    db.write_bytes(b"not a store")
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--no-serve", "--users", "-5", "--db", str(db), "--json"])
    assert exit_info.value.code == 2
    err = json.loads(capsys.readouterr().out)["message"]  # under --json, errors are JSON on stdout
    assert "`users` got -5" in err and "--help" in err
    assert db.read_bytes() == b"not a store"


def test_cli_refuses_to_replace_a_store_it_did_not_make(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shop = tmp_path / "shop.duckdb"
    with Store(shop, settings=get_settings()) as store:
        store.append(
            "events",
            pa.table({"event_id": ["e1"], "ts": [datetime(2025, 3, 1)], "user_id": ["u1"], "type": ["view"]}),
        )
    not_a_store = tmp_path / "orders.csv"
    not_a_store.write_text("order_id,amount\n1,9.5\n")
    for path, says in (
        (shop, "holds 1 events that `cartwise demo` did not make"),
        (not_a_store, "Cannot open the store"),
    ):
        before = path.read_bytes()
        with pytest.raises(SystemExit) as stopped:
            main(["demo", *ARGS, "--db", str(path), "--json"])
        assert stopped.value.code == 2
        message = json.loads(capsys.readouterr().out)["message"]
        assert str(path) in message and says in message
        assert path.read_bytes() == before
    # A store without data is replaced like a demo store.
    empty = tmp_path / "empty.duckdb"
    Store(empty, settings=get_settings()).close()
    done = CliRunner().invoke(cli, ["demo", *ARGS, "--db", str(empty), "--json"])
    assert done.exit_code == 0, done.output


def test_ctrl_c_during_the_build_says_the_store_is_incomplete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import cartwise.pipelines.demo as demo_pipeline

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(demo_pipeline, "build_demo", interrupted)
    db = tmp_path / "shop.duckdb"
    with pytest.raises(SystemExit) as stopped:
        main(["demo", *ARGS, "--db", str(db), "--json"])
    message = json.loads(capsys.readouterr().out)["message"]
    assert stopped.value.code == 130
    assert f"the demo store {db} is incomplete" in message and "nothing was changed" not in message


def test_every_option_has_help_text() -> None:
    from cartwise.cli.demo import demo

    for param in demo.params:
        assert getattr(param, "help", None), param.name
