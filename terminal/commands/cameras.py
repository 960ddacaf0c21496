"""CLI commands for cameras (see terminal/cli.py)."""

commands: list = []
