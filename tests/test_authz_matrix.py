"""The authorization matrix: every operation and page of the app, from its url map, called by every
kind of caller, answers as the endpoint's declared access says (server.auth.Access).

Rows: each url-map rule and method (HEAD, OPTIONS and static files left out). Columns: anonymous,
a station token of each station kind, and each role as a signed-in session; on the API also each
role's API token. Pages get one station token (it opens no page). A new endpoint is covered
without a test written for it, and one without a declared access fails here.

An admitted caller never gets 401/403 or the sign-in redirect (any other answer below 500 is
fine: path ids are real for reads, made up for writes, bodies empty, so a write is refused by
its input). A refused caller gets 401 (pages: the sign-in redirect or, for a page script's
call, 401) when it has no credentials the surface knows, else 403; a refused write changes no
table's row count.
"""

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, text

from server.auth import PUBLIC, ROLES, SIGNED_IN, STATION, access_of
from server.extensions import db as _db
from server.models import Movement, PutawayTask, Role, StationKind
from server.models.stations import STATION_ROLE
from server.services.accounts import PRIVILEGED
from server.services.putaway import create_putaway_tasks
from server.services.stations import open_upload
from tests import factories as f
from tests.conftest import FreshClient
from tests.test_pages import csrf_token, sign_in_badge, sign_in_password
from tests.test_write_twins import JPEG, _delivery, _question, _stock, seed

SKIPPED_METHODS = {"HEAD", "OPTIONS"}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
MADE_UP_ID = "999999"
STATION_KINDS = {"dock": "DOCK-1", "pick": "PICK-1", "pack": "PACK-1", "handoff": "HAND-1", "returns": "RET-1"}
# Query strings some reads need to answer at once (a long poll would wait for a job).
QUERIES = {"/api/v1/stations/me/jobs": "wait=0"}
DOOR = "B-DOOR"  # the badge a POST /sign-in sends (a valid sign-in, whoever sends it)
PASSWORD = "pass-word-1"  # supervisors and admins sign in with it; workers by badge


@dataclass
class Caller:
    name: str
    kind: str  # anonymous, station, session, token
    roles: set = field(default_factory=set)
    headers: dict = field(default_factory=dict)
    csrf: str | None = None


@dataclass
class Cell:
    method: str
    rule: str
    path: str
    caller: Caller
    admitted: bool
    refusal: int | None  # 401 or 403 when refused


def _callers(app, s) -> list[Caller]:
    """Anonymous (a session with a CSRF token, as a browser has), each role signed in, each role's API
    token and each station kind's token."""
    callers = []
    client = FreshClient(app, app.response_class, use_cookies=True)
    callers.append(Caller("anonymous", "anonymous", csrf=csrf_token(client, "/sign-in"), headers=_cookie(app, client)))
    users = {role: f.user(f"as-{role}", (role,), badge=f"B-{role}") for role in Role}
    users[Role.supervisor].set_password(PASSWORD)
    for role in PRIVILEGED - {Role.supervisor}:
        users[role].password_hash = users[Role.supervisor].password_hash  # one slow hash, not several
    f.user("door", ("receiver",), badge=DOOR)
    _db.session.commit()
    for role, user in users.items():
        client = FreshClient(app, app.response_class, use_cookies=True)
        if role in PRIVILEGED:
            assert sign_in_password(client, user.username, PASSWORD).status_code == 302
        else:
            assert sign_in_badge(client, user.badge_code).status_code == 302
        token = csrf_token(client, "/")
        callers.append(Caller(f"session:{role}", "session", {role}, _cookie(app, client), token))
        callers.append(Caller(f"token:{role}", "token", {role}, f.token_for(user)))
    for kind, code in STATION_KINDS.items():
        station, auth = (s.dock, s.dock_auth) if code == s.dock.code else f.station(s.wh, code, kind)
        callers.append(Caller(f"station:{kind}", "station", {station.role}, auth))
    return callers


def _cookie(app, client) -> dict:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return {"Cookie": f"{cookie.key}={cookie.value}"} if cookie is not None else {}


