"""/api/v1/stations/me/... (the agent's side of docs/station-protocol.md) and the supervisor's
station endpoints: events stored once, rejected payloads kept, jobs by long-poll with a lease,
heartbeat and health, resumable media."""

import base64
import hashlib
import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from server.models import MediaFile, Station, StationEvent, StationJob
from server.models.base import utcnow
from tests import factories as f
from tests.assertions import assert_problem, count

EVENTS = "/api/v1/stations/me/events"
JOBS = "/api/v1/stations/me/jobs"
HEARTBEAT = "/api/v1/stations/me/heartbeat"
MEDIA = "/api/v1/stations/me/media"
HEALTH = "/api/v1/stations/health"
OFFSET_STREAM = "application/offset+octet-stream"


@pytest.fixture
def setup(db):
    wh, z, cells, sku = f.stocked_warehouse()
    station, station_auth = f.station(wh, code="PACK-1", kind="pack")
    other, other_auth = f.station(wh, code="PACK-2", kind="pack")
    boss = f.user("boss", roles=("supervisor",), password="secret-123")
    picker = f.user("petr", roles=("picker",), badge="BADGE-7")
    return {"wh": wh, "cells": cells, "sku": sku, "station": station, "auth": station_auth,
            "other": other, "other_auth": other_auth, "boss": boss, "boss_auth": f.token_for(boss),
            "picker": picker, "picker_auth": f.token_for(picker)}


def event(kind, payload, *, seq=None, device="scanner", event_id=None) -> dict:
    return {"event_id": event_id or str(uuid.uuid4()), "seq": seq, "kind": kind,
            "occurred_at": "2026-11-23T10:00:00.123+00:00", "device": device, "payload": payload}


def scan(code: str, **kw) -> dict:
    return event("scan", {"raw_b64": base64.b64encode(code.encode()).decode(), "symbology": ""}, **kw)


def post(client, auth, *events):
    return client.post(EVENTS, json={"events": list(events)}, headers=auth)


def stored(db) -> list[StationEvent]:
    return db.session.execute(select(StationEvent).order_by(StationEvent.id)).scalars().all()


# --- events ---------------------------------------------------------------------------------


def test_batch_answers_in_order_and_keeps_seq(client, db, setup):
    batch = [scan("S-01-02-1-1", seq=7), scan("4601234567893", seq=8),
             event("weight", {"value": 1.25, "unit": "kg", "net": True, "tare": None}, seq=9, device="scale")]
    r = post(client, setup["auth"], *batch)
    assert r.status_code == 200, r.json
    outcomes = r.json["outcomes"]
    assert [o["event_id"] for o in outcomes] == [e["event_id"] for e in batch]
    assert [o["status"] for o in outcomes] == ["stored"] * 3
    assert outcomes[0]["prompt"]["message"] == "Cell S-01-02-1-1." and outcomes[0]["prompt"]["sound"] == "ok"
    assert outcomes[1]["prompt"]["title"] == "sku"
    assert outcomes[2]["prompt"]["message"] == "Weight: 1.25 kg"
    rows = stored(db)
    assert [(e.event_id, e.seq, e.kind, e.device) for e in rows] == [
        (batch[0]["event_id"], 7, "scan", "scanner"), (batch[1]["event_id"], 8, "scan", "scanner"),
        (batch[2]["event_id"], 9, "weight", "scale")]
    assert all(e.station_id == setup["station"].id and e.source == "agent" and e.status == "stored" for e in rows)
    assert rows[0].payload["raw_b64"] == batch[0]["payload"]["raw_b64"]  # kept as sent
    assert rows[0].outcome == outcomes[0]["prompt"]


def test_a_retried_event_is_stored_once_and_answers_its_first_prompt(client, db, setup):
    first = scan("S-01-01-1-1")
    answer = post(client, setup["auth"], first).json["outcomes"][0]
    # The cell is renamed in between: a retry still gets the first answer.
    setup["cells"][0].address = "S-09-09-9-9"
    db.session.commit()
    again = post(client, setup["auth"], scan("S-01-02-1-1"), first, first).json["outcomes"]
    assert [o["status"] for o in again] == ["stored", "duplicate", "duplicate"]
    assert again[1]["prompt"] == again[2]["prompt"] == answer["prompt"]
    assert count(db, StationEvent) == 2


