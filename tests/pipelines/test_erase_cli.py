"""`cartwise events delete` and `cartwise customers forget/export` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from test_privacy import WHO, _fill

from cartwise.cli import cli
from cartwise.core.errors import CartwiseError
from cartwise.core.settings import get_settings
from cartwise.service.log_erase import log_dir
from cartwise.store import open_store


def _run(*args: str) -> tuple[dict[str, object] | None, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return (json.loads(result.output) if "--json" in args else None), result.output


def _refused(*args: str) -> str:
    """The CartwiseError message `main()` would print (exit code 2)."""
    result = CliRunner().invoke(cli, list(args))
    assert isinstance(result.exception, CartwiseError) and result.exception.exit_code == 2
    return str(result.exception)


def test_events_delete_and_customers_forget_and_export(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    with open_store(db, settings=get_settings(db=db, memory_limit="512MB", threads=1)) as store:
        _fill(store)
    counted, _ = _run(
        "events", "delete", "--user", "bob", "--type", "view", "--dry-run", "--db", str(db), "--json"
    )
    assert counted is not None and counted["matched"] == 1 and counted["deleted"]["events"] == 0
    deleted, _ = _run("events", "delete", "--user", "bob", "--type", "view", "--db", str(db), "--json")
    assert deleted is not None and deleted["deleted"] == {"events": 1, "orders": 0, "order_lines": 0}
    _, text = _run("events", "delete", "--start", "2025-03-01", "--end", "2025-03-02", "--db", str(db))
    assert text.startswith("Deleted 1 events, 0 orders and 0 order lines.")

    exported, _ = _run("customers", "export", WHO, "--db", str(db), "--json")
    assert exported is not None and exported["user_id"] == WHO and exported["rows"] > 0
    forgotten, _ = _run("customers", "forget", WHO, "--db", str(db), "--json")
    assert forgotten is not None and forgotten["total"] > 0 and WHO not in json.dumps(forgotten)
    _, text = _run("customers", "forget", WHO, "--db", str(db))
    assert text.startswith("Erased 0 rows")
    again, _ = _run("customers", "export", WHO, "--db", str(db), "--json")
    assert again is not None and again["tables"] == {}


def test_events_delete_is_refused_while_the_log_holds_unstored_events(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    settings = get_settings(db=db, memory_limit="512MB", threads=1)
    with open_store(db, settings=settings) as store:
        _fill(store)
    folder = log_dir(settings)
    folder.mkdir()
    (folder / "segment-0000000001.jsonl").write_text(
        '[{"event_id": "x", "user_id": "bob", "type": "view"}]\n'
    )
    text = _refused("events", "delete", "--user", "bob", "--db", str(db))
    assert "1 events not yet stored" in text and "cartwise serve" in text
    assert "Say which events to delete" in _refused("events", "delete", "--db", str(db))
