"""A building plan from the layout spec (examples/layout-halls.toml: two halls at right angles, a
door corridor, a dead-end aisle, one-way aisles, a column, racks of unequal length, start and drop
at different points): applied and re-applied, bad specs refused with their keys, the map drawing
its graph, a wave released in the route order of route_faces from start to drop, and picked along
that route without walking a one-way aisle backwards (both databases)."""

import base64
import copy
import itertools
import math
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from server.core.routing import route
from server.core.routing.graph import route_faces
from server.core.walkgraph import Face
from server.models import Batch, Cell, OrderReservation, PickLine, Warehouse, Wave, Zone
from server.scenarios import handheld_input
from server.scenarios.picking import PICKING
from server.services import pick_scans, picking, putaway, slotting, waves
from server.services.errors import DomainError
from server.services.geometry import warehouse_geometry
from server.services.layout import LayoutError, apply_layout, load_spec, parse_spec
from tests import factories as f
from tests.assertions import assert_problem, count
from tests.halls_helpers import EXAMPLE, STOCK, barcode_of, example, halls_site, halls_warehouse
from tests.halls_helpers import cell as halls_cell
from tests.picking_helpers import order
from tests.test_admin import admin  # noqa: F401 - the signed-in admin fixture
from tests.test_cli import run
from tests.test_pages import csrf_token, sign_in_badge, sign_in_password

NS = {"svg": "http://www.w3.org/2000/svg"}
CELLS = 2 * 4 * 10 * 2 * 3 + 10 * 2 * 3 + 3 * 12 * 2 * 2 + 8 * 2 + 2


# --- the spec -------------------------------------------------------------------------------------


def test_the_example_applies_and_a_second_apply_changes_nothing(db):
    report = apply_layout(load_spec(str(EXAMPLE)))
    db.session.commit()
    assert (report.warehouse_action, report.zones.created, report.cells.created) == ("created", 4, CELLS)
    wh = db.session.execute(select(Warehouse)).scalar_one()
    assert (wh.start_point, wh.drop_point, wh.point_names) == ("CART", "PACK", {"CART": "Cart park",
                                                                                  "PACK": "Pack area"})
    assert len(wh.plan_hash) == 64 and '"nodes"' in wh.plan_json
    assert db.session.execute(select(Zone.drop_point).filter_by(code="B")).scalar_one() == "PACK"
    assert any("2 hall(s)" in line for line in report.lines())

    again = apply_layout(load_spec(str(EXAMPLE)))
    db.session.commit()
    assert again.warehouse_action == "unchanged"
    assert (again.zones.updated, again.cells.created, again.cells.updated) == (0, 0, 0)
    assert again.cells.unchanged == CELLS

    # Every placed cell stands on a pick face of the plan; the faces are on their edges.
    geometry = warehouse_geometry(wh.id)
    placed = db.session.execute(select(Cell.id).where(Cell.aisle > 0)).scalars().all()
    assert set(geometry.points) == set(placed) and len(placed) == CELLS - 2
    plan = geometry.plan
    assert plan.aisle_numbers == tuple(range(1, 10))
    assert {plan.hall_of(a) for a in (1, 5)} == {"A"} and {plan.hall_of(a) for a in (6, 9)} == {"B"}
    point = geometry.points[db.session.execute(select(Cell.id).filter_by(address="B-07-09-1")).scalar_one()]
    assert point.face == plan.face(7, 1, 5)
    plan.graph.check_face(point.face)


def test_a_spec_without_halls_stores_no_plan_and_removes_one(db):
    apply_layout(load_spec(str(EXAMPLE)))
    db.session.commit()
    spec = example()
    for key in ("halls", "aisles", "columns", "corridors", "points"):
        spec.pop(key)
    spec["geometry"] = {k: v for k, v in spec["geometry"].items() if k not in ("start", "drop")}
    spec["zones"][2].pop("drop")
    report = apply_layout(parse_spec(spec))
    db.session.commit()
    wh = db.session.execute(select(Warehouse)).scalar_one()
    assert report.warehouse_action == "updated" and report.zones.updated == 1
    assert (wh.plan_hash, wh.plan_json, wh.start_point, wh.drop_point) == (None, None, None, None)
    assert type(warehouse_geometry(wh.id).layout).__name__ == "Layout"


