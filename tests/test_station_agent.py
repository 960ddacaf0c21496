"""The station agent over real HTTP on 127.0.0.1: offline queuing, draining in order exactly once,
jobs run once, media upload, heartbeat, the local status endpoint, a refused token.

Devices here are small test doubles of the device contract (terminal/station/__init__.py); the
real devices are tested in their own files.
"""

import base64
import hashlib
import json
import logging
import socket
import sqlite3
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from werkzeug.serving import make_server

from terminal.station.agent import Agent
from terminal.station.link import ChecksumMismatch, Link, Offline
from terminal.station.outbox import Outbox
from tests.station_harness import read, wait_for

DRAIN_WAIT = 120.0  # seconds 2,000 events may take to drain on a loaded 2-CPU machine (a hang guard)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Scanner:
    """A scanner double: scan(text) emits a scan event like a real scanner device does."""

    kind = "scanner"

    def __init__(self):
        self.emit = None
        self.state = {"kind": "scanner", "state": "up", "detail": "", "since": now_iso()}

    def start(self, emit):
        self.emit = emit

    def stop(self):
        self.emit = None

    def health(self):
        return dict(self.state)

    def run_job(self, job):
        return {"result": "failed", "detail": "a scanner runs no jobs"}

    def scan(self, text: str) -> str:
        return self.emit("scan", {"raw_b64": base64.b64encode(text.encode()).decode(), "symbology": ""})

    def unplug(self):
        self.state = {"kind": "scanner", "state": "down", "detail": "unplugged", "since": now_iso()}
        self.emit("device_status", {"state": "down", "detail": "unplugged", "device_kind": "scanner"})


class Printer:
    """A printer double: records every job it prints."""

    kind = "printer"

    def __init__(self):
        self.printed: list[int] = []

    def start(self, emit):
        pass

    def stop(self):
        pass

    def health(self):
        return {"kind": "printer", "state": "up", "detail": "", "since": None}

    def run_job(self, job):
        self.printed.append(job["id"])
        return {"result": "printed", "detail": f"{job['payload'].get('copies', 1)} copies"}


class Station:
    """A station profile double: its name and which device takes which job."""

    def __init__(self, name="pack-1"):
        self.name = name

    def device_for_job(self, job):
        return {"print": "printer", "read_weight": "scale"}.get(job.get("kind"))


def make_agent(tmp_path, server_url, token="t", **options) -> tuple[Agent, Scanner, Printer]:
    scanner, printer = Scanner(), Printer()
    options = {"heartbeat_every": 10.0, "poll_wait": 1, "status_port": 0, **options}
    agent = Agent(Station(), server_url, token, str(tmp_path / "outbox.db"),
                  devices={"scanner": scanner, "printer": printer}, **options)
    return agent, scanner, printer


