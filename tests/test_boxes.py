"""Box types (API, suggestion) and item weights learned from accepted parcels."""

import pytest

from server.models import AuditEntry, BoxType, Order, OrderLine, Parcel, ParcelItem, Sku
from server.services.boxes import apply_weight, suggest_box, units_of, weight_suggestions
from server.services.errors import DomainError
from tests import factories as f

API = "/api/v1"


@pytest.fixture
def sup(db):
    return f.token_for(f.user("sup", roles=("supervisor",)))


@pytest.fixture
def packer(db):
    return f.token_for(f.user("pack", roles=("packer",)))


def _box(wh, code, length, width, height, price=None, weight_g=100, active=True):
    from server.extensions import db as _db

    box = BoxType(warehouse_id=wh.id, code=code, name=code, inner_length_mm=length, inner_width_mm=width,
                  inner_height_mm=height, weight_g=weight_g, price=price, active=active)
    _db.session.add(box)
    _db.session.flush()
    return box


def test_box_types_round_trip(client, db, sup, packer):
    wh = f.warehouse()
    db.session.commit()
    body = {"warehouse_id": wh.id, "code": "M", "name": "Коробка M", "inner_length_mm": 300, "inner_width_mm": 200,
            "inner_height_mm": 150, "weight_g": 180, "price": "25.50"}
    r = client.post(f"{API}/box-types", json=body, headers=sup)
    assert r.status_code == 201, r.get_json()
    box = r.get_json()
    assert box["price"] == "25.50" and box["active"] is True and box["name"] == "Коробка M"
    assert client.post(f"{API}/box-types", json=body, headers=sup).status_code == 409
    assert client.post(f"{API}/box-types", json=body, headers=packer).status_code == 403
    assert client.get(f"{API}/box-types?warehouse_id={wh.id}", headers=packer).get_json() == [box]
    r = client.patch(f"{API}/box-types/{box['id']}", json={"inner_height_mm": 160, "price": None}, headers=sup)
    assert r.status_code == 200 and r.get_json()["inner_height_mm"] == 160 and r.get_json()["price"] is None
    assert client.patch(f"{API}/box-types/{box['id']}", json={"weight_g": 1}, headers=packer).status_code == 403
    r = client.post(f"{API}/box-types/{box['id']}/deactivate", headers=sup)
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert client.get(f"{API}/box-types?active=true", headers=packer).get_json() == []
    assert db.session.get(BoxType, box["id"]).active is False


def _audit(db, action):
    return [(e.actor, e.target, e.detail) for e in
            db.session.query(AuditEntry).filter_by(action=action).order_by(AuditEntry.id)]


def test_box_type_api_writes_are_audited(client, db, sup, packer):
    wh = f.warehouse()
    db.session.commit()
    body = {"warehouse_id": wh.id, "code": "M", "name": "M", "inner_length_mm": 300, "inner_width_mm": 200,
            "inner_height_mm": 150, "weight_g": 180, "price": "25.50"}
    box_id = client.post(f"{API}/box-types", json=body, headers=sup).get_json()["id"]
    ((actor, target, detail),) = _audit(db, "box_type.create")
    assert (actor, target, detail["via"]) == ("sup", "W1/M", "api")
    assert detail["after"] == {"code": "M", "name": "M", "inner_length_mm": 300, "inner_width_mm": 200,
                               "inner_height_mm": 150, "weight_g": 180, "price": "25.50", "active": True}
    r = client.patch(f"{API}/box-types/{box_id}", json={"inner_height_mm": 160, "price": None, "name": "M"},
                     headers=sup)
    assert r.status_code == 200
    ((actor, target, detail),) = _audit(db, "box_type.change")
    assert (detail["before"], detail["after"]) == ({"inner_height_mm": 150, "price": "25.50"},
                                                   {"inner_height_mm": 160, "price": None})
    client.patch(f"{API}/box-types/{box_id}", json={"weight_g": 180}, headers=sup)  # changes nothing
    client.patch(f"{API}/box-types/{box_id}", json={"weight_g": 1}, headers=packer)  # refused
    assert len(_audit(db, "box_type.change")) == 1
    client.post(f"{API}/box-types/{box_id}/deactivate", headers=sup)
    client.post(f"{API}/box-types/{box_id}/deactivate", headers=sup)  # already inactive
    assert [d for _a, _t, d in _audit(db, "box_type.deactivate")] == [
        {"before": {"active": True}, "after": {"active": False}, "via": "api"}]
    assert client.post(f"{API}/box-types", json=body, headers=sup).status_code == 409  # refused: not audited
    assert len(_audit(db, "box_type.create")) == 1


