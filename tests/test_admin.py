"""Admin pages and their services, on SQLite and PostgreSQL: users (badge, duplicate badge,
roles, PIN, password, deactivate), stations (token shown once, rotated: the old one refused by the
station API; deactivated), the layout (map, preview, refusal, apply), devices, and the audit log."""

import io
import re

import pytest
from sqlalchemy import select

from server.models import AuditEntry, Cell, Station, User
from server.services import accounts
from server.services.errors import DomainError
from server.services.layout import apply_layout, parse_spec
from server.services.stock import apply_movement
from tests import factories
from tests.assertions import count
from tests.test_layout import SPEC
from tests.test_pages import csrf_token, sign_in_password

HEARTBEAT = "/api/v1/stations/me/heartbeat"
LAYOUT_TOML = """
[warehouse]
code = "T1"
name = "Тестовый склад"
address_format = "{zone}-{aisle:02d}-{bay:02d}-{level}"

[geometry]
aisle_pitch_m = 2.5

[[zones]]
code = "A"
kind = "storage"

[[areas]]
zone = "A"
aisles = AISLES
bays = 4
levels = 2
"""


@pytest.fixture
def admin(db, client):
    factories.user("root", ("admin",), password="admin-pass-1")
    factories.warehouse()
    db.session.commit()
    sign_in_password(client, "root", "admin-pass-1")
    return client


def post(client, path, data, page="/admin/users", **kw):
    return client.post(path, data={"csrf_token": csrf_token(client, page), **data}, **kw)


def audit_actions(db) -> list[tuple[str, str, str]]:
    rows = db.session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
    return [(r.actor, r.action, r.target) for r in rows]


def message(response) -> str:
    found = re.search(r'<p class="msg msg-error" role="alert">([^<]*)</p>', response.get_data(as_text=True))
    return found.group(1) if found else ""


# --- users -----------------------------------------------------------------------------------


def test_create_a_user_with_a_badge_and_sign_in_by_it(admin, db, app):
    r = post(admin, "/admin/users", {"username": "ivan", "full_name": "Ivan Petrov", "roles": ["picker", "packer"],
                                     "badge": "B-1001", "pin": "", "password": ""})
    assert r.status_code == 302
    user = db.session.execute(select(User).filter_by(username="ivan")).scalar_one()
    assert (user.badge_code, user.roles, user.pin_hash) == ("B-1001", {"picker", "packer"}, None)
    assert "B-1001" in admin.get("/admin/users").get_data(as_text=True)
    assert audit_actions(db) == [("root", "user.create", "ivan")]
    other = app.test_client()
    assert other.post("/sign-in", data={"csrf_token": csrf_token(other), "badge": "B-1001"}).status_code == 302


def test_a_duplicate_badge_is_refused_and_nothing_is_written(admin, db):
    factories.user("ivan", ("picker",), badge="B-1001")
    db.session.commit()
    r = post(admin, "/admin/users", {"username": "petr", "roles": ["picker"], "badge": "B-1001"})
    assert r.status_code == 409 and "B-1001" in message(r)
    assert 'value="petr"' in r.get_data(as_text=True)  # the form keeps what was typed
    assert count(db, User) == 2 and audit_actions(db) == []


@pytest.mark.parametrize("data, status", [
    ({"username": "x", "roles": ["picker"]}, 422),  # neither badge nor password
    ({"username": "x", "roles": [], "badge": "B-9"}, 422),
    ({"username": "x", "roles": ["wizard"], "badge": "B-9"}, 422),
    ({"username": "x", "roles": ["admin"], "badge": "B-9"}, 422),  # a badge alone for an admin
    ({"username": "x", "roles": ["picker"], "badge": "B-9", "pin": "12"}, 422),
    ({"username": "x", "roles": ["supervisor"], "password": "short"}, 422),
    ({"username": "root", "roles": ["picker"], "badge": "B-9"}, 409),
    ({"username": "x" * 65, "roles": ["picker"], "badge": "B-9"}, 422),
    ({"username": "x\x00", "roles": ["picker"], "badge": "B-9"}, 422),
])
def test_bad_user_input_is_a_clear_4xx(admin, db, data, status):
    r = post(admin, "/admin/users", data)
    assert r.status_code == status and message(r)
    assert count(db, User) == 1 and audit_actions(db) == []


