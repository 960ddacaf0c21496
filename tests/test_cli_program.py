"""The `cellwms` program as a user runs it: its own help, one migration group, the database the
demo made, and a missing schema as one line."""

import os
import subprocess
import sys
import time

import pytest

CLI = [sys.executable, "-c", "from server.cli import main; main()"]


@pytest.fixture
def env(tmp_path):
    env = dict(os.environ, CELLWMS_INSTANCE=str(tmp_path / "instance"), PYTHONUNBUFFERED="1")
    env.pop("DATABASE_URL", None)
    return env


def cellwms(env, *args, timeout=120):
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_help_is_ours_with_one_migration_group(env):
    result = cellwms(env, "--help")
    assert result.returncode == 0, result.stderr
    for flask_option in ("--app", "--env-file", "--debug", "--version"):
        assert flask_option not in result.stdout
    commands = result.stdout.split("Commands:", 1)[1].split()
    assert "db" in commands and "migrations" not in commands
    for name in ("stock", "user", "station", "layout", "import", "server", "demo", "devices"):
        assert name in commands
    assert cellwms(env, "migrations", "--help").returncode != 0


def test_flask_app_cli_has_one_migration_group(tmp_path):
    from server import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}", "INSTANCE_PATH": str(tmp_path)})
    assert "db" in app.cli.commands and "migrations" not in app.cli.commands


def test_missing_schema_is_one_line(env):
    result = cellwms(env, "stock", "check")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "has no cellwms schema" in lines[0] and "cellwms db upgrade" in lines[0]


def test_stock_check_reads_the_database_the_demo_made(env):
    demo = subprocess.Popen([*CLI, "demo", "--no-stations", "--port", "0"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    output = []
    try:
        deadline = time.monotonic() + 300  # a bound on waiting, not a performance check
        for line in demo.stdout:
            output.append(line)
            if "Ctrl+C stops the demo" in line or time.monotonic() > deadline:
                break
        assert any("Ctrl+C stops the demo" in line for line in output), "".join(output)
    finally:
        demo.terminate()
        demo.wait(30)
    result = cellwms(env, "stock", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "quants equal the ledger" in result.stdout