def get_status(agent: Agent, headers: dict | None = None) -> tuple[dict, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{agent.status_port}/status", headers=headers or {})
    with urllib.request.urlopen(request, timeout=5) as resp:
        return json.loads(resp.read()), dict(resp.headers)


def test_status_is_readable_only_by_the_servers_origin_and_names_nobody(tmp_path):
    """Issue 12: /status sent `Access-Control-Allow-Origin: *` with the worker's name and last scan."""
    agent, _, _ = make_agent(tmp_path, "http://127.0.0.1:9/")
    agent.last_prompt = {"user": "Ivan Petrov", "title": "Scan a cell", "event_id": "e1"}
    agent.start()
    try:
        status, headers = get_status(agent, {"Origin": "http://127.0.0.1:9"})
        assert headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:9"
        assert "Ivan" not in json.dumps(status) and "last_prompt" not in status
        _, headers = get_status(agent, {"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in headers
        with pytest.raises(urllib.error.HTTPError) as refused:  # DNS rebinding: a foreign host name
            get_status(agent, {"Host": f"evil.example:{agent.status_port}"})
        assert refused.value.code == 403
    finally:
        agent.stop()


# --- without a server ---------------------------------------------------------------------


def test_unreachable_server_is_offline_not_an_error():
    link = Link(f"http://127.0.0.1:{free_port()}", "t", timeout=2)
    with pytest.raises(Offline):
        link.post_events([])
    with pytest.raises(ValueError):
        Link("ftp://example", "t")


def test_offline_agent_keeps_queuing_and_its_status_says_so(tmp_path):
    agent, scanner, _ = make_agent(tmp_path, f"http://127.0.0.1:{free_port()}", backoff=(0.05, 0.2))
    agent.start()
    try:
        ids = [scanner.scan(f"CELL-{i}") for i in range(50)]
        wait_for(lambda: agent.online is False, "the agent to notice it is offline")
        status, headers = get_status(agent)
        assert "Access-Control-Allow-Origin" not in headers  # no Origin: no CORS grant
        assert status["station"] == "pack-1" and status["online"] is False
        assert status["waiting"] == 50 and status["oldest_at"] and status["media_waiting"] == 0
        assert status["devices"]["scanner"]["state"] == "up"
        assert set(status) >= {"station", "online", "waiting", "oldest_at", "media_waiting", "devices", "server"}
        assert "last_prompt" not in status  # who works here and what was scanned stay in the agent
    finally:
        agent.stop()
    assert [e["event_id"] for e in Outbox(tmp_path / "outbox.db").pending(100)] == ids


# --- against the real server ---------------------------------------------------------------


class Server:
    """The app served by werkzeug on 127.0.0.1 in a thread; stop() and start() again on the same port.
    `answers` lists (method, path, status) of every request, in the order answered."""

    def __init__(self, app):
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.answers: list[tuple[str, str, int]] = []
        self._server = None
        self._thread = None

    def _recorded(self, environ, start_response):
        def start(status, headers, exc_info=None):
            self.answers.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], int(status.split()[0])))
            return start_response(status, headers, exc_info)

        return self.app(environ, start)

    def answered(self, method: str, path_part: str) -> list[int]:
        return [status for m, path, status in list(self.answers) if m == method and path_part in path]

    def start(self):
        self._server = make_server("127.0.0.1", self.port, self._recorded, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="test-server", daemon=True)
        self._thread.start()

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._server.server_close()
            self._server = None


@pytest.fixture
def server(app):
    running = Server(app)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def station(db):
    """(station id, token). Tests read the database through read(): the app's SQLite transactions
    take the writer lock, so the test must never sit in an open one while the server works."""
    from tests.factories import station, warehouse

    st, headers = station(warehouse(), "PACK-1", "pack")
    station_id = st.id
    db.session.rollback()
    return station_id, headers["Authorization"].removeprefix("Bearer ")


def stored_events(db, station_id: int) -> list[dict]:
    from server.models import StationEvent

    def query():
        rows = db.session.execute(db.select(StationEvent).filter_by(station_id=station_id).order_by(StationEvent.id))
        return [{"event_id": e.event_id, "seq": e.seq, "payload": e.payload} for e in rows.scalars()]

    return read(db, query)


def test_scans_reach_the_server_in_order_once_with_prompts(tmp_path, db, server, station):
    st, token = station
    agent, scanner, _ = make_agent(tmp_path, server.url, token)
    agent.start()
    try:
        ids = [scanner.scan(f"NOT-A-CODE-{i}") for i in range(250)]  # two batches: 200 + 50
        wait_for(lambda: agent.outbox.waiting()[0] == 0, "the outbox to drain")
        assert agent.online is True
        status, _ = get_status(agent)
        assert status["online"] is True and status["waiting"] == 0
        assert agent.status()["last_prompt"]["event_id"] == ids[-1]
        assert "last_prompt" not in status
    finally:
        agent.stop()
    events = stored_events(db, st)
    assert [e["event_id"] for e in events] == ids
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert base64.b64decode(events[0]["payload"]["raw_b64"]) == b"NOT-A-CODE-0"


