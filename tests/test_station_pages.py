"""Station screens: the list, one screen per kind (en and ru), wedge input, job buttons and the live
stream read from the database. Runs on SQLite and PostgreSQL (fixtures)."""

import base64
import json
import re
import uuid

import pytest

from server import scenarios
from server.models import StationEvent, StationJob
from server.services import stations as station_service
from tests import factories

KINDS = ["dock", "pick", "pack", "handoff", "returns"]


def csrf_token(client, path) -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


def sign_in_badge(client, badge):
    client.post("/sign-in", data={"csrf_token": csrf_token(client, "/sign-in"), "badge": badge})


def sign_in_password(client, username, password):
    client.post("/sign-in", data={"csrf_token": csrf_token(client, "/sign-in"), "username": username,
                                  "password": password})


@pytest.fixture
def place(db):
    """A warehouse with one station of every kind, a packer and a supervisor; committed."""
    wh = factories.warehouse()
    stations = {kind: factories.station(wh, f"{kind.upper()}-1", kind)[0] for kind in KINDS}
    packer = factories.user("pavel", ("packer",), badge="B-2002")
    packer.full_name = "Pavel Orlov"
    factories.user("olga", ("supervisor",), password="s3cret-pass")
    db.session.commit()
    return stations


def post_json(client, path, body, token_from):
    return client.post(path, json=body, headers={"X-CSRFToken": csrf_token(client, token_from)})


def read_stream(response, until: str, limit: int = 64_000) -> str:
    """Bytes of a streaming response until `until` appears (at most `limit` bytes)."""
    text = ""
    for chunk in response.response:
        text += chunk.decode() if isinstance(chunk, bytes) else chunk
        if until in text or len(text) > limit:
            break
    response.close()
    return text


def sse_messages(text: str) -> list[dict]:
    messages = []
    for block in text.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            key, _, value = line.partition(": ")
            fields[key] = value
        if "data" in fields:
            messages.append({"event": fields.get("event"), "id": fields.get("id"), "data": json.loads(fields["data"])})
    return messages


# --- access --------------------------------------------------------------------------------


def test_pages_need_sign_in(client, place):
    assert client.get("/stations").status_code == 302
    assert client.get("/stations/PACK-1").status_code == 302
    assert client.get("/stations/PACK-1/stream").status_code == 302


def test_a_worker_sees_the_stations_of_the_role(client, place):
    sign_in_badge(client, "B-2002")
    html = client.get("/stations").get_data(as_text=True)
    assert re.findall(r'data-station="([^"]+)"', html) == ["PACK-1"]
    assert client.get("/stations/PACK-1").status_code == 200
    assert client.get("/stations/DOCK-1").status_code == 403
    assert client.get("/stations/NOPE").status_code == 404
    response = post_json(client, "/stations/DOCK-1/input", {"kind": "scan", "code": "X"}, "/stations/PACK-1")
    assert response.status_code == 403
    assert response.content_type == "application/problem+json"


def test_a_supervisor_sees_every_station_with_its_health(client, db, place):
    station_service.record_heartbeat(place["pack"], {"devices": {
        "scale": {"kind": "scale", "state": "up"}, "overhead": {"kind": "camera", "state": "down", "detail": "unplugged"},
    }, "outbox": {"waiting": 3}})
    db.session.commit()
    sign_in_password(client, "olga", "s3cret-pass")
    html = client.get("/stations").get_data(as_text=True)
    assert re.findall(r'data-station="([^"]+)"', html) == sorted(f"{k.upper()}-1" for k in KINDS)
    pack = html[html.index('data-station="PACK-1"'):]
    pack = pack[:pack.index("</a>")]
    assert "state-degraded" in pack and "Overhead camera: down" in pack and "Events waiting at the agent: 3" in pack
    assert "state-offline" in html  # the others never called
    assert client.get("/stations/DOCK-1").status_code == 200


# --- screens -------------------------------------------------------------------------------


PANELS = {"dock": ["Label printer", "Camera"], "pick": ["Scanner"], "pack": ["Scale", "Cameras", "Printers"],
          "handoff": ["Receipt printer"], "returns": ["Camera", "Printers"]}
PANELS_RU = {"dock": "Принтер этикеток", "pick": "Сканер", "pack": "Весы", "handoff": "Чековый принтер",
             "returns": "Камера"}