def test_edit_roles_reset_pin_and_password_deactivate(admin, db, app):
    user = factories.user("ivan", ("picker",), badge="B-1001")
    db.session.commit()
    page = f"/admin/users/{user.id}"
    assert post(admin, f"{page}/roles", {"roles": ["picker", "receiver"]}, page).status_code == 302
    assert post(admin, f"{page}/pin", {"pin": "4321"}, page).status_code == 302
    assert post(admin, f"{page}/password", {"password": "new-pass-123"}, page).status_code == 302
    assert post(admin, f"{page}/pin", {"pin": "abc"}, page).status_code == 422
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert user.roles == {"picker", "receiver"} and user.check_pin("4321") and user.check_password("new-pass-123")
    assert post(admin, f"{page}/active", {"active": "0"}, page).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).active is False
    other = app.test_client()
    assert other.post("/sign-in", data={"csrf_token": csrf_token(other), "badge": "B-1001"}).status_code == 401
    assert [a for _, a, _ in audit_actions(db)] == ["user.roles", "user.pin", "user.password", "user.deactivate"]


def test_the_last_admin_cannot_be_deactivated(admin, db):
    root = db.session.execute(select(User).filter_by(username="root")).scalar_one()
    page = f"/admin/users/{root.id}"
    r = post(admin, f"{page}/active", {"active": "0"}, page)
    assert r.status_code == 409 and message(r)
    r = post(admin, f"{page}/roles", {"roles": ["picker"]}, page)
    assert r.status_code == 409
    db.session.expire_all()
    assert db.session.get(User, root.id).active and audit_actions(db) == []


def test_forms_need_the_csrf_token_and_the_admin_role(admin, db, app):
    assert admin.post("/admin/users", data={"username": "x", "roles": ["picker"], "badge": "B-9"}).status_code == 400
    factories.user("olga", ("supervisor",), password="super-pass-1")
    factories.user("pete", ("picker",), badge="B-2")
    db.session.commit()
    supervisor = app.test_client()
    sign_in_password(supervisor, "olga", "super-pass-1")
    assert supervisor.get("/admin/users").status_code == 200  # supervisors read
    assert 'id="new-user"' not in supervisor.get("/admin/users").get_data(as_text=True)
    assert post(supervisor, "/admin/users", {"username": "x", "roles": ["picker"], "badge": "B-9"}).status_code == 403
    picker = app.test_client()
    picker.post("/sign-in", data={"csrf_token": csrf_token(picker), "badge": "B-2"})
    for path in ("/admin/users", "/admin/stations", "/admin/layout", "/admin/devices", "/admin/audit"):
        assert picker.get(path).status_code == 403
    assert count(db, User) == 3