def test_an_event_the_server_refuses_is_set_aside_and_the_rest_go_on(tmp_path, db, server, station):
    st, token = station
    agent, _, _ = make_agent(tmp_path, server.url, token)
    first = agent.outbox.put("scan", {"raw_b64": "QkVGT1JF", "symbology": ""}, device="scanner")
    # An event our own bug made malformed: a device name longer than the protocol allows.
    bad = agent.outbox.put("scan", {"raw_b64": "QkFE", "symbology": ""}, device="x" * 100)
    last = agent.outbox.put("scan", {"raw_b64": "QUZURVI=", "symbology": ""}, device="scanner")
    agent.start()
    try:
        wait_for(lambda: agent.outbox.waiting()[0] == 0, "the outbox to drain")
        assert get_status(agent)[0]["held"] == 1
    finally:
        agent.stop()
    assert [e["event_id"] for e in stored_events(db, st)] == [first, last]
    with sqlite3.connect(tmp_path / "outbox.db") as outbox:
        assert outbox.execute("SELECT event_id FROM held").fetchall() == [(bad,)]


def test_server_stopped_twice_events_land_exactly_once_in_order(tmp_path, db, server, station):
    st, token = station
    agent, scanner, _ = make_agent(tmp_path, server.url, token, backoff=(0.05, 0.2))
    agent.start()
    try:
        ids = []
        for round_ in range(3):
            ids += [scanner.scan(f"R{round_}-{i}") for i in range(100)]
            if round_ < 2:
                server.stop()
                ids += [scanner.scan(f"R{round_}-offline-{i}") for i in range(100)]
                wait_for(lambda: agent.online is False, "the agent to see the server gone")
                assert agent.outbox.waiting()[0] > 0
                server.start()
        wait_for(lambda: agent.outbox.waiting()[0] == 0, "the outbox to drain after the restarts")
    finally:
        agent.stop()
    assert [e["event_id"] for e in stored_events(db, st)] == ids


def test_an_agent_restarted_resends_and_the_server_keeps_one_copy(tmp_path, db, server, station):
    st, token = station
    box = Outbox(tmp_path / "outbox.db")
    ids = [box.put("scan", {"raw_b64": "QUJD", "symbology": ""}, "scanner") for _ in range(10)]
    batch = box.pending(5)
    Link(server.url, token).post_events(batch)  # sent, but the agent "died" before its ack
    box.close()
    agent, _, _ = make_agent(tmp_path, server.url, token)
    agent.start()
    try:
        wait_for(lambda: agent.outbox.waiting()[0] == 0, "the outbox to drain")
    finally:
        agent.stop()
    assert [e["event_id"] for e in stored_events(db, st)] == ids


def test_a_job_runs_once_even_when_sent_again(tmp_path, db, server, station):
    from datetime import timedelta

    from server.models import Station as StationRow
    from server.models import StationJob
    from server.services.stations import create_job

    st, token = station
    job_id = create_job(db.session.get(StationRow, st), "print",
                        {"template": "sku-sticker", "data": {}, "copies": 2}).id
    db.session.commit()
    db.session.rollback()
    agent, _, printer = make_agent(tmp_path, server.url, token)
    agent.start()
    try:
        def job():
            return read(db, lambda: (lambda j: {"result": j.result, "attempts": j.attempts, "detail": j.detail})(
                db.session.get(StationJob, job_id)))

        wait_for(lambda: job()["result"], "the print job's result")
        # the server sends it again (as after a lost result): the agent must not print twice
        db.session.rollback()
        row = db.session.get(StationJob, job_id)
        row.state, row.sent_at = "sent", datetime.now(UTC) - timedelta(minutes=5)
        db.session.commit()
        db.session.rollback()
        wait_for(lambda: job()["attempts"] >= 2, "the job to be sent again")
        wait_for(lambda: agent.outbox.waiting()[0] == 0, "the result to go out again")
    finally:
        agent.stop()
    assert printer.printed == [job_id]
    assert job()["result"] == "printed" and job()["detail"]["detail"] == "2 copies"


