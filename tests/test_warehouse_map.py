"""The warehouse map (server/web/warehouse_map.py): aisles labelled, the target cell marked and
named, a route's stops numbered in walking order; and the route map as the putaway page gets it
(both databases)."""

import re
import xml.etree.ElementTree as ET

from flask import Flask
from flask_babel import Babel

from server.core.layout import Layout
from server.services.layout import apply_layout, parse_spec
from server.services.layout_map import Face, MapCell, MapData
from server.web.warehouse_map import Stop, render
from tests import factories
from tests.test_layout import SPEC

NS = {"svg": "http://www.w3.org/2000/svg"}


def _data() -> MapData:
    layout = Layout(aisles=4, blocks=2, slots=5, slot_length=1.0, aisle_pitch=3.0, depot_aisle=0)
    faces = tuple(Face(a, b, s, side, "A" if a < 2 else "B", cells=2, stocked=(2 if a == 1 else 0))
                  for a in range(4) for b in range(2) for s in range(5) for side in "LR")
    return MapData("W1", layout, (11, 12, 13, 14), faces, ("A", "B"))


CELLS = {
    1: MapCell(1, "A-12-03-1", aisle=1, block=0, slot=2, side="L"),
    2: MapCell(2, "B-14-07-2", aisle=3, block=1, slot=1, side="R"),
    3: MapCell(3, "A-11-01-1", aisle=0, block=0, slot=0, side="R"),
}


def draw(**kw) -> ET.Element:
    app = Flask(__name__)
    Babel(app)
    with app.test_request_context():
        text = render(_data(), **kw)
    return ET.fromstring(text)


def texts(svg: ET.Element, cls: str) -> list[str]:
    return [t.text for t in svg.iter(f"{{{NS['svg']}}}text") if t.get("class") == cls]


def test_every_aisle_is_labelled_at_both_ends():
    svg = draw()
    labels = texts(svg, "aisle-label")
    assert sorted(set(labels)) == ["11", "12", "13", "14"] and len(labels) == 8
    assert len(svg.findall(".//svg:rect[@class='cross-aisle']", NS)) == 3  # front, middle, back
    assert len(svg.findall(".//svg:rect[@class='face']", NS)) == 4 * 2 * 5 * 2
    assert svg.find(".//svg:rect[@class='depot']", NS) is not None and texts(svg, "depot-label") == ["Depot"]


def test_the_target_cell_is_marked_and_named():
    svg = draw(cells=CELLS, target=2)
    marked = svg.findall(".//svg:rect[@class='target']", NS)
    assert [m.get("data-cell") for m in marked] == ["B-14-07-2"]
    assert texts(svg, "target-label") == ["B-14-07-2"]
    assert "B-14-07-2" in svg.get("aria-label")


def test_stops_are_numbered_in_walking_order_and_the_path_is_walked():
    svg = draw(stops=[Stop((3,)), Stop((1,)), Stop((2,))], cells=CELLS, target=1)
    stops = svg.findall(".//svg:g[@class]", NS)
    numbered = [(g.get("data-stop"), g.get("data-cell"), g.find("svg:text", NS).text) for g in stops
                if "stop" in g.get("class")]
    assert numbered == [("1", "A-11-01-1", "1"), ("2", "A-12-03-1", "2"), ("3", "B-14-07-2", "3")]
    assert [g.get("data-cell") for g in stops if "current" in g.get("class")] == ["A-12-03-1"]
    path = svg.find(".//svg:polyline[@class='path']", NS).get("points").split()
    assert path[0] == path[-1]  # from the depot and back
    assert len(path) >= 6


def test_a_route_view_shows_the_aisles_it_needs_with_legible_text():
    wide = Layout(aisles=30, blocks=1, slots=10, aisle_pitch=3.0)
    faces = tuple(Face(a, 0, s, "L", "A", 1) for a in range(30) for s in range(10))
    data = MapData("W1", wide, tuple(range(1, 31)), faces, ("A",))
    app = Flask(__name__)
    Babel(app)
    with app.test_request_context():
        svg = ET.fromstring(render(data, stops=[Stop((9,))], cells={9: MapCell(9, "A-03-05", 2, 0, 4, "L")},
                                   target=9, crop=True))
    labels = set(texts(svg, "aisle-label"))
    assert "3" in labels and "30" not in labels
    width = float(svg.get("viewBox").split()[2])
    size = float(svg.find(".//svg:text[@class='target-label']", NS).get("font-size"))
    assert size / width * 340 >= 12  # at least 12 px when the map is 340 px wide


def test_fill_by_stock_and_zone_filter():
    svg = draw(fill=True, zone="A")
    faces = svg.findall(".//svg:rect[@class='face']", NS)
    stocked = {f.get("fill") for f in faces if f.get("data-stocked") == "2"}
    empty_in_zone = {f.get("fill") for f in faces if f.get("data-zone") == "A" and f.get("data-stocked") == "0"}
    other_zone = {f.get("fill") for f in faces if f.get("data-zone") == "B"}
    assert len(stocked) == len(empty_in_zone) == len(other_zone) == 1
    assert len(stocked | empty_in_zone | other_zone) == 3


# --- the route map a page gets (both databases) ---------------------------------------------


def test_route_map_of_cells_draws_their_warehouse(client, db):
    apply_layout(parse_spec(SPEC))
    factories.user("rita", ("receiver",), badge="B-5")
    db.session.commit()
    from tests.test_layout import cell
    from tests.test_pages import sign_in_badge

    sign_in_badge(client, "B-5")
    first, second = cell(db, "A-01-01-1"), cell(db, "A-03-09-2")
    response = client.get(f"/map/route.svg?stops={second.id};{first.id}&target={second.id}")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    svg = ET.fromstring(response.get_data(as_text=True))
    assert [g.get("data-cell") for g in svg.findall(".//svg:g", NS)] == ["A-03-09-2", "A-01-01-1"]
    assert texts(svg, "target-label") == ["A-03-09-2"]
    assert client.get("/map/route.svg?stops=x;y").status_code == 400
    assert client.get("/map/route.svg?stops=99999").status_code == 404
    client.post("/sign-out", data={"csrf_token": re.search(
        r'name="csrf-token" content="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)})
    assert client.get(f"/map/route.svg?stops={first.id}").status_code == 302
