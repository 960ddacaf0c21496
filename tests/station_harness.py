"""Real processes for station tests: the server (`cellwms server`) and a station agent
(`python -m terminal.cli station`), on 127.0.0.1, each in its own process group.

Waits are bounded polls that fail with what they waited for; nothing here times anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WAIT = 30.0  # generous: the suite runs with -n 2 on 2 cores
SERVER_APP = "cellwms-fault-server"  # PostgreSQL application_name of the server process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, what: str, timeout: float = WAIT, on_fail=None):
    """Poll `condition` until truthy (returned), else fail saying what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f"\n{on_fail()}" if on_fail else ""
            pytest.fail(f"gave up after {timeout:.0f} s waiting for {what}{extra}")
        time.sleep(0.03)


def tail(path: Path, lines: int = 40) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


class Child:
    """A child process with its output in a log file; stop() / kill() are idempotent."""

    def __init__(self, argv: list[str], env: dict, log: Path):
        self.argv, self.env, self.log = argv, env, log
        self.process: subprocess.Popen | None = None

    def start(self):
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _signal(self, sig) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """kill -9: no cleanup of any kind."""
        if self.process is not None:
            self._signal(signal.SIGKILL)
            self.process.wait(timeout=WAIT)
            self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait(timeout=WAIT)
        self.process = None


class ServerProcess(Child):
    """`cellwms server --port P` on a migrated database; stop() and start() again on the same port."""

    def __init__(self, database_url: str, home: Path, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.media_dir = home / "server-media"
        env = {**os.environ, "DATABASE_URL": database_url, "CELLWMS_INSTANCE": str(home / "server-instance"),
               "MEDIA_DIR": str(self.media_dir), "SECRET_KEY": "test-secret", "PYTHONUNBUFFERED": "1",
               "PGAPPNAME": SERVER_APP}
        super().__init__([sys.executable, "-c", "from server.cli import main; main()", "server", "--port",
                          str(self.port)], env, home / "server.log")

    def start(self, wait: bool = True):
        super().start()
        if wait:
            wait_for(self._answers, f"the server to answer at {self.url}", on_fail=lambda: tail(self.log))
        return self

    def _answers(self) -> bool:
        if not self.running:
            pytest.fail(f"the server exited:\n{tail(self.log)}")
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/openapi.json", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False


class AgentProcess(Child):
    """`python -m terminal.cli station` with short retries, a heartbeat each second and /status."""

    def __init__(self, profile: Path, server_url: str, token: str, home: Path, name: str = "agent"):
        self.status_port = free_port()
        self.outbox = home / f"{name}.outbox.db"
        self.media_dir = home / f"{name}-media"
        argv = [sys.executable, "-u", "-m", "terminal.cli", "station", "--profile", str(profile), "--server",
                server_url, "--outbox", str(self.outbox), "--media-dir", str(self.media_dir), "--heartbeat", "1",
                "--retry-max", "0.5", "--status-port", str(self.status_port)]
        env = {**os.environ, "CELLWMS_STATION_TOKEN": token, "PYTHONUNBUFFERED": "1"}
        super().__init__(argv, env, home / f"{name}.log")

    def start(self):
        super().start()
        wait_for(self.status, "the agent's status endpoint", on_fail=lambda: tail(self.log))
        return self

    def status(self) -> dict | None:
        if not self.running:
            pytest.fail(f"the agent exited:\n{tail(self.log)}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.status_port}/status", timeout=2) as resp:
                return json.loads(resp.read())
        except OSError:
            return None


def connections_to(pid: int, port: int) -> int:
    """Established TCP connections of process `pid` to 127.0.0.1:`port` (from /proc, Linux)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                remote, state, inode = fields[2], fields[3], fields[9]
                count += state == "01" and inode in inodes and int(remote.rsplit(":", 1)[1], 16) == port
    return count


def write_profile(path: Path, name: str, kind: str, devices: dict[str, dict]) -> Path:
    """A station profile TOML: devices = name -> {kind, profile, url, role?, templates?, options?}."""
    lines = ["[station]", f'name = "{name}"', f'kind = "{kind}"', ""]
    for device, spec in devices.items():
        lines.append(f"[devices.{device}]")
        for key, value in spec.items():
            if key == "options":
                continue
            lines.append(f"{key} = {json.dumps(value)}")
        if spec.get("options"):
            lines.append(f"[devices.{device}.options]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in spec["options"].items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def release_server_connections(db) -> None:
    """PostgreSQL: end whatever the (stopped or killed) server process left connected, so the
    app fixture's TRUNCATE never waits on it."""
    from sqlalchemy import text

    db.session.rollback()
    if db.engine.dialect.name != "postgresql":
        return
    with db.engine.begin() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND application_name = :app"), {"app": SERVER_APP})


def read(db, query):
    """query() in a short transaction of its own (never hold SQLite's lock while the server works)."""
    db.session.rollback()
    try:
        return query()
    finally:
        db.session.rollback()


@contextlib.contextmanager
def emulated_devices(tmp_path: Path, *, scale: str | None = "mettler-toledo-ics425",
                     cameras: tuple[str, ...] = ("camera",)):
    """A station's emulators, started (scanner on a pty, the `scale` profile on a pty or none, ZPL and
    ESC/POS printers on TCP, an MJPEG camera per name in `cameras`); stopped at the end. Yields them
    by name."""
    from printers.profiles import load_profile as printer_profile
    from terminal.devices.scales.profile import load as scale_profile
    from terminal.devices.scanners import load_profile as scanner_profile
    from terminal.emulators import all_running
    from terminal.emulators.escpos_printer import EscposPrinterEmulator
    from terminal.emulators.mjpeg_camera import MjpegCameraEmulator
    from terminal.emulators.scale import ScaleEmulator
    from terminal.emulators.scanner import ScannerEmulator
    from terminal.emulators.zpl_printer import ZplPrinterEmulator

    made = {"scanner": ScannerEmulator(scanner_profile("honeywell-voyager-1450g")[1], link=str(tmp_path / "scanner"),
                                       byte_rate=50_000)}
    if scale:
        made["scale"] = ScaleEmulator(scale_profile(scale)[1], link=str(tmp_path / "scale"), settle=0.2)
    made["zpl"] = ZplPrinterEmulator(printer_profile("zebra-zd421-203"))
    made["escpos"] = EscposPrinterEmulator(printer_profile("epson-tm-t20iii"))
    for name in cameras:
        made[name] = MjpegCameraEmulator(width=640, height=360, fps=10)
    with all_running(made):
        yield made