def test_a_job_in_a_lost_events_answer_comes_with_the_batch_sent_again_and_runs_once(tmp_path, db, server,
                                                                                    station):
    """The events answer carries the jobs the batch made; when that answer is lost, the agent sends
    the batch again and the answer to it carries them again (the long-poll would wait out the lease)."""
    from server.models import Station as StationRow
    from server.models import StationJob
    from server.services.stations import create_job

    st, token = station
    box = Outbox(tmp_path / "outbox.db")
    event_id = box.put("button", {"key": "print_sticker"}, "scanner")
    job_id = create_job(db.session.get(StationRow, st), "print", {"template": "sku-sticker", "data": {}, "copies": 1},
                        event_id=event_id).id
    db.session.commit()
    db.session.rollback()
    outcomes, jobs = Link(server.url, token).send_events(box.pending(), take_jobs=True)  # this answer is lost
    assert [j["id"] for j in jobs] == [job_id] and outcomes[0]["status"] == "stored"
    box.close()

    def job():
        return read(db, lambda: (lambda j: (j.state, j.attempts, j.result))(db.session.get(StationJob, job_id)))

    assert job() == ("sent", 1, None)
    agent, _, printer = make_agent(tmp_path, server.url, token)
    agent.start()
    try:
        wait_for(lambda: job()[2] == "printed", "the job's result")
        polls = len(server.answered("GET", "/jobs"))
        wait_for(lambda: len(server.answered("GET", "/jobs")) >= polls + 2, "two more long-polls")
    finally:
        agent.stop()
    assert printer.printed == [job_id]
    assert job() == ("done", 2, "printed")  # sent twice (lost answer, batch again), never by the long-poll


def test_a_bad_token_stops_the_agent_with_a_clear_message(tmp_path, db, server, station):
    agent, scanner, _ = make_agent(tmp_path, server.url, "not-the-token", status_port=None)
    agent.start()
    scanner.scan("X")
    code = agent.run()  # returns once the refusal stopped it
    assert code == 2 and "401" in agent.fatal and "token" in agent.fatal
    assert Outbox(tmp_path / "outbox.db").waiting()[0] == 1  # nothing lost


def test_heartbeat_carries_devices_and_goes_at_once_on_a_change(tmp_path, db, server, station):
    from server.models import Station as StationRow

    st, token = station
    agent, scanner, _ = make_agent(tmp_path, server.url, token, heartbeat_every=3600)
    agent.start()
    try:
        def health():
            return read(db, lambda: db.session.get(StationRow, st).health)

        wait_for(lambda: (health() or {}).get("devices", {}).get("scanner"), "the first heartbeat")
        assert health()["outbox"]["waiting"] == 0 and health()["agent"]["version"]
        scanner.unplug()
        wait_for(lambda: health()["devices"]["scanner"]["state"] == "down", "a heartbeat on the change")
    finally:
        agent.stop()


def test_a_photo_uploads_with_its_event(tmp_path, db, server, station):
    import hashlib

    from server.models import MediaFile

    st, token = station
    agent, scanner, _ = make_agent(tmp_path, server.url, token)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 5000 + b"\xff\xd9")  # 1.28 MB: two chunks
    agent.start()
    try:
        scanner.emit("photo", {"role": "overhead", "job_id": None}, media=str(photo))

        def complete():
            return read(db, lambda: db.session.execute(
                db.select(MediaFile.sha256, MediaFile.size).filter_by(station_id=st, complete=True)).first())

        media = wait_for(complete, "the photo to be complete on the server")
        wait_for(lambda: agent.outbox.media_waiting() == 0 and agent.outbox.waiting()[0] == 0, "the agent to finish")
    finally:
        agent.stop()
    assert tuple(media) == (hashlib.sha256(photo.read_bytes()).hexdigest(), photo.stat().st_size)


def run_scanning_agent(server_url: str, token: str, outbox: str, count: int) -> None:
    """In a child process: an agent whose scanner scans `count` codes at once, then idles until killed."""
    import pathlib

    agent, scanner, _ = make_agent(pathlib.Path(outbox).parent, server_url, token, status_port=None, batch_size=50)
    agent.start()
    for i in range(count):
        scanner.scan(f"KILL-{i}")
    threading.Event().wait()


