"""Pages: sign-in by badge, badge + PIN and password, sign-out, CSRF, the home page by role,
the language switch and the Russian catalog. Runs on SQLite and PostgreSQL (fixtures)."""

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Blueprint

from server.models import SignInFailure, User
from tests import factories

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "server/translations/ru/LC_MESSAGES/messages.po"
MO = ROOT / "server/translations/ru/LC_MESSAGES/messages.mo"


def csrf_token(client, path="/sign-in") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


def post(client, path, data, token_from="/sign-in", **kwargs):
    return client.post(path, data={"csrf_token": csrf_token(client, token_from), **data}, **kwargs)


def sign_in_badge(client, badge):
    return post(client, "/sign-in", {"badge": badge})


def sign_in_password(client, username, password):
    return post(client, "/sign-in", {"username": username, "password": password})


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


def flows_on_home(client) -> dict[str, bool]:
    """flow key -> whether it is a link, as the home page shows them."""
    html = client.get("/").get_data(as_text=True)
    return {key: tag == "a" for tag, key in re.findall(r'<(a|div) class="tile[^"]*"[^>]*data-flow="([^"]+)"', html)}


@pytest.fixture
def worker(db):
    u = factories.user("ivan", ("picker",), badge="B-1001")
    u.full_name = "Ivan Petrov"
    db.session.commit()
    return u


@pytest.fixture
def supervisor(db):
    u = factories.user("olga", ("supervisor",), password="s3cret-pass")
    db.session.commit()
    return u


# --- sign-in -------------------------------------------------------------------------------


def test_home_requires_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.location == "/sign-in?next=%2F"


def test_sign_in_page_focuses_the_badge_field(client):
    html = client.get("/sign-in").get_data(as_text=True)
    badge = re.search(r"<input id=\"badge\"[^>]*>", html, re.S).group(0)
    assert "autofocus" in badge
    assert 'name="password"' in html and 'name="username"' in html
    assert html.count('name="csrf_token"') >= 2


def test_badge_sign_in(client, db, worker):
    # A keyboard-wedge scanner may end the code with CR.
    response = sign_in_badge(client, "B-1001\r")
    assert response.status_code == 302 and response.location == "/"
    home = client.get("/")
    html = home.get_data(as_text=True)
    assert "Ivan Petrov" in html and "Signed in as Ivan Petrov." in html
    assert 'data-sound="ok"' in html
    db.session.expire_all()
    assert db.session.get(User, worker.id).last_login_at is not None


def test_badge_with_pin(client, db):
    u = factories.user("pavel", ("packer",), badge="B-2002", pin="4321")
    db.session.commit()
    response = sign_in_badge(client, "B-2002")
    assert response.status_code == 302 and response.location == "/sign-in/pin"
    assert not signed_in(client)  # the badge alone is not enough
    page = client.get("/sign-in/pin").get_data(as_text=True)
    assert "Enter your PIN" in page and "Pavel" in page

    wrong = post(client, "/sign-in/pin", {"pin": "0000"}, token_from="/sign-in/pin")
    assert wrong.status_code == 401
    assert "Wrong PIN" in wrong.get_data(as_text=True)
    assert 'data-sound="error"' in wrong.get_data(as_text=True)
    assert not signed_in(client)

    right = post(client, "/sign-in/pin", {"pin": "4321"}, token_from="/sign-in/pin")
    assert right.status_code == 302 and right.location == "/"
    assert signed_in(client)
    assert db.session.execute(db.select(SignInFailure).where(SignInFailure.key == f"user:{u.id}")).first() is None


def test_pin_step_needs_a_badge_first(client, db):
    response = post(client, "/sign-in/pin", {"pin": "4321"})
    assert response.status_code == 302 and response.location == "/sign-in"
    assert client.get("/sign-in/pin").status_code == 302


def test_password_sign_in(client, supervisor):
    response = sign_in_password(client, "olga", "s3cret-pass")
    assert response.status_code == 302 and response.location == "/"
    assert signed_in(client)


def test_wrong_credentials_say_so_without_hints(client, db, worker, supervisor):
    factories.user("gone", ("supervisor",), password="old-pass").active = False
    db.session.commit()

    badge = sign_in_badge(client, "B-9999")
    assert badge.status_code == 401
    assert "This badge is not recognised" in badge.get_data(as_text=True)
    assert 'data-sound="error"' in badge.get_data(as_text=True)
    assert sign_in_badge(client, "").status_code == 401

    answers = [
        sign_in_password(client, "olga", "wrong"),
        sign_in_password(client, "nobody", "wrong"),
        sign_in_password(client, "gone", "old-pass"),
        sign_in_password(client, "ivan", ""),  # a worker without a password
    ]
    for answer in answers:
        assert answer.status_code == 401
        html = answer.get_data(as_text=True)
        assert "Wrong username or password." in html
        assert "Unknown user" not in html and "Wrong password." not in html
    assert not signed_in(client)


