"""An error's parameter and the parameters its hint mentions are worded by each surface."""

from __future__ import annotations

from cartwise.core.errors import InputError


def test_a_hint_names_other_parameters_in_each_surfaces_words() -> None:
    error = InputError(
        "one column found; pass `delimiter` ';' (or `format` csv), or `no_header` for data",
        parameter="format",
        mentions=("delimiter", "format", "no_header"),
    )
    assert (
        str(error)
        == "`format`: one column found; pass `delimiter` ';' (or `format` csv), or `no_header` for data"
    )
    cli = error.render(lambda p: "--" + p.replace("_", "-"))
    assert (
        cli == "--format: one column found; pass --delimiter ';' (or --format csv), or --no-header for data"
    )
    # Backticked words that are not declared parameters stay as written.
    plain = InputError("map `ts` with `map` ts=when", mentions=("map",))
    assert plain.render(lambda p: f"--{p}") == "map `ts` with --map ts=when"
