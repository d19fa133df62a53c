"""How the CLI names a parameter in an error, and finds the command that ran."""

from __future__ import annotations

import click

from cartwise.cli import cli
from cartwise.cli.errors import invoked_command, option_name
from cartwise.core.errors import ConfigError


@click.command()
@click.option("--min-support", type=float)
@click.option("--baskets", "baskets_file")
@click.option("-n", "--top", "n", type=int)
def _command(**_: object) -> None:
    pass


def test_the_option_that_maps_to_a_parameter_names_it() -> None:
    assert option_name(_command, "min_support") == "--min-support"
    assert option_name(_command, "baskets_file") == "--baskets"  # by destination, not spelling
    assert option_name(_command, "n") == "--top"
    # A parameter the command has no option for is named as the library names it.
    assert option_name(_command, "penalizer") == "`penalizer`"
    error = ConfigError("0.0 is outside (0, 1].", parameter="min_support")
    assert error.render(lambda p: option_name(_command, p)) == "--min-support: 0.0 is outside (0, 1]."
    assert str(error) == "`min_support`: 0.0 is outside (0, 1]."


def test_the_invoked_command_is_found_without_running_it() -> None:
    command, as_json = invoked_command(cli, ["basket", "rules", "--min-support", "0", "--json"])
    assert command.name == "rules" and as_json
    command, as_json = invoked_command(cli, ["analytics", "kpis", "--by", "week"])
    assert command.name == "kpis" and not as_json
    # Unparseable arguments still resolve as far as they go.
    command, _ = invoked_command(cli, ["analytics", "nonsense", "--json"])
    assert command.name == "analytics"