def test_failed_passwords_lock_the_name(client, db, supervisor):
    for _ in range(5):
        assert sign_in_password(client, "olga", "guess").status_code == 401
    locked = sign_in_password(client, "olga", "s3cret-pass")
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.get_data(as_text=True)
    assert not signed_in(client)
    # Counted in the database, so every server worker sees it; another name is unaffected.
    assert db.session.execute(db.select(db.func.count()).select_from(SignInFailure)).scalar() >= 5
    factories.user("anna", ("admin",), password="admin-pass")
    db.session.commit()
    assert sign_in_password(client, "anna", "admin-pass").status_code == 302


def test_unknown_names_lock_like_known_ones(client):
    for _ in range(5):
        sign_in_password(client, "nobody", "guess")
    assert sign_in_password(client, "nobody", "guess").status_code == 429


def test_failed_pins_lock_the_user(client, db):
    factories.user("pavel", ("packer",), badge="B-2002", pin="4321")
    db.session.commit()
    sign_in_badge(client, "B-2002")
    for _ in range(5):
        assert post(client, "/sign-in/pin", {"pin": "1111"}, token_from="/sign-in/pin").status_code == 401
    assert post(client, "/sign-in/pin", {"pin": "4321"}, token_from="/sign-in/pin").status_code == 429
    assert sign_in_badge(client, "B-2002").status_code == 429
    assert not signed_in(client)


def test_failures_from_one_address_lock_that_address(app, client, db, worker):
    app.config["CELLWMS_SIGNIN_MAX_PER_ADDRESS"] = 3
    for code in ("X1", "X2", "X3"):
        assert sign_in_badge(client, code).status_code == 401
    assert sign_in_badge(client, "B-1001").status_code == 429
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.7"
    assert sign_in_badge(other, "B-1001").status_code == 302


def test_success_clears_the_users_failures(client, db, supervisor):
    for _ in range(4):
        sign_in_password(client, "olga", "guess")
    assert sign_in_password(client, "olga", "s3cret-pass").status_code == 302
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
    for _ in range(4):
        sign_in_password(client, "olga", "guess")
    assert sign_in_password(client, "olga", "s3cret-pass").status_code == 302


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/scan", "/scan"),
        ("/?tab=1", "/?tab=1"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/\r\nLocation: x", "/"),
    ],
)
def test_next_redirects_only_to_local_paths(client, worker, target, expected):
    response = post(client, "/sign-in", {"badge": "B-1001", "next": target})
    assert response.status_code == 302
    assert response.location == expected


def test_next_survives_the_pin_step(client, db):
    factories.user("pavel", ("packer",), badge="B-2002", pin="4321")
    db.session.commit()
    post(client, "/sign-in", {"badge": "B-2002", "next": "/scan"})
    response = post(client, "/sign-in/pin", {"pin": "4321"}, token_from="/sign-in/pin")
    assert response.location == "/scan"


def test_sign_in_page_carries_next(client):
    html = client.get("/sign-in?next=/scan").get_data(as_text=True)
    assert html.count('name="next" value="/scan"') == 2
    assert "Sign in to open this page." in html
    assert 'name="next" value="https' not in client.get("/sign-in?next=https://evil.example").get_data(
        as_text=True
    )


def test_sign_out(client, worker):
    sign_in_badge(client, "B-1001")
    response = client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 302 and response.location == "/sign-in"
    assert "Signed out." in client.get("/sign-in").get_data(as_text=True)
    assert not signed_in(client)


def test_csrf_is_required(client, worker):
    assert client.post("/sign-in", data={"badge": "B-1001"}).status_code == 400
    assert not signed_in(client)
    assert client.post("/sign-in", data={"badge": "B-1001", "csrf_token": "forged"}).status_code == 400
    sign_in_badge(client, "B-1001")
    assert client.post("/sign-out").status_code == 400
    assert signed_in(client)
    assert client.post("/language", data={"language": "ru"}).status_code == 400


def test_signed_in_user_visiting_sign_in_goes_home(client, worker):
    sign_in_badge(client, "B-1001")
    assert client.get("/sign-in").location == "/"


# --- home ----------------------------------------------------------------------------------