def test_event_ids_are_answered_as_sent(client, db, setup):
    upper = str(uuid.uuid4()).upper()
    r = post(client, setup["auth"], scan("S-01-01-1-1", event_id=upper))
    assert r.json["outcomes"][0]["event_id"] == upper
    assert stored(db)[0].event_id == upper.lower()
    assert post(client, setup["auth"], scan("x", event_id=upper.lower())).json["outcomes"][0]["status"] == "duplicate"


@pytest.mark.parametrize("kind, payload, reason", [
    ("scan", {"raw_b64": "not base64!", "symbology": ""}, "raw_b64"),
    ("scan", {"symbology": "]d2"}, "raw_b64"),
    ("weight", {"value": "1.5", "unit": "kg", "net": True, "tare": None}, "value"),
    ("weight", {"value": True, "unit": "kg", "net": True, "tare": None}, "value"),
    ("weight", {"value": float("nan"), "unit": "kg", "net": True, "tare": None}, "finite"),
    ("weight", {"value": 1.0, "unit": "stone", "net": True, "tare": None}, "unit"),
    ("teleport", {"to": "mars"}, "unknown kind"),
    ("a-kind-longer-than-sixteen-characters", {}, "unknown kind"),
    ("photo", {"media": "XYZ", "size": 10, "role": "overhead", "job_id": None}, "media"),
    ("clip", {"media": "A" * 64, "size": 10, "role": "packing", "frames": 3, "partial": False, "job_id": None},
     "media"),
    ("device_status", {"state": "on fire", "detail": "", "device_kind": "printer"}, "state"),
    ("job_result", {"job_id": "17", "result": "printed"}, "job_id"),
    ("button", {}, "key"),
])
def test_bad_payloads_are_stored_as_rejected_with_the_reason(client, db, setup, kind, payload, reason):
    sent = event(kind, payload)
    (outcome,) = post(client, setup["auth"], sent).json["outcomes"]
    assert outcome["status"] == "rejected"
    assert outcome["prompt"]["sound"] == "error"
    assert reason in outcome["prompt"]["message"] and reason in outcome["prompt"]["screen"]["problem"]
    (row,) = stored(db)
    assert row.status == "rejected" and row.outcome == outcome["prompt"] and row.kind == kind[:16]
    # Sent again (an agent that did not hear the answer): the same answer, nothing new stored.
    (again,) = post(client, setup["auth"], sent).json["outcomes"]
    assert again["status"] == "duplicate" and again["prompt"] == outcome["prompt"]
    assert count(db, StationEvent) == 1


def test_another_stations_event_id_is_rejected(client, db, setup):
    mine = scan("S-01-01-1-1")
    post(client, setup["auth"], mine)
    (outcome,) = post(client, setup["other_auth"], mine).json["outcomes"]
    assert outcome["status"] == "rejected" and outcome["prompt"]["sound"] == "error"
    assert "another station" in outcome["prompt"]["message"]
    (row,) = stored(db)
    assert row.station_id == setup["station"].id


@pytest.mark.parametrize("body", [
    {},
    {"events": []},
    {"events": "scan"},
    {"events": [{**scan("x"), "event_id": "not-a-uuid"}]},
    {"events": [{k: v for k, v in scan("x").items() if k != "event_id"}]},
    {"events": [{**scan("x"), "occurred_at": "2026-11-23T10:00:00"}]},  # no offset
    {"events": [{**scan("x"), "device": "d" * 65}]},
    {"events": [{**scan("x"), "payload": "raw"}]},
    {"events": [{**scan("x"), "seq": -1}]},
    {"events": [{**scan("x"), "seq": 1.5}]},
    {"events": [{**scan("x"), "kind": ""}]},
    {"events": [{**scan("x"), "extra": 1}]},
    {"events": [scan("x") for _ in range(501)]},
])
def test_a_batch_of_the_wrong_shape_is_422_and_stores_nothing(client, db, setup, body):
    good = scan("S-01-01-1-1")
    if isinstance(body.get("events"), list) and body["events"]:
        body = {"events": [good, *body["events"]]}
    r = client.post(EVENTS, json=body, headers=setup["auth"])
    assert_problem(r, 422)
    assert count(db, StationEvent) == 0


