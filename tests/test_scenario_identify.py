"""The identify scenario (a station without a flow of its own) through the station API: badge
sign-in and sign-out, what a scanned code is, weights, prompts in the worker's language, and
device jobs a scenario queues showing in the prompt."""

import base64
import uuid

import pytest
from sqlalchemy import select

from server.models import ScanEvent, StationEvent, StationJob, StationSession
from server.scenarios import SCENARIOS, Prompt, Scenario
from tests import factories as f

EVENTS = "/api/v1/stations/me/events"


@pytest.fixture(autouse=True)
def no_dock_flow():
    """These tests are of `identify`: the dock's own flow (receiving) is put aside meanwhile."""
    before = dict(SCENARIOS)
    SCENARIOS.pop("dock", None)
    yield
    SCENARIOS.clear()
    SCENARIOS.update(before)


@pytest.fixture
def desk(db):
    wh, z, cells, sku = f.stocked_warehouse()
    station, auth = f.station(wh, code="DOCK-1", kind="dock")
    ivan = f.user("ivan", roles=("receiver",), badge="BADGE-1")
    ivan.full_name = "Ivan Petrov"
    olga = f.user("olga", roles=("receiver",), badge="BADGE-2")
    olga.full_name, olga.locale = "Ольга Смирнова", "ru"
    db.session.commit()
    return {"station": station, "auth": auth, "ivan": ivan, "olga": olga, "cells": cells, "sku": sku}


def send(client, desk, kind, payload):
    event = {"event_id": str(uuid.uuid4()), "kind": kind, "occurred_at": "2026-11-23T10:00:00+00:00",
             "device": "scanner", "payload": payload}
    r = client.post(EVENTS, json={"events": [event]}, headers=desk["auth"])
    assert r.status_code == 200, r.json
    (outcome,) = r.json["outcomes"]
    return outcome["prompt"], event["event_id"]


def scan(client, desk, code: str) -> dict:
    return send(client, desk, "scan", {"raw_b64": base64.b64encode(code.encode()).decode(), "symbology": ""})[0]


def row(db, event_id: str) -> StationEvent:
    return db.session.execute(select(StationEvent).where(StationEvent.event_id == event_id)).scalar_one()


def test_a_badge_signs_the_worker_in_and_the_same_badge_signs_out(client, db, desk):
    prompt = scan(client, desk, "BADGE-1")
    assert (prompt["message"], prompt["sound"], prompt["title"]) == ("Hello, Ivan Petrov", "ok", "Badge")
    assert prompt["scenario"] == "identify" and prompt["user"] == "Ivan Petrov"
    assert db.session.get(StationSession, desk["station"].id).user_id == desk["ivan"].id

    prompt, event_id = send(client, desk, "scan", {"raw_b64": base64.b64encode(b"S-01-01-1-1").decode()})
    assert prompt["user"] == "Ivan Petrov"
    assert row(db, event_id).user_id == desk["ivan"].id
    recorded = db.session.execute(select(ScanEvent).where(ScanEvent.event_id == event_id)).scalar_one()
    assert (recorded.station_id, recorded.user_id, recorded.kind) == (desk["station"].id, desk["ivan"].id, "cell")

    prompt = scan(client, desk, "BADGE-1")
    assert (prompt["message"], prompt["sound"], prompt["user"]) == ("Signed out: Ivan Petrov", "ok", None)
    prompt, event_id = send(client, desk, "scan", {"raw_b64": base64.b64encode(b"S-01-01-1-1").decode()})
    assert prompt["user"] is None and row(db, event_id).user_id is None


def test_another_badge_takes_over_the_station(client, db, desk):
    scan(client, desk, "BADGE-1")
    prompt = scan(client, desk, "BADGE-2")
    assert prompt["user"] == "Ольга Смирнова"
    assert db.session.get(StationSession, desk["station"].id).user_id == desk["olga"].id


def test_the_sign_out_key(client, db, desk):
    scan(client, desk, "BADGE-1")
    prompt, _ = send(client, desk, "button", {"key": "sign_out"})
    assert prompt["message"] == "Signed out: Ivan Petrov" and prompt["user"] is None
    prompt, _ = send(client, desk, "button", {"key": "print_sticker"})
    assert prompt["sound"] == "error" and prompt["message"] == "This key does nothing here."


def test_codes_are_named_and_unknown_ones_sound_an_error(client, db, desk):
    prompt = scan(client, desk, "S-01-02-1-1")
    assert (prompt["message"], prompt["sound"], prompt["title"]) == ("Cell S-01-02-1-1.", "ok", "cell")
    assert prompt["screen"]["scan"]["entity"]["id"] == desk["cells"][1].id
    prompt = scan(client, desk, "4601234567893")
    assert (prompt["message"], prompt["sound"]) == ("SKU SKU-1 Чайник электрический.", "ok")
    prompt = scan(client, desk, "NO-SUCH-THING")
    assert prompt["sound"] == "error" and prompt["title"] == "unknown"
    assert prompt["message"].startswith("Unknown code NO-SUCH-THING")


