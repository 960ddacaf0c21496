"""The flows as declared state machines: diagrams drawn from the declarations and kept in
docs/flows/, every declared step present, scenarios running no SQL, and what the base promises
(on both databases): a worker's receiving and putaway states apart, a page input at another
worker's station refused, one client event_id counted once, a closed delivery without editing
keys, refused steps leaving the state as it was."""

import ast
import base64
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.commands.scenarios import DOCS, generated_section
from server.models import ReceiptCount, StationEvent
from server.scenarios import FLOWS, handheld_input, handle_inputs, page_input
from server.scenarios.base import StationInput
from server.scenarios.machine import Answer, Flow, FlowScenario, FlowState, State, key
from server.scenarios.putaway import PUTAWAY
from server.scenarios.receiving import RECEIVING
from server.services import flow_states
from server.services import receiving as rc
from server.services.putaway import create_putaway_tasks
from tests import factories as f
from tests.putaway_helpers import putaway_warehouse, received_delivery

ROOT = Path(__file__).resolve().parents[1]
KETTLE_EAN = "4601234567893"


# --- declarations -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_the_committed_flow_page_holds_the_diagram_drawn_from_the_declarations(app, name):
    page = (DOCS / f"{name}.md").read_text(encoding="utf-8")
    with app.app_context():
        assert generated_section(name) in page, f"run: cellwms scenarios diagram {name} --write"


@pytest.mark.parametrize("name", ["receiving", "putaway"])
def test_the_diagram_command_prints_every_state_and_transition(app, name):
    result = app.test_cli_runner().invoke(args=["scenarios", "diagram", name])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "stateDiagram-v2"
    flow = FLOWS[name].flow
    assert f"    [*] --> {flow.initial}" in lines
    arrows = {(m[1], m[2]) for m in (re.match(r"    (\w+) --> (\w+) : ", line) for line in lines) if m}
    declared = {(state.name, to) for state in flow.states.values() for t in state.on for to in t.to}
    assert arrows == declared
    assert all(state in {a for a, _ in arrows} for state in flow.states)


def test_an_unknown_flow_is_a_usage_error(app):
    result = app.test_cli_runner().invoke(args=["scenarios", "diagram", "teleport"])
    assert result.exit_code == 2 and "receiving" in result.output


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_every_declared_step_exists_and_every_state_is_reachable(name):
    scenario = FLOWS[name]
    reached = {scenario.flow.initial}
    for state in scenario.flow.states.values():
        for t in state.on:
            assert callable(getattr(scenario, t.step, None)), f"{name}.{state.name}: no step {t.step}"
            if t.when:
                assert callable(getattr(scenario.flow.data(), t.when, None)), f"{name}: no predicate {t.when}"
            reached.update(t.to)
    assert reached == set(scenario.flow.states)


def test_the_pages_take_exactly_the_declared_keys():
    from server.web import putaway, receiving

    assert RECEIVING.flow.key_params() == receiving.KEYS
    assert PUTAWAY.flow.key_params() == putaway.KEYS
    assert "leave" not in putaway.KEYS


def test_scenarios_import_no_sqlalchemy():
    for path in (ROOT / "server" / "scenarios").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] == "sqlalchemy" for n in names), f"{path.name} imports {names}"


def test_a_flow_declaring_an_unknown_state_is_refused():
    with pytest.raises(ValueError, match="unknown"):
        Flow("broken", (State("a", "A", on=(key("go", "Go", "go", "nowhere"),)),), FlowState, "Broken")


@dataclass
class Toy(FlowState):
    VERSION = 2
    n: int = 0


class ToyScenario(FlowScenario):
    flow = Flow("toy", (State("a", "Press go.", on=(key("go", "Go", "go", "b"), key("stray", "Stray", "stray", "a"))),
                        State("b", "Done.", on=(key("back", "Back", "back", "a"),))), Toy, "Toy")

    def go(self, ctx, data, payload):
        data.n += 1
        return Answer("b", "went")

    def stray(self, ctx, data, payload):
        return Answer("b", "went where it was not declared to")

    def back(self, ctx, data, payload):
        return Answer("a", "back")


def test_a_step_that_goes_where_it_was_not_declared_to_go_fails_loudly(db):
    user = f.user("ivan", roles=("receiver",))
    db.session.commit()
    toy = ToyScenario()
    assert handheld_input(user, "button", {"key": "go"}, scenario=toy)["prompt"]["state"] == "b"
    answer = handheld_input(user, "button", {"key": "go"}, scenario=toy)["prompt"]
    assert answer["sound"] == "error" and answer["state"] == "b" and answer["keys"] == [
        {"key": "back", "label": "Back", "params": []}]
    handheld_input(user, "button", {"key": "back"}, scenario=toy)
    with pytest.raises(RuntimeError, match="undeclared"):
        handheld_input(user, "button", {"key": "stray"}, scenario=toy)


