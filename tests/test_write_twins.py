"""Every write endpoint, twice at the same moment (issue 12).

Each write operation of the app (every POST/PUT/PATCH/DELETE rule in the url map: the API, the
page forms, the handheld and station inputs) has a case in CASES; `test_every_write_endpoint_has_a_twin_case`
fails for one without (a new endpoint adds its case here). A case builds valid input on a small
seeded warehouse. The test sends it twice one after the other (the reference: database state
after one and after two), then on a fresh copy of the same warehouse twice at the same moment, from
two threads on two connections behind a barrier, with identical headers and cookies. API cases run
with and without one Idempotency-Key; handheld and station inputs with and without one event_id.

Asserted per case: no 5xx; the twins answer what the two calls in turn answered (in some order);
the database ends exactly as after the two calls in turn (every table, ids by their order, times
and secrets left out); a refused API twin is 409/422 (404 for a DELETE) problem+json.
On PostgreSQL the twins really race (row locks decide). On SQLite every write transaction takes
the database's write lock (BEGIN IMMEDIATE), so the same cases run there with the twins in turn.
"""

import hashlib
import io
import json
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import current_app
from flask.testing import FlaskClient
from sqlalchemy import DateTime, select, text

from server.api.intake import signature
from server.extensions import db as _db
from server.models import Delivery, OrderSource, PutawayTask, ReceivingQuestion
from server.models.base import UtcDateTime
from server.services import orders
from server.services import receiving as rc
from server.services.putaway import create_putaway_tasks
from server.services.stations import open_upload
from server.services.stock import apply_movement
from tests import factories as f
from tests.conftest import FreshClient
from tests.putaway_helpers import putaway_warehouse
from tests.test_pages import csrf_token, sign_in_badge, sign_in_password

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
JOIN_TIMEOUT = 60  # seconds: a twin that hangs on a lock fails the case instead of blocking the run
WRITES = ("POST", "PUT", "PATCH", "DELETE")
# Columns whose value differs on every run (hashes with salts, made-up ids): compared as set / not set.
VOLATILE = {"token_hash", "password_hash", "pin_hash", "request_hash", "response_body", "event_id", "done_event_id",
            "created_by_event", "key", "seconds", "stored_name"}
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8 + b"\xff\xd9"
LAYOUT = """
[warehouse]
code = "T1"
name = "Тестовый склад"
address_format = "{zone}-{aisle:02d}-{bay:02d}-{level}"

[[zones]]
code = "A"
kind = "storage"

[[areas]]
zone = "A"
aisles = 1
bays = 2
levels = 1
"""
PASSWORDS = {"root": "admin-pass-1", "olga": "super-pass-1"}


@dataclass
class Call:
    """One request, as both twins send it. `who`: a bearer header dict, or how a page signs in:
    ("badge", code), ("password", username), ("pin", badge, pin) or ("anon",)."""

    method: str
    path: str
    who: object
    json: dict | None = None
    form: dict | None = None
    body: bytes | None = None
    headers: dict = field(default_factory=dict)
    csrf_from: str = "/"


# --- the warehouse ---------------------------------------------------------------------------------


def seed() -> SimpleNamespace:
    """A small warehouse, the same ids on every run: a receiving cell, a quarantine cell, two
    shelves of 10 units, a SKU, an admin and a supervisor (password), a receiver and a picker
    (badge), a dock station with its token."""
    wh, receiving, cells, quarantine = putaway_warehouse(aisles=1, slots=2)
    kettle = f.sku("KETTLE", "Чайник", barcode="4601234567893")
    users = {"root": f.user("root", ("admin",), password=PASSWORDS["root"]),
             "olga": f.user("olga", ("supervisor",), password=PASSWORDS["olga"]),
             "ivan": f.user("ivan", ("receiver",), badge="B-1"),
             "petr": f.user("petr", ("picker",), badge="B-2")}
    _db.session.commit()
    dock, dock_auth = f.station(wh, "DOCK-1", "dock")
    shelves = [cells["W1-S-01-01"], cells["W1-S-01-02"]]
    return SimpleNamespace(wh=wh, receiving=receiving, quarantine=quarantine, shelves=shelves, kettle=kettle,
                           users=users, dock=dock, dock_auth=dock_auth, storage_zone=shelves[0].zone_id)


def token(s, name: str) -> dict:
    return f.token_for(s.users[name])


def _delivery(s, number="D-1", quantity=5, *, opened=False, counted=0, closed=False) -> Delivery:
    delivery = rc.create_delivery(s.wh.id, number, "Supplier", "2026-11-24",
                                  [{"sku_id": s.kettle.id, "quantity": quantity}])
    if opened or counted or closed:
        rc.open_delivery(delivery, s.users["ivan"])
    if counted:
        rc.count(delivery, s.kettle, counted, user=s.users["ivan"], event_id=str(uuid.UUID(int=counted)))
    if closed:
        rc.close_delivery(delivery, s.users["ivan"])
    _db.session.commit()
    return delivery


