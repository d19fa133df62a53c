"""The `cartwise` command: a thin group over the pipelines, the service and the pages.

Each area has its own module in this package defining one click group or command; this
module registers them. Every command takes `--json`; `main()` turns a `CartwiseError`
into a message on stderr (under `--json`, a JSON document on stdout) and exit code 2, naming
the parameter it is about as the command's option (`cartwise.cli.errors`), and prints
Cartwise warnings as `Warning: ...` lines.
"""

from __future__ import annotations

import os

# OpenBLAS reads its thread count once, when numpy first loads it; implicit's ALS warns (and
# runs slower) unless it is 1, so the CLI sets it before any command imports numpy. A value the
# user set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import sys
import warnings
from collections.abc import Callable
from importlib import import_module
from typing import Any

import click

from cartwise import __version__
from cartwise.cli.common import is_interrupt
from cartwise.cli.errors import report_cartwise_error, report_click_error, warning_text
from cartwise.core.errors import CartwiseError, CartwiseWarning

# Every command module imports only click and light modules; the pipelines (scikit-learn,
# LightGBM, statsforecast, Ibis, PySpark) are imported inside the commands that run them. And a
# command's module is itself imported only when that command is looked up: `cartwise COMMAND`
# and its --help load one module, not all 20-odd (~0.06 s of CPU saved); `cartwise --help`
# loads them all for their one-line help (bench/cli_startup.py). To add a command, add a line.
COMMANDS: dict[str, Callable[[], click.Command]] = {
    "demo": lambda: import_module("cartwise.cli.demo").demo,
    "ingest": lambda: import_module("cartwise.cli.ingest").ingest,
    "db": lambda: import_module("cartwise.cli.db").db,
    "events": lambda: import_module("cartwise.cli.events").events,
    "schema": lambda: import_module("cartwise.cli.schema").schema,
    "recs": lambda: import_module("cartwise.cli.recs").recs,
    "clv": lambda: import_module("cartwise.cli.clv").clv,
    "profiles": lambda: import_module("cartwise.cli.profiles").profiles,
    "segments": lambda: import_module("cartwise.cli.profiles").segments,
    "audiences": lambda: import_module("cartwise.cli.audiences").audiences,
    "customers": lambda: import_module("cartwise.cli.customers").customers,
    "train": lambda: import_module("cartwise.cli.train").train,
    "forecast": lambda: import_module("cartwise.cli.forecast").forecast,
    "serve": lambda: import_module("cartwise.cli.serve").serve,
    "keys": lambda: import_module("cartwise.cli.keys").keys,
    "users-admin": lambda: import_module("cartwise.cli.users_admin").users_admin,
    "churn": lambda: import_module("cartwise.cli.churn").churn,
    "analytics": lambda: import_module("cartwise.cli.analytics").analytics,
    "basket": lambda: import_module("cartwise.cli.basket").basket,
    "demand": lambda: import_module("cartwise.cli.demand").demand,
    "experiments": lambda: import_module("cartwise.cli.experiments").experiments,
    "uplift": lambda: import_module("cartwise.cli.uplift").uplift,
    "campaigns": lambda: import_module("cartwise.cli.campaigns").campaigns,
    "journeys": lambda: import_module("cartwise.cli.journeys").journeys,
}
"""Each top-level command's name and how to load it."""


class _LazyGroup(click.Group):
    """A click group whose commands (`COMMANDS`) are imported when first looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(COMMANDS[cmd_name](), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="cartwise")
def cli() -> None:
    """Cartwise: analytics, customers, recommendations, forecasts, campaigns and experiments for online shops.

    Settings come from cartwise.toml, CARTWISE_* environment variables and flags (see the README).
    """


def _show_warning(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    if issubclass(category, CartwiseWarning):  # for the user, without a source line
        click.echo(f"Warning: {warning_text(message)}", err=True)
    else:
        _python_show_warning(message, category, *args, **kwargs)


_python_show_warning = warnings.showwarning


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, printing CartwiseErrors as one clear message."""
    warnings.showwarning = _show_warning
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        cli.main(args=args, prog_name="cartwise", standalone_mode=False)
    except CartwiseError as exc:  # `Interrupted` included: it says what the command kept
        report_cartwise_error(exc, cli, args)
    except click.exceptions.Abort:  # click's form of Ctrl-C, e.g. at a prompt
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        report_click_error(exc, cli, args)
    except (KeyboardInterrupt, RuntimeError) as exc:
        # Commands that know what Ctrl-C left behind say it with `Interrupted`.
        if not is_interrupt(exc):
            raise
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    else:
        sys.exit(0)


__all__ = ["cli", "main"]