def test_kill_9_mid_upload_loses_and_doubles_nothing(tmp_path, db, server, station):
    import os
    import signal
    import subprocess
    import sys

    st, token = station
    count = 2000
    child = subprocess.Popen([sys.executable, "-c", "import sys; from tests.test_station_agent import "
                              "run_scanning_agent as r; r(*sys.argv[1:4], int(sys.argv[4]))",
                              server.url, token, str(tmp_path / "outbox.db"), str(count)],
                             cwd=os.path.dirname(os.path.dirname(__file__)))
    try:
        wait_for(lambda: len(stored_events(db, st)) >= 100, "the child agent to upload some events")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    taken = Outbox(tmp_path / "outbox.db")
    left = taken.pending(count)
    taken.close()
    stored = len(stored_events(db, st))
    assert stored > 0 and left, f"killed too late to test anything: {stored} stored, {len(left)} left"
    last = int(base64.b64decode(left[-1]["payload"]["raw_b64"]).decode().removeprefix("KILL-"))

    agent, _, _ = make_agent(tmp_path, server.url, token)
    agent.start()
    try:
        wait_for(lambda: agent.outbox.waiting()[0] == 0, "the restarted agent to drain the outbox", DRAIN_WAIT)
    finally:
        agent.stop()
    texts = [base64.b64decode(e["payload"]["raw_b64"]).decode() for e in stored_events(db, st)]
    assert texts == [f"KILL-{i}" for i in range(last + 1)]  # all the child took, once each, in order


def test_media_upload_resumes_from_the_servers_offset(tmp_path, db, server, station):
    import hashlib

    from terminal.station.link import OffsetConflict

    st, token = station
    data = b"RIFF\x00\x00\x00\x00AVI " + bytes(range(256)) * 1000  # an AVI header: the server checks it
    path = tmp_path / "clip.avi"
    path.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    link = Link(server.url, token)
    media_id, offset = link.media_create(sha, len(data), "clip", "video/x-msvideo", "clip.avi")
    assert offset == 0
    assert link.media_patch(media_id, 0, data[:100_000]) == 100_000  # then the link broke
    with pytest.raises(OffsetConflict) as conflict:
        link.media_patch(media_id, 0, data[:10])
    assert conflict.value.offset == 100_000
    assert link.media_offset(media_id) == (100_000, len(data))

    seen = []
    assert link.upload_media(str(path), sha, len(data), "clip", "video/x-msvideo", chunk_size=64_000,
                             progress=lambda i, o: seen.append(o)) == media_id
    assert seen[0] == 100_000 and seen[-1] == len(data)  # resumed, not restarted
    assert link.media_offset(media_id)[0] == len(data)


def test_the_command_refuses_a_bad_profile_naming_file_and_key(tmp_path):
    from click.testing import CliRunner

    from terminal.cli import main

    profile = tmp_path / "bad.toml"
    profile.write_text('[station]\nname = "pack-9"\nkind = "pack"\n\n'
                       '[devices.scanner]\nkind = "toaster"\nprofile = "x"\nurl = "/dev/null"\n')
    result = CliRunner().invoke(main, ["station", "--profile", str(profile), "--server", "http://127.0.0.1:9",
                                       "--outbox", str(tmp_path / "o.db")], env={"CELLWMS_STATION_TOKEN": "t"})
    assert result.exit_code == 2
    assert str(profile) in result.output and "devices.scanner.kind" in result.output and "toaster" in result.output
    assert not (tmp_path / "o.db").exists()