def _question(s) -> ReceivingQuestion:
    delivery = _delivery(s, opened=True)
    question = rc.hold_unknown(delivery, "UNKNOWN-77", units=2, user=s.users["ivan"])
    _db.session.commit()
    return question


def _task(s, quantity=6) -> PutawayTask:
    delivery = _delivery(s, quantity=quantity, counted=quantity, closed=True)
    create_putaway_tasks(delivery)
    _db.session.commit()
    return _db.session.execute(select(PutawayTask).order_by(PutawayTask.id)).scalars().first()


def _box_type(s):
    from server.models import BoxType

    box = BoxType(warehouse_id=s.wh.id, code="M", name="Коробка M", inner_length_mm=300, inner_width_mm=200,
                  inner_height_mm=150, weight_g=180)
    _db.session.add(box)
    _db.session.commit()
    return box


def _learned_weight(s):
    """Five accepted one-SKU parcels of the kettle at 500 g a unit (its weight says 0 g)."""
    from server.models import Order, OrderLine, Parcel, ParcelItem

    order = Order(warehouse_id=s.wh.id, number="W-1", lines=[OrderLine(line_no=1, sku_id=s.kettle.id, quantity=5)])
    _db.session.add(order)
    _db.session.flush()
    for n in range(5):
        parcel = Parcel(order_id=order.id, code=f"W-1-{n}", weight_g=500)
        _db.session.add(parcel)
        _db.session.flush()
        _db.session.add(ParcelItem(parcel_id=parcel.id, order_line_id=order.lines[0].id, sku_id=s.kettle.id))
    _db.session.commit()
    return s.kettle


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


def _with_picture(s):
    from server.services.sku_pictures import set_picture

    set_picture(s.users["root"], s.kettle.id, _png(), "kettle.png")
    _db.session.commit()
    return s.kettle


def _picture_form(s, keyed):
    """The admin page's upload: a multipart body with the CSRF token as a header (the body is sent twice)."""
    boundary = "twin-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"k.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + _png() + f"\r\n--{boundary}--\r\n".encode()
    return Call("POST", f"/admin/skus/{s.kettle.id}/picture", ("password", "olga"), body=body,
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}, csrf_from=f"/admin/skus/{s.kettle.id}")


def _labelled_parcel(s) -> int:
    from server.models import Order, OrderLine, Parcel

    order = Order(warehouse_id=s.wh.id, number="P-1", status="packed", carrier="local",
                  lines=[OrderLine(line_no=1, sku_id=s.kettle.id, quantity=1)])
    _db.session.add(order)
    _db.session.flush()
    parcel = Parcel(order_id=order.id, code="P-1-1", seq=1, carrier="local", status="packed",
                    tracking_number="LOC000000001", weight_g=500)
    _db.session.add(parcel)
    _db.session.commit()
    return parcel.id


def _stock(s, cell, quantity):
    apply_movement("receive", s.kettle.id, quantity, to_cell_id=cell.id)
    _db.session.commit()


def _order(s, number="1001", *, needs_confirmation=False, stocked=True):
    if stocked:
        _stock(s, s.shelves[0], 6)
    order, _created = orders.create_order(s.wh.id, number, [{"sku": "KETTLE", "quantity": 2}],
                                          needs_confirmation=needs_confirmation)
    _db.session.commit()
    return order


def _intake(s, keyed):
    _stock(s, s.shelves[0], 3)
    _db.session.add(OrderSource(code="shop", warehouse_id=s.wh.id, secret="s3cret"))
    _db.session.commit()
    body = json.dumps({"number": "S-1", "lines": [{"sku": "KETTLE", "quantity": 1}]}).encode()
    timestamp = str(int(time.time()))
    return Call("POST", "/api/v1/intake/orders/shop", {}, body=body, headers={
        "Content-Type": "application/json", "X-Cellwms-Timestamp": timestamp,
        "X-Cellwms-Signature": signature("s3cret", timestamp, body)})


def _event_id(keyed: bool) -> dict:
    return {"event_id": "0d7c3a52-5b1e-4c39-9a55-3c2f6b1e7a10"} if keyed else {}

def _failed_delivery(s) -> int:
    """A webhook delivery that gave up (an order event for a subscription to "*"): replayable."""
    from server.models import WebhookDelivery, WebhookSubscription
    from server.services.orders import create_order

    _db.session.add(WebhookSubscription(url="http://127.0.0.1:9/hook", events=["*"], secret="whsec_twin-secret-0001"))
    _db.session.flush()
    create_order(s.wh.id, "1001", [{"sku": "KETTLE", "quantity": 1}], needs_confirmation=True)
    delivery = _db.session.execute(select(WebhookDelivery)).scalar_one()
    delivery.status, delivery.attempts = "failed", 8
    delivery.body = '{"event":"order.created"}'  # the real one holds the moment it was made
    _db.session.commit()
    return delivery.id