def test_not_json_is_a_problem(client, db, setup):
    r = client.post(EVENTS, data="{not json", headers={**setup["auth"], "Content-Type": "application/json"})
    assert r.status_code in (400, 422) and r.mimetype == "application/problem+json"
    assert count(db, StationEvent) == 0


def test_the_agents_endpoints_want_a_station_token(client, db, setup):
    calls = [("post", EVENTS, {"json": {"events": [scan("x")]}}), ("get", JOBS + "?wait=0", {}),
             ("post", HEARTBEAT, {"json": {}}), ("post", MEDIA, {"json": {}}), ("head", MEDIA + "/1", {}),
             ("patch", MEDIA + "/1", {"data": b"x", "content_type": OFFSET_STREAM})]
    for method, path, kw in calls:
        def check(status, slug, headers=None, method=method, path=path, kw=kw):
            r = getattr(client, method)(path, headers=headers or {}, **kw)
            if method == "head":  # no body to read
                assert r.status_code == status
            else:
                assert_problem(r, status, slug)

        check(401, "unauthorized")
        check(401, "invalid-token", {"Authorization": "Bearer nope"})
        check(403, "station-token-required", setup["boss_auth"])
        check(403, "station-token-required", setup["picker_auth"])
    # A signed-in session is a user, not a station.
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = setup["boss"].get_id(), True
        session["signed_in_at"] = int(time.time())
    assert_problem(client.get(JOBS + "?wait=0"), 403, "station-token-required")
    assert count(db, StationEvent) == 0


def test_a_deactivated_station_is_refused(client, db, setup):
    setup["station"].active = False
    db.session.commit()
    assert_problem(post(client, setup["auth"], scan("x")), 401, "invalid-token")


def test_supervisor_endpoints_refuse_stations_and_workers(client, db, setup):
    sid = setup["station"].id
    for path in (HEALTH, f"/api/v1/stations/{sid}/jobs", f"/api/v1/stations/{sid}/events", "/api/v1/media/1"):
        assert_problem(client.get(path), 401)
        assert_problem(client.get(path, headers=setup["auth"]), 403, "forbidden")
        assert_problem(client.get(path, headers=setup["picker_auth"]), 403, "forbidden")
    r = client.post(f"/api/v1/stations/{sid}/jobs", json={"kind": "beep", "payload": {}}, headers=setup["auth"])
    assert_problem(r, 403, "forbidden")
    assert_problem(client.get("/api/v1/stations/999/jobs", headers=setup["boss_auth"]), 404, "not-found")


# --- jobs -----------------------------------------------------------------------------------


def queue_job(client, setup, kind="print", payload=None, station_id=None):
    payload = {"template": "sku-sticker", "data": {"code": "SKU-1"}, "copies": 1} if payload is None else payload
    r = client.post(f"/api/v1/stations/{station_id or setup['station'].id}/jobs", json={"kind": kind, "payload": payload},
                    headers=setup["boss_auth"])
    assert r.status_code == 201, r.json
    return r.json


def test_a_queued_job_comes_at_once_and_only_once_within_its_lease(client, db, setup):
    job = queue_job(client, setup)
    assert job["state"] == "queued" and job["attempts"] == 0 and job["kind"] == "print"
    other = queue_job(client, setup, "beep", {"sound": "ok"}, station_id=setup["other"].id)
    r = client.get(JOBS + "?wait=20", headers=setup["auth"])
    assert r.status_code == 200
    (sent,) = r.json["jobs"]
    assert (sent["id"], sent["attempts"], sent["state"]) == (job["id"], 1, "sent")
    assert sent["payload"]["template"] == "sku-sticker" and sent["device"] is None
    assert sent["created_at"].endswith("+00:00")
    assert client.get(JOBS + "?wait=0", headers=setup["auth"]).json == {"jobs": []}
    (theirs,) = client.get(JOBS + "?wait=0", headers=setup["other_auth"]).json["jobs"]
    assert theirs["id"] == other["id"]


def test_an_empty_long_poll_waits_then_answers_empty(client, db, setup):
    started = time.monotonic()
    r = client.get(JOBS + "?wait=1", headers=setup["auth"])
    assert r.status_code == 200 and r.json == {"jobs": []}
    assert time.monotonic() - started >= 0.9


def test_the_wait_is_bounded(client, db, setup):
    assert_problem(client.get(JOBS + "?wait=31", headers=setup["auth"]), 422)
    assert_problem(client.get(JOBS + "?wait=-1", headers=setup["auth"]), 422)


