"""`cartwise recs fit|evaluate --items`: unusable catalogue records are set aside by the line an
editor shows, like the interactions', and `--strict` fails naming it (issue 24 point 7)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cartwise.cli.recs import recs
from cartwise.core.errors import InputError

ITEMS = [
    "sku,name,category,price",
    "i0,A,x,1",
    "i1,B,x,abc",  # line 3: price is not a number
    ",C,y,3",  # line 4: no item id
    "i3,D,y,4",
    "i4,E,y,5,extra",  # line 6: a field too many
]


def _files(tmp_path: Path) -> list[str]:
    inter = ["customer,sku"] + [f"u{u},i{(u + i) % 5}" for u in range(6) for i in range(4)]
    (tmp_path / "inter.csv").write_text("\n".join(inter) + "\n", encoding="utf-8")
    (tmp_path / "items.csv").write_text("\n".join(ITEMS) + "\n", encoding="utf-8")
    return ["fit", "--interactions", str(tmp_path / "inter.csv"), "--user-col", "customer", "--item-col", "sku",
            "--items", str(tmp_path / "items.csv"), "--model", "content", "--out", str(tmp_path / "model")]  # fmt: skip


def test_bad_item_records_are_set_aside_by_editor_line(tmp_path: Path) -> None:
    args = _files(tmp_path)
    done = CliRunner().invoke(recs, [*args, "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)["set_aside"]
    assert report["set_aside"] == 0  # the interactions are clean
    items = report["items"]
    assert items["set_aside"] == 3
    found = {r["lines"][0]: r for r in items["reasons"]}
    assert set(found) == {3, 4, 6}
    assert "price (column `price`) is not a number" in found[3]["reason"] and found[3]["example"] == "abc"
    assert "no item id (column `sku`)" in found[4]["reason"]
    assert "5 fields where the header has 4" in found[6]["reason"]
    text = CliRunner().invoke(recs, args).stdout
    assert (
        "Set aside 3 unusable item records (--strict fails instead):" in text
        and "(line 3, e.g. 'abc')" in text
    )


def test_strict_fails_naming_the_line(tmp_path: Path) -> None:
    done = CliRunner().invoke(recs, [*_files(tmp_path), "--strict"])
    assert done.exit_code != 0 and isinstance(done.exception, InputError)
    assert "3 of 5 records cannot be used" in str(done.exception) and "(line 3, e.g. 'abc')" in str(
        done.exception
    )
