"""cellwms server: the Flask application, the only writer of the database."""

import os

MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations")


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def create_app(config: dict | None = None):
    # Imported here, so that `server.core` (pure Python) loads without Flask and SQLAlchemy.
    from flask import Flask

    from server.config import load_config
    from server.extensions import babel, csrf, db, login_manager, migrate

    config = dict(config or {})
    instance_path = config.pop("INSTANCE_PATH", None) or os.environ.get("CELLWMS_INSTANCE") or os.path.abspath(
        "instance"
    )
    app = Flask(__name__, instance_path=instance_path, static_folder=None)
    app.config.update(load_config(instance_path, config))
    from server.api.guard import init_guard

    init_guard(app)  # bounds on every request and every `<int:...>` route, before any route exists
    os.makedirs(app.config["MEDIA_DIR"], exist_ok=True)

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, command="migrations", render_as_batch=True)
    # One migration group: `cellwms db` (server/commands/database.py), not Flask-Migrate's own too.
    app.cli.commands.pop("migrations", None)
    login_manager.init_app(app)
    csrf.init_app(app)

    from server import i18n

    babel.init_app(app, locale_selector=i18n.select_locale)

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _configure_sqlite(db.engine, app.config["CELLWMS_SQLITE_BUSY_TIMEOUT_MS"])

    from server import auth

    auth.init_app(app)

    from server.api import init_api

    init_api(app)

    from server.web import init_web

    init_web(app)

    from server import cli

    cli.register_commands(app)

    from server.proxies import TrustedProxies

    app.wsgi_app = TrustedProxies(app.wsgi_app, app)
    return app


def _configure_sqlite(engine, busy_timeout_ms: int) -> None:
    """WAL journal, enforced foreign keys, and serialized writers.

    Every transaction starts with BEGIN IMMEDIATE, so two writers never race on a snapshot:
    the second waits (busy_timeout) instead of failing, and read-check-write sequences such as
    reservations stay correct under concurrent requests.
    """
    from sqlalchemy import event

    from server.extensions import READ_ONLY_OPTION

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()
        # SQLite's lower() folds ASCII only: searches by a Russian name ("пётр" finds "Пётр") need
        # Python's, as PostgreSQL's lower() does.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        # Readers that never write (live streams) say so and do not take the writer's lock.
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
