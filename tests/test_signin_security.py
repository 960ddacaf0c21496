"""Sign-in and sessions (issue 12): privileged roles never by a badge alone, one rule for the CLI and
the API, sessions that sign-out revokes and that expire, security headers, trusted proxies and
per-client sign-in limits, CSRF only skipped for a valid bearer token. SQLite and PostgreSQL."""

import re

import pytest

from server.models import User
from tests import factories
from tests.conftest import FreshClient
from tests.test_pages import post, sign_in_badge, sign_in_password, signed_in

# --- 1. privileged roles: badge + PIN or password ------------------------------------------------


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_privileged_badge_alone_is_refused(client, db, role):
    factories.user("boss", (role,), password="boss-pass-1", badge="BDG-9001")
    db.session.commit()
    response = sign_in_badge(client, "BDG-9001")
    assert response.status_code == 401
    assert "badge and PIN" in response.get_data(as_text=True)
    assert not signed_in(client)
    assert sign_in_password(client, "boss", "boss-pass-1").status_code == 302
    assert signed_in(client)


def test_privileged_badge_with_pin_asks_for_it(client, db):
    factories.user("boss", ("admin",), badge="BDG-9001", pin="9130")
    db.session.commit()
    response = sign_in_badge(client, "BDG-9001")
    assert response.status_code == 302 and response.location == "/sign-in/pin"
    assert not signed_in(client)
    assert post(client, "/sign-in/pin", {"pin": "9130"}, token_from="/sign-in/pin").status_code == 302
    assert signed_in(client)


def test_worker_badge_alone_still_works(client, db):
    factories.user("ivan", ("picker",), badge="B-1")
    db.session.commit()
    assert sign_in_badge(client, "B-1").status_code == 302 and signed_in(client)


@pytest.mark.parametrize("extra, message", [
    (["--password", "a"], "8 to 128"),
    (["--badge", "B-7", "--pin", "1"], "4 to 8 digits"),
    (["--badge", "B-7"], "need a password or a PIN"),
])
def test_cli_applies_the_accounts_rules(app, db, extra, message):
    result = app.test_cli_runner().invoke(args=["user", "create", "root", "--role", "admin", *extra])
    assert result.exit_code != 0 and message in result.output, result.output
    db.session.remove()
    assert db.session.execute(db.select(User).filter_by(username="root")).first() is None


def test_cli_accepts_what_the_api_accepts(app, db):
    result = app.test_cli_runner().invoke(
        args=["user", "create", "root", "--role", "admin", "--badge", "B-7", "--pin", "1234"])
    assert result.exit_code == 0, result.output


# --- 2. sessions: sign-out revokes, a maximum lifetime, cookie and page headers -------------------


def _cookie(client) -> str:
    return client.get_cookie("session").value


def test_sign_out_revokes_a_captured_session_cookie(app, client, db):
    factories.user("ivan", ("picker",), badge="B-1")
    db.session.commit()
    sign_in_badge(client, "B-1")
    captured = _cookie(client)
    assert post(client, "/sign-out", {}, token_from="/").status_code == 302
    assert not signed_in(client)
    thief = app.test_client()
    thief.set_cookie("session", captured)
    assert thief.get("/").status_code == 302  # back to the sign-in page
    assert thief.get("/api/v1/warehouses").status_code == 401
    # Signing in again gives a new session that works.
    sign_in_badge(client, "B-1")
    assert signed_in(client)


def test_sessions_end_after_the_maximum_lifetime(app, client, db):
    factories.user("ivan", ("picker",), badge="B-1")
    db.session.commit()
    sign_in_badge(client, "B-1")
    assert signed_in(client)
    with client.session_transaction() as session:
        session["signed_in_at"] -= app.config["CELLWMS_SESSION_MAX_SECONDS"] + 1
    assert not signed_in(client)


