"""Fault tests of issue 6, with real processes and real protocols on 127.0.0.1: the server
(`cellwms server`) and the station agent (`python -m terminal.cli station`) run as separate
processes; the devices are the emulators (pty scanner, TCP ZPL printer, MJPEG camera).

- 1,000 scans while the server is stopped and restarted twice: each lands once, in order.
- kill -9 of the agent while it uploads a backlog: nothing lost, nothing doubled.
- a printer out of paper: station degraded with the reason; printed once after paper is back.
- a camera unplugged mid-clip: a playable partial clip on the server, device down, then up.
"""

import base64
import contextlib
import sqlite3

import pytest
from sqlalchemy import func, select, text

from terminal.devices.scanners import load_profile as scanner_profile
from terminal.emulators.scanner import ScannerEmulator
from terminal.station.outbox import Outbox
from tests import factories
from tests.station_harness import (
    SERVER_APP,
    AgentProcess,
    ServerProcess,
    connections_to,
    read,
    release_server_connections,
    tail,
    wait_for,
    write_profile,
)

FAST = {"backoff_min": 0.02, "backoff_max": 0.3}
SCANS = 1000
BACKLOG = 600  # kill -9 test: three batches of 200


@pytest.fixture
def station(db):
    """(station id, token), committed before the server process starts."""
    st, headers = factories.station(factories.warehouse(), "PACK-1", "pack")
    station_id = st.id
    db.session.rollback()
    return station_id, headers["Authorization"].removeprefix("Bearer ")


@pytest.fixture
def server(database_url, db, station, tmp_path):
    running = ServerProcess(database_url, tmp_path)
    try:
        yield running.start()
    finally:
        running.stop()
        release_server_connections(db)


@pytest.fixture
def agents(tmp_path, server, station):
    """agents(profile, name="agent") starts an agent process; all are stopped at the end."""
    started = []

    def start(profile, name="agent"):
        agent = AgentProcess(profile, server.url, station[1], tmp_path, name)
        started.append(agent)
        return agent.start()

    yield start
    for agent in started:
        agent.stop()


@pytest.fixture
def scanner(tmp_path):
    emulator = ScannerEmulator(scanner_profile("honeywell-voyager-1450g")[1], link=str(tmp_path / "scanner"),
                               byte_rate=500_000)
    emulator.start()
    yield emulator
    emulator.stop()


def scanner_profile_toml(tmp_path, scanner):
    return write_profile(tmp_path / "station.toml", "pack-1", "pack", {
        "scanner": {"kind": "scanner", "profile": "honeywell-voyager-1450g", "url": scanner.port, "options": FAST}})


def code(i: int) -> str:
    return f"FAULT-{i:04d}"


def scan_codes(scanner, numbers) -> None:
    for i in numbers:
        scanner.scan(code(i), "]C0")
    assert scanner.idle(timeout=60), "the scanner emulator did not get its scans out"


def stored_scans(db, station_id: int) -> list[dict]:
    from server.models import StationEvent

    def query():
        rows = db.session.execute(select(StationEvent).filter_by(station_id=station_id, kind="scan")
                                  .order_by(StationEvent.id)).scalars()
        return [{"event_id": e.event_id, "seq": e.seq, "status": e.status,
                 "text": base64.b64decode(e.payload["raw_b64"]).decode()} for e in rows]

    return read(db, query)


def count_scans(db, station_id: int) -> int:
    from server.models import StationEvent

    return read(db, lambda: db.session.execute(
        select(func.count()).select_from(StationEvent).filter_by(station_id=station_id, kind="scan")).scalar_one())


def check_exactly_once_in_order(db, station_id: int, count: int) -> None:
    from server.models import ScanEvent

    events = stored_scans(db, station_id)
    texts = [e["text"] for e in events]
    assert len(texts) == len(set(texts)), "a scan landed twice"
    assert texts == [f"]C0{code(i)}" for i in range(count)], "scans lost or out of order"
    seqs = [e["seq"] for e in events]
    assert all(a < b for a, b in zip(seqs, seqs[1:], strict=False)), "seq not strictly increasing"
    assert {e["status"] for e in events} == {"stored"}
    # Each scan was also recorded once as a scan event, with the same id.
    recorded = read(db, lambda: [(e.event_id, bytes(e.raw).decode()) for e in db.session.execute(
        select(ScanEvent).filter_by(station_id=station_id).order_by(ScanEvent.id)).scalars()])
    assert recorded == [(e["event_id"], e["text"]) for e in events]