@pytest.mark.parametrize("kind", KINDS)
def test_screen_per_kind_in_english_and_russian(client, db, place, kind):
    sign_in_password(client, "olga", "s3cret-pass")
    html = client.get(f"/stations/{kind.upper()}-1").get_data(as_text=True)
    assert f'class="station kind-{kind}"' in html
    assert re.search(r'<input id="station-input"[^>]*autofocus', html, re.S)
    assert f'data-stream-url="/stations/{kind.upper()}-1/stream"' in html
    for title in PANELS[kind]:
        assert f"<h2>{title}</h2>" in html
    assert "Print test label" in html and "Recent events" in html
    assert "station.js" in html and "station.css" in html
    client.post("/language", data={"csrf_token": csrf_token(client, "/"), "language": "ru"})
    html = client.get(f"/stations/{kind.upper()}-1").get_data(as_text=True)
    assert '<html lang="ru">' in html
    assert f"<h2>{PANELS_RU[kind]}</h2>" in html and "Последние события" in html
    texts = json.loads(re.search(r"data-texts='([^']+)'", html).group(1))
    # Plural forms by CLDR category for the script (cellwms.counted): 1, 2, 5 events.
    assert texts["agent_offline"]["one"] == "Агент станции: нет связи, ждёт {count} событие"
    assert texts["agent_offline"]["few"] == "Агент станции: нет связи, ждут {count} события"
    assert texts["agent_offline"]["many"] == "Агент станции: нет связи, ждут {count} событий"
    assert texts["devices"]["scale"] == "Весы" and texts["states"]["up"] == "работает"
    assert texts["jobs"]["print"] == "Печать" and texts["templates"]["sku-sticker"] == "стикер товара"


def test_screen_shows_the_last_prompt_the_worker_and_the_jobs(client, db, place):
    station = place["pack"]
    scenarios.handle_inputs(station, [scenarios.StationInput(
        event_id=str(uuid.uuid4()), kind="weight", payload={"value": 1.25, "unit": "kg", "net": True, "tare": None})])
    station_service.create_job(station, "beep", {"sound": "ok"})
    db.session.commit()
    sign_in_badge(client, "B-2002")
    token = csrf_token(client, "/stations/PACK-1")
    client.post("/stations/PACK-1/input", json={"kind": "button", "key": "sign_in"}, headers={"X-CSRFToken": token})
    client.post("/stations/PACK-1/input", json={"kind": "scan", "code": "WHAT-IS-THIS"}, headers={"X-CSRFToken": token})
    html = client.get("/stations/PACK-1").get_data(as_text=True)
    assert 'class="prompt sound-error"' in html and "WHAT-IS-THIS" in html
    assert '<strong id="worker">Pavel Orlov</strong>' in html
    assert '<p id="weight" class="weight" aria-live="polite">1.25 kg</p>' in html
    assert re.search(r'data-job-id="\d+".*Beep', html)


# --- input and jobs ------------------------------------------------------------------------


def test_a_scan_typed_into_the_page_is_stored_and_answered(client, db, place):
    sign_in_badge(client, "B-2002")
    post_json(client, "/stations/PACK-1/input", {"kind": "button", "key": "sign_in"}, "/stations/PACK-1")
    response = post_json(client, "/stations/PACK-1/input", {"kind": "scan", "code": "NO-SUCH-CODE\r\n"},
                         "/stations/PACK-1")
    assert response.status_code == 200, response.get_data(as_text=True)
    outcome = response.get_json()
    assert outcome["status"] == "stored"
    assert outcome["prompt"]["sound"] == "error" and "NO-SUCH-CODE" in outcome["prompt"]["message"]
    db.session.expire_all()
    event = db.session.query(StationEvent).filter_by(event_id=outcome["event_id"]).one()
    assert event.station_id == place["pack"].id and event.source == "page" and event.kind == "scan"
    assert base64.b64decode(event.payload["raw_b64"]) == b"NO-SUCH-CODE"
    assert event.outcome == outcome["prompt"]


def test_input_errors_are_problems(client, place):
    sign_in_badge(client, "B-2002")
    for body in ({"kind": "scan", "code": "  "}, {"kind": "shout"}, {"kind": "scan", "code": "x" * 600}):
        response = post_json(client, "/stations/PACK-1/input", body, "/stations/PACK-1")
        assert response.status_code == 422
        assert response.content_type == "application/problem+json"
        assert response.get_json()["title"]