def test_a_job_queued_during_the_long_poll_is_delivered(app, client, db, setup):
    station_id, auth = setup["station"].id, setup["auth"]
    db.session.commit()  # nothing open: on SQLite an open transaction holds the writer lock

    def queue_later():
        time.sleep(0.3)
        with app.app_context():
            db.session.add(StationJob(station_id=station_id, kind="beep", payload={"sound": "ok"}))
            db.session.commit()

    thread = threading.Thread(target=queue_later)
    thread.start()
    r = client.get(JOBS + "?wait=20", headers=auth)
    thread.join()
    (job,) = r.json["jobs"]
    assert job["kind"] == "beep" and job["attempts"] == 1


def test_a_job_without_result_is_sent_again_after_its_lease(client, db, setup):
    job = queue_job(client, setup)
    client.get(JOBS + "?wait=0", headers=setup["auth"])
    assert client.get(JOBS + "?wait=0", headers=setup["auth"]).json["jobs"] == []
    db.session.execute(update(StationJob).values(sent_at=utcnow() - timedelta(seconds=61)))
    db.session.commit()
    (again,) = client.get(JOBS + "?wait=0", headers=setup["auth"]).json["jobs"]
    assert (again["id"], again["attempts"]) == (job["id"], 2)


def take_jobs(client, auth, *events):
    return client.post(EVENTS, json={"events": list(events), "take_jobs": True}, headers=auth)


def test_an_events_answer_with_take_jobs_hands_out_the_jobs_due_once(client, db, setup):
    job = queue_job(client, setup)
    queue_job(client, setup, "beep", {"sound": "ok"}, station_id=setup["other"].id)
    r = post(client, setup["auth"], event("device_status", {"state": "up", "detail": ""}))
    assert r.status_code == 200 and "jobs" not in r.json  # asked for nothing: the long-poll's
    r = take_jobs(client, setup["auth"], event("device_status", {"state": "up", "detail": ""}))
    assert r.status_code == 200, r.json
    (sent,) = r.json["jobs"]  # this station's only
    assert (sent["id"], sent["state"], sent["attempts"]) == (job["id"], "sent", 1) and sent["sent_at"]
    row = db.session.get(StationJob, job["id"], populate_existing=True)
    assert (row.state, row.attempts) == ("sent", 1)
    assert client.get(JOBS + "?wait=0", headers=setup["auth"]).json == {"jobs": []}  # not again
    assert take_jobs(client, setup["auth"], event("device_status", {"state": "up", "detail": ""})).json["jobs"] == []


def test_a_lost_events_answer_brings_its_jobs_again(client, db, setup):
    db.session.commit()
    first = event("button", {"key": "print_sticker"})
    job = queue_job(client, setup)
    db.session.execute(update(StationJob).values(created_by_event=first["event_id"]))
    db.session.commit()
    (sent,) = take_jobs(client, setup["auth"], first).json["jobs"]  # ... and this answer is lost
    assert (sent["id"], sent["attempts"]) == (job["id"], 1)
    again = take_jobs(client, setup["auth"], first).json  # the agent sends the batch again
    assert again["outcomes"][0]["status"] == "duplicate"
    assert [(j["id"], j["attempts"]) for j in again["jobs"]] == [(job["id"], 2)]
    # a finished job is not sent again, however often its event comes back
    post(client, setup["auth"], event("job_result", {"job_id": job["id"], "result": "printed", "detail": ""},
                                      device="label_printer"))
    assert take_jobs(client, setup["auth"], first).json["jobs"] == []


def test_a_job_handed_out_in_a_lost_answer_comes_by_long_poll_after_its_lease(client, db, setup):
    job = queue_job(client, setup)
    (sent,) = take_jobs(client, setup["auth"], event("device_status", {"state": "up", "detail": ""})).json["jobs"]
    assert sent["id"] == job["id"]
    assert client.get(JOBS + "?wait=0", headers=setup["auth"]).json["jobs"] == []
    db.session.execute(update(StationJob).values(sent_at=utcnow() - timedelta(seconds=61)))
    db.session.commit()
    (again,) = client.get(JOBS + "?wait=0", headers=setup["auth"]).json["jobs"]
    assert (again["id"], again["attempts"]) == (job["id"], 2)


