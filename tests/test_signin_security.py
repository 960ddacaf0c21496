"""Sign-in and sessions (issue 12): privileged roles never by a badge alone, one rule for the CLI and
the API, sessions that sign-out revokes and that expire, security headers, trusted proxies and
per-client sign-in limits, CSRF only skipped for a valid bearer token. SQLite and PostgreSQL."""

import pytest

from server.models import User
from tests import factories
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