def _facts(s) -> dict:
    """Real ids for the reads' paths."""
    question = _question(s)
    create_putaway_tasks(_delivery(s, "D-2", quantity=6, counted=6, closed=True))
    _db.session.commit()
    task = _db.session.execute(select(PutawayTask).order_by(PutawayTask.id)).scalars().first()
    _stock(s, s.shelves[1], 3)
    movement = _db.session.execute(select(Movement.id).order_by(Movement.id)).scalars().first()
    media, _created = open_upload(s.dock, "0" * 64, len(JPEG), "photo", "image/jpeg", "p.jpg")
    _db.session.commit()
    return {"warehouse_id": s.wh.id, "zone_id": s.storage_zone, "cell_id": s.shelves[0].id, "sku_id": s.kettle.id,
            "user_id": s.users["petr"].id, "station_id": s.dock.id, "delivery_id": question.delivery_id,
            "task_id": task.id, "movement_id": movement, "media_id": media.id, "question_id": question.id,
            "barcode": s.shelves[0].barcode, "profile_name": "zebra-zd421-203", "template": "shipping-label",
            "_stops": f"stops={s.shelves[0].id}"}


ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _paths(rule: str, method: str, access, facts: dict) -> list[str]:
    """The paths to call for `rule`: station screens once per station kind that has a screen to
    tell apart (dock and pick); ids real for reads, made up for writes."""
    codes = ["DOCK-1", "PICK-1"] if access.own_station else ["DOCK-1"]
    paths = []
    for code in codes:
        def value(match, code=code):
            name = match.group(1)
            if name == "code":
                return code
            return MADE_UP_ID if method in WRITES or name not in facts else str(facts[name])
        path = ARGUMENT.sub(value, rule)
        query = QUERIES.get(rule) or (facts["_stops"] if rule == "/map/route.svg" else "")
        paths.append(f"{path}?{query}" if query else path)
    return paths


def _station_role(path: str) -> str | None:
    for kind, code in STATION_KINDS.items():
        if f"/stations/{code}" in path:
            return STATION_ROLE[StationKind(kind)]
    return None


def expected(access, caller: Caller, api: bool, path: str) -> tuple[bool, int | None]:
    """(admitted, refusal status) for `caller` on an endpoint declaring `access`."""
    known = caller.kind in (("session", "token", "station") if api else ("session",))
    if access.who == PUBLIC:
        return True, None
    if not known:
        return False, 401
    is_user = caller.kind in ("session", "token")
    if access.who == SIGNED_IN:
        return (True, None) if is_user else (False, 403)
    if access.who == STATION:
        return (True, None) if caller.kind == "station" else (False, 403)
    assert access.who == ROLES
    roles = set(access.roles) | ({_station_role(path)} if access.own_station else set())
    if is_user:
        ok = Role.admin in caller.roles or bool(caller.roles & roles)
    else:
        ok = access.api and bool(caller.roles & roles)
    return (True, None) if ok else (False, 403)


def _row_counts() -> tuple:
    tables = _db.metadata.sorted_tables
    sql = "SELECT " + ", ".join(f'(SELECT count(*) FROM "{t.name}")' for t in tables)
    return tuple(_db.session.execute(text(sql)).one())


def _send(app, cell: Cell):
    client = FreshClient(app, app.response_class, use_cookies=False)
    headers = dict(cell.caller.headers)
    kwargs = {}
    if cell.method in WRITES:
        if cell.rule.startswith("/api/"):
            kwargs["json"] = {}
            if cell.caller.csrf:
                headers["X-CSRFToken"] = cell.caller.csrf
        else:
            form = {"csrf_token": cell.caller.csrf} if cell.caller.csrf else {}
            if cell.rule == "/sign-in":
                form["badge"] = DOOR
            kwargs["data"] = form
    response = client.open(cell.path, method=cell.method, headers=headers, **kwargs)
    response.get_data()  # a stream runs to its end (its lifetime is 0 here)
    response.close()
    return response


def _sign_in_redirect(response) -> bool:
    if response.status_code not in (301, 302, 303):
        return False
    location = urlsplit(response.headers.get("Location", ""))
    return location.path == "/sign-in" and "next" in parse_qs(location.query)


def _verdict(cell: Cell, response) -> str | None:
    """What is wrong with the answer, None when it is right."""
    status = response.status_code
    if status >= 500:
        return f"{status}"
    if cell.admitted:
        if status in (401, 403) or _sign_in_redirect(response):
            return f"admitted but refused ({status} {response.headers.get('Location', '')})"
        return None
    if cell.refusal == 401:
        api_like = cell.rule.startswith("/api/") or response.mimetype == "application/problem+json"
        if status == 401 and (not api_like or response.mimetype == "application/problem+json"):
            return None
        if not cell.rule.startswith("/api/") and _sign_in_redirect(response):
            return None
        return f"expected 401 or the sign-in redirect, got {status}"
    if status != 403:
        return f"expected 403, got {status}"
    if cell.rule.startswith("/api/") and response.mimetype != "application/problem+json":
        return "403 is not problem+json"
    return None


def operations(app) -> list[tuple[str, str, str]]:
    """(method, rule, endpoint) of every operation and page, from the url map."""
    return sorted((method, rule.rule, rule.endpoint) for rule in app.url_map.iter_rules()
                  if not (rule.endpoint == "static" or rule.endpoint.endswith(".static"))
                  for method in rule.methods - SKIPPED_METHODS)