def test_dry_run_says_what_the_plan_would_be(app, db):
    dry = run(app, "layout", "apply", EXAMPLE, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "plan: 2 hall(s): A (aisles 1-5, 2 block(s)), B (aisles 6-9, 1 block(s))" in dry.output
    assert "one-way)" in dry.output and "start CART, drop PACK" in dry.output
    assert "dry run: nothing written" in dry.output
    assert count(db, Cell) == 0


def _set(path: str, value):
    """A change to the example: `path` like "halls.1.rotation" set to value (None: removed)."""
    def change(spec):
        *parents, last = path.split(".")
        node = spec
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is None:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value
    return change


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (_set("halls.1.rotation", "ninety"), "halls[1].rotation"),
        (_set("halls.1.origin", [1, 2, 3]), "halls[1].origin"),
        (_set("halls.0.aisles", [1, 6]), "halls[1].aisles"),
        (_set("halls.0.colour", "red"), "halls[0].colour"),
        (_set("halls.1.bays", None), "halls[1].bays"),
        (_set("areas.2.bays", 13), "areas[2].bays"),
        (_set("areas.0.blocks", 3), "areas[0].blocks"),
        (_set("areas.3.aisles", [9, 10]), "areas[3].aisles"),
        (_set("areas.1.blocks", [2, 2]), "areas[1].blocks"),  # aisle 5 spans block 1 only
        (_set("aisles.2.oneway", "sideways"), "aisles[2].oneway"),
        (_set("aisles.0.closed", "front"), "aisles[0].closed"),
        (_set("aisles.1.blocks", [1, 3]), "aisles[1].blocks"),
        (_set("aisles.1.aisle", 12), "aisles[1].aisle"),
        (_set("columns.0.between", [2, 4]), "columns[0].between"),
        (_set("columns.0.cross_aisle", 3), "columns[0].cross_aisle"),
        (_set("corridors.0.to.hall", "C"), "corridors[0].to.hall"),
        (_set("corridors.0.via", [[19.0]]), "corridors[0].via[0]"),
        (_set("corridors.0.oneway", "yes"), "corridors[0].oneway"),
        (_set("points.1.at.cross_aisle", 5), "points[1].at.cross_aisle"),
        (_set("points.1.at.aisle", 2), "points[1].at.aisle"),
        (_set("points.1.code", "CART"), "points[1].code"),
        (_set("geometry.start", "NOPE"), "geometry.start"),
        (_set("zones.2.drop", "NOPE"), "zones[2].drop"),
        (_set("halls", None), "halls"),
        (_set("cells.0.aisle", 12), "cells[0].aisle"),
    ],
)
def test_bad_building_specs_name_the_key_and_write_nothing(db, change, key):
    spec = copy.deepcopy(example())
    spec["cells"][0].update(block=1, slot=1, aisle=1)  # a placed single cell (on the plan)
    change(spec)
    with pytest.raises(LayoutError) as caught:
        apply_layout(parse_spec(spec))
    assert key in [k for k, _ in caught.value.errors], caught.value.errors
    db.session.rollback()
    assert count(db, Warehouse) == 0 and count(db, Cell) == 0


def test_start_and_drop_need_a_building():
    spec = copy.deepcopy(example())
    for key in ("halls", "aisles", "columns", "corridors", "points"):
        spec.pop(key)
    spec["zones"][2].pop("drop")
    with pytest.raises(LayoutError) as caught:
        parse_spec(spec)
    assert [k for k, _ in caught.value.errors] == ["geometry.start", "geometry.drop"]


# --- the map --------------------------------------------------------------------------------------


def test_the_layout_page_draws_the_plan_its_graph_and_points(admin, db):  # noqa: F811
    apply_layout(load_spec(str(EXAMPLE)))
    db.session.commit()
    wh = db.session.execute(select(Warehouse).filter_by(code="HALLS1")).scalar_one()
    page = admin.get(f"/admin/layout?warehouse={wh.id}").get_data(as_text=True)
    start = page.index("<svg")
    svg = ET.fromstring(page[start:page.index("</svg>", start) + len("</svg>")])
    graph = warehouse_geometry(wh.id).plan.graph
    edges = svg.findall(".//svg:line[@data-edge]", NS)
    assert len(edges) == len(graph.edges)
    oneway = [e for e in edges if "oneway" in e.get("class")]
    assert len(oneway) == sum(1 for *_uv, one in graph.edges if one) > 0
    arrows = {a.get("data-edge") for a in svg.findall(".//svg:polygon[@class='oneway-arrow']", NS)}
    assert arrows == {e.get("data-edge") for e in oneway}
    assert [h.get("data-hall") for h in svg.findall(".//svg:polygon[@class='hall']", NS)] == ["A", "B"]
    racks = svg.findall(".//svg:polygon[@class='rack']", NS)
    assert {r.get("data-aisle") for r in racks} == {str(a) for a in range(1, 10)}
    points = {p.get("data-point"): p.get("data-role") for p in svg.findall(".//svg:rect[@class='point']", NS)}
    assert points == {"CART": "start", "PACK": "drop"}
    labels = [t.text for t in svg.iter(f"{{{NS['svg']}}}text") if t.get("class") == "point-label"]
    assert sorted(labels) == ["Drop · Pack area", "Start · Cart park"]


