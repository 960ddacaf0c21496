"""Cancelling a labelled parcel at its carrier (POST /api/v1/parcels/<id>/cancel, both databases):
the tracking number void and never given out again, the marking codes free, the packed order back
to packing and packed again in a new parcel at the station; refusals as problem+json; two cancels
at the same moment cancel once."""

import json

import pytest
from sqlalchemy import func, select

from server.extensions import db as _db
from server.models import AuditEntry, Order, OrderEvent, User
from server.models.shipping import MarkingCode, Parcel
from server.services import carriers
from server.services.errors import DomainError
from server.services.parcels import cancel_parcel
from tests import factories as f
from tests import test_packing
from tests.picking_helpers import IRON
from tests.test_concurrent_writes import at_once
from tests.test_packing import key, marking, scan, start, weigh

site = test_packing.site  # the packing tests' warehouse, orders 2001 and 2002 picked, PACK-1

API = "/api/v1"
KETTLES_AND_IRON = 2 * 1000 + 1200 + 300 + 20  # the site's order 2001 in box M with filler


@pytest.fixture
def boss(site):
    return f.token_for(_db.session.execute(select(User).where(User.username == "boss")).scalar_one())


def pack_2001(client, s, serials=("SER1", "SER2"), opened=False):
    if not opened:
        start(client, s)
    for serial in serials:
        assert scan(client, s.auth, marking(serial))["sound"] == "ok"
    assert scan(client, s.auth, IRON)["state"] == "weighing"
    p = weigh(client, s.auth, KETTLES_AND_IRON)
    assert p["state"] == "done", p
    return _db.session.execute(select(Parcel).where(Parcel.order_id == s.o1.id, Parcel.status == "packed")
                               ).scalar_one()


def cancel(client, headers, parcel_id, reason="wrong address on the label"):
    return client.post(f"{API}/parcels/{parcel_id}/cancel", json={"reason": reason}, headers=headers)


def test_cancel_and_pack_again(client, site, boss):
    s = site
    parcel = pack_2001(client, s)
    tracking, parcel_id = parcel.tracking_number, parcel.id
    assert _db.session.execute(select(func.count(MarkingCode.id))).scalar() == 2
    r = cancel(client, boss, parcel_id)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() | {"id": 0} == {"id": 0, "code": parcel.code, "status": "cancelled", "carrier": "local",
                                        "tracking_number": tracking, "seq": 1, "order_id": s.o1.id,
                                        "order_status": "packing"}
    _db.session.expire_all()
    assert _db.session.get(Parcel, parcel_id).status == "cancelled"
    assert carriers.is_void(tracking) and not carriers.is_void("LOC000000000")
    assert _db.session.execute(select(func.count(MarkingCode.id))).scalar() == 0
    assert _db.session.get(Order, s.o1.id).status == "packing"
    event = _db.session.execute(select(OrderEvent).where(OrderEvent.order_id == s.o1.id)
                                .order_by(OrderEvent.id.desc()).limit(1)).scalar_one()
    assert (event.kind, event.from_status, event.to_status, event.detail["reason"], event.detail["parcel"]) == (
        "order.packing", "packed", "packing", "parcel-cancelled", parcel.code)
    entry = _db.session.execute(select(AuditEntry).where(AuditEntry.action == "parcel.cancel")).scalar_one()
    assert (entry.actor, entry.target) == ("boss", parcel.code)
    assert entry.detail["reason"] == "wrong address on the label" and entry.detail["tracking_number"] == tracking
    assert entry.detail["before"] == {"status": "packed", "order_status": "packed"}
    assert entry.detail["after"] == {"status": "cancelled", "order_status": "packing"}
    assert len(entry.detail["marking_codes_freed"]) == 2
    # the pack station reopens the order and packs the same units, marking codes too, in a new parcel
    p = scan(client, s.auth, "2001")
    assert p["state"] == "verify", p
    assert [x["verified"] for x in p["screen"]["packing"]["lines"]] == [0, 0]
    again = pack_2001(client, s, opened=True)
    assert again.seq == 2 and again.id != parcel_id
    assert (json.loads(again.label)["parcel"], json.loads(again.label)["parcels"]) == (1, 1)
    assert again.tracking_number != tracking and not carriers.is_void(again.tracking_number)
    assert int(again.tracking_number[-9:-1]) > int(tracking[-9:-1])  # the counter never goes back
    assert _db.session.get(Order, s.o1.id).status == "packed"
    assert _db.session.execute(select(func.count(MarkingCode.id))).scalar() == 2