def test_a_weight_is_shown(client, db, desk):
    prompt, _ = send(client, desk, "weight", {"value": 1.25, "unit": "kg", "net": True, "tare": 0.1})
    assert (prompt["message"], prompt["sound"], prompt["title"]) == ("Weight: 1.25 kg", "none", "Scale")
    assert prompt["screen"]["weight"]["value"] == 1.25
    prompt, _ = send(client, desk, "weight", {"value": 250, "unit": "g", "net": False, "tare": None})
    assert prompt["message"] == "Weight: 250 g"


def test_a_weight_read_on_request_is_shown_and_a_print_is_quiet(client, db, desk):
    from server.services.stations import create_job

    read = create_job(desk["station"], "read_weight", {"timeout": 5})
    printing = create_job(desk["station"], "print", {"template": "sku-sticker", "data": {}})
    db.session.commit()
    weight = {"value": 0.85, "unit": "kg", "net": True, "tare": None}
    prompt, _ = send(client, desk, "job_result", {"job_id": read.id, "result": "done", "detail": "", "weight": weight})
    assert prompt["message"] == "Weight: 0.85 kg" and prompt["screen"]["weight"] == weight
    prompt, _ = send(client, desk, "job_result", {"job_id": printing.id, "result": "printed", "detail": ""})
    assert prompt is None
    db.session.expire_all()
    assert (db.session.get(StationJob, read.id).result, db.session.get(StationJob, printing.id).state) == ("done", "done")


def test_a_device_down_sounds_an_error(client, db, desk):
    prompt, _ = send(client, desk, "device_status", {"state": "down", "detail": "unplugged", "device_kind": "scale"})
    assert (prompt["message"], prompt["sound"]) == ("Scanner: unplugged", "error")  # the device by its name in the reader's language


def test_a_russian_worker_gets_russian_prompts(client, db, desk):
    prompt = scan(client, desk, "BADGE-2")
    assert prompt["message"] == "Здравствуйте, Ольга Смирнова"
    assert scan(client, desk, "S-01-01-1-1")["message"] == "Ячейка S-01-01-1-1."
    assert scan(client, desk, "4601234567893")["message"] == "Товар SKU-1 Чайник электрический."
    prompt, _ = send(client, desk, "weight", {"value": 2.5, "unit": "kg", "net": True, "tare": None})
    assert prompt["message"] == "Вес: 2.5 kg"
    prompt, _ = send(client, desk, "weight", {"value": "2.5", "unit": "kg", "net": True, "tare": None})
    assert prompt["message"].startswith("Ввод не принят: ")
    assert scan(client, desk, "BADGE-2")["message"] == "Смена завершена: Ольга Смирнова"
    # Nobody signed in: the request's language (English here).
    assert scan(client, desk, "S-01-01-1-1")["message"] == "Cell S-01-01-1-1."


class StickerDesk(Scenario):
    """A flow that prints a sticker on a key, as the receiving flow will."""

    name = "sticker-desk"

    def on_button(self, ctx, payload):
        if payload["key"] != "print_sticker":
            return super().on_button(ctx, payload)
        ctx.job("print", {"template": "sku-sticker", "data": {"code": "SKU-1"}, "copies": 1})
        return Prompt("Printing the sticker.", "ok", title="Sticker")


@pytest.fixture
def sticker_desk():
    before = dict(SCENARIOS)
    SCENARIOS["dock"] = StickerDesk()
    yield
    SCENARIOS.clear()
    SCENARIOS.update(before)


def test_a_job_queued_by_the_scenario_is_in_the_prompt_and_goes_to_the_agent(client, db, desk, sticker_desk):
    scan(client, desk, "BADGE-1")
    prompt, event_id = send(client, desk, "button", {"key": "print_sticker"})
    assert prompt["scenario"] == "sticker-desk" and prompt["message"] == "Printing the sticker."
    (job_id,) = prompt["jobs"]
    job = db.session.get(StationJob, job_id)
    assert (job.kind, job.state, job.created_by_event, job.created_by_user_id) == (
        "print", "queued", event_id, desk["ivan"].id)
    r = client.get("/api/v1/stations/me/jobs?wait=0", headers=desk["auth"])
    (sent,) = r.json["jobs"]
    assert sent["id"] == job_id and sent["payload"]["template"] == "sku-sticker"
    # The badge still works in a flow that did not change it.
    assert scan(client, desk, "BADGE-1")["message"] == "Signed out: Ivan Petrov"
