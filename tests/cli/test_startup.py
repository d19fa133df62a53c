"""The CLI starts without the heavy libraries: they load inside the commands that use them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
HEAVY = ("sklearn", "lightgbm", "statsforecast", "implicit", "pyspark", "ibis")
# Not in the list, but also too slow for `--help`: each costs 0.1-1.5 s to import.
ALSO_KEPT_OUT = ("pandas", "scipy", "duckdb", "pyarrow", "numpy", "pydantic", "fastapi", "uvicorn")


def _loaded_after(code: str) -> list[str]:
    """Top-level modules in sys.modules after running `code` in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_cli_loads_no_heavy_library() -> None:
    """The issue's contract: none of the six libraries named in it."""
    assert set(_loaded_after("import cartwise.cli")) & set(HEAVY) == set()


def test_importing_the_cli_loads_no_data_library() -> None:
    """Tighter than the contract: what keeps `--help` near 0.15 s of CPU (BENCHMARKS.md)."""
    assert set(_loaded_after("import cartwise.cli")) & set(ALSO_KEPT_OUT) == set()


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["demo", "--help"], ["ingest", "--help"]])
def test_help_loads_no_heavy_library(args: list[str]) -> None:
    code = (
        "import sys\nfrom cartwise.cli import cli\n"
        f"try:\n    cli.main(args={args!r}, prog_name='cartwise', standalone_mode=False)\n"
        "except SystemExit:\n    pass\n"
    )
    loaded = set(_loaded_after(code))
    assert loaded & {*HEAVY, *ALSO_KEPT_OUT} == set()


def test_the_checks_see_a_heavy_import() -> None:
    """The helper is not blind: a module that imports scikit-learn shows up."""
    assert "sklearn" in _loaded_after("import cartwise.pipelines.train")


@pytest.mark.parametrize("command", [["keys", "list"], ["users-admin", "list"], ["db", "info"]])
def test_opening_a_store_loads_no_arrow_numpy_or_pandas(tmp_path: Path, command: list[str]) -> None:
    """A command that only opens (or creates) the store and reads a few rows pays for DuckDB and
    the settings, not for Arrow and NumPy (~0.15 s, which put `keys list` over the 0.5 s budget)."""
    db = tmp_path / "shop.duckdb"
    if command[0] == "db":  # `db info` needs a store: made by another process
        _loaded_after(
            f"from cartwise.cli import main\ntry:\n    main(['keys', 'list', '--db', {str(db)!r}])\nexcept SystemExit:\n    pass"
        )
    code = (
        "from cartwise.cli import main\n"
        f"try:\n    main({[*command, '--db', str(db)]!r})\n"
        "except SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
    )
    loaded = set(_loaded_after(code))
    assert "duckdb" in loaded  # the store was opened
    assert loaded & {"pyarrow", "numpy", "pandas", *HEAVY} == set()


def _cli_modules_after(code: str) -> list[str]:
    """The `cartwise.cli.*` modules in sys.modules after running `code` in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    script = (
        f"{code}\nimport json, sys\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('cartwise.cli.'))))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_commands_help_imports_only_that_commands_module() -> None:
    """Command modules load when their command is looked up: `train --help` does not pay for
    the other twenty-odd modules' option declarations."""
    code = (
        "from cartwise.cli import cli\n"
        "try:\n    cli.main(args=['train', '--help'], prog_name='cartwise', standalone_mode=False)\n"
        "except SystemExit:\n    pass\n"
    )
    commands = {
        m for m in _cli_modules_after(code) if m not in ("cartwise.cli.common", "cartwise.cli.errors")
    }
    assert commands == {"cartwise.cli.train"}


def test_every_listed_command_loads_under_its_own_name() -> None:
    """The table of lazily loaded commands names each command as the command names itself, so
    `cartwise --help` lists exactly the commands that run."""
    import click

    from cartwise.cli import COMMANDS, cli

    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name