def test_csrf_is_required(client, db, place):
    sign_in_badge(client, "B-2002")
    for path, body in (("/stations/PACK-1/input", {"kind": "scan", "code": "X"}),
                       ("/stations/PACK-1/jobs", {"button": "beep"})):
        response = client.post(path, json=body)
        assert response.status_code == 400
        assert response.content_type == "application/problem+json"
        assert response.get_json()["type"] == "urn:cellwms:problem:csrf"
    assert db.session.query(StationEvent).count() == 0
    assert db.session.query(StationJob).count() == 0


def test_job_buttons_queue_jobs(client, db, place):
    sign_in_badge(client, "B-2002")
    response = post_json(client, "/stations/PACK-1/jobs", {"button": "print_test"}, "/stations/PACK-1")
    assert response.status_code == 201
    job = response.get_json()
    assert job["kind"] == "print" and job["state"] == "queued"
    assert job["payload"]["template"] == "shipping-label" and job["payload"]["data"]["carrier"] == "СДЭК"
    for button in ("photo", "read_weight", "beep"):
        assert post_json(client, "/stations/PACK-1/jobs", {"button": button}, "/stations/PACK-1").status_code == 201
    db.session.expire_all()
    jobs = db.session.query(StationJob).order_by(StationJob.id).all()
    assert [j.kind for j in jobs] == ["print", "photo", "read_weight", "beep"]
    assert all(j.station_id == place["pack"].id and j.created_by_user_id is not None for j in jobs)
    response = post_json(client, "/stations/PACK-1/jobs", {"button": "self_destruct"}, "/stations/PACK-1")
    assert response.status_code == 422 and response.content_type == "application/problem+json"


def test_a_label_that_did_not_print_is_printed_again_once(client, db, place):
    station = place["pack"]
    label = {"template": "shipping-label", "data": {"tracking": "RA000000001RU"}}
    failed = station_service.create_job(station, "print", label, device="label_printer")
    printed = station_service.create_job(station, "print", {"template": "packing-slip", "data": {}},
                                         device="receipt_printer")
    other = station_service.create_job(place["dock"], "print", label, device="label_printer")
    for job, result in ((failed, "paper_out"), (printed, "printed"), (other, "failed")):
        job.state, job.result = ("done" if result == "printed" else "failed"), result
    db.session.commit()
    ids = {"failed": failed.id, "printed": printed.id, "other": other.id}
    sign_in_badge(client, "B-2002")

    def reprint(job_id):
        return post_json(client, "/stations/PACK-1/jobs", {"button": "reprint", "job_id": job_id}, "/stations/PACK-1")

    response = reprint(ids["failed"])
    assert response.status_code == 201, response.get_json()
    again = response.get_json()
    assert (again["kind"], again["state"], again["device"], again["payload"]) == ("print", "queued",
                                                                                  "label_printer", label)
    for job_id, status, slug in ((ids["failed"], 409, "job-reprinted"), (ids["printed"], 409, "job-not-failed"),
                                 (ids["other"], 404, "job-not-found"), (10**30, 422, "bad-job"),
                                 ("1", 422, "bad-job"), (True, 422, "bad-job")):
        answer = reprint(job_id)
        assert (answer.status_code, answer.get_json()["type"].rsplit(":", 1)[-1]) == (status, slug), job_id
    db.session.expire_all()
    assert db.session.get(StationJob, ids["failed"]).detail["reprinted_by"] == again["id"]
    assert db.session.query(StationJob).filter_by(kind="print").count() == 4


def test_sign_out_key(client, db, place):
    sign_in_badge(client, "B-2002")
    signed = post_json(client, "/stations/PACK-1/input", {"kind": "button", "key": "sign_in"}, "/stations/PACK-1")
    assert signed.get_json()["prompt"]["message"] == "Hello, Pavel Orlov"
    response = post_json(client, "/stations/PACK-1/input", {"kind": "button", "key": "sign_out"}, "/stations/PACK-1")
    assert response.get_json()["prompt"]["message"] == "Signed out: Pavel Orlov"
    assert response.get_json()["prompt"]["user"] is None


# --- live stream ---------------------------------------------------------------------------