def test_take_jobs_is_a_boolean(client, db, setup):
    r = client.post(EVENTS, json={"events": [event("device_status", {"state": "up"})], "take_jobs": "soon"},
                    headers=setup["auth"])
    assert_problem(r, 422)


def test_a_job_result_closes_the_job_and_a_second_changes_nothing(client, db, setup):
    job = queue_job(client, setup)
    client.get(JOBS + "?wait=0", headers=setup["auth"])
    (done,) = post(client, setup["auth"], event("job_result", {"job_id": job["id"], "result": "printed",
                                                                "detail": "", "copies": 1}, device="label")).json["outcomes"]
    assert done["status"] == "stored" and done["prompt"] is None
    (late,) = post(client, setup["auth"], event("job_result", {"job_id": job["id"], "result": "paper_out",
                                                                "detail": "paper out"})).json["outcomes"]
    assert late["status"] == "stored"
    row = db.session.get(StationJob, job["id"])
    db.session.refresh(row)
    assert (row.state, row.result, row.detail) == ("done", "printed", {"detail": "", "copies": 1})
    assert row.finished_at is not None
    # Closed jobs are not sent again, whatever their age.
    db.session.execute(update(StationJob).values(sent_at=utcnow() - timedelta(seconds=600)))
    db.session.commit()
    assert client.get(JOBS + "?wait=0", headers=setup["auth"]).json["jobs"] == []


def test_a_failed_job_result_gives_an_error_prompt(client, db, setup):
    job = queue_job(client, setup)
    (outcome,) = post(client, setup["auth"], event("job_result", {"job_id": job["id"], "result": "head_open",
                                                                   "detail": "close the print head"})).json["outcomes"]
    assert outcome["prompt"]["sound"] == "error"
    assert outcome["prompt"]["message"] == "print failed: close the print head"
    assert db.session.get(StationJob, job["id"]).state == "failed"
    # A result for another station's job changes nothing there.
    theirs = queue_job(client, setup, "beep", {"sound": "ok"}, station_id=setup["other"].id)
    post(client, setup["auth"], event("job_result", {"job_id": theirs["id"], "result": "done"}))
    assert db.session.get(StationJob, theirs["id"]).state == "queued"


def test_supervisors_queue_and_list_jobs(client, db, setup):
    sid = setup["station"].id
    for kind, payload in (("print", {}), ("fly", {})):
        assert_problem(client.post(f"/api/v1/stations/{sid}/jobs", json={"kind": kind, "payload": payload},
                                   headers=setup["boss_auth"]), 422)
    assert_problem(client.post("/api/v1/stations/999/jobs", json={"kind": "beep"}, headers=setup["boss_auth"]), 404)
    ids = [queue_job(client, setup, "beep", {"sound": "ok"})["id"] for _ in range(3)]
    r = client.get(f"/api/v1/stations/{sid}/jobs?page_size=2", headers=setup["boss_auth"])
    assert [j["id"] for j in r.json] == ids[::-1][:2]
    assert '"total": 3' in r.headers["X-Pagination"]
    assert r.json[0]["created_by_user_id"] == setup["boss"].id
    client.get(JOBS + "?wait=0", headers=setup["auth"])
    assert len(client.get(f"/api/v1/stations/{sid}/jobs?state=sent", headers=setup["boss_auth"]).json) == 3


def test_supervisors_read_a_stations_events_newest_first(client, db, setup):
    sid = setup["station"].id
    batch = [scan("S-01-01-1-1", seq=1), scan("???", seq=2), event("button", {}, seq=3)]
    post(client, setup["auth"], *batch)
    post(client, setup["other_auth"], scan("S-01-02-1-1"))
    r = client.get(f"/api/v1/stations/{sid}/events", headers=setup["boss_auth"])
    assert r.status_code == 200
    assert [e["event_id"] for e in r.json] == [e["event_id"] for e in batch[::-1]]
    assert r.json[2]["outcome"]["message"] == "Cell S-01-01-1-1." and r.json[2]["occurred_at"].endswith("+00:00")
    rejected = client.get(f"/api/v1/stations/{sid}/events?status=rejected", headers=setup["boss_auth"]).json
    assert [e["kind"] for e in rejected] == ["button"]
    page = client.get(f"/api/v1/stations/{sid}/events?page_size=1&page=2", headers=setup["boss_auth"])
    assert [e["seq"] for e in page.json] == [2]