def _subscription(s) -> int:
    from server.models import WebhookSubscription

    subscription = WebhookSubscription(url="http://127.0.0.1:9/hook", events=["*"], secret="whsec_twin-secret-0001")
    _db.session.add(subscription)
    _db.session.commit()
    return subscription.id



# --- the cases: (method, rule) -> build(site, keyed) -> Call ------------------------------------------


def _media_upload(s, keyed):
    media, _created = open_upload(s.dock, hashlib.sha256(JPEG).hexdigest(), len(JPEG), "photo", "image/jpeg", "p.jpg")
    _db.session.commit()
    return Call("PATCH", f"/api/v1/stations/me/media/{media.id}", s.dock_auth, body=JPEG,
                headers={"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})


def _receiving_input(s, keyed):
    _delivery(s)
    return Call("POST", "/receiving/input", ("badge", "B-1"), json={"kind": "scan", "code": "4601234567893",
                                                                    **_event_id(keyed)},
                headers={"X-Before": "receiving-open"})


def _putaway_input(s, keyed):
    task = _task(s)
    shelf = next(c for c in s.shelves if c.id == task.suggested_cell_id)
    return Call("POST", "/putaway/input", ("badge", "B-1"), json={"kind": "scan", "code": shelf.barcode,
                                                                  **_event_id(keyed)},
                headers={"X-Before": f"putaway-take:{task.id}"})


def _picking_input(s, keyed):
    from tests.picking_helpers import batch, order

    _stock(s, s.shelves[0], 4)
    batch(s.wh, [order(s.wh, "1001", [(s.kettle, 2, [(s.shelves[0], 2, "", None)])])])
    _db.session.commit()
    return Call("POST", "/picking/input", ("badge", "B-2"), json={"kind": "scan", "code": "TOTE-0001",
                                                                  **_event_id(keyed)},
                headers={"X-Before": "picking-take"})


def _batch(s, keyed):
    return Call("POST", "/api/v1/stations/me/events", s.dock_auth, json={"events": [{
        "event_id": "5b0f7d0e-9c2a-4f7e-8a43-0a1b2c3d4e5f", "kind": "scan", "occurred_at": "2026-12-02T08:00:00+00:00",
        "device": "scanner", "payload": {"code": "B-1"}}]})


CASES = {
    # API: master data
    ("POST", "/api/v1/warehouses"): lambda s, k: Call("POST", "/api/v1/warehouses", token(s, "root"),
                                                      json={"code": "W2", "name": "Second"}),
    ("PATCH", "/api/v1/warehouses/<int:warehouse_id>"): lambda s, k: Call(
        "PATCH", f"/api/v1/warehouses/{s.wh.id}", token(s, "root"), json={"name": "Renamed"}),
    ("POST", "/api/v1/warehouses/<int:warehouse_id>/zones"): lambda s, k: Call(
        "POST", f"/api/v1/warehouses/{s.wh.id}/zones", token(s, "root"), json={"code": "Z", "name": "Z", "kind": "storage"}),
    ("PATCH", "/api/v1/zones/<int:zone_id>"): lambda s, k: Call(
        "PATCH", f"/api/v1/zones/{s.storage_zone}", token(s, "root"), json={"name": "Shelves"}),
    ("POST", "/api/v1/cells"): lambda s, k: Call("POST", "/api/v1/cells", token(s, "root"),
                                                 json={"zone_id": s.storage_zone, "address": "W1-S-09-09"}),
    ("PATCH", "/api/v1/cells/<int:cell_id>"): lambda s, k: Call(
        "PATCH", f"/api/v1/cells/{s.shelves[0].id}", token(s, "root"), json={"max_units": 20}),
    ("POST", "/api/v1/skus"): lambda s, k: Call("POST", "/api/v1/skus", token(s, "root"), json={
        "code": "IRON", "name": "Утюг", "barcodes": [{"barcode": "IRON-1", "kind": "internal"}]}),
    ("PATCH", "/api/v1/skus/<int:sku_id>"): lambda s, k: Call(
        "PATCH", f"/api/v1/skus/{s.kettle.id}", token(s, "root"), json={"name": "Чайник 2"}),
    ("POST", "/api/v1/skus/<int:sku_id>/barcodes"): lambda s, k: Call(
        "POST", f"/api/v1/skus/{s.kettle.id}/barcodes", token(s, "root"), json={"barcode": "K-2", "kind": "internal"}),
    ("DELETE", "/api/v1/skus/<int:sku_id>/barcodes/<path:barcode>"): lambda s, k: Call(
        "DELETE", f"/api/v1/skus/{s.kettle.id}/barcodes/4601234567893", token(s, "root")),
    # API: box types
    ("PUT", "/api/v1/skus/<int:sku_id>/picture"): lambda s, k: Call(
        "PUT", f"/api/v1/skus/{s.kettle.id}/picture", token(s, "root"), body=_png(),
        headers={"Content-Type": "image/png"}),
    ("DELETE", "/api/v1/skus/<int:sku_id>/picture"): lambda s, k: Call(
        "DELETE", f"/api/v1/skus/{_with_picture(s).id}/picture", token(s, "root")),
    ("POST", "/api/v1/parcels/<int:parcel_id>/cancel"): lambda s, k: Call(
        "POST", f"/api/v1/parcels/{_labelled_parcel(s)}/cancel", token(s, "olga"), json={"reason": "wrong address"}),
    ("POST", "/api/v1/box-types"): lambda s, k: Call("POST", "/api/v1/box-types", token(s, "olga"), json={
        "warehouse_id": s.wh.id, "code": "S", "name": "Коробка S", "inner_length_mm": 200, "inner_width_mm": 150,
        "inner_height_mm": 100, "weight_g": 90, "price": "18.00"}),
    ("PATCH", "/api/v1/box-types/<int:box_type_id>"): lambda s, k: Call(
        "PATCH", f"/api/v1/box-types/{_box_type(s).id}", token(s, "olga"), json={"inner_height_mm": 160}),
    ("POST", "/api/v1/box-types/<int:box_type_id>/deactivate"): lambda s, k: Call(
        "POST", f"/api/v1/box-types/{_box_type(s).id}/deactivate", token(s, "olga")),
    # API: people and stations
    ("POST", "/api/v1/users"): lambda s, k: Call("POST", "/api/v1/users", token(s, "root"), json={
        "username": "anna", "roles": ["picker"], "badge_code": "B-77"}),
    ("PATCH", "/api/v1/users/<int:user_id>"): lambda s, k: Call(
        "PATCH", f"/api/v1/users/{s.users['petr'].id}", token(s, "root"), json={"roles": ["picker", "packer"]}),
    ("POST", "/api/v1/stations"): lambda s, k: Call("POST", "/api/v1/stations", token(s, "root"), json={
        "code": "PACK-1", "kind": "pack", "warehouse_id": s.wh.id, "name": "Pack 1"}),
    ("PATCH", "/api/v1/stations/<int:station_id>"): lambda s, k: Call(
        "PATCH", f"/api/v1/stations/{s.dock.id}", token(s, "root"), json={"name": "Dock one"}),
    ("POST", "/api/v1/stations/<int:station_id>/deactivate"): lambda s, k: Call(
        "POST", f"/api/v1/stations/{s.dock.id}/deactivate", token(s, "root")),
    ("POST", "/api/v1/stations/<int:station_id>/token"): lambda s, k: Call(
        "POST", f"/api/v1/stations/{s.dock.id}/token", token(s, "root")),
    ("POST", "/api/v1/stations/<int:station_id>/jobs"): lambda s, k: Call(
        "POST", f"/api/v1/stations/{s.dock.id}/jobs", token(s, "olga"), json={"kind": "beep"}),
    # API: the station agent
    ("POST", "/api/v1/stations/me/events"): _batch,
    ("POST", "/api/v1/stations/me/heartbeat"): lambda s, k: Call(
        "POST", "/api/v1/stations/me/heartbeat", s.dock_auth, json={"devices": {"scanner": {"state": "up"}}}),
    ("POST", "/api/v1/stations/me/media"): lambda s, k: Call("POST", "/api/v1/stations/me/media", s.dock_auth, json={
        "sha256": hashlib.sha256(JPEG).hexdigest(), "size": len(JPEG), "kind": "photo", "content_type": "image/jpeg"}),
    ("PATCH", "/api/v1/stations/me/media/<bigint:media_id>"): _media_upload,
    # API: stock
    ("POST", "/api/v1/stock/reservations"): lambda s, k: (_stock(s, s.shelves[0], 6), Call(
        "POST", "/api/v1/stock/reservations", token(s, "olga"),
        json={"sku_id": s.kettle.id, "warehouse_id": s.wh.id, "quantity": 4}))[1],
    ("POST", "/api/v1/movements"): lambda s, k: (_stock(s, s.receiving, 12), Call(
        "POST", "/api/v1/movements", token(s, "olga"), json={
            "kind": "move", "sku_id": s.kettle.id, "quantity": 6, "from_cell_id": s.receiving.id,
            "to_cell_id": s.shelves[0].id}))[1],
    ("POST", "/api/v1/scan"): lambda s, k: Call("POST", "/api/v1/scan", token(s, "ivan"), json={"code": "W1-S-01-01"}),
    # API: receiving and putaway
    ("POST", "/api/v1/deliveries"): lambda s, k: Call("POST", "/api/v1/deliveries", token(s, "ivan"), json={
        "warehouse_id": s.wh.id, "number": "D-9", "lines": [{"sku_id": s.kettle.id, "quantity": 5}]}),
    ("POST", "/api/v1/deliveries/<int:delivery_id>/open"): lambda s, k: Call(
        "POST", f"/api/v1/deliveries/{_delivery(s).id}/open", token(s, "ivan")),
    ("POST", "/api/v1/deliveries/<int:delivery_id>/close"): lambda s, k: Call(
        "POST", f"/api/v1/deliveries/{_delivery(s, counted=4).id}/close", token(s, "ivan")),
    ("POST", "/api/v1/deliveries/<int:delivery_id>/accept"): lambda s, k: Call(
        "POST", f"/api/v1/deliveries/{_delivery(s, counted=4, closed=True).id}/accept", token(s, "olga")),
    ("POST", "/api/v1/receiving-questions/<int:question_id>/link"): lambda s, k: Call(
        "POST", f"/api/v1/receiving-questions/{_question(s).id}/link", token(s, "ivan"), json={"sku_id": s.kettle.id}),
    ("POST", "/api/v1/receiving-questions/<int:question_id>/create-sku"): lambda s, k: Call(
        "POST", f"/api/v1/receiving-questions/{_question(s).id}/create-sku", token(s, "ivan"),
        json={"code": "MUG", "name": "Кружка"}),
    ("POST", "/api/v1/putaway/tasks/<int:task_id>/confirm"): lambda s, k: (lambda t: Call(
        "POST", f"/api/v1/putaway/tasks/{t.id}/confirm", token(s, "ivan"), json={"cell_id": t.suggested_cell_id}))(
        _task(s)),
    ("POST", "/api/v1/putaway/tasks/<int:task_id>/assign"): lambda s, k: Call(
        "POST", f"/api/v1/putaway/tasks/{_task(s).id}/assign", token(s, "ivan"), json={}),
    # API: webhooks
    ("POST", "/api/v1/webhooks"): lambda s, k: Call("POST", "/api/v1/webhooks", token(s, "olga"), json={
        "url": "https://shop.example/hook", "events": ["*"], "secret": "whsec_twin-secret-0001"}),
    ("PATCH", "/api/v1/webhooks/<int:subscription_id>"): lambda s, k: Call(
        "PATCH", f"/api/v1/webhooks/{_subscription(s)}", token(s, "olga"), json={"events": ["order.created"]}),
    ("DELETE", "/api/v1/webhooks/<int:subscription_id>"): lambda s, k: Call(
        "DELETE", f"/api/v1/webhooks/{_subscription(s)}", token(s, "olga")),
    ("POST", "/api/v1/webhooks/deliveries/<int:delivery_id>/replay"): lambda s, k: Call(
        "POST", f"/api/v1/webhooks/deliveries/{_failed_delivery(s)}/replay", token(s, "olga")),
    # Pages: signing in and out
    ("POST", "/sign-in"): lambda s, k: Call("POST", "/sign-in", ("anon",), form={"badge": "B-1"}, csrf_from="/sign-in"),
    ("POST", "/sign-in/pin"): lambda s, k: (s.users["ivan"].set_pin("4321"), _db.session.commit(), Call(
        "POST", "/sign-in/pin", ("pin", "B-1"), form={"pin": "4321"}, csrf_from="/sign-in/pin"))[2],
    ("POST", "/sign-out"): lambda s, k: Call("POST", "/sign-out", ("badge", "B-1"), form={}),
    ("POST", "/language"): lambda s, k: Call("POST", "/language", ("badge", "B-1"), form={"language": "ru"}),
    # Pages: handheld receiving and putaway
    ("POST", "/receiving/input"): _receiving_input,
    ("POST", "/receiving/new"): lambda s, k: Call("POST", "/receiving/new", ("badge", "B-1"), form={
        "number": "D-7", "warehouse_id": str(s.wh.id), "lines": "KETTLE 5"}),
    ("POST", "/receiving/station"): lambda s, k: Call("POST", "/receiving/station", ("badge", "B-1"),
                                                      json={"station_id": s.dock.id}),
    ("POST", "/receiving/questions/<int:question_id>/link"): lambda s, k: Call(
        "POST", f"/receiving/questions/{_question(s).id}/link", ("badge", "B-1"), json={"sku_id": s.kettle.id}),
    ("POST", "/receiving/questions/<int:question_id>/create-sku"): lambda s, k: Call(
        "POST", f"/receiving/questions/{_question(s).id}/create-sku", ("badge", "B-1"),
        json={"code": "MUG", "name": "Кружка"}),
    ("POST", "/receiving/<int:delivery_id>/accept"): lambda s, k: Call(
        "POST", f"/receiving/{_delivery(s, counted=4, closed=True).id}/accept", ("password", "olga"), form={}),
    ("POST", "/putaway/input"): _putaway_input,
    ("POST", "/picking/input"): _picking_input,
    # Pages: station screens
    ("POST", "/stations/<code>/input"): lambda s, k: Call("POST", "/stations/DOCK-1/input", ("badge", "B-1"),
                                                          json={"kind": "scan", "code": "B-1", **_event_id(k)}),
    ("POST", "/stations/<code>/jobs"): lambda s, k: Call("POST", "/stations/DOCK-1/jobs", ("badge", "B-1"),
                                                         json={"button": "beep"}),
    # Pages: admin
    ("POST", "/admin/users"): lambda s, k: Call("POST", "/admin/users", ("password", "root"), form={
        "username": "anna", "full_name": "Anna", "roles": ["picker"], "badge": "B-77", "pin": "", "password": ""}),
    ("POST", "/admin/users/<int:user_id>/roles"): lambda s, k: Call(
        "POST", f"/admin/users/{s.users['petr'].id}/roles", ("password", "root"), form={"roles": ["picker", "packer"]}),
    ("POST", "/admin/users/<int:user_id>/badge"): lambda s, k: Call(
        "POST", f"/admin/users/{s.users['petr'].id}/badge", ("password", "root"), form={"badge": "B-55"}),
    ("POST", "/admin/users/<int:user_id>/pin"): lambda s, k: Call(
        "POST", f"/admin/users/{s.users['petr'].id}/pin", ("password", "root"), form={"pin": "4321"}),
    ("POST", "/admin/users/<int:user_id>/password"): lambda s, k: Call(
        "POST", f"/admin/users/{s.users['olga'].id}/password", ("password", "root"), form={"password": "new-pass-123"}),
    ("POST", "/admin/users/<int:user_id>/active"): lambda s, k: Call(
        "POST", f"/admin/users/{s.users['petr'].id}/active", ("password", "root"), form={"active": "0"}),
    ("POST", "/admin/stations"): lambda s, k: Call("POST", "/admin/stations", ("password", "root"), form={
        "code": "PACK-2", "kind": "pack", "name": "Pack 2", "warehouse": str(s.wh.id)}),
    ("POST", "/admin/stations/<int:station_id>/token"): lambda s, k: Call(
        "POST", f"/admin/stations/{s.dock.id}/token", ("password", "root"), form={}),
    ("POST", "/admin/stations/<int:station_id>/active"): lambda s, k: Call(
        "POST", f"/admin/stations/{s.dock.id}/active", ("password", "root"), form={"active": "0"}),
    ("POST", "/admin/skus/<int:sku_id>/picture"): _picture_form,
    ("POST", "/admin/skus/<int:sku_id>/picture/remove"): lambda s, k: Call(
        "POST", f"/admin/skus/{_with_picture(s).id}/picture/remove", ("password", "olga"), form={},
        csrf_from=f"/admin/skus/{s.kettle.id}"),
    ("POST", "/admin/box-types"): lambda s, k: Call("POST", "/admin/box-types", ("password", "olga"), form={
        "warehouse": str(s.wh.id), "code": "XL", "name": "Коробка XL", "length": "600", "width": "400",
        "height": "400", "weight": "650", "price": "64"}),
    ("POST", "/admin/box-types/<int:box_type_id>/active"): lambda s, k: Call(
        "POST", f"/admin/box-types/{_box_type(s).id}/active", ("password", "olga"), form={"active": "0"}),
    ("POST", "/admin/item-weights/<int:sku_id>"): lambda s, k: Call(
        "POST", f"/admin/item-weights/{_learned_weight(s).id}?warehouse={s.wh.id}", ("password", "olga"), form={}),
    ("POST", "/admin/layout/preview"): lambda s, k: Call("POST", "/admin/layout/preview", ("password", "root"),
                                                         form={"text": LAYOUT}),
    ("POST", "/admin/layout/apply"): lambda s, k: Call("POST", "/admin/layout/apply", ("password", "root"),
                                                       form={"text": LAYOUT}),
    # Pages: orders
    ("POST", "/orders/<int:order_id>/confirm"): lambda s, k: Call(
        "POST", f"/orders/{_order(s, needs_confirmation=True).id}/confirm", ("password", "olga"), form={}),
    ("POST", "/orders/<int:order_id>/no-answer"): lambda s, k: Call(
        "POST", f"/orders/{_order(s, needs_confirmation=True).id}/no-answer", ("password", "olga"),
        form={"retry_at": "2099-01-01T09:00"}),
    ("POST", "/orders/<int:order_id>/cancel"): lambda s, k: Call(
        "POST", f"/orders/{_order(s).id}/cancel", ("password", "olga"), form={"reason": "Передумал"}),
    ("POST", "/orders/<int:order_id>/reserve"): lambda s, k: (lambda o: (_stock(s, s.shelves[1], 2), Call(
        "POST", f"/orders/{o.id}/reserve", ("password", "olga"), form={}))[1])(_order(s, stocked=False)),
    ("POST", "/api/v1/orders"): lambda s, k: (_stock(s, s.shelves[0], 3), Call("POST", "/api/v1/orders", token(s, "olga"),
                                              json={"number": "1001", "lines": [{"sku": "KETTLE", "quantity": 2}]}))[1],
    ("POST", "/api/v1/orders/<int:order_id>/confirm"): lambda s, k: Call(
        "POST", f"/api/v1/orders/{_order(s, needs_confirmation=True).id}/confirm", token(s, "olga")),
    ("POST", "/api/v1/orders/<int:order_id>/no-answer"): lambda s, k: Call(
        "POST", f"/api/v1/orders/{_order(s, needs_confirmation=True).id}/no-answer", token(s, "olga"),
        json={"retry_at": "2099-01-01T09:00:00+00:00"}),
    ("POST", "/api/v1/orders/<int:order_id>/reserve"): lambda s, k: (lambda o: (_stock(s, s.shelves[1], 2), Call(
        "POST", f"/api/v1/orders/{o.id}/reserve", token(s, "olga")))[1])(_order(s, stocked=False)),
    ("POST", "/api/v1/intake/orders/<source_code>"): _intake,
    ("POST", "/api/v1/orders/<int:order_id>/cancel"): lambda s, k: Call(
        "POST", f"/api/v1/orders/{_order(s).id}/cancel", token(s, "olga"), json={"reason": "Передумал"}),
    ("POST", "/webhooks/deliveries/<int:delivery_id>/replay"): lambda s, k: Call(
        "POST", f"/webhooks/deliveries/{_failed_delivery(s)}/replay", ("password", "olga"), form={}),
    ("POST", "/api/v1/waves"): lambda s, k: (_order(s), Call("POST", "/api/v1/waves", token(s, "olga"), json={}))[1],
    ("POST", "/waves"): lambda s, k: (_order(s), Call("POST", "/waves", ("password", "olga"), form={},
                                                      csrf_from="/waves"))[1],
}
# Pages whose inputs carry the page's event_id: their keyed twins send one.
EVENT_ID_INPUTS = {("POST", "/receiving/input"), ("POST", "/putaway/input"), ("POST", "/stations/<code>/input"),
                   ("POST", "/picking/input")}


# Write endpoints that change no row, with where they are tested instead.
NO_ROWS = {
    ("POST", "/stations/<code>/demo-scale"): "demo only: a load typed into the scale emulator (tests/test_demo_scale.py)",
}


def write_operations(app) -> set[tuple[str, str]]:
    """Every (method, rule) of the app that writes, from its url map."""
    return {(method, rule.rule) for rule in app.url_map.iter_rules() for method in WRITES
            if method in (rule.methods or ())}


def _params():
    for method, rule in sorted(CASES):
        keyed = rule.startswith("/api/") or (method, rule) in EVENT_ID_INPUTS
        for key in ((False, True) if keyed else (False,)):
            yield pytest.param(method, rule, key, id=f"{method} {rule}{' keyed' if key else ''}")


def test_every_write_endpoint_has_a_twin_case(app):
    operations = write_operations(app)
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    api_operations = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops
                      if method.upper() in WRITES}
    assert len(api_operations) == sum(1 for _m, rule in operations if rule.startswith("/api/v1"))
    missing = sorted(operations - set(CASES) - set(NO_ROWS))
    assert missing == [], f"write endpoints without a twin case in tests/test_write_twins.py: {missing}"
    assert sorted(set(CASES) - operations) == [], "cases for endpoints that no longer exist"


# --- running twins -----------------------------------------------------------------------------------


def _prepare(app, build, keyed, api) -> tuple[Call, dict]:
    """Seed the warehouse, build the call and sign its page in: the headers both twins send."""
    s = seed()
    call = build(s, keyed)
    headers = {k: v for k, v in call.headers.items() if k != "X-Before"}
    if isinstance(call.who, dict):
        headers.update(call.who)
        if keyed and api:
            headers["Idempotency-Key"] = "twin-1"
    else:
        client = FreshClient(app, app.response_class, use_cookies=True)
        kind = call.who[0]
        if kind == "badge":
            assert sign_in_badge(client, call.who[1]).status_code == 302
        elif kind == "password":
            assert sign_in_password(client, call.who[1], PASSWORDS[call.who[1]]).status_code == 302
        elif kind == "pin":
            assert sign_in_badge(client, call.who[1]).headers["Location"].endswith("/sign-in/pin")
        _before(client, call.headers.get("X-Before", ""))
        token = csrf_token(client, call.csrf_from)
        if call.form is not None:
            call.form = {**call.form, "csrf_token": token}
        else:
            headers["X-CSRFToken"] = token
        cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
        headers["Cookie"] = f"{cookie.key}={cookie.value}"
    _db.session.commit()
    _db.session.remove()  # SQLite: no transaction of ours may hold the write lock while twins run
    return call, headers


def _before(client, step: str) -> None:
    """Bring the worker's handheld flow to where the twin input means something."""
    if not step:
        return
    token = csrf_token(client, "/")
    if step == "receiving-open":
        answer = client.post("/receiving/input", json={"kind": "scan", "code": "D-1"}, headers={"X-CSRFToken": token})
    elif step == "picking-take":
        answer = client.post("/picking/input", json={"kind": "button", "key": "take"}, headers={"X-CSRFToken": token})
    else:
        task_id = int(step.split(":")[1])
        answer = client.post("/putaway/input", json={"kind": "button", "key": "task", "task_id": task_id},
                             headers={"X-CSRFToken": token})
    assert answer.status_code == 200 and answer.get_json()["prompt"]["sound"] == "ok", answer.get_json()


def _send(app, call: Call, headers: dict):
    client = FlaskClient(app, app.response_class, use_cookies=False)
    kwargs = {"headers": headers}
    if call.json is not None:
        kwargs["json"] = call.json
    elif call.form is not None:
        kwargs["data"] = call.form
    elif call.body is not None:
        kwargs["data"] = call.body
    return client.open(call.path, method=call.method, **kwargs)


def _twins(app, call: Call, headers: dict, *, together: bool) -> list:
    """Send the call twice, each from its own thread (its own app context and connection): at the same
    moment behind a barrier, or one after the other. A raised error (a 500 in TESTING) is returned."""
    results: list = [None, None]
    start = threading.Barrier(2 if together else 1)

    def run(n):
        try:
            start.wait(timeout=JOIN_TIMEOUT)
            response = _send(app, call, headers)
            response.get_data()
            results[n] = response
        except BaseException as error:  # noqa: BLE001 - reported to the test
            results[n] = error

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(2)]
    for thread in threads:
        if not together:
            thread.start()
            thread.join(JOIN_TIMEOUT)
            assert not thread.is_alive(), f"{call.method} {call.path} hung"
    if together:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(JOIN_TIMEOUT)
            assert not thread.is_alive(), f"twins of {call.method} {call.path} hung"
    return results