@pytest.mark.parametrize("field,value", [
    ("inner_length_mm", 0), ("inner_width_mm", 5001), ("inner_height_mm", -1), ("weight_g", 100_001),
    ("weight_g", -1), ("price", "1000000000.01"), ("price", "-1"), ("price", "NaN"), ("code", ""),
    ("name", "x" * 201), ("warehouse_id", 2 ** 40),
])
def test_box_type_bounds(client, db, sup, field, value):
    wh = f.warehouse()
    db.session.commit()
    body = {"warehouse_id": wh.id, "code": "S", "inner_length_mm": 200, "inner_width_mm": 150,
            "inner_height_mm": 100, field: value}
    r = client.post(f"{API}/box-types", json=body, headers=sup)
    assert r.status_code == 422, r.get_json()
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert db.session.query(BoxType).count() == 0


def test_unknown_warehouse_and_box(client, db, sup):
    body = {"warehouse_id": 4242, "code": "S", "inner_length_mm": 1, "inner_width_mm": 1, "inner_height_mm": 1}
    assert client.post(f"{API}/box-types", json=body, headers=sup).status_code == 422
    assert client.get(f"{API}/box-types/4242", headers=sup).status_code == 404


def test_suggest_box(db):
    wh, other = f.warehouse(), f.warehouse("W2")
    _box(wh, "S", 200, 150, 100, price=10)
    _box(wh, "S2", 100, 150, 200, price=8)  # the same box turned, cheaper
    medium = _box(wh, "M", 300, 200, 150, price=20)
    _box(wh, "L-OFF", 400, 300, 200, active=False)
    large = _box(wh, "L", 600, 400, 300)
    _box(other, "XS", 1000, 1000, 1000)
    assert suggest_box(wh.id, [(90, 140, 190, 1)]).code == "S2"  # turned to fit; the cheaper of equals
    assert suggest_box(wh.id, [(100, 100, 100, 3)]).code == "S2"
    assert suggest_box(wh.id, [(100, 100, 100, 4)]).id == medium.id  # 4 l do not fit 3 l
    assert suggest_box(wh.id, [(250, 10, 10, 1)]).id == medium.id  # too long for S
    assert suggest_box(wh.id, [(550, 50, 50, 1), (100, 100, 100, 2)]).id == large.id
    assert suggest_box(wh.id, [(700, 10, 10, 1)]) is None
    assert suggest_box(wh.id, []).code == "S2"
    kettle = f.sku("K", length_mm=250, width_mm=180, height_mm=140)
    assert suggest_box(wh.id, units_of([(kettle, 1), (kettle, 0)])).id == medium.id


def _parcels(db, wh, sku, weights, per_parcel=1, box=None, override=None):
    order = Order(warehouse_id=wh.id, number=f"SO-{db.session.query(Order).count() + 1}")
    order.lines = [OrderLine(line_no=1, sku_id=sku.id, quantity=per_parcel * len(weights))]
    db.session.add(order)
    db.session.flush()
    for i, weight in enumerate(weights):
        parcel = Parcel(order_id=order.id, code=f"{order.number}-{i}", weight_g=weight,
                        box_type_id=box.id if box else None, override_user_id=override)
        db.session.add(parcel)
        db.session.flush()
        for _ in range(per_parcel):
            db.session.add(ParcelItem(parcel_id=parcel.id, order_line_id=order.lines[0].id, sku_id=sku.id))
    db.session.flush()
    return order


def test_weight_suggestions(db):
    wh = f.warehouse()
    wh.pack_filler_g, wh.pack_tolerance_g, wh.pack_tolerance_pct = 20, 10, 5.0
    box = _box(wh, "M", 300, 200, 150, weight_g=180)
    tea = f.sku("TEA", weight_g=100)  # really 150 g
    mug = f.sku("MUG", weight_g=350)  # right
    few = f.sku("FEW", weight_g=10)  # wrong, but too few parcels
    # (weight - 180 box - 20 filler) / 2 units: 150, 151, 149, 150, 152, 148 and an outlier of 800 g.
    _parcels(db, wh, tea, [500, 502, 498, 500, 504, 496, 1800], per_parcel=2, box=box)
    boss = f.user("boss", ("supervisor",))
    _parcels(db, wh, tea, [5000] * 9, box=box, override=boss.id)  # overridden: not evidence
    _parcels(db, wh, mug, [552, 548, 550, 551, 549], box=box)
    _parcels(db, wh, few, [300, 300, 300], box=box)
    # A parcel with two SKUs says nothing about either.
    mixed = _parcels(db, wh, tea, [9000], box=box)
    db.session.add(ParcelItem(parcel_id=db.session.query(Parcel).filter_by(order_id=mixed.id).one().id,
                              order_line_id=mixed.lines[0].id, sku_id=mug.id))
    other = f.warehouse("W2")
    _parcels(db, other, tea, [100] * 9)
    db.session.commit()

    [found] = weight_suggestions(wh.id)
    assert (found.sku_code, found.weight_g, found.learned_g, found.evidence, found.dropped) == ("TEA", 100, 150, 6, 1)
    assert [s.sku_code for s in weight_suggestions(wh.id, min_parcels=3)] == ["FEW", "TEA"]
    assert weight_suggestions(wh.id, min_parcels=7) == []

    applied = apply_weight(boss, wh.id, tea.id)
    db.session.commit()
    assert applied.learned_g == 150 and db.session.get(Sku, tea.id).weight_g == 150
    entry = db.session.query(AuditEntry).filter_by(action="sku.weight").one()
    assert entry.target == "TEA" and entry.detail == {"before": 100, "after": 150, "evidence": 6}
    assert weight_suggestions(wh.id) == []
    with pytest.raises(DomainError) as error:
        apply_weight(boss, wh.id, tea.id)
    assert error.value.slug == "no-weight-suggestion"