def test_session_lifetime_and_secure_cookies_come_from_the_environment(monkeypatch, tmp_path):
    from server.config import load_config

    assert load_config(str(tmp_path))["CELLWMS_SESSION_MAX_SECONDS"] == 12 * 3600
    assert load_config(str(tmp_path))["SESSION_COOKIE_SECURE"] is False
    monkeypatch.setenv("CELLWMS_SECURE_COOKIES", "1")
    monkeypatch.setenv("CELLWMS_SESSION_MAX_SECONDS", "600")
    config = load_config(str(tmp_path))
    assert config["SESSION_COOKIE_SECURE"] is True and config["CELLWMS_SESSION_MAX_SECONDS"] == 600


SECURE_SETTINGS = ("CELLWMS_SECURE_COOKIES", "SESSION_COOKIE_SECURE")


@pytest.mark.parametrize("environment, secure", [
    ({}, False),  # the default: cookies also go over plain HTTP
    ({"CELLWMS_SECURE_COOKIES": "1"}, True),
    ({"CELLWMS_SECURE_COOKIES": "true"}, True),
    ({"CELLWMS_SECURE_COOKIES": "Yes"}, True),
    ({"CELLWMS_SECURE_COOKIES": "on"}, True),
    ({"CELLWMS_SECURE_COOKIES": "0"}, False),
    ({"CELLWMS_SECURE_COOKIES": "secure"}, False),  # only 1, true, yes, on turn it on
    ({"SESSION_COOKIE_SECURE": "1"}, True),  # the other name
    ({"CELLWMS_SECURE_COOKIES": "0", "SESSION_COOKIE_SECURE": "1"}, False),  # CELLWMS_SECURE_COOKIES wins
])
def test_secure_cookies_default_to_off_and_one_setting_turns_them_on(monkeypatch, tmp_path, environment, secure):
    from server.config import load_config

    for name in SECURE_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    config = load_config(str(tmp_path))
    assert config["SESSION_COOKIE_SECURE"] is secure and config["REMEMBER_COOKIE_SECURE"] is secure


@pytest.mark.parametrize("value, secure", [(None, False), ("1", True)])
def test_the_session_cookie_is_secure_only_with_the_setting(monkeypatch, tmp_path, database_url, value, secure):
    from server import create_app
    from server.extensions import db

    for name in SECURE_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    if value is not None:
        monkeypatch.setenv("CELLWMS_SECURE_COOKIES", value)
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": str(tmp_path / "instance"),
                      "TESTING": True, "SECRET_KEY": "test-secret"})
    try:
        cookies = app.test_client().get("/sign-in").headers.getlist("Set-Cookie")  # its CSRF token starts a session
    finally:
        with app.app_context():
            db.engine.dispose()
    assert cookies and all(("; Secure" in c) is secure for c in cookies), cookies


def test_secure_cookie_setting_reaches_the_cookie(app, db):
    factories.user("ivan", ("picker",), badge="B-1")
    db.session.commit()
    app.config["SESSION_COOKIE_SECURE"] = True
    r = app.test_client().get("/sign-in")  # the page's CSRF token starts a session
    assert r.headers.getlist("Set-Cookie") and all("Secure" in h for h in r.headers.getlist("Set-Cookie"))


def test_pages_carry_security_headers(client, db):
    factories.user("ivan", ("receiver",), badge="B-1")
    db.session.commit()
    for path in ("/sign-in",):
        r = client.get(path)
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self' 'nonce-" in csp
        assert "connect-src 'self' http://127.0.0.1:*" in csp  # station screens read their agent's /status
    sign_in_badge(client, "B-1")
    html = client.get("/").get_data(as_text=True)
    # Every script of a page is a file of ours or carries the answer's nonce.
    nonce = client.get("/").headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    assert nonce
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or "application/json" in tag or "nonce=" in tag, tag
    assert not re.search(r"\son[a-z]+=\"", html)  # no inline event handlers


def test_every_template_script_is_a_file_or_has_the_nonce():
    from pathlib import Path

    templates = Path(__file__).resolve().parent.parent / "server/web/templates"
    for path in templates.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script[^>]*>", text):
            assert "src=" in tag or "application/json" in tag or "csp_nonce()" in tag, (path, tag)
        assert not re.search(r"\son(click|load|submit|change|input|error)=", text), path


