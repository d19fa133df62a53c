"""How the CLI reports an error: the parameter named as its option, and JSON under `--json`.

A `CartwiseError` carries the Python name of the parameter it is about (`min_support`); the
command that ran knows which of its options maps to it (`--min-support`), so the message
names the flag the user typed. Under `--json` an error is one JSON document on stdout,
`{"error": ..., "message": ..., "parameter": ...}`, like every other answer of a `--json`
command, with the same exit code as the text form (which goes to stderr).

Messages a command's result carries (an ingest summary's warnings and rejection reasons, read
back from the store) are worded the same way in its text and its `--json` output, and the JSON
adds `mentions` beside each: the parameters it names by their library and API names, so a
script knows what `--timezone` refers to (`stored_words`). The store keeps the library's
wording (`timezone`), which the API serves as it is.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import click

from cartwise.core.errors import CartwiseError, CartwiseWarning, python_name, reword


def invoked_command(group: click.Group, argv: list[str]) -> tuple[click.Command, bool]:
    """The command that `argv` runs under `group`, and whether `--json` was given to it.

    The arguments are parsed again without callbacks, prompts or errors (click's resilient
    parsing, as its shell completion does), so it is safe to call after a failure."""
    command: click.Command = group
    args = list(argv)
    ctx: click.Context | None = None
    try:
        ctx = command.make_context("cartwise", args, resilient_parsing=True)
        while isinstance(command, click.Group):
            rest = [*ctx._protected_args, *ctx.args]
            if not rest:
                break
            name, sub, sub_args = command.resolve_command(ctx, rest)
            if sub is None or name is None:
                break
            command = sub
            ctx = sub.make_context(name, sub_args, parent=ctx, resilient_parsing=True)
    except (click.ClickException, click.exceptions.Exit):
        pass
    as_json = bool(ctx.params.get("as_json")) if ctx is not None and ctx.command is command else False
    return command, as_json or ("--json" in argv and _has_json_option(command))


def _has_json_option(command: click.Command) -> bool:
    return any(isinstance(p, click.Option) and "--json" in p.opts for p in command.params)


def option_name(command: click.Command, parameter: str) -> str:
    """How `command` spells `parameter` on its command line: the option whose destination is
    `parameter` (`--min-support` for `min_support`), else the option spelled like it; the
    Python name in backticks when the command has neither (a library-only parameter)."""
    dashed = "--" + parameter.replace("_", "-")
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        if param.name == parameter or dashed in param.opts:
            long = [o for o in param.opts if o.startswith("--")]
            return long[0] if long else param.opts[0]
    return python_name(parameter)


def current_command() -> click.Command | None:
    """The command whose callback is running, or None outside one."""
    ctx = click.get_current_context(silent=True)
    return None if ctx is None else ctx.command


def option_words(text: str, mentions: Iterable[str], command: click.Command | None = None) -> str:
    """`text` with the parameters of `mentions` (written as `python_name` does) named as the
    options of `command` (by default the one running), e.g. "pass `strict`" -> "pass --strict"."""
    command = command if command is not None else current_command()
    if command is None:
        return reword(text, mentions)
    return reword(text, mentions, lambda p: option_name(command, p))


def stored_words(entry: Mapping[str, Any], key: str, mentions: Iterable[str]) -> dict[str, Any]:
    """A copy of `entry` for the CLI's `--json`: its message `entry[key]` worded with the running
    command's options (as its text output words it: "`timezone`" -> "--timezone"), and beside it
    `mentions`, the parameters of `mentions` the message names (by their library and API names,
    in the order given; `[]` when none). An entry that carries its own `mentions` keeps them.

    Messages written before are read back the same way: a stored message names a parameter only
    as `python_name` writes it, and `mentions` is the declared set any such message may name
    (`MESSAGE_MENTIONS` for load messages), so the store needs no column for them."""
    text = str(entry[key])
    declared = entry.get("mentions", mentions)
    named = [p for p in declared if python_name(p) in text]
    return {**entry, key: option_words(text, named), "mentions": named}


def warning_text(message: Warning | str) -> str:
    """A warning as the CLI prints it: a `CartwiseWarning`'s parameters as the running command's options."""
    if isinstance(message, CartwiseWarning):
        return option_words(message.message, message.mentions)
    return str(message)


def report(
    kind: str,
    message: str,
    exit_code: int,
    *,
    parameter: str | None,
    as_json: bool,
    prefix: str = "Error: ",
) -> None:
    """Print an error as text on stderr, or as the `--json` document on stdout; then exit."""
    if as_json:
        click.echo(json.dumps({"error": kind, "message": message, "parameter": parameter}))
    else:
        click.echo(f"{prefix}{message}", err=True)
    sys.exit(exit_code)


def report_cartwise_error(exc: CartwiseError, group: click.Group, argv: list[str]) -> None:
    """Report a `CartwiseError` raised by the command `argv` ran; the parameter as its option."""
    command, as_json = invoked_command(group, argv)
    message = exc.render(lambda p: option_name(command, p))
    prefix = "" if exc.code == "interrupted" else "Error: "
    report(exc.code, message, exc.exit_code, parameter=exc.parameter, as_json=as_json, prefix=prefix)


def report_click_error(exc: click.ClickException, group: click.Group, argv: list[str]) -> None:
    """Report click's own usage errors (an unknown option, a bad choice) as JSON under `--json`;
    as click shows them otherwise."""
    _command, as_json = invoked_command(group, argv)
    if not as_json:
        exc.show()
        sys.exit(exc.exit_code)
    parameter = None
    if isinstance(exc, click.BadParameter) and exc.param is not None:
        parameter = exc.param.name
    report("usage_error", exc.format_message(), exc.exit_code, parameter=parameter, as_json=True)


__all__ = [
    "current_command",
    "invoked_command",
    "option_name",
    "option_words",
    "report",
    "report_cartwise_error",
    "report_click_error",
    "stored_words",
    "warning_text",
]
