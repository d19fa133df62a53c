"""`cartwise journeys`: apply, check, list and show triggered journeys (YAML or JSON files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cartwise.cli.common import db_option, emit, json_option, settings_for
from cartwise.pipelines.stores import opened


@click.group()
def journeys() -> None:
    """Triggered journeys: an event, an audience or a run-out date starts a customer on steps
    (wait, wait_for, branch, split, send, exit), run by `cartwise serve`."""


def _read(path: Path) -> str:
    """The text of the file at `path`, or of the built-in journey of that name (`abandoned-cart`)
    when no such file exists."""
    from cartwise.core.errors import InputError

    if not path.exists() and path.name == str(path) and not path.suffix:
        from cartwise.pipelines.journey_library import builtin_journey

        return builtin_journey(str(path))
    if not path.is_file():
        raise InputError(
            f"No journey file at {path}; give the path of a YAML or JSON file, or the name of a built-in "
            "journey (`cartwise journeys builtins` lists them).",
            parameter="file",
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text; save it as UTF-8.", parameter="file") from exc


# A path, or the name of a built-in journey (`cartwise journeys builtins` lists them).
_FILE = click.argument("file", type=click.Path(dir_okay=False, path_type=Path))


@journeys.command("apply")
@_FILE
@db_option
@json_option
def apply(file: Path, db: Path | None, as_json: bool) -> None:
    """Save the journey in FILE (or the built-in journey of that name, saving the audience its
    trigger names when missing): the same text again keeps its version, a changed one becomes
    the next version (customers in flight finish theirs). Prints {"journey", "version"}."""
    settings = settings_for(db)
    text = _read(file)
    builtin = not file.exists() and str(file) == file.name
    with opened(settings, create=False) as store:
        from cartwise.pipelines.journeys import apply_journey

        if builtin:
            from cartwise.pipelines.journey_library import apply_builtin_journey

            result = apply_builtin_journey(store, settings, str(file))
        else:
            result = apply_journey(store, settings, text)
    emit(
        result,
        as_json,
        lambda r: (
            f"Journey {r['journey']}: version {r['version']}"
            + ("" if r["changed"] else " (unchanged: the file is that version already)")
        ),
    )


@journeys.command("validate")
@_FILE
@json_option
def validate(file: Path, as_json: bool) -> None:
    """Check FILE (or a built-in journey's name) without saving it: the line and the fix of the first problem, if any."""
    settings = settings_for(None)
    text = _read(file)  # a missing file fails before the ~3 s import below
    from cartwise.pipelines.journeys import validate_journey

    journey = validate_journey(settings, text)
    emit({"journey": journey.name, "valid": True}, as_json, lambda r: f"Journey {r['journey']}: valid.")


def _list_text(r: dict[str, Any]) -> str:
    lines = []
    for j in r["journeys"]:
        runs = ", ".join(f"{k} {v:,}" for k, v in j["runs"].items())
        trigger = f"{j['trigger']['kind']}: {j['trigger']['value']}"
        state = "" if j["active"] else " (inactive)"
        lines.append(f"{j['journey']} v{j['version']}{state} [{trigger}]: {runs}")
    return "\n".join(lines) or "No journeys yet; apply one with `cartwise journeys apply FILE`."


@journeys.command("list")
@db_option
@json_option
def list_(db: Path | None, as_json: bool) -> None:
    """Every journey's newest version, its trigger and its customers by run state."""
    settings = settings_for(db)
    with opened(settings, create=False) as store:
        from cartwise.pipelines.journeys import list_journeys

        result = {"journeys": list_journeys(store)}
    emit(result, as_json, _list_text)


def _show_text(r: dict[str, Any]) -> str:
    lines = []
    for v in r["versions"]:
        runs = ", ".join(f"{k} {n:,}" for k, n in v["runs"].items())
        lines.append(f"{r['journey']} v{v['version']}{'' if v['active'] else ' (inactive)'}: {runs}")
        for step in v["steps"]:
            counts = ", ".join(f"{k} {n:,}" for k, n in step["counts"].items()) or "-"
            lines.append(f"  step {step['path']}: {counts}")
    return "\n".join(lines)


@journeys.command("show")
@click.argument("name")
@db_option
@json_option
def show(name: str, db: Path | None, as_json: bool) -> None:
    """Journey NAME: each version's definition, runs by state and per-step counts."""
    settings = settings_for(db)
    with opened(settings, create=False) as store:
        from cartwise.pipelines.journeys import show_journey

        result = show_journey(store, name)
    emit(result, as_json, _show_text)


@journeys.command("builtins")
@json_option
def builtins(as_json: bool) -> None:
    """The built-in journeys shipped with Cartwise; apply one with `cartwise journeys apply NAME`."""
    from cartwise.pipelines.journey_library import builtin_journey, builtin_journey_names

    result = {
        "journeys": [
            {"journey": name, "definition": builtin_journey(name)} for name in builtin_journey_names()
        ]
    }
    emit(result, as_json, lambda r: "\n".join(j["journey"] for j in r["journeys"]))