def test_every_endpoint_declares_who_may_call_it(app):
    missing = [f"{method} {rule} ({endpoint})" for method, rule, endpoint in operations(app)
               if access_of(app, endpoint, method) is None]
    assert missing == [], f"endpoints without a declared access (roles_required, signed_in, public...): {missing}"


def test_the_openapi_publishes_each_operations_callers(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    by_path = {rule.rule: rule.endpoint for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")}
    seen = 0
    for path, item in spec["paths"].items():
        endpoint = next(e for r, e in by_path.items() if ARGUMENT.sub(lambda m: "{" + m.group(1) + "}", r) == path)
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert operation["x-callers"] == access_of(app, endpoint, method).doc()["x-callers"], (method, path)
            assert operation.get("x-roles") == access_of(app, endpoint, method).doc().get("x-roles"), (method, path)
            seen += 1
    assert seen > 50
    skus = spec["paths"]["/api/v1/skus"]
    assert skus["post"]["x-roles"] == ["admin", "supervisor"]
    picture = spec["paths"]["/api/v1/skus/{sku_id}/picture"]
    assert picture["put"]["x-roles"] == picture["delete"]["x-roles"] == ["admin", "integration", "supervisor"]
    assert {"packer", "picker", "integration"} <= set(picture["get"]["x-roles"])  # station screens load it
    assert spec["paths"]["/api/v1/stations/me/events"]["post"]["x-callers"] == ["station-token"]


def test_every_endpoint_answers_each_caller_as_declared(app, backend, capsys):
    app.config.update(CELLWMS_STREAM_SECONDS=0, CELLWMS_STREAMS_PER_USER=10_000)
    s = seed()
    facts = _facts(s)
    callers = _callers(app, s)
    page_callers = [c for c in callers if c.kind != "token" and c.name not in STATION_ROLES_OFF_PAGES]
    cells = []
    for method, rule, endpoint in operations(app):
        access = access_of(app, endpoint, method)
        api = rule.startswith("/api/")
        who = callers if api else page_callers
        if access.who == PUBLIC:  # the same for everyone: a caller of each kind
            who = [c for c in who if c.name in PUBLIC_SAMPLE]
        for path in _paths(rule, method, access, facts):
            for caller in who:
                admitted, refusal = expected(access, caller, api, path)
                cells.append(Cell(method, rule, path, caller, admitted, refusal))
    # Per operation its refused calls first, in a row: the row counts before and after them must be
    # the same. POST /sign-out last: it ends the caller's session.
    cells.sort(key=lambda c: ((c.method, c.rule) == ("POST", "/sign-out"), c.method, c.rule, c.admitted))
    _db.session.remove()

    wrong = []
    counts = None
    for n, cell in enumerate(cells):
        if not cell.admitted and cell.method in WRITES and counts is None:
            counts = _row_counts()
        try:
            response = _send(app, cell)
            problem = _verdict(cell, response)
        except Exception as error:  # noqa: BLE001 - a 500 in TESTING, reported with the others
            problem = f"raised {type(error).__name__}: {error}"
        _db.session.remove()  # as at the end of a real request
        if problem:
            wrong.append(f"{cell.method} {cell.path} as {cell.caller.name}: {problem}")
        following = cells[n + 1] if n + 1 < len(cells) else None
        if counts is not None and (following is None or following.admitted
                                   or (following.method, following.rule) != (cell.method, cell.rule)):
            if _row_counts() != counts:
                wrong.append(f"{cell.method} {cell.rule}: its refused calls changed the row counts")
            counts = None
    with capsys.disabled():
        print(f"\nauthz matrix [{backend}]: {len({(c.method, c.rule) for c in cells})} operations, "
              f"{len(cells)} cells (operation x caller), {sum(not c.admitted for c in cells)} refusals, "
              f"{len(wrong)} wrong answers")
    assert wrong == [], "\n".join(wrong[:60])


# Public endpoints answer everyone alike: one caller of each kind stands for the others.
PUBLIC_SAMPLE = {"anonymous", "session:receiver", "session:admin", "token:picker", "station:dock"}
# A station token opens no page: one kind stands for all on the pages.
STATION_ROLES_OFF_PAGES = {f"station:{kind}" for kind in STATION_KINDS if kind != "dock"}


@pytest.mark.parametrize("role", [Role.picker, Role.packer])
def test_the_route_map_and_print_previews_are_not_for_every_role(app, client, role):
    """/map/route.svg is for the roles of the pages that show a route (putaway, picking); /print for
    the printer setup (supervisors, admins)."""
    f.user("w", (role,), password="worker-pass-1")
    _db.session.commit()
    assert sign_in_password(client, "w", "worker-pass-1").status_code == 302
    assert (client.get("/map/route.svg?stops=1").status_code == 403) == (role == Role.packer)
    assert client.get("/print").status_code == 403
