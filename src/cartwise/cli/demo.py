"""`cartwise demo` (placeholder until the simulator lands)."""

import click


@click.command()
def demo() -> None:
    """Build the demo shop."""
    raise click.ClickException("not yet")
