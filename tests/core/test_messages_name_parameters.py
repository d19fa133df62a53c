"""Library messages name parameters, not a surface's flags (issue 20, point 3).

Outside `cli/` and `api/`, a string that a user may read (an error, a warning, a quarantine
reason, a page's text) names a parameter as `python_name` does and lists it in `mentions`
(or `parameter`), so the CLI words it `--min-support` and the API `min_support`. A CLI flag
written into such a string would reach API users as-is. Docstrings may document a command's
flags; a whole command line to run (a backticked `cartwise ...` span) is a fix in any surface.
"""

from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cartwise.cli.errors import option_words, warning_text
from cartwise.core.errors import DataWarning, InputError

SRC = Path(__file__).resolve().parents[2] / "src" / "cartwise"
SURFACES = ("cli", "api")
"""The packages that word parameters in their own terms; everything else is the library."""

EXCEPTIONS = {
    # It builds the argument list of the `cartwise serve` child process: CLI syntax is the point.
    "service/server_process.py",
    # `--set NAME` names the column a constant fills (shown in the load's `mapping`): an
    # identifier that no file header holds, not a message.
    "ingest/mapping.py",
}

_FLAG = re.compile(r"(?<![\w-])--[a-z{]")
_COMMAND_LINE = re.compile(r"`cartwise [^`]*`")


def _text(node: ast.Constant | ast.JoinedStr) -> str:
    """The string as written, with `{}` for each formatted value of an f-string."""
    if isinstance(node, ast.Constant):
        return str(node.value)
    return "".join(str(part.value) if isinstance(part, ast.Constant) else "{}" for part in node.values)


def _docstrings(tree: ast.Module) -> set[int]:
    """Ids of the string nodes that are statements of their own (docstrings, attribute docs)."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant | ast.JoinedStr)
    }


def flags_in(source: str, name: str = "<source>") -> list[str]:
    """`name:line: text` for each string of `source`, other than a docstring, that writes a `--flag`."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    inside_fstrings = {
        id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in skip or id(node) in inside_fstrings:
            continue
        if isinstance(node, ast.JoinedStr) or (
            isinstance(node, ast.Constant) and isinstance(node.value, str)
        ):
            text = _text(node)
            if _FLAG.search(_COMMAND_LINE.sub("", text)):
                found.append(f"{name}:{node.lineno}: {text[:100]!r}")
    return found


def _library_files() -> list[Path]:
    return [
        path
        for path in sorted(SRC.rglob("*.py"))
        if path.relative_to(SRC).parts[0] not in SURFACES
        and path.relative_to(SRC).as_posix() not in EXCEPTIONS
    ]


def test_library_strings_name_no_cli_flags() -> None:
    found = [
        hit
        for path in _library_files()
        for hit in flags_in(path.read_text(encoding="utf-8"), path.relative_to(SRC).as_posix())
    ]
    assert not found, (
        "Library strings write CLI flags; name the parameter in backticks and list it in "
        "`mentions` (or `parameter`):\n" + "\n".join(found)
    )


def test_exceptions_name_real_files() -> None:
    assert all((SRC / name).is_file() for name in EXCEPTIONS)


@pytest.mark.parametrize(
    "source",
    [
        'raise InputError("drop --cuped or the ratio columns.")',
        'raise InputError(f"name another with --{role}-col.")',
        'warnings.warn(f"{n} records set aside; pass --strict to fail instead.", DataWarning)',
        "REASON = \"'map one with --map amount=<column>'\"",
        'x = f"{a} (see `cartwise demo --help`); or pass --db {path}"',
    ],
)
def test_a_planted_flag_is_caught(source: str) -> None:
    assert flags_in(source)


