"""Station events into the server: real agents, real HTTP, a real multi-process server.

`python -m bench stations -- [--agents 50 --processes 5 --workers W --threads T --warmup 3
--duration 15 --batch 200 --backend sqlite|postgresql --server gunicorn|werkzeug]`

- Database: PostgreSQL (a database `<DATABASE_URL's name>_stations_bench` on DATABASE_URL's
  server, dropped afterwards) when DATABASE_URL is set, else SQLite in a temporary folder.
  Migrated with Alembic, seeded with a small demo warehouse (server/services/demo.py) and one
  `pack` station (scenario `identify`) with a token per agent.
- Server: gunicorn (`-k gthread`) on 127.0.0.1, or werkzeug's threaded server without gunicorn.
- Agents: `terminal.station.agent.Agent` with its real Outbox and Link (uploader, job long-poll,
  heartbeat threads all running), in child processes. Each outbox is pre-filled with scans of
  the warehouse's real codes (SKU EAN-13s, cell addresses, GS1-128 with lot and expiry, a few
  unknown codes), so the rate is the server's and the link's, not the device's.
  Throughput = events acknowledged (outcomes received) per second in the window after warm-up.
- Agent overhead: Outbox.put (fsync'd) + pending + JSON of the batch + JSON of the answer +
  ack (fsync'd), in-process, no server.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime

from bench import percentile, summary, table

GS = "\x1d"
TARGET_EVENTS_PER_S = 2000
TARGET_OVERHEAD_MS = 1.0


# --- database -------------------------------------------------------------------------------


@contextmanager
def database(backend: str, purpose: str = "stations"):
    """Yields (label, SQLAlchemy URL) of a fresh, empty database; removes it afterwards. `purpose`
    names it (cellwms-<purpose>- folder, <db>_<purpose>_bench database): benches may share this."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix=f"cellwms-{purpose}-") as folder:
            yield "SQLite", f"sqlite:///{folder}/bench.db"
        return
    from sqlalchemy import create_engine, make_url, text

    base = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql+psycopg")
    name = f"{base.database}_{purpose}_bench"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield "PostgreSQL", base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare(url: str, n_stations: int, instance: str) -> tuple[list[str], list[str]]:
    """Migrate, seed a small demo warehouse and `n_stations` pack stations; (tokens, scan codes)."""
    import flask_migrate
    from sqlalchemy import select

    from server import create_app
    from server.auth import new_token
    from server.extensions import db
    from server.models import Cell, SkuBarcode, Station, Warehouse
    from server.services.demo import DemoSize, seed_demo

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench"})
    with app.app_context():
        flask_migrate.upgrade()
        seed_demo(DemoSize(blocks=1, aisles=4, bays=10, levels=3, skus=300))
        warehouse = db.session.execute(select(Warehouse)).scalars().first()
        tokens = []
        for i in range(n_stations):
            token, digest = new_token()
            db.session.add(Station(warehouse_id=warehouse.id, code=f"BENCH-{i + 1:03d}", name=f"Bench {i + 1}",
                                   kind="pack", token_hash=digest))
            tokens.append(token)
        db.session.commit()
        eans = [b.lstrip("0") for b in db.session.execute(select(SkuBarcode.barcode)).scalars()]
        cells = list(db.session.execute(select(Cell.address, Cell.barcode)).all())
        db.session.remove()
        db.engine.dispose()
    codes = []
    for i in range(1000):  # a fixed mix: 45% EAN-13, 25% cell, 20% GS1-128, 10% unknown
        k = i % 20
        if k < 9:
            codes.append(eans[i % len(eans)])
        elif k < 14:
            address, barcode = cells[i % len(cells)]
            codes.append(barcode or address if k % 2 else address)
        elif k < 18:
            codes.append(f"]C101{eans[i % len(eans)].zfill(14)}17271231{GS}10L{i % 97}")
        else:
            codes.append(f"NOPE-{i:06d}")
    return tokens, codes


# --- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def have_gunicorn() -> bool:
    import importlib.util

    return importlib.util.find_spec("gunicorn") is not None


