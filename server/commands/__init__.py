"""CLI commands, one module per area."""


def register(app) -> None:
    from server.commands import (
        bench,
        database,
        devices,
        importing,
        layout,
        people,
        printing,
        scenarios,
        serve,
        stock,
    )

    for module in (database, people, stock, layout, importing, serve, bench, printing, devices, scenarios):
        for command in module.commands:
            app.cli.add_command(command)