def test_the_cli_creates_users_through_the_same_service(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["user", "create", "ivan", "--role", "picker", "--badge", "B-1"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(args=["user", "create", "petr", "--role", "picker", "--badge", "B-1"])
    assert again.exit_code != 0 and "B-1 belongs to another user" in again.output
    assert audit_actions(db) == [("", "user.create", "ivan")]


# --- stations --------------------------------------------------------------------------------


def _token(response) -> str:
    return re.search(r'<code id="token-value">([^<]+)</code>', response.get_data(as_text=True)).group(1)


def test_station_token_shown_once_rotated_and_the_old_one_refused(admin, db, client):
    wh = db.session.execute(select(factories.Warehouse)).scalar_one()
    r = post(admin, "/admin/stations", {"code": "DOCK-1", "kind": "dock", "name": "Dock 1", "warehouse": str(wh.id)},
             "/admin/stations")
    assert r.status_code == 201
    first = _token(r)
    assert first not in admin.get("/admin/stations").get_data(as_text=True)  # shown once
    station = db.session.execute(select(Station).filter_by(code="DOCK-1")).scalar_one()
    assert admin.post(HEARTBEAT, json={}, headers={"Authorization": f"Bearer {first}"}).status_code == 200

    r = post(admin, f"/admin/stations/{station.id}/token", {}, "/admin/stations")
    second = _token(r)
    assert second != first
    assert admin.post(HEARTBEAT, json={}, headers={"Authorization": f"Bearer {first}"}).status_code == 401
    assert admin.post(HEARTBEAT, json={}, headers={"Authorization": f"Bearer {second}"}).status_code == 200

    assert post(admin, f"/admin/stations/{station.id}/active", {"active": "0"}, "/admin/stations").status_code == 302
    assert admin.post(HEARTBEAT, json={}, headers={"Authorization": f"Bearer {second}"}).status_code == 401
    assert [a for _, a, _ in audit_actions(db)] == ["station.create", "station.rotate-token", "station.deactivate"]
    audit_page = admin.get("/admin/audit").get_data(as_text=True)
    assert "station token replaced" in audit_page and "DOCK-1" in audit_page and first not in audit_page


def test_a_duplicate_station_code_is_refused(admin, db):
    wh = db.session.execute(select(factories.Warehouse)).scalar_one()
    factories.station(wh, "DOCK-1")
    r = post(admin, "/admin/stations", {"code": "DOCK-1", "kind": "dock", "warehouse": str(wh.id)}, "/admin/stations")
    assert r.status_code == 409 and "DOCK-1" in message(r) and 'id="token-value"' not in r.get_data(as_text=True)
    r = post(admin, "/admin/stations", {"code": "D2", "kind": "forklift", "warehouse": str(wh.id)}, "/admin/stations")
    assert r.status_code == 422
    assert count(db, Station) == 1


def test_emulated_stations_are_labelled_wherever_stations_are_listed(admin, db, client):
    wh = db.session.execute(select(factories.Warehouse)).scalar_one()
    bot, _ = factories.station(wh, "DOCK-9")
    bot.emulated = True
    factories.station(wh, "DOCK-1")
    db.session.commit()

    def row(html, code):
        start = html.index(f'data-station="{code}"')
        return html[start:html.index("</tr>", start)]

    html = admin.get("/admin/stations").get_data(as_text=True)
    assert 'class="emulated"' in row(html, "DOCK-9") and ">emulated</span>" in row(html, "DOCK-9")
    assert 'class="emulated"' not in row(html, "DOCK-1")
    devices = admin.get("/admin/devices").get_data(as_text=True)
    assert re.search(r'<h2>DOCK-9 <span class="emulated"[^>]*>emulated</span>', devices)
    listed = admin.get("/api/v1/stations", headers=factories.token_for(
        db.session.execute(select(User).filter_by(username="root")).scalar_one())).json
    assert {s["code"]: s["emulated"] for s in listed} == {"DOCK-1": False, "DOCK-9": True}

    factories.user("sveta", ("supervisor",), password="boss-pass-1")
    db.session.commit()
    boss = client.application.test_client()
    sign_in_password(boss, "sveta", "boss-pass-1")
    health = boss.get("/api/v1/stations/health", headers=factories.token_for(
        db.session.execute(select(User).filter_by(username="sveta")).scalar_one())).json
    assert {h["code"]: h["emulated"] for h in health} == {"DOCK-1": False, "DOCK-9": True}
    screens = boss.get("/stations").get_data(as_text=True)
    tile = screens[screens.index('data-station="DOCK-9"'):]
    assert ">emulated</span>" in tile[:tile.index("</a>")]
    assert ">emulated</span>" not in screens[screens.index('data-station="DOCK-1"'):screens.index('data-station="DOCK-9"')]
    assert ">emulated</span></h1>" in boss.get("/stations/DOCK-9").get_data(as_text=True)
    post(boss, "/language", {"language": "ru"}, page="/")
    assert ">демо</span>" in boss.get("/stations").get_data(as_text=True)


def test_devices_page_lists_station_profiles_and_heartbeats(admin, db):
    wh = db.session.execute(select(factories.Warehouse)).scalar_one()
    _, auth = factories.station(wh, "dock-1")
    admin.post(HEARTBEAT, json={"devices": {"scanner": {"kind": "scanner", "state": "up", "detail": "",
                                                        "since": "2026-12-02T04:00:00+00:00"}}}, headers=auth)
    html = admin.get("/admin/devices").get_data(as_text=True)
    assert "zebra-zt411-300" in html and "ZT411" in html  # from firmware_profiles/stations/dock.toml
    assert "honeywell-voyager-1450g" in html and "working" in html


# --- the layout ------------------------------------------------------------------------------


def test_layout_page_shows_the_map_filled_by_stock_and_filtered_by_zone(admin, db):
    apply_layout(parse_spec(SPEC))
    db.session.commit()
    stocked = db.session.execute(select(Cell).filter_by(address="A-02-01-2")).scalar_one()
    apply_movement("receive", factories.sku().id, 5, to_cell_id=stocked.id, reason="opening stock")
    db.session.commit()
    wh = stocked.warehouse_id
    html = admin.get(f"/admin/layout?warehouse={wh}").get_data(as_text=True)
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="wh-map"' in html
    assert 'class="aisle-label"' in html and 'data-stocked="1"' in html
    assert "1 holds stock" in html
    filtered = admin.get(f"/admin/layout?warehouse={wh}&zone=A").get_data(as_text=True)
    assert 'option value="A" selected' in filtered


def _preview(client, text, upload=False):
    data = {"file": (io.BytesIO(text.encode()), "layout.toml")} if upload else {"text": text}
    return post(client, "/admin/layout/preview", data, "/admin/layout", content_type="multipart/form-data")


def test_layout_file_preview_then_apply(admin, db):
    r = _preview(admin, LAYOUT_TOML.replace("AISLES", "2"), upload=True)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Cells added: 32" in html and 'id="confirm"' in html
    assert count(db, Cell) == 0  # a preview writes nothing
    text = re.search(r'<textarea name="text" hidden>(.*?)</textarea>', html, re.S).group(1)
    r = post(admin, "/admin/layout/apply", {"text": text.replace("&#34;", '"').replace("&quot;", '"')},
             "/admin/layout")
    assert r.status_code == 302
    assert count(db, Cell) == 32
    assert audit_actions(db)[-1] == ("root", "layout.apply", "T1")

    smaller = LAYOUT_TOML.replace("AISLES", "1")
    html = _preview(admin, smaller).get_data(as_text=True)
    assert "Cells removed: 16" in html and "A-02-01-1" in html
    assert _preview(admin, LAYOUT_TOML.replace("AISLES", "2")).get_data(as_text=True).count("The file changes nothing")


def test_removing_a_cell_that_holds_stock_is_refused(admin, db):
    admin_post = post(admin, "/admin/layout/apply", {"text": LAYOUT_TOML.replace("AISLES", "2")}, "/admin/layout")
    assert admin_post.status_code == 302
    stocked = db.session.execute(select(Cell).filter_by(address="A-02-03-2")).scalar_one()
    apply_movement("receive", factories.sku().id, 3, to_cell_id=stocked.id, reason="opening stock")
    db.session.commit()
    smaller = LAYOUT_TOML.replace("AISLES", "1")
    r = _preview(admin, smaller)
    assert r.status_code == 409 and "A-02-03-2 (3)" in r.get_data(as_text=True)
    assert 'id="confirm"' not in r.get_data(as_text=True)
    r = post(admin, "/admin/layout/apply", {"text": smaller}, "/admin/layout")
    assert r.status_code == 409 and "A-02-03-2" in message(r)
    assert count(db, Cell) == 32 and [a for _, a, _ in audit_actions(db)] == ["layout.apply"]


@pytest.mark.parametrize("text, words", [
    ("not = [toml", "not valid TOML"),
    ('[warehouse]\ncode = "T1"\n', "warehouse.name: missing"),
    ("", "Choose a layout file"),
])
def test_a_bad_layout_file_names_its_faults_and_writes_nothing(admin, db, text, words):
    r = _preview(admin, text)
    assert r.status_code == 422 and words in r.get_data(as_text=True)
    r = post(admin, "/admin/layout/apply", {"text": text}, "/admin/layout")
    assert r.status_code == 422
    assert count(db, Cell) == 0 and audit_actions(db) == []


def test_services_refuse_before_writing(db):
    wh = factories.warehouse()
    factories.user("ivan", ("picker",), badge="B-1")
    with pytest.raises(DomainError) as refused:
        accounts.create_user("petr", ["picker"], badge="B-1")
    assert refused.value.slug == "duplicate-badge"
    station, token = accounts.create_station("PACK-1", "pack", wh)
    assert station.token_hash != token and len(token) > 30
    assert accounts.rotate_station_token(station) != token
