"""CLI commands for scales (see terminal/cli.py)."""

commands: list = []
