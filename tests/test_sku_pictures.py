"""SKU pictures: uploads checked by their bytes, replaced and removed with their files, served with
their type, in the SKU's JSON and on the pack station's lines (SQLite and PostgreSQL)."""

import io

import flask_migrate
import pytest
from PIL import Image
from sqlalchemy import inspect, select

from server.extensions import db as _db
from server.models import AuditEntry, SkuImage
from server.services import sku_pictures
from server.services.stations import media_dir
from tests import factories as f
from tests.assertions import assert_problem
from tests.test_packing import site, start  # noqa: F401 (the packing site fixture)
from tests.test_pages import csrf_token, sign_in_password

API = "/api/v1"


def picture(kind="JPEG", size=(40, 30), colour=(200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, kind)
    return out.getvalue()


def stored_files() -> list:
    folder = media_dir() / "skus"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def sup(db):
    return f.token_for(f.user("sup", roles=("supervisor",)))


@pytest.fixture
def sku(db):
    s = f.sku("KET-1", "Чайник")
    _db.session.commit()
    return s


def put(client, auth, sku_id, data, content_type="image/jpeg"):
    return client.put(f"{API}/skus/{sku_id}/picture", data=data, headers={**auth, "Content-Type": content_type})


def test_jpeg_accepted_served_and_in_the_json(client, sup, sku):
    data = picture()
    r = put(client, sup, sku.id, data)
    assert r.status_code == 200, r.json
    url = r.json["picture_url"]
    assert url.startswith(f"{API}/skus/{sku.id}/picture?v=")
    assert client.get(f"{API}/skus/{sku.id}", headers=sup).json["picture_url"] == url
    (listed,) = client.get(f"{API}/skus", headers=sup).json
    assert listed["picture_url"] == url
    served = client.get(url, headers=sup)
    assert served.status_code == 200
    assert served.mimetype == "image/jpeg" and served.data == data
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Disposition"].startswith("inline")
    image = _db.session.get(SkuImage, sku.id)
    assert (image.width, image.height, image.size) == (40, 30, len(data))
    assert len(stored_files()) == 1
    entry = _db.session.execute(select(AuditEntry).where(AuditEntry.action == "sku.picture")).scalar_one()
    assert entry.target == "KET-1" and entry.actor == "sup"


def test_a_packer_may_load_it_but_not_change_it(client, sup, sku):
    put(client, sup, sku.id, picture())
    packer = f.token_for(f.user("anna", roles=("packer",)))
    url = client.get(f"{API}/skus/{sku.id}", headers=sup).json["picture_url"]
    assert client.get(url, headers=packer).status_code == 200
    assert_problem(put(client, packer, sku.id, picture()), 403)
    assert_problem(client.delete(f"{API}/skus/{sku.id}/picture", headers=packer), 403)


def test_png_as_a_multipart_form_by_an_integration(client, sku):
    shop = f.token_for(f.user("shop", roles=("integration",)))
    data = picture("PNG")
    r = client.put(f"{API}/skus/{sku.id}/picture", headers=shop, content_type="multipart/form-data",
                   data={"file": (io.BytesIO(data), "чайник.png")})
    assert r.status_code == 200, r.json
    served = client.get(r.json["picture_url"], headers=shop)
    assert served.mimetype == "image/png" and served.data == data
    assert _db.session.get(SkuImage, sku.id).filename == "чайник.png"


@pytest.mark.parametrize("data, slug", [
    (b"hello, this is text\n" * 10, "picture-refused"),  # a text file named .jpg
    (picture("PNG")[:-40], "picture-refused"),  # a truncated PNG
    (picture("JPEG", (300, 300))[:400], "picture-refused"),  # a truncated JPEG
    (picture("GIF"), "picture-refused"),
    (b"", "picture-empty"),
])
def test_refused_by_their_bytes(client, sup, sku, data, slug):
    body = assert_problem(put(client, sup, sku.id, data), 422, slug)
    assert body["title"]
    assert _db.session.get(SkuImage, sku.id) is None
    assert stored_files() == []


def test_too_big_and_too_many_pixels(client, sup, sku, monkeypatch):
    assert_problem(put(client, sup, sku.id, b"\xff\xd8\xff" + b"\0" * sku_pictures.MAX_BYTES), 413,
                   "picture-too-large")
    monkeypatch.setattr(sku_pictures, "MAX_PIXELS", 100)
    body = assert_problem(put(client, sup, sku.id, picture(size=(20, 20))), 422, "picture-too-many-pixels")
    assert body["width"] == 20
    assert stored_files() == []


def test_replaced_then_deleted_with_its_file(client, sup, sku):
    first = put(client, sup, sku.id, picture()).json["picture_url"]
    (old_file,) = stored_files()
    second = put(client, sup, sku.id, picture("PNG", colour=(0, 90, 200))).json["picture_url"]
    assert second != first
    (new_file,) = stored_files()
    assert new_file != old_file and not old_file.exists()
    assert client.get(second, headers=sup).mimetype == "image/png"

    assert client.delete(f"{API}/skus/{sku.id}/picture", headers=sup).status_code == 204
    assert stored_files() == []
    assert client.get(f"{API}/skus/{sku.id}", headers=sup).json["picture_url"] is None
    assert_problem(client.get(f"{API}/skus/{sku.id}/picture", headers=sup), 404, "sku-picture-not-found")
    assert_problem(client.delete(f"{API}/skus/{sku.id}/picture", headers=sup), 404, "sku-picture-not-found")
    actions = _db.session.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars().all()
    assert actions == ["sku.picture", "sku.picture", "sku.picture.remove"]


def test_a_rolled_back_upload_leaves_no_file(app, sku):
    sku_pictures.set_picture(None, sku.id, picture())
    assert len(stored_files()) == 1
    _db.session.rollback()
    assert stored_files() == []


def test_no_such_sku(client, sup):
    assert_problem(put(client, sup, 999999, picture()), 404)


def test_the_pack_session_view_carries_it(client, site):  # noqa: F811 (the fixture)
    s = site
    sku_pictures.set_picture(None, s.kettle.id, picture())
    _db.session.commit()
    p = start(client, s)
    lines = {line["sku"]: line for line in p["screen"]["packing"]["lines"]}
    assert lines[s.kettle.code]["image"] == sku_pictures.picture_url(s.kettle)
    assert lines[s.kettle.code]["image"].startswith(f"{API}/skus/{s.kettle.id}/picture?v=")
    assert lines[s.iron.code]["image"] is None


def test_migration_down_and_up(app, db):
    flask_migrate.downgrade(revision="0013_carriers")
    assert "sku_images" not in inspect(_db.engine).get_table_names()
    flask_migrate.upgrade()
    assert "sku_images" in inspect(_db.engine).get_table_names()


# --- the admin SKU pages ---------------------------------------------------------------------


@pytest.fixture
def boss(client, sku):
    f.user("boss", ("supervisor",), password="boss-pass-1")
    _db.session.commit()
    assert sign_in_password(client, "boss", "boss-pass-1").status_code == 302
    return client


def test_the_admin_page_uploads_shows_and_removes_it(boss, sku):
    page = f"/admin/skus/{sku.id}"
    html = boss.get(page).get_data(as_text=True)
    assert 'id="upload-picture"' in html and 'enctype="multipart/form-data"' in html
    r = boss.post(f"{page}/picture", content_type="multipart/form-data",
                  data={"csrf_token": csrf_token(boss, page), "file": (io.BytesIO(picture()), "kettle.jpg")})
    assert r.status_code == 302
    url = sku_pictures.picture_url(_db.session.get(SkuImage, sku.id).sku)
    html = boss.get(page).get_data(as_text=True)
    assert f'src="{url.replace("&", "&amp;")}"' in html and 'alt="Чайник"' in html
    assert url.replace("&", "&amp;") in boss.get("/admin/skus?q=KET").get_data(as_text=True)
    assert boss.get(url).mimetype == "image/jpeg"  # a signed-in session loads it

    refused = boss.post(f"{page}/picture", content_type="multipart/form-data",
                        data={"csrf_token": csrf_token(boss, page), "file": (io.BytesIO(b"text"), "a.jpg")})
    assert refused.status_code == 422
    assert "JPEG, PNG or WebP" in refused.get_data(as_text=True)
    assert len(stored_files()) == 1

    no_token = boss.post(f"{page}/picture/remove", data={})
    assert no_token.status_code in (400, 403) and len(stored_files()) == 1
    assert boss.post(f"{page}/picture/remove", data={"csrf_token": csrf_token(boss, page)}).status_code == 302
    assert stored_files() == [] and _db.session.get(SkuImage, sku.id) is None
    actions = _db.session.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars().all()
    assert actions == ["sku.picture", "sku.picture.remove"]


def test_the_demo_gives_its_packing_skus_pictures(app, db):
    from datetime import date

    from server.models import Order, OrderLine
    from server.services.demo import seed_demo
    from tests.test_demo import SMALL

    seed_demo(SMALL, today=date(2025, 3, 1))
    _db.session.commit()
    at_packing = set(_db.session.execute(select(OrderLine.sku_id).join(Order).where(
        Order.status.in_(("picked", "packed")))).scalars())
    assert at_packing
    pictured = {i.sku_id: i for i in _db.session.execute(select(SkuImage)).scalars()}
    assert at_packing <= set(pictured)
    assert all(i.content_type == "image/jpeg" and (i.width, i.height) == (256, 256) for i in pictured.values())
    assert all(sku_pictures.path_of(i).exists() for i in pictured.values())
    seed_demo(SMALL, today=date(2025, 3, 2))  # a second start replaces none
    assert {i.sku_id: i.stored_name for i in _db.session.execute(select(SkuImage)).scalars()} == {
        k: v.stored_name for k, v in pictured.items()}


def test_the_admin_list_says_when_it_shows_only_the_first(boss, monkeypatch):
    from server.web import admin_catalog

    monkeypatch.setattr(admin_catalog, "LIST_LIMIT", 1)
    f.sku("KET-2", "Чайник 2")
    _db.session.commit()
    html = boss.get("/admin/skus").get_data(as_text=True)
    assert "Only the first 1 SKU is shown" in html and 'data-sku="KET-1"' in html and 'data-sku="KET-2"' not in html
    assert 'data-sku="KET-2"' in boss.get("/admin/skus?q=KET-2").get_data(as_text=True)