# --- waves and picking ------------------------------------------------------------------------------


def _faces(geometry, lines) -> list[Face]:
    """The distinct faces of pick lines, in their order."""
    return list(dict.fromkeys(geometry.points[pl.cell_id].face for pl in lines))


def test_a_wave_is_routed_from_start_to_drop_in_the_order_of_route_faces(db):
    s = halls_site()
    wave = db.session.get(Wave, s.wave.id)
    assert (wave.start_point, wave.drop_point) == ("CART", "PACK")
    geometry = warehouse_geometry(s.wh.id)
    plan = geometry.plan
    lines = db.session.execute(select(PickLine).filter_by(batch_id=s.batch.id).order_by(PickLine.seq)).scalars().all()
    assert len(lines) == len(STOCK)
    visited = _faces(geometry, lines)
    start, end = plan.points["CART"], plan.points["PACK"]
    order, length = route_faces(plan.graph, visited, start, end)
    assert [visited[i] for i in order] == visited  # the lines are already in route order
    assert plan.graph.walk_length([start, *visited, end]) == pytest.approx(length)
    assert s.batch.planned_walk_m == pytest.approx(length, abs=0.01)
    # Start and drop differ: the round trip from the cart park is another (longer) walk.
    _order, round_trip = route_faces(plan.graph, visited, start, start)
    assert round_trip != pytest.approx(length)


def _on_segment(p, a, b, tolerance=1e-6) -> bool:
    ax, ay = a
    bx, by = b
    length = math.hypot(bx - ax, by - ay)
    if length == 0:
        return False
    cross = (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax)
    along = ((p[0] - ax) * (bx - ax) + (p[1] - ay) * (by - ay)) / length
    return abs(cross) / length < tolerance and -tolerance <= along <= length + tolerance


def backwards(graph, polyline) -> list:
    """Polyline legs that run along a one-way edge against its direction."""
    wrong = []
    for p, q in zip(polyline, polyline[1:], strict=False):
        for u, v, oneway in graph.edges:
            if not oneway:
                continue
            a, b = graph.nodes[u], graph.nodes[v]
            along = (q[0] - p[0]) * (b[0] - a[0]) + (q[1] - p[1]) * (b[1] - a[1])
            if p != q and _on_segment(p, a, b) and _on_segment(q, a, b) and along < 0:
                wrong.append((p, q, (u, v)))
    return wrong


def test_the_batch_never_walks_a_one_way_aisle_backwards(db):
    s = halls_site()
    wave = db.session.get(Wave, s.wave.id)
    geometry = warehouse_geometry(s.wh.id).walked(wave.start_point, wave.drop_point)
    lines = db.session.execute(select(PickLine).filter_by(batch_id=s.batch.id).order_by(PickLine.seq)).scalars().all()
    walk = route(geometry.layout, [geometry.points[pl.cell_id] for pl in lines])
    graph = geometry.plan.graph
    assert walk.polyline[0] == graph.xy(geometry.plan.points["CART"])
    assert walk.polyline[-1] == graph.xy(geometry.plan.points["PACK"])
    oneway = [(graph.nodes[u], graph.nodes[v]) for u, v, one in graph.edges if one]
    used = [(p, q) for p, q in zip(walk.polyline, walk.polyline[1:], strict=False)
            if any(_on_segment(p, a, b) and _on_segment(q, a, b) for a, b in oneway)]
    assert used, "the batch's walk passes a one-way aisle"
    assert backwards(graph, walk.polyline) == []
    # The check can fail: the same walk reversed runs against the one-way aisles.
    assert backwards(graph, walk.polyline[::-1])