def queued_scans(agent) -> int:
    """Scans in the agent's outbox, read from the file (as `cellwms outbox show` does)."""
    box = Outbox(agent.outbox, recover=False)
    try:
        return sum(1 for event in box.pending(100_000) if event["kind"] == "scan")
    finally:
        box.close()


def waiting(agent) -> int:
    status = agent.status()
    return status["waiting"] if status else -1


def test_1000_scans_while_the_server_restarts_twice_land_once_in_order(tmp_path, db, station, server, agents,
                                                                       scanner):
    st, _ = station
    agent = agents(scanner_profile_toml(tmp_path, scanner))
    wait_for(lambda: (agent.status() or {}).get("online"), "the agent online", on_fail=lambda: tail(agent.log))
    diagnose = lambda: f"agent: {agent.status()}\n{tail(agent.log)}\nserver:\n{tail(server.log)}"  # noqa: E731

    scan_codes(scanner, range(0, 200))
    wait_for(lambda: count_scans(db, st) >= 100, "the first scans on the server", on_fail=diagnose)
    for outage, (offline, back) in enumerate(((range(200, 450), range(450, 600)),
                                              (range(600, 850), range(850, SCANS)))):
        server.stop()
        scan_codes(scanner, offline)
        wait_for(lambda: (s := agent.status()) and s["online"] is False and s["waiting"] > 0,
                 f"the agent to say it is offline (outage {outage + 1})", on_fail=diagnose)
        stored = count_scans(db, st)
        wait_for(lambda offline=offline: count_scans(db, st) + waiting(agent) >= offline.stop,
                 f"the agent to queue every scan of outage {outage + 1}", on_fail=diagnose)
        assert count_scans(db, st) == stored, "stored while the server was down?"
        server.start()
        scan_codes(scanner, back)  # scanning on while the queue drains
    wait_for(lambda: count_scans(db, st) >= SCANS and waiting(agent) == 0, "every scan on the server",
             timeout=60, on_fail=diagnose)
    assert agent.status()["online"] is True
    check_exactly_once_in_order(db, st, SCANS)


@contextlib.contextmanager
def writes_held(db, database_url: str, station_id: int):
    """Hold the server's writes back: its event batches wait inside their transaction."""
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")  # SQLite's one writer lock
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    with db.engine.connect() as conn:
        trans = conn.begin()
        # Only an event batch locks the station's session row (one batch at a time): it waits here.
        locked = conn.execute(text("SELECT station_id FROM station_sessions WHERE station_id = :id FOR UPDATE"),
                              {"id": station_id}).all()
        assert locked, "no session row to lock: no event stored yet"
        try:
            yield
        finally:
            trans.rollback()


def batch_waiting_on_lock(db) -> bool:
    """PostgreSQL: the server process is inside an event batch, waiting for our lock."""
    with db.engine.connect() as conn:
        return bool(conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = :app AND wait_event_type = 'Lock'"
            " AND query ILIKE '%station_sessions%'"), {"app": SERVER_APP}).scalar())


