"""CLI commands, one module per area."""


def register(app) -> None:
    from server.commands import database, people, stock

    for module in (database, people, stock):
        for command in module.commands:
            app.cli.add_command(command)