@pytest.mark.parametrize(
    "source",
    [
        'def f():\n    """Runs as `cartwise clv fit --model auto` does."""\n',
        'MODELS = ("a",)\n"""The `--model` choices."""\n',
        'raise InputError("drop `cuped` or the ratio columns.", mentions=("cuped",))',
        'raise InputError("load it with `cartwise ingest events FILE --format ga4`.")',
        'raise InputError("use -- to end options, or a -5 offset")',
    ],
)
def test_allowed_strings_pass(source: str) -> None:
    assert flags_in(source) == []


@click.command()
@click.option("--strict", is_flag=True)
@click.option("--map", "maps", multiple=True)
def _load(strict: bool, maps: tuple[str, ...]) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn(
            DataWarning("3 records set aside; pass `strict` to fail instead.", mentions=("strict",)),
            stacklevel=1,
        )
    click.echo(warning_text(caught[0].message))
    click.echo(option_words("map one with `map` amount=<column>; keep `amount`", ("map", "amount")))


def test_the_cli_words_a_warning_and_a_stored_message_with_its_options() -> None:
    result = CliRunner().invoke(_load, [])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "3 records set aside; pass --strict to fail instead.\n"
        # `amount` is no option of the command: it keeps the library's name
        "map one with --map amount=<column>; keep `amount`\n"
    )
    # outside a command (the library, the API): the parameters' own names
    warning = DataWarning("pass `strict` to fail instead.", mentions=("strict",))
    assert warning_text(warning) == str(warning) == "pass `strict` to fail instead."


def test_an_error_keeps_its_python_wording_outside_the_cli() -> None:
    error = InputError("drop `cuped` or the ratio columns.", mentions=("cuped",))
    assert str(error) == "drop `cuped` or the ratio columns."
    assert error.render(lambda p: "--" + p) == "drop --cuped or the ratio columns."


def test_a_library_warning_names_the_flag_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cartwise.cli import main
    from cartwise.pipelines.recs import load_interactions

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # main() replaces it
    lines = ["u,i"] + [f"{u},{i}" for u in range(1, 4) for i in range(3)]
    lines[4] = "2,"  # no item id: set aside with a warning
    path = tmp_path / "inter.csv"
    path.write_text("\n".join(lines) + "\n")
    args = ["--interactions", str(path), "--user-col", "u", "--item-col", "i"]
    with pytest.raises(SystemExit) as done:
        main(["recs", "fit", *args, "--out", str(tmp_path / "m"), "--model", "popularity"])
    assert done.value.code == 0
    err = capsys.readouterr().err
    assert "Warning: " in err and "1 record set aside" in err and "pass --strict to fail instead." in err
    with pytest.warns(DataWarning) as said:  # the library (and the API) names the parameter
        load_interactions(path, user_col="u", item_col="i")
    assert "pass `strict` to fail instead" in str(said[0].message)


def test_a_missing_column_names_its_parameter_in_each_surface(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import pandas as pd

    from cartwise.cli import main
    from cartwise.evaluation.splits import leave_last_n
    from cartwise.recommend import Interactions

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # main() replaces it
    path = tmp_path / "inter.csv"
    path.write_text("u,i\n1,a\n2,b\n")
    args = ["recs", "fit", "--interactions", str(path), "--user-col", "user", "--item-col", "i"]
    with pytest.raises(SystemExit) as done:
        main([*args, "--out", str(tmp_path / "m"), "--json"])
    answer = json.loads(capsys.readouterr().out)
    assert done.value.code == 2 and answer["parameter"] == "user_col"
    assert answer["message"].startswith("--user-col: Column `user` is not in")
    frame = pd.DataFrame({"u": ["1"], "i": ["a"]})
    with pytest.raises(InputError, match=r"^`weight_col`: Column `w` is not in the interactions"):
        Interactions.from_frame(frame, user_col="u", item_col="i", weight_col="w")
    with pytest.raises(InputError, match=r"^`time_col`: Column `t` is not in the interactions") as raised:
        leave_last_n(frame, user_col="u", time_col="t")
    assert raised.value.parameter == "time_col"