# --- 4. CSRF: waived only for a valid bearer token ------------------------------------------------


def test_a_junk_bearer_header_does_not_waive_csrf_for_a_cookie_session(client, db):
    factories.user("ivan", ("picker",), badge="B-1")
    db.session.commit()
    sign_in_badge(client, "B-1")
    junk = {"Authorization": "Bearer junk"}
    r = client.post("/sign-out", headers=junk)  # no CSRF token
    assert r.status_code in (400, 401)
    assert signed_in(client)
    r = client.post("/language", data={"language": "ru"}, headers=junk)
    assert r.status_code in (400, 401)
    with client.session_transaction() as session:
        assert session.get("locale") != "ru"


def test_a_junk_bearer_header_does_not_waive_csrf_on_the_api(client, db):
    factories.user("root", ("admin",), password="root-pass-1")
    db.session.commit()
    sign_in_password(client, "root", "root-pass-1")
    r = client.post("/api/v1/skus", json={"code": "S-1", "name": "S"}, headers={"Authorization": "Bearer junk"})
    assert r.status_code in (400, 401), r.status_code
    r = client.post("/api/v1/skus", json={"code": "S-1", "name": "S"})  # cookie alone: CSRF wanted
    assert r.status_code == 400


def test_a_valid_bearer_token_needs_no_csrf(client, db):
    user = factories.user("root", ("admin",), password="root-pass-1")
    db.session.commit()
    auth = factories.token_for(user)
    r = client.post("/api/v1/skus", json={"code": "S-1", "name": "S"}, headers=auth)
    assert r.status_code == 201, r.get_data(as_text=True)


# --- 3. trusted proxies: limits per account and per real client -----------------------------------


def _via_proxy(app, client_address):
    app.test_client_class = FreshClient
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.9.9.9"  # the load balancer
    client.environ_base["HTTP_X_FORWARDED_FOR"] = client_address
    return client


def test_behind_a_trusted_proxy_one_clients_failures_lock_only_that_client(app, db):
    app.config["CELLWMS_TRUSTED_PROXIES"] = 1
    factories.user("ivan", ("picker",), badge="B-1")
    factories.user("root", ("admin",), password="root-pass-1")
    db.session.commit()
    attacker = _via_proxy(app, "192.0.2.66")
    for i in range(30):
        assert sign_in_badge(attacker, f"X-{i}").status_code == 401
    assert sign_in_badge(attacker, "B-1").status_code == 429
    worker = _via_proxy(app, "192.0.2.10")
    assert sign_in_badge(worker, "B-1").status_code == 302 and signed_in(worker)
    admin = _via_proxy(app, "192.0.2.11")
    assert sign_in_password(admin, "root", "root-pass-1").status_code == 302 and signed_in(admin)


def test_account_failures_lock_the_account_from_every_client(app, db):
    app.config["CELLWMS_TRUSTED_PROXIES"] = 1
    factories.user("root", ("admin",), password="root-pass-1")
    db.session.commit()
    for i in range(5):
        assert sign_in_password(_via_proxy(app, f"192.0.2.{i + 1}"), "root", "wrong").status_code == 401
    assert sign_in_password(_via_proxy(app, "192.0.2.50"), "root", "root-pass-1").status_code == 429


def test_without_trusted_proxies_forwarded_headers_are_ignored(app, db):
    app.config["CELLWMS_SIGNIN_MAX_PER_ADDRESS"] = 3
    for i in range(3):  # a client cannot dodge its lock by claiming other addresses
        assert sign_in_badge(_via_proxy(app, f"192.0.2.{i + 1}"), "X").status_code == 401
    assert sign_in_badge(_via_proxy(app, "192.0.2.99"), "X").status_code == 429


def test_trusted_proxies_come_from_the_environment(monkeypatch, tmp_path):
    from server.config import load_config

    assert load_config(str(tmp_path))["CELLWMS_TRUSTED_PROXIES"] == 0
    monkeypatch.setenv("CELLWMS_TRUSTED_PROXIES", "2")
    assert load_config(str(tmp_path))["CELLWMS_TRUSTED_PROXIES"] == 2


