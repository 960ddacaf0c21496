"""CLI commands for scanners (see terminal/cli.py)."""

commands: list = []