def _signed_in(client, db, username, roles):
    from tests.test_pages import sign_in_password

    user = f.user(username, roles)
    user.set_password("pass-word-1")
    db.session.commit()
    assert sign_in_password(client, username, "pass-word-1").status_code == 302
    return user


def test_box_types_page(client, db):
    from tests.test_pages import post

    wh = f.warehouse()
    _box(wh, "S", 200, 150, 100, price=10)
    _signed_in(client, db, "boss", ("supervisor",))
    page = client.get("/admin/box-types")
    assert page.status_code == 200 and 'data-box="S"' in page.get_data(as_text=True)
    form = {"warehouse": str(wh.id), "code": "XL", "name": "Коробка XL", "length": "600", "width": "400",
            "height": "400", "weight": "650", "price": "95,50"}
    r = post(client, "/admin/box-types", form, token_from="/admin/box-types")
    assert r.status_code == 302
    box = db.session.query(BoxType).filter_by(code="XL").one()
    assert (box.name, box.inner_height_mm, box.weight_g, str(box.price)) == ("Коробка XL", 400, 650, "95.50")
    assert db.session.query(AuditEntry).filter_by(action="box_type.create").one().target == "W1/XL"
    for bad in ({"length": "0"}, {"width": "5001"}, {"price": "1e10"}, {"code": ""}, {"code": "XL"},
                {"weight": "-5"}, {"height": "²"}):
        r = post(client, "/admin/box-types", {**form, **bad}, token_from="/admin/box-types")
        assert 400 <= r.status_code < 500, bad
    assert db.session.query(BoxType).count() == 2
    r = post(client, f"/admin/box-types/{box.id}/active", {"active": "0"}, token_from="/admin/box-types")
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(BoxType, box.id).active is False
    (entry,) = db.session.query(AuditEntry).filter_by(action="box_type.deactivate").all()
    assert (entry.actor, entry.target, entry.detail) == ("boss", "W1/XL", {"before": {"active": True},
                                                                            "after": {"active": False}})


def test_box_types_page_is_read_only_for_admins_readers(client, db):
    wh = f.warehouse()
    _box(wh, "S", 200, 150, 100)
    _signed_in(client, db, "pick", ("picker",))
    assert client.get("/admin/box-types").status_code == 403
    assert client.get("/admin/item-weights").status_code == 403


def test_item_weights_page_applies(client, db):
    from tests.test_pages import post

    wh = f.warehouse()
    box = _box(wh, "M", 300, 200, 150, weight_g=200)
    tea = f.sku("TEA", "Чай «Байкал»", weight_g=100)
    _parcels(db, wh, tea, [350, 350, 352, 348, 350], box=box)
    _signed_in(client, db, "boss", ("supervisor",))
    page = client.get("/admin/item-weights").get_data(as_text=True)
    assert 'data-sku="TEA"' in page and "150" in page and "5 parcels" in page
    r = post(client, f"/admin/item-weights/{tea.id}?warehouse={wh.id}", {}, token_from="/admin/item-weights")
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Sku, tea.id).weight_g == 150
    entry = db.session.query(AuditEntry).filter_by(action="sku.weight").one()
    assert entry.actor == "boss" and entry.detail["after"] == 150
    r = post(client, f"/admin/item-weights/{tea.id}?warehouse={wh.id}", {}, token_from="/admin/item-weights")
    assert r.status_code == 409
    assert 'data-sku="TEA"' not in client.get("/admin/item-weights").get_data(as_text=True)


def test_demo_has_box_types(db):
    from datetime import date

    from server.services.demo import DemoSize, seed_demo

    seed_demo(DemoSize(blocks=2, aisles=3, bays=4, levels=2, skus=60, stocked_share=0.5), today=date(2025, 3, 1))
    boxes = db.session.query(BoxType).order_by(BoxType.id).all()
    assert [b.code for b in boxes] == ["S", "M", "L", "XL"] and boxes[0].name == "Коробка малая S"
    assert suggest_box(boxes[0].warehouse_id, [(250, 250, 150, 1)]).code == "L"
    seed_demo(DemoSize(blocks=2, aisles=3, bays=4, levels=2, skus=60, stocked_share=0.5))  # again: no second set
    assert db.session.query(BoxType).count() == 4