def test_a_state_stored_by_another_version_starts_over(db):
    user = f.user("ivan", roles=("receiver",))
    db.session.commit()
    flow_states.save(flow_states.handheld_key(user.id), "toy", "b", 1, {"n": 5})
    assert ToyScenario().view(user=user)["state"] == "a"
    assert ToyScenario().view(user=user)["data"].n == 0


# --- the base, through the real flows -----------------------------------------------------------


@pytest.fixture
def site(db):
    wh, receiving_cell, cells, quarantine = putaway_warehouse(max_units=100)
    kettle = f.sku("KETTLE", "Чайник", barcode=KETTLE_EAN)
    iron = f.sku("IRON", "Утюг", barcode="4601234567800")
    ivan = f.user("ivan", roles=("receiver",), badge="B-1")
    olga = f.user("olga", roles=("receiver",), badge="B-2")
    # D-1 is being received; D-2 was received and waits for putaway.
    d1 = rc.create_delivery(wh.id, "D-1", "Supplier", "2026-11-24", [{"sku_code": "KETTLE", "quantity": 5}])
    d2 = received_delivery(wh, receiving_cell, [(iron, 3, "", None)], number="D-2")
    create_putaway_tasks(d2)
    station, _auth = f.station(wh, code="DOCK-1", kind="dock")
    db.session.commit()
    return {"wh": wh, "kettle": kettle, "iron": iron, "ivan": ivan, "olga": olga, "d1": d1, "d2": d2,
            "station": station}


def code(text: str) -> dict:
    return {"raw_b64": base64.b64encode(text.encode()).decode(), "symbology": ""}


def hh(db, user, scenario, kind, payload, event_id=None) -> dict:
    outcome = handheld_input(user, kind, payload, scenario=scenario, event_id=event_id)
    db.session.commit()
    return outcome


def counted(db, delivery) -> int:
    db.session.expire_all()
    return db.session.execute(select(func.coalesce(func.sum(ReceiptCount.quantity), 0))
                              .where(ReceiptCount.delivery_id == delivery.id)).scalar()


def test_a_workers_receiving_and_putaway_sessions_do_not_touch_each_other(db, site):
    ivan = site["ivan"]
    opened = hh(db, ivan, RECEIVING, "button", {"key": "open", "delivery_id": site["d1"].id})["prompt"]
    assert opened["state"] == "counting"
    # Putaway filtered by another delivery (D-2) in the same worker's handheld...
    filtered = hh(db, ivan, PUTAWAY, "button", {"key": "delivery", "delivery_id": site["d2"].id})["prompt"]
    assert filtered["state"] == "choose" and filtered["screen"]["delivery_id"] == site["d2"].id
    taken = hh(db, ivan, PUTAWAY, "scan", code("4601234567800"))["prompt"]
    assert taken["state"] == "task", taken
    # ... and receiving still counts into D-1.
    count = hh(db, ivan, RECEIVING, "scan", code(KETTLE_EAN))["prompt"]
    assert count["sound"] == "ok" and count["screen"]["delivery"]["number"] == "D-1", count
    assert counted(db, site["d1"]) == 1
    rows = {r.flow: r for r in db.session.execute(select(flow_states.FlowState)).scalars()}
    assert rows["receiving"].data["delivery_id"] == site["d1"].id and rows["receiving"].state == "counting"
    assert rows["putaway"].data["delivery_id"] == site["d2"].id and rows["putaway"].state == "task"
    # The putaway task is where it was for the putaway page.
    assert PUTAWAY.view(user=ivan)["state"] == "task"
    assert RECEIVING.view(user=ivan)["data"].delivery_id == site["d1"].id


def test_the_same_client_event_id_from_a_handheld_counts_once(db, site):
    ivan = site["ivan"]
    hh(db, ivan, RECEIVING, "button", {"key": "open", "delivery_id": site["d1"].id})
    event_id = str(uuid.uuid4())
    first = hh(db, ivan, RECEIVING, "scan", code(KETTLE_EAN), event_id=event_id)
    again = hh(db, ivan, RECEIVING, "scan", code(KETTLE_EAN), event_id=event_id)
    assert (first["status"], again["status"]) == ("stored", "duplicate")
    assert again["prompt"] == first["prompt"]
    assert counted(db, site["d1"]) == 1
    assert db.session.execute(select(func.count()).select_from(StationEvent)
                              .where(StationEvent.event_id == event_id)).scalar() == 1


def station_scan(db, station, text):
    outcome = handle_inputs(station, [StationInput(event_id=str(uuid.uuid4()), kind="scan", payload=code(text))])
    db.session.commit()
    return outcome[0]


