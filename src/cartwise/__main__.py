"""`python -m cartwise` runs the CLI."""

from cartwise.cli import main

main()