# --- heartbeat and health -------------------------------------------------------------------


def heartbeat(scanner="up", printer="up") -> dict:
    return {"agent": {"version": "0.1.0", "started_at": "2026-11-23T09:00:00+00:00", "host": "pack-1"},
            "devices": {"scanner": {"kind": "scanner", "state": scanner, "detail": "", "since": "…"},
                        "label": {"kind": "printer", "state": printer, "detail": "paper out", "since": "…"}},
            "outbox": {"waiting": 3, "oldest_at": None, "media_waiting": 1}}


def health_of(client, setup) -> dict:
    r = client.get(HEALTH, headers=setup["boss_auth"])
    assert r.status_code == 200
    return {h["code"]: h for h in r.json}


def test_heartbeat_and_health(client, db, setup):
    assert health_of(client, setup)["PACK-1"]["state"] == "offline"  # never heard of
    r = client.post(HEARTBEAT, json=heartbeat(), headers=setup["auth"])
    assert r.status_code == 200 and r.json["ok"] is True and r.json["server_time"].endswith("+00:00")
    health = health_of(client, setup)
    assert health["PACK-1"]["state"] == "ok" and health["PACK-2"]["state"] == "offline"
    assert health["PACK-1"]["outbox"]["waiting"] == 3 and health["PACK-1"]["agent"]["host"] == "pack-1"
    assert health["PACK-1"]["heartbeat_at"].endswith("+00:00")

    client.post(HEARTBEAT, json=heartbeat(printer="down"), headers=setup["auth"])
    health = health_of(client, setup)["PACK-1"]
    assert health["state"] == "degraded" and health["devices"]["label"]["state"] == "down"

    db.session.execute(update(Station).where(Station.id == setup["station"].id)
                       .values(heartbeat_at=utcnow() - timedelta(seconds=31)))
    db.session.commit()
    assert health_of(client, setup)["PACK-1"]["state"] == "offline"

    setup["other"].active = False
    db.session.commit()
    assert list(health_of(client, setup)) == ["PACK-1"]


def test_a_heartbeat_of_the_wrong_shape_is_422(client, db, setup):
    assert_problem(client.post(HEARTBEAT, json={"devices": []}, headers=setup["auth"]), 422)
    assert_problem(client.post(HEARTBEAT, json={"devices": {"scanner": "up"}}, headers=setup["auth"]), 422)
    # Keys a newer agent adds are let through.
    assert client.post(HEARTBEAT, json={**heartbeat(), "clock": 1}, headers=setup["auth"]).status_code == 200


# --- media ----------------------------------------------------------------------------------

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40 + b"\xff\xd9"
SHA = hashlib.sha256(JPEG).hexdigest()


def announce(client, auth, data=JPEG, sha=None, kind="photo", **extra):
    return client.post(MEDIA, json={"sha256": sha or hashlib.sha256(data).hexdigest(), "size": len(data),
                                    "kind": kind, "content_type": "image/jpeg", "filename": "p.jpg", **extra},
                       headers=auth)


def patch(client, auth, media_id, offset, chunk):
    return client.patch(f"{MEDIA}/{media_id}", data=chunk, content_type=OFFSET_STREAM,
                        headers={**auth, "Upload-Offset": str(offset)})


def offsets(client, auth, media_id) -> tuple[int, int]:
    r = client.head(f"{MEDIA}/{media_id}", headers=auth)
    assert r.status_code == 200
    return int(r.headers["Upload-Offset"]), int(r.headers["Upload-Length"])