def test_cancel_one_parcel_of_two_keeps_the_order_packing(client, site, boss):
    s = site
    start(client, s)
    scan(client, s.auth, IRON)
    scan(client, s.auth, marking("SER9"))
    assert key(client, s.auth, "new_parcel")["state"] == "weighing"
    assert weigh(client, s.auth, 1000 + 1200 + 300 + 20)["state"] == "verify"
    first = _db.session.execute(select(Parcel).where(Parcel.status == "packed")).scalar_one()
    assert cancel(client, boss, first.id).get_json()["order_status"] == "packing"
    p = scan(client, s.auth, IRON)  # the open session takes the cancelled parcel's units again
    assert p["state"] == "verify", p
    assert [x["verified"] for x in p["screen"]["packing"]["lines"]] == [0, 1]


def test_refusals(client, site, boss):
    s = site
    packer = f.token_for(_db.session.execute(select(User).where(User.username == "anna")).scalar_one())
    r = cancel(client, boss, 4242)
    assert (r.status_code, r.get_json()["type"].rsplit(":", 1)[-1]) == (404, "unknown-parcel")
    assert r.headers["Content-Type"].startswith("application/problem+json")
    parcel = pack_2001(client, s)
    assert cancel(client, packer, parcel.id).status_code == 403
    for bad in ({"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}, {}):
        r = client.post(f"{API}/parcels/{parcel.id}/cancel", json=bad, headers=boss)
        assert r.status_code == 422, (bad, r.get_json())
    _db.session.get(Order, s.o1.id).status = "handed_over"
    _db.session.commit()
    r = cancel(client, boss, parcel.id)
    assert (r.status_code, r.get_json()["type"].rsplit(":", 1)[-1]) == (409, "parcel-handed-over")
    _db.session.get(Order, s.o1.id).status = "packed"
    _db.session.commit()
    assert cancel(client, boss, parcel.id).status_code == 200
    r = cancel(client, boss, parcel.id)
    assert (r.status_code, r.get_json()["type"].rsplit(":", 1)[-1]) == (409, "parcel-cancelled")
    assert scan(client, s.auth, "TOTE-2")["state"] == "verify"  # the packer is still signed in
    scan(client, s.auth, IRON)  # a parcel being filled: no label yet
    open_parcel = _db.session.execute(select(Parcel).where(Parcel.order_id == s.o2.id)).scalar_one()
    r = cancel(client, boss, open_parcel.id)
    assert (r.status_code, r.get_json()["type"].rsplit(":", 1)[-1]) == (409, "parcel-not-labelled")
    assert _db.session.execute(select(func.count(AuditEntry.id)).where(AuditEntry.action == "parcel.cancel")
                               ).scalar() == 1


def test_two_cancels_at_the_same_moment_cancel_once(app, client, site):
    s = site
    parcel_id, tracking = (lambda p: (p.id, p.tracking_number))(pack_2001(client, s))
    boss_id = _db.session.execute(select(User.id).where(User.username == "boss")).scalar_one()
    order_id = s.o1.id
    _db.session.commit()
    _db.session.remove()

    def job(n):
        return cancel_parcel(parcel_id, f"cancel {n}", _db.session.get(User, boss_id)).status

    results = at_once(app, [job, job])
    assert sorted(str(value) for value, _error in results) == ["None", "cancelled"], results
    (error,) = [error for _value, error in results if error is not None]
    assert isinstance(error, DomainError) and error.slug == "parcel-cancelled"
    assert _db.session.execute(select(func.count(AuditEntry.id)).where(AuditEntry.action == "parcel.cancel")
                               ).scalar() == 1
    assert _db.session.execute(select(func.count(OrderEvent.id)).where(
        OrderEvent.order_id == order_id, OrderEvent.kind == "order.packing",
        OrderEvent.from_status == "packed")).scalar() == 1
    assert carriers.is_void(tracking)