# --- 5. live streams: a cap per user, released when the client goes away --------------------------


def _stream_place(db):
    wh = factories.warehouse()
    factories.station(wh, "PACK-1", "pack")
    user = factories.user("pavel", ("packer",), badge="B-2002")
    db.session.commit()
    return user


def _first_chunk(response) -> str:
    chunk = next(iter(response.response))
    return chunk.decode() if isinstance(chunk, bytes) else chunk


def test_streams_per_user_are_capped(app, client, db):
    from server.services import streams

    app.config.update(CELLWMS_STREAMS_PER_USER=2, CELLWMS_STREAM_POLL_SECONDS=0.05)
    user_id = _stream_place(db).id
    sign_in_badge(client, "B-2002")
    first = client.get("/stations/PACK-1/stream", buffered=False)
    second = client.get("/stations/PACK-1/stream", buffered=False)
    assert first.status_code == second.status_code == 200
    assert _first_chunk(first).startswith("retry:") and _first_chunk(second).startswith("retry:")
    third = client.get("/stations/PACK-1/stream", buffered=False)
    assert third.status_code == 429 and third.mimetype == "application/problem+json"
    assert third.json["type"].endswith("too-many-streams") and third.headers["Retry-After"]
    # Another user is not affected.
    factories.user("rita", ("packer",), badge="B-7")
    db.session.commit()
    other = app.test_client()
    sign_in_badge(other, "B-7")
    fourth = other.get("/stations/PACK-1/stream", buffered=False)
    assert fourth.status_code == 200
    fourth.close()
    # A closed stream gives its place back.
    first.close()
    db.session.remove()
    assert streams.open_count(user_id) == 1
    again = client.get("/stations/PACK-1/stream", buffered=False)
    assert again.status_code == 200
    again.close()
    second.close()
    db.session.remove()
    assert streams.open_count(user_id) == 0


def test_a_stream_whose_client_went_away_frees_its_thread(app, client, db):
    """On a real threaded server: the client closes its socket; the next keep-alive write fails,
    the stream ends and its lease is given back (well before the stream's lifetime)."""
    import socket
    import threading
    import time

    from werkzeug.serving import make_server

    from server.services import streams

    app.config.update(CELLWMS_STREAM_SECONDS=600, CELLWMS_STREAM_KEEPALIVE_SECONDS=0.1,
                      CELLWMS_STREAM_POLL_SECONDS=0.05)
    user_id = _stream_place(db).id
    sign_in_badge(client, "B-2002")
    cookie = _cookie(client)
    db.session.remove()  # this thread holds no transaction while the server's thread works
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sock = socket.create_connection(("127.0.0.1", server.server_port), timeout=10)
        sock.sendall(f"GET /stations/PACK-1/stream HTTP/1.1\r\nHost: localhost\r\nCookie: session={cookie}\r\n\r\n"
                     .encode())
        head = sock.recv(4096)
        assert b" 200 " in head.split(b"\r\n", 1)[0], head
        db.session.remove()
        assert streams.open_count(user_id) == 1
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        deadline = time.monotonic() + 60  # a bound on waiting under load, not a timing check
        while True:
            # A session here begins a writing transaction on SQLite (BEGIN IMMEDIATE): end it before
            # sleeping, or the server thread's give-back waits for this thread's lock.
            open_now = streams.open_count(user_id)
            db.session.remove()
            if open_now == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert open_now == 0
    finally:
        server.shutdown()


def test_streams_setting_from_the_environment(monkeypatch, tmp_path):
    from server.config import load_config

    assert load_config(str(tmp_path))["CELLWMS_STREAMS_PER_USER"] == 2
    monkeypatch.setenv("CELLWMS_STREAMS_PER_USER", "4")
    assert load_config(str(tmp_path))["CELLWMS_STREAMS_PER_USER"] == 4
