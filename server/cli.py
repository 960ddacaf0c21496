"""The `cellwms` command: database, users, stations, layout, import, server, demo.

Our own click group (not Flask's FlaskGroup): `cellwms --help` lists our commands and no Flask
options; commands that need the application get it through Flask's ScriptInfo
(`with_appcontext`). The same commands are attached to `app.cli`, so `flask --app server` offers
them too. A database without the schema is one line saying what to run, not a traceback.
"""

import sys

import click


def _create_app():
    from server import create_app

    return create_app()


def _commands() -> dict:
    from server.commands import all_commands

    return {command.name: command for command in all_commands()}


class CellwmsGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(_commands())

    def get_command(self, ctx, name):
        return _commands().get(name)

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            from flask.cli import ScriptInfo
        except ImportError:  # a station PC: `pip install 'cellwms[station]'` has no Flask
            click.echo("error: `cellwms` is the server and needs its dependencies (pip install 'cellwms[server]'); "
                       "the station agent is `cellwms-station`", err=True)
            sys.exit(1)

        extra.setdefault("obj", ScriptInfo(create_app=_create_app, set_debug_flag=False,
                                           load_dotenv_defaults=False))
        return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx):
        from sqlalchemy.exc import OperationalError, ProgrammingError

        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError) as error:
            message = missing_schema_message(ctx, error)
            if message is None:
                raise
            click.echo(f"error: {message}", err=True)
            sys.exit(1)


def missing_schema_message(ctx, error) -> str | None:
    """'the database X has no cellwms schema ...' when `error` is a missing table, else None."""
    text = str(getattr(error, "orig", error)).strip().splitlines()[0] if str(error).strip() else ""
    if not ("no such table" in text or ("relation" in text and "does not exist" in text)):
        return None
    url = "the database"
    info = ctx.find_object(__import__("flask.cli", fromlist=["ScriptInfo"]).ScriptInfo)
    app = getattr(info, "_loaded_app", None) if info else None
    if app is not None:
        from sqlalchemy.engine import make_url

        url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).render_as_string(hide_password=True)
    return f"{url} has no cellwms schema ({text}): run `cellwms db upgrade` (or `make demo` for the demo)"


@click.group(cls=CellwmsGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """cellwms warehouse server: database, users and stations, layout, import, server, demo.

    The database is DATABASE_URL, or instance/cellwms.db (SQLite; the instance folder is
    CELLWMS_INSTANCE, else ./instance). `cellwms demo` seeds and serves that same database.
    Station-side tools (devices, emulate, outbox, the agent) are `cellwms-station`.
    """


def register_commands(app) -> None:
    """Commands are attached to the app so `flask --app server` and `cellwms` offer the same."""
    from server.commands import register

    register(app)