def test_kill_9_of_the_agent_mid_batch_loses_and_doubles_nothing(tmp_path, db, database_url, station, server,
                                                                  agents, scanner):
    from server.models import StationEvent

    st, _ = station
    profile = scanner_profile_toml(tmp_path, scanner)
    agent = agents(profile)
    wait_for(lambda: (agent.status() or {}).get("online"), "the agent online", on_fail=lambda: tail(agent.log))
    diagnose = lambda: f"agent:\n{tail(agent.log)}\nserver:\n{tail(server.log)}"  # noqa: E731
    wait_for(lambda: read(db, lambda: db.session.execute(select(func.count()).select_from(StationEvent).filter_by(
        station_id=st)).scalar_one()), "the scanner's first status event", on_fail=diagnose)

    server.stop()
    scan_codes(scanner, range(BACKLOG))
    # Counted by kind: a status event cut off by the stop may wait in the outbox too.
    wait_for(lambda: queued_scans(agent) == BACKLOG, f"the agent to queue {BACKLOG} scans", timeout=90,
             on_fail=diagnose)
    with writes_held(db, database_url, st):
        server.start()
        # The agent sends its first batch at once; the server is inside it when the agent dies.
        if db.engine.dialect.name == "postgresql":
            wait_for(lambda: batch_waiting_on_lock(db), "the first batch inside the server", on_fail=diagnose)
        else:  # SQLite: every request waits for the lock; the uploader's is the third connection
            wait_for(lambda: connections_to(agent.process.pid, server.port) >= 3,
                     "uploader, job poll and heartbeat all inside the server", on_fail=diagnose)
        agent.kill()
    # The server finishes the batch of a dead agent: stored there, never acknowledged here.
    wait_for(lambda: count_scans(db, st) > 0, "the batch in flight at the kill to be stored",
             on_fail=lambda: f"nothing was in flight when the agent was killed?\n{diagnose()}")
    left = queued_scans(agent)
    stored = count_scans(db, st)
    assert left == BACKLOG and 0 < stored < BACKLOG, f"{stored} stored, {left} left"

    again = agents(profile, "agent")  # the same outbox file: it sends the stored batch again
    wait_for(lambda: count_scans(db, st) >= BACKLOG and waiting(again) == 0, "the restarted agent to drain",
             on_fail=lambda: f"{again.status()}\n{tail(again.log)}")
    check_exactly_once_in_order(db, st, BACKLOG)


def job_row(db, job_id: int) -> dict:
    from server.models import StationJob

    return read(db, lambda: (lambda j: {"state": j.state, "result": j.result, "detail": j.detail,
                                        "attempts": j.attempts})(db.session.get(StationJob, job_id)))


def health(db, station_id: int) -> dict:
    from server.models import Station
    from server.services.stations import station_health

    return read(db, lambda: station_health(db.session.get(Station, station_id)))


def queue_job(db, station_id: int, kind: str, payload: dict) -> int:
    from server.models import Station
    from server.services.stations import create_job

    db.session.rollback()
    job_id = create_job(db.session.get(Station, station_id), kind, payload).id
    db.session.commit()
    db.session.rollback()
    return job_id


def test_printer_out_of_paper_prints_the_job_once_after_paper_is_back(tmp_path, db, station, server, agents):
    from printers.documents import render, sample
    from printers.profiles import load_profile
    from terminal.emulators.zpl_printer import ZplPrinterEmulator

    st, _ = station
    zebra = load_profile("zebra-zd421-203")
    with ZplPrinterEmulator(zebra) as printer:
        printer.set_paper(False)
        profile = write_profile(tmp_path / "station.toml", "pack-1", "pack", {
            "label_printer": {"kind": "printer", "profile": "zebra-zd421-203", "url": printer.url,
                              "templates": ["sku-sticker"],
                              "options": {**FAST, "status_interval": 0.5, "io_timeout": 2.0}}})
        agent = agents(profile)
        diagnose = lambda: f"{health(db, st)}\nagent:\n{tail(agent.log)}"  # noqa: E731
        data = sample("sku-sticker")
        job_id = queue_job(db, st, "print", {"template": "sku-sticker", "data": data, "copies": 1})

        def degraded_for_paper():
            h = health(db, st)
            device = h["devices"].get("label_printer") or {}
            return h["state"] == "degraded" and device.get("state") == "degraded" and "paper" in device["detail"]

        wait_for(degraded_for_paper, "the station degraded: paper out", on_fail=diagnose)
        wait_for(lambda: job_row(db, job_id)["state"] == "sent", "the job to reach the agent", on_fail=diagnose)
        polls = printer.connections
        wait_for(lambda: printer.connections >= polls + 3, "the agent asking the printer again")
        assert printer.jobs == [] and printer.pending == [], "sent to a printer without paper"
        assert job_row(db, job_id)["result"] is None

        printer.set_paper(True)
        wait_for(lambda: job_row(db, job_id)["state"] == "done", "the job done on the server", on_fail=diagnose)
        assert job_row(db, job_id)["result"] == "printed"
        wait_for(lambda: health(db, st)["state"] == "ok", "the station ok again", on_fail=diagnose)
        polls = printer.connections
        wait_for(lambda: printer.connections >= polls + 3, "a few more status polls after printing")
        assert len(printer.jobs) == 1 and printer.jobs[0].complete, "not printed exactly once"
        assert printer.jobs[0].data == render("sku-sticker", data, zebra).strip()
        assert job_row(db, job_id)["attempts"] == 1