class Server:
    """The app in real processes on 127.0.0.1: gunicorn gthread, or werkzeug threaded."""

    def __init__(self, url: str, instance: str, kind: str, workers: int, threads: int):
        self.kind, self.workers, self.threads = kind, workers, threads
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "DATABASE_URL": url, "CELLWMS_INSTANCE": instance, "SECRET_KEY": "bench"}
        self.log_path = os.path.join(instance, "server.log")
        if kind == "gunicorn":
            command = [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", str(workers), "--threads",
                       str(threads), "-b", f"127.0.0.1:{self.port}", "--timeout", "60", "--keep-alive", "30",
                       "--backlog", "512", "server:create_app()"]
        else:
            command = [sys.executable, "-c", "from werkzeug.serving import make_server; from server import create_app; "
                       f"make_server('127.0.0.1', {self.port}, create_app(), threaded=True).serve_forever()"]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(command, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                     start_new_session=True)

    def wait_ready(self, token: str, timeout: float = 60.0) -> None:
        import http.client

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("POST", "/api/v1/stations/me/heartbeat", body=b"{}",
                             headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read()[-3000:].decode(errors="replace")

    def cpu_seconds(self) -> float:
        """CPU time of the server's processes (the master and its children, from /proc)."""
        pids = {self.proc.pid}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = _proc_stat(int(entry))
                if stat and int(stat[1]) == self.proc.pid:
                    pids.add(int(entry))
        total = 0
        for pid in pids:
            stat = _proc_stat(pid)
            if stat:
                total += int(stat[11]) + int(stat[12])
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            # SIGINT: gunicorn's quick shutdown (SIGTERM would wait out the agents' long-polls)
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name: state, ppid, ... (utime = [11], stime = [12])."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


# --- agents (in child processes) ------------------------------------------------------------


class _Profile:
    """A station profile double: a name, and no device takes jobs."""

    def __init__(self, name: str):
        self.name = name

    def device_for_job(self, job):
        return None


class _Scanner:
    """A scanner double that is always up; its scans are already in the outbox."""

    kind = "scanner"

    def __init__(self):
        self.since = datetime.now(UTC).isoformat()

    def start(self, emit):
        pass

    def stop(self):
        pass

    def health(self):
        return {"kind": self.kind, "state": "up", "detail": "", "since": self.since}

    def run_job(self, job):
        return {"result": "failed", "detail": "a scanner runs no jobs"}


def scan_payload(code: str) -> str:
    symbology = code[:3] if code.startswith("]") else ""
    return json.dumps({"raw_b64": base64.b64encode(code.encode()).decode(), "symbology": symbology},
                      separators=(",", ":"))


def prefill(path: str, codes: list[str], count: int, offset: int) -> None:
    """`count` scan events in the outbox file, as Outbox.put writes them (one bulk transaction)."""
    from terminal.station.outbox import Outbox

    Outbox(path).close()  # its schema
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    payloads = [scan_payload(c) for c in codes]
    rows = ((str(uuid.uuid4()), "scan", "scanner", now, payloads[(offset + i) % len(payloads)]) for i in range(count))
    db = sqlite3.connect(path)
    with db:
        db.executemany("INSERT INTO events (event_id, kind, device, occurred_at, payload) VALUES (?, ?, ?, ?, ?)", rows)
    db.close()


def agent_process(index: int, base: str, tokens: list[str], codes: list[str], per_agent: int, batch: int,
                  folder: str, ready, go, halt, results) -> None:
    """Child: builds its agents (pre-filled outboxes), waits for `go`, runs until `halt`.

    Puts (index, records, waiting per agent, CPU seconds) on `results`; a record is one batch:
    (monotonic start, monotonic end, events acknowledged).
    """
    import logging
    import resource

    from terminal.station.agent import Agent

    logging.getLogger("cellwms.station").setLevel(logging.ERROR)
    records: list[tuple[float, float, int]] = []
    agents = []
    for k, token in enumerate(tokens):
        path = os.path.join(folder, f"outbox-{index}-{k}.db")
        prefill(path, codes, per_agent, offset=index * 7919 + k * 131)
        agent = Agent(_Profile(f"bench-{index}-{k}"), base, token, path, devices={"scanner": _Scanner()},
                      batch_size=batch)
        _time_batches(agent, records)
        agents.append(agent)
    ready.put(index)
    go.wait()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    for agent in agents:
        agent.start()
    halt.wait()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    for agent in agents:
        agent.request_stop()
    waiting = [agent.outbox.waiting()[0] for agent in agents]
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    results.put((index, list(records), waiting, cpu, [agent.fatal for agent in agents if agent.fatal]))
    for agent in agents:  # wakes their threads (closes the links), joins them
        agent.stop()


def _time_batches(agent, records: list) -> None:
    """Wrap the agent's real Link.send_events to record each batch's round trip."""
    post = agent.link.send_events

    def timed(events, **options):
        start = time.monotonic()
        outcomes, jobs = post(events, **options)
        records.append((start, time.monotonic(), len(outcomes)))
        return outcomes, jobs

    agent.link.send_events = timed


def run_agents(base: str, tokens: list[str], codes: list[str], processes: int, warmup: float, duration: float,
               batch: int, per_agent: int, server: Server) -> dict:
    """Start len(tokens) agents in `processes` child processes; measure the window after warm-up."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    ready, results = ctx.Queue(), ctx.Queue()
    go, halt = ctx.Event(), ctx.Event()
    processes = max(1, min(processes, len(tokens)))
    groups = [tokens[i::processes] for i in range(processes)]
    children = []
    with tempfile.TemporaryDirectory(prefix="cellwms-outboxes-", dir=_disk_tmp()) as folder:
        try:
            for index, group in enumerate(groups):
                child = ctx.Process(target=agent_process, args=(index, base, group, codes, per_agent, batch, folder,
                                                                ready, go, halt, results), daemon=True)
                child.start()
                children.append(child)
            for _ in children:
                ready.get(timeout=120)
            start = time.monotonic()
            go.set()
            time.sleep(warmup)
            cpu0 = server.cpu_seconds()
            time.sleep(duration)
            cpu1 = server.cpu_seconds()
            halt.set()
            got = [results.get(timeout=60) for _ in children]
        finally:
            halt.set()
            for child in children:
                child.join(timeout=20)
                if child.is_alive():
                    child.kill()
                    child.join()
    records = [r for _, rs, _, _, _ in got for r in rs]
    lo, hi = start + warmup, start + warmup + duration
    in_window = [r for r in records if lo <= r[1] < hi]
    acked = sum(n for _, _, n in in_window)
    rtts = [(end - begin) * 1000 for begin, end, _ in in_window]
    return {
        "events": acked, "seconds": duration, "rate": acked / duration,
        "p50": percentile(rtts, 50) if rtts else float("nan"), "p99": percentile(rtts, 99) if rtts else float("nan"),
        "batches": len(in_window), "drained": sum(1 for _, _, w, _, _ in got for n in w if n == 0),
        "agent_cpu": sum(c for _, _, _, c, _ in got), "server_cpu": cpu1 - cpu0,
        "total_acked": sum(n for _, _, n in records), "fatal": [f for *_, fs in got for f in fs],
    }


def _disk_tmp() -> str | None:
    """A temporary folder on a real disk (fsync must cost what it costs), not tmpfs."""
    return None if _fs_type(tempfile.gettempdir()) != "tmpfs" else os.path.expanduser("~")


def _fs_type(path: str) -> str:
    best, kind = "", "?"
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                parts = line.split()
                if path.startswith(parts[1]) and len(parts[1]) > len(best):
                    best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


# --- agent overhead (no server) -------------------------------------------------------------


def agent_overhead(codes: list[str], events: int, batch: int) -> list[list]:
    """Per event: Outbox.put (fsync'd commit), then per batch pending + JSON out + JSON in + ack (fsync'd)."""
    from terminal.station.outbox import Outbox

    with tempfile.TemporaryDirectory(prefix="cellwms-overhead-", dir=_disk_tmp()) as folder:
        outbox = Outbox(os.path.join(folder, "outbox.db"))
        payloads = [json.loads(scan_payload(c)) for c in codes]
        for i in range(50):  # warm-up
            outbox.put("scan", payloads[i % len(payloads)], "scanner")
        outbox.ack([e["event_id"] for e in outbox.pending(1000)])
        puts, shares, batch_ops, cpu = [], [], [], 0.0
        done = 0
        while done < events:
            n = min(batch, events - done)
            c0 = time.process_time()
            for i in range(n):
                start = time.perf_counter()
                outbox.put("scan", payloads[(done + i) % len(payloads)], "scanner")
                puts.append(time.perf_counter() - start)
            start = time.perf_counter()
            pending = outbox.pending(batch)
            body = json.dumps({"events": pending}, separators=(",", ":")).encode()  # as Link._json does
            middle = time.perf_counter()
            c2 = time.process_time()
            answer = json.dumps({"outcomes": [_outcome(e["event_id"]) for e in pending]}).encode()  # the server's
            c3 = time.process_time()
            resumed = time.perf_counter()
            outcomes = json.loads(answer)["outcomes"]
            sent = {e["event_id"] for e in pending}
            outbox.ack([o["event_id"] for o in outcomes if o.get("event_id") in sent])
            end = time.perf_counter()
            cpu += (c2 - c0) + (time.process_time() - c3)
            cost = (middle - start) + (end - resumed)
            batch_ops.append(cost)
            shares += [cost / len(pending)] * len(pending)
            done += n
            assert body
        outbox.close()
    per_event = [p + s for p, s in zip(puts, shares, strict=True)]
    ms = lambda values: [v * 1000 for v in values]  # noqa: E731
    rows = []
    for label, values in (("Outbox.put (fsync'd commit)", puts),
                          (f"batch of {batch}: pending + JSON + answer JSON + ack (fsync'd), per event", shares),
                          ("total per event", per_event)):
        s = summary(ms(values))
        rows.append([label, s["n"], f"{s['p50']:.3f}", f"{s['p99']:.3f}", f"{s['mean']:.3f}"])
    b = summary(ms(batch_ops))
    rows.append([f"  (one batch of {batch}: pending + JSON + ack)", b["n"], f"{b['p50']:.2f}", f"{b['p99']:.2f}",
                 f"{b['mean']:.2f}"])
    mean_ms = summary(ms(per_event))["mean"]
    rows.append(["total per event, CPU time only", len(per_event), "", "", f"{cpu * 1000 / len(per_event):.3f}"])
    rows.append(["target: mean total < 1 ms", "", "", "", "yes" if mean_ms < TARGET_OVERHEAD_MS else "NO"])
    return rows


def _outcome(event_id: str) -> dict:
    """An answer shaped like the identify scenario's to an EAN-13 scan."""
    return {"event_id": event_id, "status": "stored", "prompt": {
        "scenario": "identify", "title": "sku", "message": "SKU KIT-00012 Чайник электрический «Заря», 1,7 л.",
        "sound": "ok", "details": [], "jobs": [], "user": None,
        "screen": {"scan": {"kind": "sku", "message": "SKU KIT-00012 Чайник электрический «Заря», 1,7 л.",
                            "entity": {"id": 12, "code": "KIT-00012", "name": "Чайник электрический «Заря», 1,7 л",
                                       "barcode": "04601234567893", "barcode_kind": "ean13", "units": 1,
                                       "active": True, "tracking": {"lot": False, "expiry": False, "serial": True,
                                                                    "marking": False}},
                            "gs1": {"symbology": "", "gtin": "04601234567893"}}}}}


# --- the benchmark --------------------------------------------------------------------------


def default_server() -> tuple[int, int]:
    """Workers and threads for this machine: one worker per CPU plus one (requests wait on the
    database part of the time); threads enough for every agent's long-poll plus its uploads."""
    return (os.cpu_count() or 1) + 1, 48


def main(*, agents: int = 50, processes: int = 5, workers: int | None = None, threads: int | None = None,
         warmup: float = 3.0, duration: float = 15.0, batch: int = 200, backend: str | None = None,
         server_kind: str | None = None, overhead_events: int = 4000, rate_guess: float = 4000.0,
         out=print) -> dict:
    backend = backend or ("postgresql" if os.environ.get("DATABASE_URL") else "sqlite")
    default_workers, default_threads = default_server()
    workers, threads = workers or default_workers, threads or default_threads
    server_kind = server_kind or ("gunicorn" if have_gunicorn() else "werkzeug")
    report: dict = {}

    out(f"## Station events into the server ({backend})")
    out()
    rows = agent_overhead(_overhead_codes(), overhead_events, batch)
    report["overhead"] = rows
    out(f"Agent overhead, no server (outbox on {_fs_type(_disk_tmp() or tempfile.gettempdir())}, "
        f"SQLite {sqlite3.sqlite_version}, WAL, synchronous=FULL: every commit fsync'd), ms:")
    out()
    out(table(["operation", "events", "p50 ms", "p99 ms", "mean ms"], rows))
    out()

    with database(backend) as (label, url), tempfile.TemporaryDirectory(prefix="cellwms-server-") as instance:
        started = time.perf_counter()
        tokens, codes = prepare(url, agents, instance)
        out(f"Database: {label}, migrated and seeded in {time.perf_counter() - started:.1f} s; "
            f"{agents} stations (kind pack, scenario identify).")
        if server_kind == "gunicorn":
            note = f"gunicorn -k gthread -w {workers} --threads {threads}"
        else:
            note = "werkzeug threaded server (one process; gunicorn is not installed)"
            workers, threads = 1, 0
        out(f"Server: {note} on 127.0.0.1.")
        server = Server(url, instance, server_kind, workers, threads)
        try:
            server.wait_ready(tokens[0])
            window = warmup + duration + 2
            rows = []
            for title, n_agents, n_procs in (("one agent", 1, 1), (f"{agents} agents at once", agents, processes)):
                per_agent = int(rate_guess * window / n_agents) + batch
                result = run_agents(server.base, tokens[:n_agents], codes, n_procs, warmup, duration, batch,
                                    per_agent, server)
                report[title] = result
                if result["fatal"]:
                    raise RuntimeError(f"agents stopped: {result['fatal'][:3]}")
                note = f"{result['drained']} outbox(es) ran dry" if result["drained"] else ""
                rows.append([title, n_agents, n_procs, result["events"], f"{result['seconds']:.0f}",
                             round(result["rate"]), result["batches"], f"{result['p50']:.0f}",
                             f"{result['p99']:.0f}", f"{result['server_cpu'] / duration:.2f}",
                             f"{result['agent_cpu'] / duration:.2f}",
                             "yes" if result["rate"] >= TARGET_EVENTS_PER_S else "NO", note])
        except BaseException:
            out(server.log_tail())
            raise
        finally:
            server.stop()
    out()
    out(f"Events acknowledged per second, batches of {batch}, {warmup:g} s warm-up then {duration:g} s measured "
        "(CPU columns: CPU seconds per second, summed over processes):")
    out()
    out(table(["scenario", "agents", "agent processes", "events acked", "window s", "events/s", "batches",
               "batch p50 ms", "batch p99 ms", "server CPU", "agents CPU", f">= {TARGET_EVENTS_PER_S:,}/s", "note"],
              rows))
    report["rows"] = rows
    report["server"] = (server_kind, workers, threads)
    return report


def _overhead_codes() -> list[str]:
    return ["4601234567893", "A-01-02-3-1", f"]C1010460123456789317271231{GS}10L42", "NOPE-000001"]


def run(argv: list[str]) -> None:
    """`python -m bench stations -- [options]`."""
    import argparse

    workers, threads = default_server()
    parser = argparse.ArgumentParser(prog="python -m bench stations --")
    parser.add_argument("--agents", type=int, default=50, help="agents at once in the second scenario")
    parser.add_argument("--processes", type=int, default=5, help="child processes the agents run in")
    parser.add_argument("--workers", type=int, default=workers, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=threads, help="gunicorn threads per worker")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds measured")
    parser.add_argument("--batch", type=int, default=200, help="events per batch (the agent's batch_size)")
    parser.add_argument("--overhead-events", type=int, default=4000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"],
                        help="default: postgresql when DATABASE_URL is set, else sqlite")
    parser.add_argument("--server", choices=["gunicorn", "werkzeug"], help="default: gunicorn when installed")
    args = parser.parse_args(argv)
    if args.backend == "postgresql" and not os.environ.get("DATABASE_URL"):
        parser.error("--backend postgresql needs DATABASE_URL")
    if args.server == "gunicorn" and not have_gunicorn():
        parser.error("gunicorn is not installed (pip install -e '.[server]')")
    main(agents=args.agents, processes=args.processes, workers=args.workers, threads=args.threads,
         warmup=args.warmup, duration=args.duration, batch=args.batch, backend=args.backend,
         server_kind=args.server, overhead_events=args.overhead_events)
