"""The core Layout: geometry of the benchmark model, bad input, and a warehouse's cells as a Layout."""

from pathlib import Path

import pytest

from server.core.layout import Layout, LayoutError
from server.core.routing import route
from server.services.errors import DomainError
from server.services.geometry import warehouse_geometry
from server.services.layout import apply_layout, load_spec
from tests import factories as f

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_coordinates_follow_the_benchmark_model():
    layout = Layout(aisles=10, blocks=2, slots=30, slot_length=1.0, aisle_pitch=5.0, cross_aisle_width=2.0)
    assert layout.cross_aisle_y == (1.0, 33.0, 65.0)
    point = layout.point(3, 1, 4)
    assert (point.x, point.y) == (15.0, 32 + 2 + 4.5)
    assert (layout.depot.x, layout.depot.y) == (0.0, 1.0)


def test_distances_are_shortest_walks_along_aisles_and_cross_aisles():
    layout = Layout(aisles=10, blocks=2, slots=30)
    a, b, c = layout.point(3, 0, 12), layout.point(3, 1, 4), layout.point(7, 0, 29)
    assert layout.distance(a, b) == 24.0  # straight along aisle 3 through the middle cross aisle
    assert layout.distance(a, c) == 20.0 + 18.5 + 1.5  # over the middle cross aisle
    assert layout.distance(layout.depot, a) == 15.0 + 13.5
    assert layout.distance(a, c) == layout.distance(c, a)


@pytest.mark.parametrize(
    "fields",
    [{"aisles": 0}, {"aisles": 5, "blocks": 0}, {"aisles": 5, "slots": -1}, {"aisles": 5, "aisle_pitch": 0},
     {"aisles": 5, "depot_aisle": 5}, {"aisles": 2.5}],
)
def test_impossible_layouts_are_refused(fields):
    with pytest.raises(LayoutError):
        Layout(**fields)


def test_points_outside_the_layout_and_empty_pick_lists_are_refused():
    layout = Layout(aisles=4, blocks=1, slots=10)
    with pytest.raises(LayoutError, match="outside"):
        layout.point(4, 0, 0)
    with pytest.raises(LayoutError, match="empty"):
        route(layout, [])
    with pytest.raises(LayoutError, match="lacks"):
        Layout.from_bench({"blocks": 1, "slots": 3})


def test_a_warehouse_from_its_cells(db):
    apply_layout(load_spec(str(EXAMPLES / "layout.toml")))
    db.session.commit()
    from server.models import Cell, Warehouse

    warehouse = db.session.execute(db.select(Warehouse)).scalar_one()
    geometry = warehouse_geometry(warehouse.id)
    assert geometry.aisle_numbers == (1, 2, 3, 4, 5, 6, 7)
    assert (geometry.layout.blocks, geometry.layout.slots) == (2, 12)
    dock = db.session.execute(db.select(Cell).filter_by(address="RCV-01")).scalar_one()
    with pytest.raises(DomainError):
        geometry.point_of(dock.id)
    far = db.session.execute(
        db.select(Cell).where(Cell.aisle == 6, Cell.block == 2, Cell.slot == 10).limit(1)
    ).scalar_one()
    near = db.session.execute(
        db.select(Cell).where(Cell.aisle == 1, Cell.block == 1, Cell.slot == 1).limit(1)
    ).scalar_one()
    tour = route(geometry.layout, [geometry.point_of(far.id), geometry.point_of(near.id)])
    assert sorted(tour.order) == [0, 1]
    assert tour.length == geometry.layout.tour_length(tour.stops)
    depot = geometry.layout.depot
    assert tour.polyline[0] == tour.polyline[-1] == (depot.x, depot.y)
    # Depot at aisle 1: out to block 2 of aisle 6 and back is at least twice the far point's reach.
    assert tour.length >= 2 * geometry.layout.distance(depot, geometry.point_of(far.id))


def test_a_warehouse_without_placed_cells_has_no_geometry(db):
    wh = f.warehouse()
    f.cell(f.zone(wh), "RCV-01")
    db.session.commit()
    with pytest.raises(DomainError) as error:
        warehouse_geometry(wh.id)
    assert error.value.slug == "no-geometry"