ROLE_FLOWS = [
    (("picker",), {"picking", "stations", "scan"}),
    (("receiver",), {"receiving", "putaway", "counting", "stations", "scan"}),
    (("packer",), {"packing", "stations", "scan"}),
    (("dispatcher",), {"handoff", "stations", "scan"}),
    (("returns",), {"returns", "stations", "scan"}),
    (("supervisor",), {"counting", "supervision", "waves", "orders", "orders-confirm", "webhooks", "stations", "scan"}),
    (("picker", "packer"), {"picking", "packing", "stations", "scan"}),
    (
        ("admin",),
        {"receiving", "putaway", "picking", "packing", "handoff", "returns", "counting", "supervision",
         "waves", "orders", "orders-confirm", "webhooks", "admin-users", "admin-stations", "admin-layout",
         "admin-devices", "admin-audit", "stations", "scan"},
    ),
]
BUILT_FLOWS = {"scan", "stations", "putaway", "receiving", "picking", "waves", "orders", "orders-confirm", "webhooks",
               "admin-users", "admin-stations", "admin-layout", "admin-devices", "admin-audit"}


@pytest.mark.parametrize("roles, expected", ROLE_FLOWS, ids=["+".join(r) for r, _ in ROLE_FLOWS])
def test_home_lists_the_flows_of_the_users_roles(client, db, roles, expected):
    factories.user("u", roles, password="u-password")  # supervisors and admins never by a badge alone
    db.session.commit()
    sign_in_password(client, "u", "u-password")
    shown = flows_on_home(client)
    assert set(shown) == expected
    # Only built pages are links; the others say "not yet available".
    assert shown["scan"] is True and shown["stations"] is True
    assert not any(link for key, link in shown.items() if key not in BUILT_FLOWS)
    html = client.get("/").get_data(as_text=True)
    assert ("Not yet available" in html) == any(key not in BUILT_FLOWS for key in shown)
    assert "Sign out" in html and "Русский" in html and "English" in html


def test_a_flow_becomes_a_link_once_its_page_exists(app, client, db, worker):
    worker.roles = ("picker", "packer")
    db.session.commit()
    packing = Blueprint("packing", __name__)
    packing.add_url_rule("/packing", "index", lambda: "packing")
    app.register_blueprint(packing)
    sign_in_badge(client, "B-1001")
    assert flows_on_home(client)["packing"] is True
    assert 'href="/packing"' in client.get("/").get_data(as_text=True)
    assert 'href="/picking"' in client.get("/").get_data(as_text=True)


def test_home_shows_name_and_roles(client, db):
    u = factories.user("multi", ("receiver", "supervisor"), password="pw-multi-1")
    u.full_name = "Maria Ivanova"
    db.session.commit()
    sign_in_password(client, "multi", "pw-multi-1")
    html = client.get("/").get_data(as_text=True)
    assert "Maria Ivanova" in html
    assert "receiver, supervisor" in html


def test_static_assets(client):
    assert client.get("/static/cellwms.css").status_code == 200
    assert client.get("/static/cellwms.js").status_code == 200


# --- scan check page -------------------------------------------------------------------------


def test_scan_page(client, worker):
    assert client.get("/scan").status_code == 302
    sign_in_badge(client, "B-1001")
    html = client.get("/scan").get_data(as_text=True)
    assert 'id="scan-form"' in html and 'data-url="/api/v1/scan"' in html
    assert re.search(r'<input id="scan-input"[^>]*autofocus', html, re.S)


def test_scan_page_contract_with_the_api(client, worker):
    """The page posts {"code", "source": "page"} with the X-CSRFToken header and shows kind/message."""
    sign_in_badge(client, "B-1001")
    token = csrf_token(client, "/scan")
    response = client.post("/api/v1/scan", json={"code": "B-1001", "source": "page"}, headers={"X-CSRFToken": token})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["kind"] == "badge" and body["message"]
    assert client.post("/api/v1/scan", json={"code": "B-1001", "source": "page"}).status_code == 400


# --- language --------------------------------------------------------------------------------


def test_language_switch(client, db, worker):
    sign_in_badge(client, "B-1001")
    response = post(client, "/language", {"language": "ru", "next": "/scan"}, token_from="/")
    assert response.status_code == 302 and response.location == "/scan"
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="ru">' in html
    assert "Сборка" in html and "Выйти" in html and "сборщик" in html
    db.session.expire_all()
    assert db.session.get(User, worker.id).locale == "ru"

    # The choice follows the user to another device.
    other = client.application.test_client()
    sign_in_badge(other, "B-1001")
    assert "Проверка скана" in other.get("/").get_data(as_text=True)

    post(client, "/language", {"language": "en"}, token_from="/")
    assert "Picking" in client.get("/").get_data(as_text=True)


def test_language_switch_before_sign_in(client):
    response = post(client, "/language", {"language": "ru", "next": "/sign-in"})
    assert response.location == "/sign-in"
    html = client.get("/sign-in").get_data(as_text=True)
    assert "Отсканируйте бейдж" in html and "Войти по паролю" in html


def test_browser_language_is_the_default(client):
    html = client.get("/sign-in", headers={"Accept-Language": "ru-RU,ru;q=0.9"}).get_data(as_text=True)
    assert "Отсканируйте бейдж" in html


