"""Checks on input files that cost no import, so a command can refuse a missing file at once."""

from __future__ import annotations

from pathlib import Path

from cartwise.core.errors import InputError, NotFoundError


def require_file(path: Path | str) -> Path:
    """`path` as a Path, or an `InputError` when it is missing or not a file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file.")
    return path


def require_input_file(path: Path | str, what: str, *, parameter: str | None = None) -> Path:
    """`path` as a Path, or the `InputError` "The `what` file '...' does not exist; check the
    path." that the pipelines raise, so the CLI can raise it before importing them."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"The {what} file {str(path)!r} does not exist; check the path.", parameter=parameter
        )
    return path


def require_model_dir(path: Path | str) -> Path:
    """The `model.json` of a model directory written by `Recommender.save`, or a `NotFoundError`
    when `path` holds none."""
    path = Path(path)
    meta_file = path / "model.json"
    if not meta_file.is_file():
        raise NotFoundError(
            f"{path} is not a model directory (no model.json); train one with `cartwise recs fit`."
        )
    return meta_file