def test_chunked_upload_with_a_wrong_offset_and_a_resume(client, db, setup):
    auth = setup["auth"]
    r = announce(client, auth)
    assert r.status_code == 201 and r.json["offset"] == 0
    media_id = r.json["id"]
    r = patch(client, auth, media_id, 0, JPEG[:4000])
    assert r.status_code == 204 and r.headers["Upload-Offset"] == "4000"
    # A chunk sent again (its answer was lost): 409 with where to go on.
    body = assert_problem(patch(client, auth, media_id, 0, JPEG[:4000]), 409, "upload-offset")
    assert body["offset"] == 4000
    assert patch(client, auth, media_id, 0, JPEG[:4000]).headers["Upload-Offset"] == "4000"
    # Announced again (the agent restarted): 200 and the same offset; HEAD says the same.
    again = announce(client, auth)
    assert again.status_code == 200 and again.json == {"id": media_id, "offset": 4000, "size": len(JPEG),
                                                       "complete": False}
    assert offsets(client, auth, media_id) == (4000, len(JPEG))
    # Incomplete: supervisors get a problem, not half a file.
    assert_problem(client.get(f"/api/v1/media/{media_id}", headers=setup["boss_auth"]), 404, "media-incomplete")
    r = patch(client, auth, media_id, 4000, JPEG[4000:])
    assert r.status_code == 204 and r.headers["Upload-Offset"] == str(len(JPEG))
    assert offsets(client, auth, media_id) == (len(JPEG), len(JPEG))
    media = db.session.get(MediaFile, media_id)
    assert media.complete and media.received == len(JPEG)
    r = client.get(f"/api/v1/media/{media_id}", headers=setup["boss_auth"])
    assert r.status_code == 200 and r.data == JPEG and r.mimetype == "image/jpeg"
    r.close()
    # Done is done: another chunk or announcement says so.
    assert announce(client, auth).json["complete"] is True
    assert patch(client, auth, media_id, len(JPEG), b"").headers["Upload-Offset"] == str(len(JPEG))


def test_a_checksum_mismatch_starts_the_file_again(client, db, setup):
    auth = setup["auth"]
    media_id = announce(client, auth).json["id"]
    assert patch(client, auth, media_id, 0, JPEG[:100]).status_code == 204
    spoiled = JPEG[100:-1] + b"\x00"
    r = patch(client, auth, media_id, 100, spoiled)
    assert_problem(r, 422, "checksum-mismatch")
    assert r.headers["Upload-Offset"] == "0"
    assert offsets(client, auth, media_id) == (0, len(JPEG))
    assert_problem(patch(client, auth, media_id, 100, JPEG[100:]), 409, "upload-offset")
    assert patch(client, auth, media_id, 0, JPEG).headers["Upload-Offset"] == str(len(JPEG))
    assert db.session.get(MediaFile, media_id).complete


def test_upload_problems(client, db, setup):
    auth = setup["auth"]
    media_id = announce(client, auth).json["id"]
    r = client.patch(f"{MEDIA}/{media_id}", data=b"x", content_type="application/json",
                     headers={**auth, "Upload-Offset": "0"})
    assert_problem(r, 415)
    r = client.patch(f"{MEDIA}/{media_id}", data=b"x", content_type=OFFSET_STREAM, headers=auth)
    assert_problem(r, 400, "upload-offset-required")
    assert_problem(patch(client, auth, media_id, 0, JPEG + b"more"), 422, "upload-too-long")
    # Another station's file is not there for this one.
    assert_problem(patch(client, setup["other_auth"], media_id, 0, JPEG), 404)
    assert client.head(f"{MEDIA}/{media_id}", headers=setup["other_auth"]).status_code == 404
    assert_problem(announce(client, auth, data=JPEG[:10], sha=SHA), 409, "media-size-differs")
    assert_problem(announce(client, auth, sha="ABC"), 422)
    assert_problem(announce(client, auth, kind="sound"), 422)
    assert_problem(client.get("/api/v1/media/999", headers=setup["boss_auth"]), 404)


def test_an_event_may_name_a_file_before_its_upload(client, db, setup):
    auth = setup["auth"]
    photo = event("photo", {"media": SHA, "size": len(JPEG), "role": "overhead", "job_id": None}, device="camera")
    (outcome,) = post(client, auth, photo).json["outcomes"]
    assert outcome["status"] == "stored" and outcome["prompt"]["screen"]["media"] == SHA
    (media,) = db.session.execute(select(MediaFile)).scalars().all()
    assert (media.complete, media.received, media.event_id) == (False, 0, photo["event_id"])
    r = announce(client, auth)
    assert r.status_code == 200 and r.json["id"] == media.id and r.json["offset"] == 0
    patch(client, auth, media.id, 0, JPEG)
    r = client.get(f"/api/v1/media/{media.id}", headers=setup["boss_auth"])
    assert r.data == JPEG and r.mimetype == "image/jpeg"
    r.close()
    assert count(db, MediaFile) == 1


# --- concurrency ----------------------------------------------------------------------------