def test_stream_sends_new_prompts_jobs_and_health(app, client, db, place):
    station = place["pack"]
    first = scenarios.handle_inputs(station, [scenarios.StationInput(
        event_id=str(uuid.uuid4()), kind="scan", payload={"raw_b64": base64.b64encode(b"OLD").decode()})])
    db.session.commit()
    old_id = db.session.query(StationEvent).filter_by(event_id=first[0]["event_id"]).one().id
    sign_in_badge(client, "B-2002")
    # An agent's event and a job arrive after the page was drawn (committed: any worker sees them).
    scenarios.handle_inputs(station, [scenarios.StationInput(
        event_id="agent-scan-1", kind="scan", payload={"raw_b64": base64.b64encode(b"NEW-CODE").decode()})])
    station_service.create_job(station, "beep", {"sound": "ok"})
    db.session.commit()
    new_id = db.session.query(StationEvent).filter_by(event_id="agent-scan-1").one().id
    db.session.commit()

    response = client.get("/stations/PACK-1/stream", headers={"Last-Event-ID": str(old_id)}, buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    text = read_stream(response, "event: health")
    assert text.startswith("retry: ")
    messages = sse_messages(text)
    prompts = [m for m in messages if m["event"] == "prompt"]
    assert [m["id"] for m in prompts] == [str(new_id)]  # only what came after Last-Event-ID
    assert prompts[0]["data"]["event_id"] == "agent-scan-1"
    assert "NEW-CODE" in prompts[0]["data"]["prompt"]["message"]
    jobs = [m["data"] for m in messages if m["event"] == "job"]
    assert [(j["kind"], j["state"]) for j in jobs] == [("beep", "queued")]
    health = [m["data"] for m in messages if m["event"] == "health"]
    assert health[0]["state"] == "offline"

    # `after` in the URL is the start when the browser has no Last-Event-ID yet.
    text = read_stream(client.get(f"/stations/PACK-1/stream?after={new_id}", buffered=False), "event: health")
    assert not [m for m in sse_messages(text) if m["event"] == "prompt"]


def test_stream_sees_rows_written_while_it_runs(app, client, db, place):
    station = place["pack"]
    sign_in_badge(client, "B-2002")
    db.session.commit()
    response = client.get("/stations/PACK-1/stream?after=0", buffered=False)
    chunks = (c.decode() if isinstance(c, bytes) else c for c in response.response)
    seen = ""
    while "event: health" not in seen:
        seen += next(chunks)
    # Written after the stream's first poll: the next poll's new transaction sees it.
    scenarios.handle_inputs(station, [scenarios.StationInput(
        event_id="agent-scan-2", kind="scan", payload={"raw_b64": base64.b64encode(b"LATER").decode()})])
    db.session.commit()
    for chunk in chunks:
        seen += chunk
        if "event: prompt" in seen or len(seen) > 64_000:
            break
    response.close()
    assert "agent-scan-2" in seen


def test_stream_ends_after_its_lifetime_and_keeps_alive(app, client, place):
    app.config.update(CELLWMS_STREAM_SECONDS=0.5, CELLWMS_STREAM_KEEPALIVE_SECONDS=0.2,
                      CELLWMS_STREAM_POLL_SECONDS=0.05)
    sign_in_badge(client, "B-2002")
    response = client.get("/stations/PACK-1/stream", buffered=False)
    text = "".join(c.decode() if isinstance(c, bytes) else c for c in response.response)  # ends by itself
    response.close()
    assert ": keep-alive" in text and "event: health" in text


def test_russian_station_screen_has_no_english_words_of_its_own(client, db, place):
    """Device names and states, job lines and event kinds in Russian (prompts are the scenarios' words)."""
    station = place["pack"]
    station_service.record_heartbeat(station, {"devices": {
        "scale": {"kind": "scale", "state": "up"}, "label_printer": {"kind": "printer", "state": "degraded"},
        "overhead": {"kind": "camera", "state": "down"}}, "outbox": {"waiting": 0}})
    station_service.create_job(station, "print", {"template": "shipping-label", "data": {}, "copies": 1})
    stuck = station_service.create_job(station, "print", {"template": "sku-sticker", "data": {}, "copies": 1})
    stuck.state, stuck.result = "failed", "paper_out"
    station_service.create_job(station, "beep", {"sound": "ok"})
    db.session.commit()
    sign_in_password(client, "olga", "s3cret-pass")
    client.post("/language", data={"csrf_token": csrf_token(client, "/"), "language": "ru"})
    html = client.get("/stations/PACK-1").get_data(as_text=True)
    main = html[html.index("<main>"):html.index("</main>")]
    main = re.sub(r"<script.*?</script>|<section id=\"prompt\".*?</section>", "", main, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", main)
    english = set(re.findall(r"\b[A-Za-z]{2,}\b", text)) - {"PACK", "PIN"}  # PIN: as Russian screens write it (PIN-код)
    assert not english, english
    assert "Весы работает" in " ".join(text.split()) and "Печать транспортная этикетка" in text
    assert "нет бумаги" in text
