"""The `cartwise` command: a thin group over the pipelines, the service and the pages.

Each area has its own module in this package defining one click group or command; this
module registers them. Every command takes `--json`; `main()` turns a `CartwiseError`
into a message on stderr and exit code 2, and prints Cartwise warnings as `Warning: ...` lines.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from typing import Any

import click

from cartwise import __version__
from cartwise.cli.common import is_interrupt
from cartwise.core.errors import CartwiseError, CartwiseWarning, Interrupted

# (module, attribute) of each registered command, in the order `--help` lists them.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("cartwise.cli.demo", "demo"),
    ("cartwise.cli.ingest", "ingest"),
    ("cartwise.cli.db", "db"),
    ("cartwise.cli.schema", "schema"),
    ("cartwise.cli.recs", "recs"),
    ("cartwise.cli.clv", "clv"),
    ("cartwise.cli.profiles", "profiles"),
    ("cartwise.cli.profiles", "segments"),
    ("cartwise.cli.audiences", "audiences"),
    ("cartwise.cli.train", "train"),
    ("cartwise.cli.forecast", "forecast"),
    ("cartwise.cli.serve", "serve"),
    ("cartwise.cli.keys", "keys"),
    ("cartwise.cli.users_admin", "users_admin"),
    ("cartwise.cli.churn", "churn"),
    ("cartwise.cli.analytics", "analytics"),
    ("cartwise.cli.basket", "basket"),
    ("cartwise.cli.demand", "demand"),
    ("cartwise.cli.experiments", "experiments"),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="cartwise")
def cli() -> None:
    """Cartwise: analytics, customers, recommendations, forecasts, campaigns and experiments for online shops.

    Settings come from cartwise.toml, CARTWISE_* environment variables and flags (see the README).
    """


for _module, _attr in COMMANDS:
    cli.add_command(getattr(importlib.import_module(_module), _attr))


def _show_warning(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    if issubclass(category, CartwiseWarning):  # for the user, without a source line
        click.echo(f"Warning: {message}", err=True)
    else:
        _python_show_warning(message, category, *args, **kwargs)


_python_show_warning = warnings.showwarning


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, printing CartwiseErrors as one clear message."""
    warnings.showwarning = _show_warning
    try:
        cli.main(args=argv, prog_name="cartwise", standalone_mode=False)
    except Interrupted as exc:
        click.echo(str(exc), err=True)
        sys.exit(exc.exit_code)
    except CartwiseError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:  # click's form of Ctrl-C, e.g. at a prompt
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, RuntimeError) as exc:
        # Commands that know what Ctrl-C left behind say it with `Interrupted`.
        if not is_interrupt(exc):
            raise
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    else:
        sys.exit(0)


__all__ = ["cli", "main"]
