"""`cartwise recs fit | recommend | evaluate` on files, through click's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from recs_data import two_tastes

from cartwise.cli.recs import recs
from cartwise.core.errors import ConfigError, InputError, NotFoundError

DATA = two_tastes(seed=11, n_users=80)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("recs")
    # RecBole atomic format with numeric-looking ids, as MovieLens ships.
    inter = DATA.frame.assign(
        user_id=DATA.frame["user_id"].str[1:],
        basket=DATA.frame["user_id"] + "-" + (DATA.frame["ts"] // 86_400).astype(int).astype(str),
    )
    inter_path = root / "shop.inter"
    with inter_path.open("w") as fh:
        fh.write("customer:token\tsku:token\twhen:float\torder:token\n")
        for row in inter.itertuples():
            fh.write(f"{row.user_id}\t{row.item_id}\t{row.ts}\t{row.basket}\n")
    items_path = root / "items.csv"
    DATA.items.rename(columns={"item_id": "sku", "title": "name"}).to_csv(items_path, index=False)
    users_path = root / "users.txt"
    users_path.write_text("0\n1\n\nnobody\n 2 \n")
    return {"inter": inter_path, "items": items_path, "users": users_path, "root": root}


def invoke(*args: str | Path):
    result = CliRunner().invoke(recs, [str(a) for a in args], catch_exceptions=True)
    return result


BASE = ("--user-col", "customer", "--item-col", "sku", "--time-col", "when")


def test_fit_then_recommend_writes_every_user(files: dict[str, Path]) -> None:
    model_dir = files["root"] / "model"
    result = invoke(
        "fit", "--interactions", files["inter"], *BASE, "--model", "itemknn", "--out", model_dir, "--json"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (
        summary["model"] == "itemknn"
        and summary["users"] == 80
        and summary["interactions"] == len(DATA.frame)
    )
    out = files["root"] / "recs.csv"
    result = invoke("recommend", model_dir, "--users", files["users"], "--n", "4", "--out", out, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["unknown_users"] == 1
    recs_table = pd.read_csv(out, dtype={"user_id": str, "item_id": str})
    assert list(recs_table.columns) == ["user_id", "rank", "item_id", "score"]
    assert list(recs_table["user_id"].unique()) == ["0", "1", "nobody", "2"]
    assert all(ranks == [1, 2, 3, 4] for ranks in recs_table.groupby("user_id")["rank"].apply(list))
    seen = DATA.frame.assign(user_id=DATA.frame["user_id"].str[1:]).groupby("user_id")["item_id"].agg(set)
    for user, group in recs_table.groupby("user_id"):
        assert not set(group["item_id"]) & seen.get(user, set())
    # User "0" is in taste group a: their items are kitchen items.
    assert recs_table[recs_table.user_id == "0"]["item_id"].str.startswith("a").mean() >= 0.75


def test_include_seen_allows_own_items(files: dict[str, Path]) -> None:
    model_dir = files["root"] / "repeat"
    assert (
        invoke(
            "fit", "--interactions", files["inter"], *BASE, "--model", "repeat", "--out", model_dir
        ).exit_code
        == 0
    )
    out = files["root"] / "again.csv"
    result = invoke(
        "recommend", model_dir, "--users", files["users"], "--n", "3", "--include-seen", "--out", out
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, dtype=str)
    own = DATA.frame[DATA.frame.user_id == "u0"]["item_id"].value_counts()
    assert table[table.user_id == "0"]["item_id"].iloc[0] in set(own.index)


def test_auto_with_items_trains_the_hybrid(files: dict[str, Path]) -> None:
    result = invoke(
        "fit",
        "--interactions",
        files["inter"],
        *BASE,
        "--items",
        files["items"],
        "--out",
        files["root"] / "auto",
        "--json",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["model"] == "hybrid"
    assert (files["root"] / "auto" / "generators" / "content" / "model.json").is_file()


def test_unknown_model_lists_the_models(files: dict[str, Path]) -> None:
    result = invoke(
        "fit", "--interactions", files["inter"], *BASE, "--model", "wizard", "--out", files["root"] / "x"
    )
    assert isinstance(result.exception, NotFoundError)
    for name in ("auto", "popularity", "itemknn", "als", "content", "repeat", "hybrid"):
        assert name in str(result.exception)


def test_content_without_items_says_what_to_pass(files: dict[str, Path]) -> None:
    result = invoke(
        "fit", "--interactions", files["inter"], *BASE, "--model", "content", "--out", files["root"] / "c"
    )
    assert isinstance(result.exception, ConfigError) and "needs item metadata" in str(result.exception)


def test_a_missing_column_is_named(files: dict[str, Path]) -> None:
    result = invoke(
        "fit",
        "--interactions",
        files["inter"],
        "--user-col",
        "user",
        "--item-col",
        "sku",
        "--out",
        files["root"] / "y",
    )
    assert isinstance(result.exception, InputError)
    assert "`user`" in str(result.exception) and "customer" in str(result.exception)


def test_one_user_file_still_answers(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    pd.DataFrame({"u": [1, 1, 1], "i": ["x", "y", "z"]}).to_csv(path, index=False)
    result = invoke(
        "fit", "--interactions", path, "--user-col", "u", "--item-col", "i", "--out", tmp_path / "m", "--json"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["model"] == "popularity" and "1 user(s)" in summary["notes"][0]
    (tmp_path / "users.txt").write_text("1\n2\n")
    result = invoke(
        "recommend", tmp_path / "m", "--users", tmp_path / "users.txt", "--out", tmp_path / "r.csv"
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "r.csv", dtype=str)
    assert "1" not in set(table.user_id)  # user 1 has seen every item
    assert sorted(table[table.user_id == "2"]["item_id"]) == ["x", "y", "z"]


def test_evaluate_reports_models_beside_baselines(files: dict[str, Path]) -> None:
    result = invoke(
        "evaluate", "--interactions", files["inter"], *BASE, "--split", "leave-last-2", "--k", "5",
        "--model", "ease", "--model", "itemknn", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    by_name = {row["model"]: row for row in report["models"]}
    assert set(by_name) == {
        "ease", "itemknn", "baseline: popularity", "baseline: own most frequent", "baseline: implicit ALS (defaults)",
    }  # fmt: skip
    assert report["test_users"] == 80 and report["exclude_seen"] is True
    assert by_name["ease"]["ndcg@5"] > by_name["baseline: popularity"]["ndcg@5"]
    assert by_name["baseline: implicit ALS (defaults)"]["ndcg@5_vs_als"] == pytest.approx(1.0)


def test_evaluate_last_basket_and_temporal(files: dict[str, Path]) -> None:
    for split in ("last-basket", "temporal"):
        result = invoke(
            "evaluate", "--interactions", files["inter"], *BASE, "--basket-col", "order", "--split", split,
            "--model", "popularity",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "baseline: implicit ALS" in result.output
    result = invoke(
        "evaluate",
        "--interactions",
        files["inter"],
        "--user-col",
        "customer",
        "--item-col",
        "sku",
        "--split",
        "temporal",
    )
    assert isinstance(result.exception, ConfigError) and result.exception.parameter == "time_col"


def test_one_item_file_answers_with_that_item_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "one-item.jsonl"
    path.write_text('{"u": "a", "i": 5}\n{"u": "b", "i": 5}\n')
    result = invoke(
        "fit", "--interactions", path, "--user-col", "u", "--item-col", "i", "--out", tmp_path / "m", "--json"
    )
    assert result.exit_code == 0, result.output
    assert "1 item(s)" in json.loads(result.output)["notes"][0]
    (tmp_path / "users.txt").write_text("a\nnew\n")
    result = invoke(
        "recommend", tmp_path / "m", "--users", tmp_path / "users.txt", "--out", tmp_path / "r.csv"
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "r.csv", dtype=str)
    assert table.to_dict("records") == [{"user_id": "new", "rank": "1", "item_id": "5", "score": "2.0"}]


def test_bad_interaction_records_are_set_aside_by_editor_line_and_strict_fails(tmp_path: Path) -> None:
    """Issue 24.7: like ingestion, one bad record does not reject the file; --strict does."""
    lines = ["u,i,t"] + [f"{u},{i},{1_700_000_000 + 60 * (3 * u + i)}" for u in range(1, 6) for i in range(3)]
    lines[4] = "2,,1700000420"  # editor line 5: no item id
    lines[7] = "3,1,yesterday"  # editor line 8: not a time
    lines[10] = "4,2"  # editor line 11: a field short
    path = tmp_path / "inter.csv"
    path.write_text("\n".join(lines) + "\n")
    args = ("--interactions", path, "--user-col", "u", "--item-col", "i", "--time-col", "t")
    result = invoke("fit", *args, "--out", tmp_path / "m", "--model", "popularity", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["interactions"] == 12 and summary["set_aside"]["set_aside"] == 3
    reasons = {r["lines"][0]: r["reason"] for r in summary["set_aside"]["reasons"]}
    assert reasons[5] == "record with no item id (column `i`)"
    assert reasons[8] == "record whose time (column `t`) is neither a date-time nor epoch seconds"
    assert reasons[11].startswith("record has 2 fields where the header has 3")
    text = invoke("fit", *args, "--out", tmp_path / "m2", "--model", "popularity").output
    assert "Set aside 3 unusable interaction records" in text and "(line 8, e.g. 'yesterday')" in text
    strict = invoke("evaluate", *args, "--strict", "--split", "leave-last-1")
    assert isinstance(strict.exception, InputError)
    assert "3 of 15 records cannot be used" in str(strict.exception)
