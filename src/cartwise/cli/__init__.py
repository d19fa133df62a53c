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
from typing import Any

import click

from cartwise import __version__
from cartwise.cli.analytics import analytics
from cartwise.cli.audiences import audiences
from cartwise.cli.basket import basket
from cartwise.cli.campaigns import campaigns
from cartwise.cli.churn import churn
from cartwise.cli.clv import clv
from cartwise.cli.common import is_interrupt
from cartwise.cli.customers import customers
from cartwise.cli.db import db
from cartwise.cli.demand import demand
from cartwise.cli.demo import demo
from cartwise.cli.errors import report_cartwise_error, report_click_error, warning_text
from cartwise.cli.events import events
from cartwise.cli.experiments import experiments
from cartwise.cli.forecast import forecast
from cartwise.cli.ingest import ingest
from cartwise.cli.journeys import journeys
from cartwise.cli.keys import keys
from cartwise.cli.profiles import profiles, segments
from cartwise.cli.recs import recs
from cartwise.cli.schema import schema
from cartwise.cli.serve import serve
from cartwise.cli.train import train
from cartwise.cli.uplift import uplift
from cartwise.cli.users_admin import users_admin
from cartwise.core.errors import CartwiseError, CartwiseWarning

# Every command module imports only click and light modules; the pipelines (scikit-learn,
# LightGBM, statsforecast, Ibis, PySpark) are imported inside the commands that run them, so
# `cartwise --help` and a command's own --help stay quick (bench/cli_startup.py).
COMMANDS: tuple[click.Command, ...] = (
    demo,
    ingest,
    db,
    events,
    schema,
    recs,
    clv,
    profiles,
    segments,
    audiences,
    customers,
    train,
    forecast,
    serve,
    keys,
    users_admin,
    churn,
    analytics,
    basket,
    demand,
    experiments,
    uplift,
    campaigns,
    journeys,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="cartwise")
def cli() -> None:
    """Cartwise: analytics, customers, recommendations, forecasts, campaigns and experiments for online shops.

    Settings come from cartwise.toml, CARTWISE_* environment variables and flags (see the README).
    """


for _command in COMMANDS:
    cli.add_command(_command)


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