def _answer(result) -> tuple:
    if isinstance(result, BaseException):
        return ("raised", type(result).__name__, str(result)[:300])
    return (result.status_code, result.headers.get("X-Idempotent-Replay"))


def snapshot() -> dict:
    """Every table's rows as comparable values: times left out, secrets and made-up ids as set or
    not, row ids (and the references to them) replaced by their rank in the table."""
    tables = _db.metadata.sorted_tables
    with _db.engine.connect() as conn:
        ranks = {}
        for table in tables:
            if "id" in table.c and table.c.id.primary_key:
                ids = conn.execute(select(table.c.id).order_by(table.c.id)).scalars()
                ranks[table.name] = {value: n for n, value in enumerate(ids, start=1)}
        state = {}
        for table in tables:
            columns = [c for c in table.columns if not isinstance(c.type, DateTime | UtcDateTime)]
            rows = []
            for row in conn.execute(select(*columns)):
                values = []
                for column, value in zip(columns, row, strict=True):
                    if column.name in VOLATILE:
                        value = value is not None
                    elif isinstance(value, dict | list):
                        value = _without_times(value)
                    elif column.primary_key and column.name == "id":
                        value = ranks[table.name][value]
                    elif column.foreign_keys and value is not None:
                        target = next(iter(column.foreign_keys)).column.table.name
                        value = ranks.get(target, {}).get(value, value)
                    values.append((column.name, value))
                rows.append(tuple(values))
            state[table.name] = sorted(rows, key=repr)
    return state