def test_wave_start_and_drop_are_given_or_refused(db):
    s = halls_warehouse()
    code = "MUG"
    order(s.wh, "3001", [(s.skus[code], 1, [(s.cells[code], 1, "", None)])])
    with pytest.raises(DomainError) as refused:
        waves.release_wave(s.wh.id, start="NOPE")
    assert refused.value.slug == "unknown-point"
    with pytest.raises(DomainError) as refused:
        waves.release_wave(s.wh.id, zone="ZZ")
    assert refused.value.slug == "unknown-zone"
    wave = waves.release_wave(s.wh.id, start="PACK", drop="CART")
    assert (wave.start_point, wave.drop_point) == ("PACK", "CART")
    geometry = warehouse_geometry(s.wh.id)
    plan = geometry.plan
    face = geometry.points[s.cells[code].id].face
    expected = plan.graph.distance(plan.points["PACK"], face) + plan.graph.distance(face, plan.points["CART"])
    assert wave.planned_walk_m == pytest.approx(expected, abs=0.01)


def test_wave_zone_start_and_drop_default_to_the_zones_then_the_warehouses(db):
    s = halls_warehouse()
    order(s.wh, "3002", [(s.skus["PLATE"], 1, [(s.cells["PLATE"], 1, "", None)])])  # zone B only
    wave = waves.release_wave(s.wh.id)
    assert (wave.start_point, wave.drop_point) == ("CART", "PACK")  # zone B's drop is PACK too
    db.session.execute(select(Zone).filter_by(code="B")).scalar_one().drop_point = "CART"
    order(s.wh, "3003", [(s.skus["JUG"], 1, [(s.cells["JUG"], 1, "", None)])])
    assert (lambda w: (w.start_point, w.drop_point))(waves.release_wave(s.wh.id)) == ("CART", "CART")
    order(s.wh, "3004", [(s.skus["MUG"], 1, [(s.cells["MUG"], 1, "", None)])])  # zone A: the warehouse's
    assert waves.release_wave(s.wh.id).drop_point == "PACK"


def _send(db, user, kind, payload) -> dict:
    outcome = handheld_input(user, kind, payload, scenario=PICKING)
    db.session.commit()
    assert outcome["status"] == "stored", outcome
    return outcome["prompt"]


def _scan(db, user, code: str) -> dict:
    return _send(db, user, "scan", {"raw_b64": base64.b64encode(code.encode()).decode(), "symbology": ""})


def test_picking_the_batch_walks_its_route_from_start_to_drop(db):
    s = halls_site()
    wave = db.session.get(Wave, s.wave.id)
    planned = [pl.cell.address for pl in picking.open_lines(db.session.get(Batch, s.batch.id))]
    prompt = _send(db, s.picker, "button", {"key": "take"})
    for slot in range(1, len(s.orders) + 1):
        assert prompt["state"] == "totes", prompt
        prompt = _scan(db, s.picker, f"TOTE-{slot:04d}")
    walked = []
    while prompt["state"] == "cell":
        assert {k: prompt["screen"]["batch"]["route"][k] for k in ("start", "drop")} == {"start": "CART",
                                                                                           "drop": "PACK"}
        line = prompt["screen"]["line"]
        walked.append(line["cell"]["address"])
        assert _scan(db, s.picker, line["cell"]["address"])["state"] == "item"
        prompt = _scan(db, s.picker, barcode_of(line["sku"]["code"]))
        if line["quantity"] > 1:
            prompt = _send(db, s.picker, "button", {"key": "quantity", "quantity": line["quantity"]})
        prompt = _scan(db, s.picker, line["tote"])
        assert prompt["sound"] == "ok", prompt
    assert walked == planned
    assert prompt["state"] == "drop", prompt
    assert _scan(db, s.picker, "PCK-01")["state"] == "done"

    db.session.expire_all()
    batch = db.session.get(Batch, s.batch.id)
    geometry = warehouse_geometry(s.wh.id)
    plan = geometry.plan
    cells = {c.address: c.id for c in db.session.execute(select(Cell)).scalars()}
    faces = list(dict.fromkeys(geometry.points[cells[a]].face for a in walked))
    # Walked metres: from the start point through the stops (the walk to the drop is not a pick).
    assert batch.status == "dropped"
    assert batch.walked_m == pytest.approx(plan.graph.walk_length([plan.points[wave.start_point], *faces]), abs=0.05)
    assert all(r.quantity == 0 for r in db.session.query(OrderReservation))


