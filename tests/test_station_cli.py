"""`cellwms-station` is its own program: it starts without Flask, SQLAlchemy or `server`
importable, from a working directory it cannot write (cwd=/ under systemd), and runs an agent."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

BLOCKED = ("flask", "flask_sqlalchemy", "flask_migrate", "flask_smorest", "flask_login", "flask_babel",
           "flask_wtf", "sqlalchemy", "werkzeug", "server")

SITECUSTOMIZE = f"""
import sys

class _Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ImportError("blocked for this test: " + name)
        return None

sys.meta_path.insert(0, _Blocked())
"""


def _script() -> str:
    found = Path(sys.executable).with_name("cellwms-station")
    if not found.exists():
        found = Path(shutil.which("cellwms-station") or "")
    assert found.name == "cellwms-station" and found.exists(), "cellwms-station is not installed (pip install -e .)"
    return str(found)


@pytest.fixture
def blocked_env(tmp_path):
    """PYTHONPATH with a sitecustomize that makes the server's libraries unimportable, and a
    read-only working directory."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    cwd = tmp_path / "readonly"
    cwd.mkdir()
    cwd.chmod(0o555)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CELLWMS_INSTANCE")}
    env["PYTHONPATH"] = str(site)
    env["HOME"] = str(tmp_path / "home")
    yield env, cwd
    cwd.chmod(0o755)


def test_blocker_works(blocked_env):
    env, cwd = blocked_env
    proc = subprocess.run([sys.executable, "-c", "import flask"], env=env, cwd=cwd, capture_output=True, text=True)
    assert proc.returncode != 0 and "blocked for this test" in proc.stderr


@pytest.mark.parametrize("cwd_root", [True, False])
def test_help_without_flask_and_sqlalchemy(blocked_env, cwd_root):
    env, cwd = blocked_env
    proc = subprocess.run([_script(), "--help"], env=env, cwd="/" if cwd_root else cwd, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "cellwms-station" in proc.stdout and "python -m" not in proc.stdout
    for words in (["run", "--help"], ["devices", "probe", "--help"], ["outbox", "--help"], ["emulate", "--help"]):
        proc = subprocess.run([_script(), *words], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, (words, proc.stderr)
        assert "Usage: cellwms-station" in proc.stdout and "terminal.cli" not in proc.stdout
    assert list(cwd.iterdir()) == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_agent_runs_without_flask_from_a_readonly_cwd(blocked_env, tmp_path):
    """A real agent (one serial scanner on loop://, the server down) starts, serves /status, and
    stops on SIGTERM; it writes only its outbox."""
    env, cwd = blocked_env
    profile = tmp_path / "bench-1.toml"
    profile.write_text('[station]\nname = "bench-1"\nkind = "dock"\n\n'
                       '[devices.scanner]\nkind = "scanner"\nprofile = "honeywell-voyager-1450g"\nurl = "loop://"\n')
    state = tmp_path / "state"
    env["STATE_DIRECTORY"] = str(state)
    port = _free_port()
    proc = subprocess.Popen([_script(), "--profile", str(profile), "--server", f"http://127.0.0.1:{_free_port()}",
                             "--token", "t", "--status-port", str(port), "--retry-max", "0.2"],
                            env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        status = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=1) as answer:
                    status = json.loads(answer.read())
                break
            except OSError:
                time.sleep(0.2)
        assert status is not None, proc.stdout.read() if proc.poll() is not None else "no /status"
        assert status["station"] == "bench-1" and status["online"] is False
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert (state / "station-bench-1.outbox.db").exists()
    assert list(cwd.iterdir()) == []


def test_cellwms_station_forward_still_works():
    """`cellwms station --profile ...` on a server host hands over to the same program."""
    proc = subprocess.run([sys.executable, "-m", "terminal.cli", "station", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "Usage: cellwms-station station" in proc.stdout


def test_server_command_without_flask_says_what_to_install(blocked_env, tmp_path):
    env, _ = blocked_env
    # `server` itself stays importable here: only the server's libraries are missing.
    site = tmp_path / "site-noserver"
    site.mkdir()
    env["PYTHONPATH"] = str(site)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE.replace(", 'server')", ")"))
    proc = subprocess.run([sys.executable, "-c", "from server.cli import main; main()", "--help"], env=env,
                          cwd=Path(__file__).parent.parent, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "cellwms[server]" in proc.stderr and "cellwms-station" in proc.stderr