# --- media the server refuses, conflicts, checksum mismatches -------------------------------

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # no JPEG, whatever its name says


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_media_whose_bytes_the_server_refuses_is_set_aside_once_kept_and_shown(tmp_path, db, server, station,
                                                                               caplog):
    """Issue: a 422 media-type-refused was taken for a checksum mismatch: sent three times, then
    dropped from the queue with nothing in the agent's status."""
    from server.models import MediaFile

    caplog.set_level(logging.INFO, logger="cellwms.station")
    st, token = station
    agent, scanner, _ = make_agent(tmp_path, server.url, token)
    fake, good = tmp_path / "fake.jpg", tmp_path / "good.jpg"
    fake.write_bytes(PNG)
    good.write_bytes(JPEG)
    agent.start()
    try:
        scanner.emit("photo", {"role": "overhead", "job_id": None}, media=str(fake))
        scanner.emit("photo", {"role": "overhead", "job_id": None}, media=str(good))
        wait_for(lambda: agent.outbox.media_waiting() == 0, "both files to be done with")
        status = get_status(agent)[0]
    finally:
        agent.stop()
    assert status["media_refused"] == 1 and status["media_waiting"] == 0
    [refused] = status["media_refused_files"]
    assert refused["path"] == str(fake) and refused["sha256"] == digest(fake) and refused["kind"] == "photo"
    assert "JPEG" in refused["reason"] and refused["refused_at"]
    assert fake.read_bytes() == PNG  # kept where the camera wrote it
    rows = read(db, lambda: {m.sha256: (m.complete, m.received) for m in
                             db.session.execute(db.select(MediaFile).filter_by(station_id=st)).scalars()})
    assert rows == {digest(fake): (False, 0), digest(good): (True, len(JPEG))}  # the next file went on
    assert server.answered("PATCH", "/stations/me/media/").count(422) == 1  # sent once, never again
    assert [r.levelname for r in caplog.records if "refused by the server" in r.getMessage()] == ["ERROR"]

    again, _, _ = make_agent(tmp_path, server.url, token)  # a restart does not send it again either
    assert again.outbox.media_pending() == [] and again.outbox.media_refused()[0] == 1
    again.outbox.close()


def test_a_conflict_on_a_media_upload_is_tried_again_with_backoff_until_it_passes(tmp_path, db, server, station,
                                                                                  caplog):
    """Issue: any 409 without an offset (the file announced twice at the same moment, ...) gave the
    file up. Here the server holds this checksum with another size, which answers 409 until the
    record is gone."""
    from server.models import MediaFile

    caplog.set_level(logging.INFO, logger="cellwms.station")
    st, token = station
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(JPEG)
    sha = digest(photo)
    Link(server.url, token).media_create(sha, len(JPEG) + 1, "photo", "image/jpeg", "photo.jpg")
    agent, scanner, _ = make_agent(tmp_path, server.url, token, backoff=(0.1, 0.8))

    def waits():
        return [r.args[-1] for r in caplog.records if r.msg.startswith("media %s (%s): %s; trying again")]

    agent.start()
    try:
        scanner.emit("photo", {"role": "overhead", "job_id": None}, media=str(photo))
        wait_for(lambda: len(waits()) >= 5, "five tries of the file")
        assert agent.outbox.media_waiting() == 1 and get_status(agent)[0]["media_refused"] == 0
        assert waits()[:5] == [0.1, 0.2, 0.4, 0.8, 0.8]  # doubling up to the longest wait
        first, *tries = server.answered("POST", "/stations/me/media")
        assert first == 201 and len(tries) >= 5 and set(tries) == {409}  # ours, then the agent's

        def remove_record():
            db.session.execute(db.delete(MediaFile).filter_by(station_id=st, sha256=sha))
            db.session.commit()

        read(db, remove_record)
        wait_for(lambda: agent.outbox.media_waiting() == 0, "the file to go once the conflict passed")
    finally:
        agent.stop()
    assert read(db, lambda: db.session.execute(db.select(MediaFile.complete, MediaFile.size).filter_by(
        station_id=st, sha256=sha)).one()) == (True, len(JPEG))


def test_a_checksum_mismatch_is_sent_again_from_the_start_then_given_up(tmp_path, db, server, station):
    st, token = station
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(JPEG)
    wrong = hashlib.sha256(b"other bytes").hexdigest()  # what the server checks the bytes against
    with pytest.raises(ChecksumMismatch) as mismatch:
        Link(server.url, token).upload_media(str(photo), wrong, len(JPEG), "photo", "image/jpeg", max_restarts=2)
    assert mismatch.value.problem["type"] == "urn:cellwms:problem:checksum-mismatch"
    assert server.answered("PATCH", "/stations/me/media/") == [422, 422, 422]  # the first try and two restarts