def test_a_reroute_goes_from_the_pickers_face_to_the_drop(db):
    s = halls_site()
    batch = db.session.get(Batch, s.batch.id)
    here = picking.open_lines(batch)[2]
    rest = pick_scans.reroute(batch, here.cell_id)
    geometry = warehouse_geometry(s.wh.id)
    plan = geometry.plan
    faces = _faces(geometry, rest)
    # From where the picker stands (the end of the face's edge they step off at) to the drop.
    start, drop = geometry.walked(geometry.points[here.cell_id]).layout.start, plan.points["PACK"]
    assert start in plan.graph.edges[geometry.points[here.cell_id].face.edge][:2]
    # No order of the open lines walks less.
    shortest = min(plan.graph.walk_length([start, *p, drop]) for p in itertools.permutations(faces))
    assert plan.graph.walk_length([start, *faces, drop]) == pytest.approx(shortest)


def test_the_wave_page_and_the_api_take_start_and_drop(db, client):
    s = halls_warehouse()
    boss = f.user("boss", ("supervisor",), password="boss-pass-1")
    order(s.wh, "3005", [(s.skus["MUG"], 1, [(s.cells["MUG"], 1, "", None)])])
    order(s.wh, "3006", [(s.skus["TRAY"], 1, [(s.cells["TRAY"], 1, "", None)])])
    db.session.commit()
    auth = f.token_for(boss)
    assert_problem(client.post("/api/v1/waves", json={"drop": "NOPE"}, headers=auth), 422, "unknown-point")
    r = client.post("/api/v1/waves", json={"max_orders": 1, "start": "PACK", "drop": "CART"}, headers=auth)
    assert r.status_code == 201, r.json
    assert (r.json["start_point"], r.json["drop_point"]) == ("PACK", "CART")

    assert sign_in_password(client, "boss", "boss-pass-1").status_code == 302
    page = client.get("/waves").get_data(as_text=True)
    assert '<select name="start">' in page and '<option value="PACK">Pack area (PACK)</option>' in page
    r = client.post("/waves", data={"csrf_token": csrf_token(client, "/waves"), "drop": "CART"})
    assert r.status_code == 302, r.get_data(as_text=True)
    wave = db.session.execute(select(Wave).order_by(Wave.id.desc()).limit(1)).scalar_one()
    assert (wave.start_point, wave.drop_point) == ("CART", "CART")


def test_the_route_map_draws_the_walk_along_the_graph_with_numbered_stops(client, db):
    s = halls_site()
    lines = db.session.execute(select(PickLine).filter_by(batch_id=s.batch.id).order_by(PickLine.seq)).scalars().all()
    stops = list(dict.fromkeys(pl.cell_id for pl in lines))
    sign_in_badge(client, "B-9")
    response = client.get(f"/map/route.svg?stops={';'.join(map(str, stops))}&target={stops[1]}")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    svg = ET.fromstring(response.get_data(as_text=True))
    assert "wh-plan" in svg.get("class")
    numbered = [(g.get("data-stop"), g.get("data-cell")) for g in svg.findall(".//svg:g", NS)]
    addresses = {pl.cell_id: pl.cell.address for pl in lines}
    assert numbered == [(str(n), addresses[c]) for n, c in enumerate(stops, start=1)]
    geometry = warehouse_geometry(s.wh.id)
    graph, plan = geometry.plan.graph, geometry.plan
    path = [tuple(map(float, v.split(","))) for v in svg.find(".//svg:polyline[@class='path']", NS).get("points").split()]
    start, drop = graph.xy(plan.points["CART"]), graph.xy(plan.points["PACK"])
    # SVG y is flipped: y_svg = y1 - y, the same y1 for every vertex.
    flip = path[0][1] + start[1]
    assert path[0][0] == pytest.approx(start[0]) and path[-1] == pytest.approx((drop[0], flip - drop[1]), abs=0.01)
    assert backwards(graph, [(x, flip - y) for x, y in path]) == []
    width = float(svg.get("viewBox").split()[2])
    size = float(svg.find(".//svg:text[@class='target-label']", NS).get("font-size"))
    assert size / width * 340 >= 12  # at least 12 px when the map is 340 px wide

    # A wave's own start and drop (the picking screen passes them).
    turned = client.get(f"/map/route.svg?stops={';'.join(map(str, stops))}&start=PACK&drop=CART&target=")
    svg = ET.fromstring(turned.get_data(as_text=True))
    path = [tuple(map(float, v.split(","))) for v in svg.find(".//svg:polyline[@class='path']", NS).get("points").split()]
    pack, cart = graph.xy(plan.points["PACK"]), graph.xy(plan.points["CART"])
    assert path[0][0] == pytest.approx(pack[0]) and path[-1][0] == pytest.approx(cart[0])
    roles = {p.get("data-point"): p.get("data-role") for p in svg.findall(".//svg:rect[@class='point']", NS)}
    assert roles == {"PACK": "start", "CART": "drop"}


