"""CLI commands, one module per area."""


def all_commands() -> list:
    from server.commands import (
        bench,
        database,
        devices,
        evidence,
        importing,
        layout,
        order_sources,
        people,
        printing,
        scenarios,
        serve,
        stock,
        worker,
    )

    modules = (database, people, stock, layout, importing, order_sources, serve, bench, printing, devices, scenarios,
               worker, evidence)
    return [command for module in modules for command in module.commands]


def register(app) -> None:
    for command in all_commands():
        app.cli.add_command(command)