def test_language_rejects_unknown_codes(client):
    assert post(client, "/language", {"language": "xx"}).status_code == 400
    assert post(client, "/language", {"language": "ru", "next": "https://evil.example"}).location == "/"


def test_russian_error_messages(client, worker):
    post(client, "/language", {"language": "ru"})
    html = sign_in_badge(client, "NOPE").get_data(as_text=True)
    assert "Бейдж не распознан" in html


# --- the Russian catalog -----------------------------------------------------------------------


def _po():
    with PO.open("rb") as f:
        return read_po(f, locale="ru")


def test_russian_catalog_is_complete():
    catalog = _po()
    problems = [
        f"{'fuzzy' if m.fuzzy else 'untranslated'}: {m.id!r}"
        for m in catalog
        if m.id and (m.fuzzy or not m.string or (isinstance(m.string, tuple) and not all(m.string)))
    ]
    assert not problems, "translate server/translations/ru/LC_MESSAGES/messages.po (docs/translations.md)"


def test_russian_catalog_covers_every_source_string():
    known = {m.id for m in _po() if m.id}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None,
                "lazy_ngettext": (1, 2), "N_": None}
    method_map = [("server/**.py", "python"), ("server/web/templates/**.html", "jinja2")]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=method_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    missing = sorted(found - {k if isinstance(k, str) else k[0] for k in known})
    assert not missing, f"run pybabel extract/update (docs/translations.md); not in the .po: {missing}"


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"%\(\w+\)s", text))


def test_placeholders_match():
    for m in _po():
        if not m.id or not m.string:
            continue
        if isinstance(m.id, str):
            assert _placeholders(m.id) == _placeholders(m.string), m.id
            continue
        # Plurals: every Russian form names the English plural's placeholders (num is filled in).
        assert _placeholders(m.id[0]) == _placeholders(m.id[1]), m.id
        assert len(m.string) == 3, f"Russian has three plural forms: {m.id}"
        for form in m.string:
            assert _placeholders(form) == _placeholders(m.id[1]), (m.id, form)


def test_compiled_catalog_is_fresh():
    with MO.open("rb") as f:
        compiled = read_mo(io.BytesIO(f.read()))
    def pairs(catalog):
        return {(m.id if isinstance(m.id, str) else tuple(m.id)): (m.string if isinstance(m.string, str)
                                                                 else tuple(m.string)) for m in catalog}

    expected = pairs(m for m in _po() if m.id and m.string and not m.fuzzy)
    actual = pairs(m for m in compiled if m.id)
    assert actual == expected, "run `pybabel compile -d server/translations` and commit the .mo"


def test_plural_forms_in_english_and_russian(app):
    from flask_babel import force_locale, ngettext

    def units(n):
        return ngettext("%(count)s unit", "%(count)s units", n, count=n)

    with app.test_request_context("/"):
        with force_locale("en"):
            assert [units(n) for n in (1, 2, 5, 21)] == ["1 unit", "2 units", "5 units", "21 units"]
        with force_locale("ru"):
            assert [units(n) for n in (1, 2, 5, 21, 11, 22)] == [
                "1 единица", "2 единицы", "5 единиц", "21 единица", "11 единиц", "22 единицы"]


# --- error pages ------------------------------------------------------------------------------


def test_people_get_the_sites_error_pages_and_json_calls_keep_problems(client, worker):
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'class="error-page" data-status="404"' in html and "Page not found" in html
    assert 'href="/sign-in' in html  # a way back
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.mimetype == "application/problem+json"
    asked = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert asked.mimetype == "application/problem+json" and asked.get_json()["type"].endswith("not-found")

    sign_in_badge(client, "B-1001")  # a picker
    post(client, "/language", {"language": "ru"}, token_from="/")
    refused = client.get("/receiving")
    assert refused.status_code == 403 and refused.mimetype == "text/html"
    html = refused.get_data(as_text=True)
    assert '<html lang="ru">' in html and "Не для вашей роли" in html and 'href="/"' in html
    assert "favicon.svg" in html
    json_refused = client.post("/putaway/input", json={"kind": "scan", "code": "X"},
                               headers={"X-CSRFToken": csrf_token(client, "/")})
    assert json_refused.status_code == 403 and json_refused.mimetype == "application/problem+json"


def test_a_server_error_is_the_sites_page_for_people(app):
    from werkzeug.exceptions import InternalServerError

    from server.web.errors import on_http_error

    with app.test_request_context("/receiving", headers={"Accept": "text/html"}):
        body, status = on_http_error(InternalServerError())
        assert status == 500 and "Something went wrong" in body and 'data-status="500"' in body
    with app.test_request_context("/api/v1/stock"):
        response = on_http_error(InternalServerError())
        assert response.status_code == 500 and response.mimetype == "application/problem+json"