def test_the_layout_page_previews_and_applies_the_plan(admin, db):  # noqa: F811
    from tests.test_admin import _preview, post

    html = _preview(admin, EXAMPLE.read_text(encoding="utf-8")).get_data(as_text=True)
    counts = load_spec(str(EXAMPLE)).building.counts
    assert (f"Building plan — halls: 2, walkways: {counts['edges']} (one-way: {counts['oneway']}), points: 2; "
            "start: CART, drop: PACK") in html
    r = post(admin, "/admin/layout/apply", {"text": EXAMPLE.read_text(encoding="utf-8")}, "/admin/layout")
    assert r.status_code == 302
    wh = db.session.execute(select(Warehouse).filter_by(code="HALLS1")).scalar_one()
    assert wh.plan_hash is not None and count(db, Cell) == CELLS


def test_a_wave_whose_points_a_new_plan_dropped_walks_the_warehouses(db):
    s = halls_site()
    wave = db.session.get(Wave, s.wave.id)
    wave.start_point = wave.drop_point = "GONE"
    batch = db.session.get(Batch, s.batch.id)
    before = [pl.id for pl in picking.open_lines(batch)]
    assert [pl.id for pl in pick_scans.reroute(batch, None)] == before  # from CART to PACK, as released


def test_slotting_ranks_cells_by_the_walk_on_the_plan(db):
    s = halls_warehouse()
    index, maps = slotting.build_slot_index(s.wh.id)
    geometry = warehouse_geometry(s.wh.id)
    plan = geometry.plan
    ends = (plan.points["CART"], plan.points["PACK"])
    # The index's distance: the walk along the graph from the nearer of the start and drop points.
    for c in (s.cells["LID"], s.cells["JUG"]):  # hall A's short aisle, hall B's one-way aisle
        face = geometry.points[c.id].face
        assert index.distance(c.id) == pytest.approx(min(plan.graph.distance(end, face) for end in ends))
    # Velocity zones by that walk: A nearest, C farthest; a new SKU gets a cell of the plan.
    ranked = sorted(maps.cells, key=index.distance)
    assert index.zone(ranked[0]) == "A" and index.zone(ranked[-1]) == "C"
    sku = f.sku("NEW", "New", length_mm=100, width_mm=100, height_mm=100, weight_g=100)
    slotting.ensure_sku(index, maps, sku)
    (cell_id, units), = putaway.split_suggestions(index, maps, sku.id, 2, "", None)
    assert units == 2 and cell_id in geometry.points


def test_putaway_tasks_are_walked_along_the_plan(db):
    s = halls_warehouse()
    from server.models import PutawayTask
    from server.models.base import utcnow

    rcv = halls_cell("RCV-01")
    tasks = [PutawayTask(warehouse_id=s.wh.id, sku_id=s.skus[code].id, quantity=1, from_cell_id=rcv.id,
                         suggested_cell_id=s.cells[code].id, created_at=utcnow()) for code in ("JUG", "LID", "PLATE")]
    db.session.add_all(tasks)
    db.session.flush()
    walk = putaway.route_for(tasks, s.wh.id)
    geometry = warehouse_geometry(s.wh.id)
    graph, points = geometry.plan.graph, geometry.plan.points
    faces = [geometry.points[t.suggested_cell_id].face for t in walk.tasks]
    best = min(graph.walk_length([points["CART"], *p, points["PACK"]]) for p in itertools.permutations(faces))
    assert walk.length == pytest.approx(best)
    assert tuple(walk.polyline[0]) == graph.xy(points["CART"]) and tuple(walk.polyline[-1]) == graph.xy(points["PACK"])
    assert backwards(graph, [tuple(v) for v in walk.polyline]) == []