@pytest.mark.parametrize("first_batch", [False, True], ids=["new-session", "session-row-locked"])
def test_the_same_batch_from_two_threads_at_once_is_stored_once(app, client, db, setup, first_batch):
    auth = setup["auth"]
    if first_batch:  # the station's session row exists: the twins queue on its lock
        post(client, auth, scan("S-01-01-1-1", seq=100))
    batch = [scan("S-01-01-1-1", seq=i) if i % 2 else scan(f"UNKNOWN-{i}", seq=i) for i in range(20)]
    db.session.commit()  # nothing open: on SQLite an open transaction holds the writer lock
    start = threading.Barrier(2)
    answers, errors = [], []

    def send():
        try:
            with app.app_context():
                client = app.test_client()
                start.wait()
                r = client.post(EVENTS, json={"events": batch}, headers=auth)
                answers.append((r.status_code, r.json))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert [status for status, _ in answers] == [200, 200], answers
    first, second = (body["outcomes"] for _, body in answers)
    for a, b in zip(first, second, strict=True):
        assert sorted((a["status"], b["status"])) == ["duplicate", "stored"]
        assert a["prompt"] == b["prompt"]
    assert count(db, StationEvent) == 20 + first_batch
    assert [e.seq for e in stored(db)][first_batch:] == list(range(20))


class FailsOnBoom:
    """A scenario with a bug: any scan of "BOOM" raises."""

    def __init__(self, base):
        self.base, self.name = base, "boom"

    def handle(self, ctx, event):
        if event.kind == "scan" and event.payload["raw"] == b"BOOM":
            raise RuntimeError("scenario bug")
        return self.base.handle(ctx, event)


def test_an_input_that_breaks_its_scenario_is_kept_and_does_not_block_the_rest(client, db, setup, monkeypatch):
    from server import scenarios

    with monkeypatch.context() as patched:  # the pack stations' own flow comes back afterwards
        patched.setitem(scenarios.SCENARIOS, "pack", FailsOnBoom(scenarios.IDENTIFY))
        batch = [scan("S-01-01-1-1"), scan("BOOM"), scan("S-01-02-1-1")]
        r = post(client, setup["auth"], *batch)
    assert r.status_code == 200, r.json
    outcomes = r.json["outcomes"]
    assert [o["status"] for o in outcomes] == ["stored", "rejected", "stored"]
    assert outcomes[1]["prompt"]["sound"] == "error" and "RuntimeError" in outcomes[1]["prompt"]["message"]
    rows = stored(db)
    assert [(e.event_id, e.status) for e in rows] == [(b["event_id"], o["status"]) for b, o in zip(batch, outcomes, strict=True)]
    assert rows[1].payload["raw_b64"] == batch[1]["payload"]["raw_b64"]  # kept for review
    # A retry of the whole batch is answered from what was stored.
    again = post(client, setup["auth"], *batch).json["outcomes"]
    assert [o["status"] for o in again] == ["duplicate", "duplicate", "duplicate"]


def test_an_event_id_taken_by_a_scan_elsewhere_is_rejected_not_blocking(client, db, setup):
    taken = str(uuid.uuid4())
    r = client.post("/api/v1/scan", json={"code": "S-01-01-1-1", "event_id": taken}, headers=setup["picker_auth"])
    assert r.status_code == 200, r.json
    batch = [scan("S-01-01-1-1"), scan("S-01-02-1-1", event_id=taken), scan("S-01-03-1-1")]
    outcomes = post(client, setup["auth"], *batch).json["outcomes"]
    assert [o["status"] for o in outcomes] == ["stored", "rejected", "stored"]
    assert "already used" in outcomes[1]["prompt"]["message"]


def test_a_queued_job_wakes_the_waiting_long_poll_through_postgresql_notify(db, setup, backend):
    from server.services import job_signals
    from server.services.stations import create_job

    signals = job_signals.signals()
    if backend != "postgresql":
        assert signals is None  # SQLite: long-polls look every POLL_S seconds instead
        return
    station_id = setup["station"].id
    with signals.waiter(station_id) as woken, signals.waiter(setup["other"].id) as other_woken:
        assert signals.listening.wait(10), "the LISTEN connection did not start"
        create_job(setup["station"], "beep", {"sound": "ok"})
        assert not woken.is_set()  # NOTIFY is delivered at commit
        db.session.commit()
        assert woken.wait(10), "no notification after the commit"
        assert not other_woken.is_set()  # another station's long-poll sleeps on
