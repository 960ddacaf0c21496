"""Sign-in, home, scan check and the language switch.

Workers sign in by scanning their badge into the focused field (a keyboard-wedge scanner types
the code and Enter); a badge with a PIN asks for it next. Supervisors and admins sign in with
username and password. Failures are counted in the database (server.web.signin_limits).
"""

import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from server.auth import public, signed_in, touch_login
from server.extensions import db
from server.models import Role, User
from server.services import accounts, dates
from server.web import signin_limits as limits
from server.web.flows import flows_for

web = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/static")

PIN_STEP_SECONDS = 120
LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}
ROLE_NAMES = {
    Role.receiver: _l("receiver"),
    Role.picker: _l("picker"),
    Role.packer: _l("packer"),
    Role.dispatcher: _l("dispatcher"),
    Role.returns: _l("returns clerk"),
    Role.supervisor: _l("supervisor"),
    Role.admin: _l("administrator"),
}
# Checked when a username is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password")


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None (no open redirects)."""
    if not target:
        return None
    target = target.strip()
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@web.app_template_filter("local_time")
def local_time_filter(value, fmt: str = dates.STAMP, warehouse=None) -> str:
    """`{{ delivery.closed_at|local_time(warehouse=delivery.warehouse_id) }}`: a stored moment in
    the time zone of the given warehouse (a row or an id), else of the first one; each zone is
    looked up once a request."""
    key = warehouse.id if hasattr(warehouse, "id") else warehouse
    zones = g.setdefault("warehouse_zones", {})
    if key not in zones:
        zones[key] = dates.warehouse_zone(key)
    return dates.local_time(value, zones[key], fmt)


@web.app_context_processor
def page_globals():
    return {
        "current_locale": str(get_locale()),
        "languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in current_app.config["CELLWMS_LANGUAGES"]],
        "role_names": ROLE_NAMES,
    }


def _fail(template: str, message: str, status: int, **context):
    return render_template(template, error=message, sound="error", **context), status


def _locked_message() -> str:
    minutes = max(1, int(limits.window().total_seconds() // 60))
    return _("Too many failed attempts. Wait %(minutes)s minutes or ask a supervisor.", minutes=minutes)


def _complete_sign_in(user: User, next_url: str | None):
    device_locale = session.get("locale")
    session.clear()  # nothing of a previous session survives a sign-in
    if user.locale in current_app.config["CELLWMS_LANGUAGES"]:
        session["locale"] = user.locale
    elif device_locale:
        session["locale"] = device_locale
    login_user(user)
    touch_login(user)
    limits.clear(limits.user_key(user.id), limits.name_key(user.username))
    db.session.commit()
    flash(_("Signed in as %(name)s.", name=user.display_name), "ok")
    return redirect(next_url or url_for("web.home"))


@web.get("/sign-in")
@public
def sign_in():
    next_url = safe_next(request.args.get("next"))
    session.pop("pin_user", None)
    if current_user.is_authenticated:
        return redirect(next_url or url_for("web.home"))
    return render_template("sign_in.html", next=next_url)


@web.post("/sign-in")
@public
def sign_in_post():
    next_url = safe_next(request.form.get("next"))
    if "badge" in request.form:
        return _sign_in_badge(request.form["badge"], next_url)
    return _sign_in_password(request.form.get("username", ""), request.form.get("password", ""), next_url)


def _clean_scan(text: str) -> str:
    # A scanner may add CR, LF or TAB; none of them is part of a badge code.
    return "".join(ch for ch in text if ord(ch) >= 32).strip()[:64]


def _sign_in_badge(raw: str, next_url: str | None):
    address = limits.address_key()
    if limits.is_locked(address):
        return _fail("sign_in.html", _locked_message(), 429, next=next_url)
    code = _clean_scan(raw)
    user = None
    if code:
        user = db.session.execute(db.select(User).where(User.badge_code == code)).scalar_one_or_none()
    if user is None or not user.active:
        limits.record_failure(address)
        return _fail("sign_in.html", _("This badge is not recognised. Scan again or ask a supervisor."), 401,
                     next=next_url)
    if user.roles & accounts.PRIVILEGED and not user.pin_hash:
        # DESIGN: supervisors and admins sign in by badge + PIN or by password, never a badge alone.
        return _fail("sign_in.html", _("Supervisors and administrators sign in with a badge and PIN or with "
                                       "username and password."), 401, next=next_url)
    if user.pin_hash:
        if limits.is_locked(limits.user_key(user.id)):
            return _fail("sign_in.html", _locked_message(), 429, next=next_url)
        session["pin_user"] = user.id
        session["pin_since"] = int(time.time())
        session["pin_next"] = next_url
        return redirect(url_for("web.sign_in_pin"))
    return _complete_sign_in(user, next_url)


def _pending_pin_user() -> User | None:
    user_id = session.get("pin_user")
    if user_id is None or time.time() - session.get("pin_since", 0) > PIN_STEP_SECONDS:
        return None
    user = db.session.get(User, user_id)
    return user if user is not None and user.active and user.pin_hash else None


@web.get("/sign-in/pin")
@public
def sign_in_pin():
    user = _pending_pin_user()
    if user is None:
        return redirect(url_for("web.sign_in"))
    return render_template("pin.html", user=user)


@web.post("/sign-in/pin")
@public
def sign_in_pin_post():
    user = _pending_pin_user()
    if user is None:
        flash(_("Scan your badge again."), "error")
        return redirect(url_for("web.sign_in"))
    keys = (limits.user_key(user.id), limits.address_key())
    if limits.is_locked(*keys):
        session.pop("pin_user", None)
        return _fail("sign_in.html", _locked_message(), 429, next=session.get("pin_next"))
    if not user.check_pin(request.form.get("pin", "")):
        limits.record_failure(*keys)
        return _fail("pin.html", _("Wrong PIN. Try again."), 401, user=user)
    next_url = safe_next(session.get("pin_next"))
    return _complete_sign_in(user, next_url)


def _sign_in_password(username: str, password: str, next_url: str | None):
    username = username.strip()
    keys = (limits.name_key(username), limits.address_key())
    if limits.is_locked(*keys):
        return _fail("sign_in.html", _locked_message(), 429, next=next_url, username=username)
    user = None
    if username:
        user = db.session.execute(db.select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        ok = False
    else:
        ok = user.check_password(password) and user.active
    if not ok:
        limits.record_failure(*keys)
        return _fail("sign_in.html", _("Wrong username or password."), 401, next=next_url, username=username)
    return _complete_sign_in(user, next_url)


@web.post("/sign-out")
@public
def sign_out():
    device_locale = session.get("locale")
    if current_user.is_authenticated:
        current_user.revoke_sessions()  # a copy of this session's cookie no longer signs anyone in
        db.session.commit()
    logout_user()
    session.clear()
    if device_locale:
        session["locale"] = device_locale
    flash(_("Signed out."), "ok")
    return redirect(url_for("web.sign_in"))


@web.post("/language")
@public
def language():
    code = request.form.get("language", "")
    if code not in current_app.config["CELLWMS_LANGUAGES"]:
        abort(400)
    session["locale"] = code
    if current_user.is_authenticated:
        current_user.locale = code
        db.session.commit()
    return redirect(safe_next(request.form.get("next")) or url_for("web.home"))


@web.get("/")
@signed_in()
def home():
    flows = flows_for(current_user)
    counts = {}
    if any(flow.key == "orders-confirm" and flow.available for flow in flows):
        from server.web.orders import to_confirm_count

        counts["orders-confirm"] = to_confirm_count()
    return render_template("home.html", flows=flows, counts=counts)


@web.get("/scan")
@signed_in()
def scan():
    return render_template("scan.html")


@web.get("/evidence/public-key")
@public
def evidence_public_key():
    from server.services import evidence

    return render_template("evidence_public_key.html", pem=evidence.public_key_pem(),
                           fingerprint=evidence.fingerprint())