def test_a_page_input_at_a_station_where_another_worker_is_signed_in_is_refused(db, site):
    station, olga = site["station"], site["olga"]
    station_scan(db, station, "B-1")  # Ivan signs in at the dock by badge
    station_scan(db, station, "D-1")
    before = counted(db, site["d1"])
    for kind, payload in (("scan", code(KETTLE_EAN)), ("button", {"key": "close"}),
                          ("button", {"key": "sign_out"}), ("button", {"key": "sign_in"})):
        outcome = page_input(station, olga, kind, payload)
        db.session.commit()
        assert outcome["status"] == "rejected", outcome
        assert "Ivan" in outcome["prompt"]["message"] or "ivan" in outcome["prompt"]["message"]
    assert counted(db, site["d1"]) == before
    assert RECEIVING.view(station=station)["state"] == "counting"
    db.session.expire_all()
    from server.models import StationSession
    assert db.session.get(StationSession, station.id).user_id == site["ivan"].id
    # A badge scanned into the station's page is the station's badge: Ivan signs out, Olga in.
    assert page_input(station, olga, "scan", code("B-1"))["status"] == "stored"
    assert page_input(station, olga, "scan", code("B-2"))["prompt"]["user"] == "Olga"
    db.session.commit()
    assert page_input(station, olga, "scan", code("D-1"))["prompt"]["state"] == "counting"


def test_nobody_at_a_station_a_page_user_signs_in_explicitly(db, site):
    station, olga = site["station"], site["olga"]
    refused = page_input(station, olga, "scan", code("D-1"))
    assert refused["status"] == "rejected" and "Sign in here" in refused["prompt"]["message"]
    signed = page_input(station, olga, "button", {"key": "sign_in"})
    assert signed["status"] == "stored" and signed["prompt"]["user"] == "Olga"
    assert page_input(station, olga, "scan", code("D-1"))["prompt"]["state"] == "counting"


def test_a_closed_delivery_shows_no_editing_keys(db, site):
    ivan = site["ivan"]
    opened = hh(db, ivan, RECEIVING, "button", {"key": "open", "delivery_id": site["d1"].id})["prompt"]
    keys = {k["key"] for k in opened["keys"]}
    assert {"quantity", "damaged", "close", "count", "sticker", "leave"} <= keys
    assert "undo" not in keys and "add_unexpected" not in keys  # nothing to undo or add yet
    after = hh(db, ivan, RECEIVING, "scan", code(KETTLE_EAN))["prompt"]
    assert "undo" in {k["key"] for k in after["keys"]}
    closed = hh(db, ivan, RECEIVING, "button", {"key": "close"})["prompt"]
    assert closed["state"] == "closed"
    editing = {"quantity", "count", "damaged", "undo", "add_unexpected", "sticker", "close"}
    assert not editing & {k["key"] for k in closed["keys"]}
    # Pressed anyway (an old page): refused, nothing counted.
    refused = hh(db, ivan, RECEIVING, "button", {"key": "count", "line_id": 1, "quantity": 1})["prompt"]
    assert refused["sound"] == "error" and refused["state"] == "closed"
    assert counted(db, site["d1"]) == 1
    # Opened again from the list: shown closed, with no editing keys.
    hh(db, ivan, RECEIVING, "button", {"key": "leave"})
    again = hh(db, ivan, RECEIVING, "button", {"key": "open", "delivery_id": site["d1"].id})["prompt"]
    assert again["state"] == "closed" and not editing & {k["key"] for k in again["keys"]}
    view = RECEIVING.view(user=ivan)
    assert view["state"] == "closed" and not editing & {k["key"] for k in view["keys"]}


def test_a_delivery_closed_elsewhere_moves_the_other_receiver_to_closed(db, site, client):
    ivan, olga = site["ivan"], site["olga"]
    hh(db, ivan, RECEIVING, "button", {"key": "open", "delivery_id": site["d1"].id})
    hh(db, olga, RECEIVING, "button", {"key": "open", "delivery_id": site["d1"].id})
    hh(db, olga, RECEIVING, "button", {"key": "close"})
    assert RECEIVING.view(user=ivan)["state"] == "closed"
    late = hh(db, ivan, RECEIVING, "scan", code(KETTLE_EAN))["prompt"]
    assert late["sound"] == "error" and late["state"] == "closed"
    assert counted(db, site["d1"]) == 0


def test_a_refused_step_changes_nothing_and_keeps_the_state(db, site):
    ivan = site["ivan"]
    hh(db, ivan, PUTAWAY, "scan", code("4601234567800"))
    before = PUTAWAY.view(user=ivan)["data"].as_json()
    wrong = hh(db, ivan, PUTAWAY, "scan", code(KETTLE_EAN))["prompt"]  # a SKU without a task
    assert wrong["sound"] == "error" and wrong["state"] == "task"
    assert PUTAWAY.view(user=ivan)["data"].as_json() == before