def test_camera_unplugged_mid_clip_leaves_a_playable_partial_clip_and_a_down_status(tmp_path, db, station,
                                                                                      server, agents):
    from server.models import MediaFile, StationEvent
    from terminal.devices.camera import count_frames
    from terminal.emulators.mjpeg_camera import MjpegCameraEmulator

    st, _ = station
    with MjpegCameraEmulator(width=320, height=240, fps=20) as camera:
        profile = write_profile(tmp_path / "station.toml", "pack-1", "pack", {
            "packing_camera": {"kind": "camera", "profile": "generic-uvc", "url": camera.url, "role": "packing",
                               "options": FAST}})
        agent = agents(profile)
        diagnose = lambda: f"{health(db, st)}\nagent:\n{tail(agent.log)}\nserver:\n{tail(server.log)}"  # noqa: E731

        def camera_state():
            return (health(db, st)["devices"].get("packing_camera") or {}).get("state")

        wait_for(lambda: camera_state() == "up", "the camera up on the server", on_fail=diagnose)
        start = queue_job(db, st, "record_start", {"role": "packing", "session": "PACK-77"})
        wait_for(lambda: job_row(db, start)["state"] == "done", "recording started", on_fail=diagnose)
        sent = camera.frames_sent
        wait_for(lambda: camera.frames_sent >= sent + 20, "20 frames into the clip")
        camera.unplug()

        def events(kind):
            return read(db, lambda: [(e.device, e.payload, e.outcome) for e in db.session.execute(
                select(StationEvent).filter_by(station_id=st, kind=kind).order_by(StationEvent.id)).scalars()])

        [(device, clip, prompt)] = wait_for(lambda: events("clip"), "the partial clip's event", on_fail=diagnose)
        assert device == "packing_camera" and clip["partial"] is True and clip["job_id"] == start
        assert clip["frames"] >= 10 and prompt["sound"] == "error"
        wait_for(lambda: any(p["state"] == "down" for d, p, _ in events("device_status") if d == "packing_camera"),
                 "a device_status down event", on_fail=diagnose)
        wait_for(lambda: health(db, st)["state"] == "degraded" and camera_state() == "down",
                 "the station degraded, camera down", on_fail=diagnose)

        def uploaded():
            return read(db, lambda: db.session.execute(select(MediaFile.complete, MediaFile.kind).filter_by(
                station_id=st, sha256=clip["media"])).first())

        wait_for(lambda: (row := uploaded()) and row.complete, "the clip uploaded", on_fail=diagnose)
        assert uploaded().kind == "clip"
        on_server = server.media_dir / clip["media"][:2] / clip["media"]
        assert on_server.stat().st_size == clip["size"]
        assert count_frames(on_server) == clip["frames"], "the partial clip does not play through"

        camera.replug()
        wait_for(lambda: camera_state() == "up" and health(db, st)["state"] == "ok", "the camera up again",
                 on_fail=diagnose)
        # The heartbeat may tell the server before the device_status event arrives: wait for the event.
        wait_for(lambda: [p["state"] for d, p, _ in events("device_status") if d == "packing_camera"][-2:]
                 == ["down", "up"], "device_status down then up", on_fail=diagnose)
        stop = queue_job(db, st, "record_stop", {"role": "packing"})
        wait_for(lambda: job_row(db, stop)["state"] in ("done", "failed"), "recording stopped", on_fail=diagnose)
        assert job_row(db, stop)["result"] == "done", job_row(db, stop)
