"""Test fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from DATABASE_URL (`.ci/run` starts one; so does `source .ci/postgres.sh`).
Without it the PostgreSQL half is skipped and said so; under CI=true it is a failure.
The schema is built by the real Alembic migrations once per backend and test process.
"""

import os
import shutil
import time

import pytest
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from server import create_app
from server.extensions import db as _db
from server.services import job_signals

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("DATABASE_URL", "")
BACKENDS = ["sqlite", "postgresql"]


def pytest_report_header(config):
    pg = f"PostgreSQL at {make_url(PG_URL).render_as_string(hide_password=True)}" if PG_URL else (
        "PostgreSQL: SKIPPED (no DATABASE_URL; run .ci/run or `source .ci/postgres.sh`)"
    )
    browser = "Chromium: /usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else (
        "Chromium: SKIPPED (no /usr/bin/chromium; apt-get install chromium)"
    )
    return [pg, browser]


def _worker_suffix() -> str:
    # Unique per test process, so parallel runs on one server never share a database.
    return f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


def _pg_worker_url() -> str:
    """A database of this test process's own on the DATABASE_URL server, created fresh."""
    base = make_url(PG_URL)
    name = f"{base.database}_{_worker_suffix()}"
    admin = create_engine(base.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)


def _migrate(url: str, instance: str) -> None:
    import flask_migrate

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance, "TESTING": True})
    with app.app_context():
        flask_migrate.upgrade()
        _db.engine.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.db"
    _migrate(f"sqlite:///{path}", str(folder))
    return str(path)


@pytest.fixture(scope="session")
def migrated_postgres(tmp_path_factory) -> str:
    if not PG_URL:
        if IN_CI:
            pytest.fail("CI=true but DATABASE_URL is not set: the PostgreSQL half cannot run")
        pytest.skip("PostgreSQL half skipped: no DATABASE_URL")
    url = _pg_worker_url()
    _migrate(url, str(tmp_path_factory.mktemp("pg-instance")))
    yield url
    admin = create_engine(make_url(url).set(database=make_url(PG_URL).database), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def database_url(backend, request, tmp_path) -> str:
    if backend == "sqlite":
        path = tmp_path / "cellwms.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        return f"sqlite:///{path}"
    return request.getfixturevalue("migrated_postgres")


@pytest.fixture
def app(database_url, backend, tmp_path):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "TESTING": True,
            "SECRET_KEY": "test-secret",
        }
    )
    app.config["CELLWMS_BACKEND"] = backend
    with app.app_context():
        yield app
        _db.session.remove()
        if backend == "postgresql":
            job_signals.stop_listeners()  # no LISTEN connection outlives its test's database
            tables = ", ".join(f'"{t.name}"' for t in _db.metadata.sorted_tables)
            for attempt in range(5):
                try:
                    with _db.engine.begin() as conn:
                        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
                    break
                except OperationalError as error:
                    # A live server's last request (a station stream ending) can still hold a
                    # table: PostgreSQL then breaks the deadlock by failing the TRUNCATE. Again.
                    if "deadlock" not in str(error).lower() or attempt == 4:
                        raise
                    time.sleep(0.2)
        _db.engine.dispose()


@pytest.fixture
def db(app):
    return _db


class FreshClient(FlaskClient):
    """A test client whose every request starts with an empty `g`.

    The `app` fixture keeps an application context pushed and Flask reuses it for requests, so
    without this what a request caches in `g` (the caller, the signed-in user, the CSRF token)
    would leak into the next request, as it never does in production.
    """

    def open(self, *args, **kwargs):
        g.__dict__.clear()
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = FreshClient
    return app.test_client()


def pytest_terminal_summary(terminalreporter):
    halves = []
    if not PG_URL:
        halves.append("the PostgreSQL half (no DATABASE_URL: run .ci/run, or `source .ci/postgres.sh` first)")
    if not os.path.exists("/usr/bin/chromium"):
        halves.append("the browser half (no /usr/bin/chromium: apt-get install chromium)")
    for half in halves:
        terminalreporter.write_line(f"SKIPPED {half}", yellow=True, bold=True)