@pytest.mark.parametrize(
    "command",
    [
        ["audiences", "list"],
        ["audiences", "count", "--rule", "orders >= 1"],
        ["customers", "export", "u1"],
        ["customers", "forget", "u1"],
        ["events", "delete", "--user", "u1"],
        ["experiments", "list"],
        ["experiments", "create", "k", "--variants", "control:0.5,treatment:0.5"],
        ["experiments", "show", "k"],
        ["experiments", "stop", "k"],
        ["experiments", "analyze", "k"],
        ["uplift", "fit", "--campaign", "c"],
        ["uplift", "evaluate", "--campaign", "c"],
        ["train"],
        ["segments", "list"],
        ["churn", "score"],
    ],
)
def test_a_missing_store_is_refused_before_the_pipeline_loads(tmp_path: Path, command: list[str]) -> None:
    """A mistyped --db fails in a fraction of a second: the store is checked before the
    command imports its pipeline (which takes 1-3 s with pandas, scikit-learn or Ibis)."""
    missing = tmp_path / "typo.duckdb"
    code = (
        "from cartwise.cli import main\n"
        f"try:\n    main({[*command, '--db', str(missing)]!r})\n"
        "except SystemExit as exc:\n    assert exc.code == 2, exc.code\n"
    )
    loaded = set(_loaded_after(code))
    assert loaded & {*HEAVY, "pandas", "scipy", "duckdb"} == set()
    assert not missing.exists()


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["journeys", "validate", "{missing}"], "No journey file at {missing}"),
        (
            ["recs", "evaluate", "--interactions", "{missing}", "--user-col", "u", "--item-col", "i"],
            "The interactions file '{missing}' does not exist; check the path.",
        ),
        (
            ["recs", "recommend", "{missing}", "--users", "{missing}", "--out", "{out}"],
            "{missing} is not a model directory (no model.json)",
        ),
        (
            ["forecast", "reorder", "--forecast", "{missing}", "--stock", "{missing}", "--lead-time", "2", "--out", "{out}"],
            "The forecast file '{missing}' does not exist; check the path.",
        ),
        (
            ["clv", "predict", "--transactions", "{missing}", "--customer-col", "c", "--date-col", "d",
             "--amount-col", "a", "--calibration-end", "2024-01-01", "--horizon", "4", "--out", "{out}"],
            "{missing} does not exist or is not a file.",
        ),
    ],
)  # fmt: skip
def test_a_missing_input_is_refused_before_the_pipeline_loads(
    tmp_path: Path, command: list[str], message: str
) -> None:
    """The same error as the pipeline raises, before pandas, SciPy and the models load."""
    names = {"missing": str(tmp_path / "typo"), "out": str(tmp_path / "out.csv")}
    args = [a.format(**names) for a in command]
    code = (
        "import contextlib, io\nfrom cartwise.cli import main\nerr = io.StringIO()\n"
        f"with contextlib.redirect_stderr(err):\n    try:\n        main({args!r})\n"
        "    except SystemExit as exc:\n        assert exc.code == 2, exc.code\n"
        "print(json.dumps(err.getvalue()))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    script = f"import json, sys\n{code}print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    stderr_line, modules_line = done.stdout.strip().splitlines()[-2:]
    assert message.format(**names) in json.loads(stderr_line)
    assert set(json.loads(modules_line)) & {*HEAVY, "pandas", "scipy", "numpy"} == set()


def test_a_power_plan_without_a_design_is_refused_before_the_statistics_load() -> None:
    """`experiments power` with neither --rate nor --mean/--sd says so without loading pandas,
    SciPy or statsmodels (it took over 1 s when the analysis engine loaded first)."""
    code = (
        "from cartwise.cli import main\n"
        "try:\n    main(['experiments', 'power', '--mde', '0.05'])\n"
        "except SystemExit as exc:\n    assert exc.code == 2, exc.code\n"
    )
    loaded = set(_loaded_after(code))
    assert loaded & {*HEAVY, "pandas", "scipy", "statsmodels"} == set()


@pytest.mark.parametrize(
    "command",
    [
        ["segments", "list"],
        ["segments", "members", "s"],
        ["profiles", "show", "u1"],
        ["audiences", "list"],
        ["journeys", "list"],
        ["journeys", "show", "j"],
        ["campaigns", "list"],
        ["experiments", "list"],
    ],
)
def test_reading_a_store_loads_neither_scikit_learn_nor_ibis(tmp_path: Path, command: list[str]) -> None:
    """Listing and showing what a store holds reads rows: the clustering (scikit-learn, ~2 s)
    and the profile builder (Ibis) load only in the commands that build profiles."""
    db = tmp_path / "shop.duckdb"
    _loaded_after(
        f"from cartwise.cli import main\ntry:\n    main(['keys', 'list', '--db', {str(db)!r}])\nexcept SystemExit:\n    pass"
    )
    code = f"from cartwise.cli import main\ntry:\n    main({[*command, '--db', str(db)]!r})\nexcept SystemExit:\n    pass\n"
    loaded = set(_loaded_after(code))
    assert "duckdb" in loaded  # the store was read
    assert loaded & set(HEAVY) == set()