def _without_times(value):
    """A stored JSON document (a prompt, say) with the moments in it left out, as for columns."""
    if isinstance(value, dict):
        return {key: _without_times(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_times(item) for item in value]
    return "<time>" if isinstance(value, str) and TIMESTAMP.match(value) else value


def _wipe(request, backend: str) -> None:
    """Empty every table (ids start again at 1) and the media folder: a fresh warehouse."""
    _db.session.remove()
    if backend == "postgresql":
        tables = ", ".join(t.name for t in _db.metadata.sorted_tables)
        with _db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    else:  # movements refuse DELETE (a trigger): the migrated template again
        _db.engine.dispose()
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), _db.engine.url.database)
    shutil.rmtree(Path(current_app.config["MEDIA_DIR"]), ignore_errors=True)


def _differences(expected: dict, got: dict) -> dict:
    return {name: {"expected": rows, "got": got[name]} for name, rows in expected.items() if got[name] != rows}


@pytest.mark.parametrize("method, rule, keyed", list(_params()))
def test_twins_at_the_same_moment_are_what_the_two_in_turn_are(app, db, backend, request, method, rule, keyed):
    build, api = CASES[(method, rule)], rule.startswith("/api/")
    call, headers = _prepare(app, build, keyed, api)
    answers_in_turn = [_answer(r) for r in _twins(app, call, headers, together=False)]
    assert all(isinstance(a[0], int) and a[0] < 500 for a in answers_in_turn), answers_in_turn
    after_two = snapshot()

    _wipe(request, backend)
    call, headers = _prepare(app, build, keyed, api)
    together = _twins(app, call, headers, together=True)
    answers = [_answer(r) for r in together]
    assert all(isinstance(a[0], int) and a[0] < 500 for a in answers), answers
    assert sorted(answers, key=repr) == sorted(answers_in_turn, key=repr), (answers, answers_in_turn)
    assert _differences(after_two, snapshot()) == {}
    for response in together:
        if 400 <= response.status_code < 500 and (api or call.json is not None):
            allowed = (404, 409, 422) if method == "DELETE" else (409, 422)
            assert response.status_code in allowed and response.mimetype == "application/problem+json", (
                response.status_code, response.get_data(as_text=True)[:300])
