"""The building compiler: halls on a plan, aisle rules, columns, corridors and points -> one walkable graph."""

import json
import math
import random

import pytest

from server.core.building import (
    AisleRule,
    Anchor,
    Building,
    BuildingError,
    Column,
    Corridor,
    Hall,
    NamedPoint,
    Plan,
    building_from_json,
    building_from_layout,
    building_to_json,
    compile_building,
)
from server.core.layout import Layout

# Two aisles, one block of 10 slots: cross aisles at y = 1 and y = 13, aisles at x = 0 and 3.
SMALL = dict(blocks=1, slots=10, aisle_pitch=3.0, slot_length=1.0, cross_aisle_width=2.0)


def small(*rules, columns=(), aisles=(1, 2), **hall):
    return Building((Hall("A", aisles, **{**SMALL, **hall}),), aisles=rules, columns=columns,
                    points=(NamedPoint("start", Anchor("A", 0, aisles[0])),))


def d(plan: Plan, a, b) -> float:
    """Walking distance between two cells (aisle, block, slot) or named points."""
    spot = [plan.points[x] if isinstance(x, str) else plan.face(*x) for x in (a, b)]
    return plan.graph.distance(*spot)


def test_a_rectangular_layout_compiles_to_the_same_distances():
    rng = random.Random(15)
    for _ in range(40):
        aisles = rng.randint(1, 9)
        layout = Layout(aisles=aisles, blocks=rng.randint(1, 4), slots=rng.randint(1, 12),
                        slot_length=rng.choice([1.0, 1.3, 0.8]), aisle_pitch=rng.choice([2.7, 3.0, 5.0]),
                        cross_aisle_width=rng.choice([1.5, 2.0, 3.5]), depot_aisle=rng.randrange(aisles))
        plan = compile_building(building_from_layout(layout))
        assert plan.aisle_numbers == tuple(range(1, aisles + 1))
        cells = [(a, b, s) for a in range(layout.aisles) for b in range(layout.blocks) for s in range(layout.slots)]
        chosen = rng.sample(cells, min(15, len(cells)))
        for p in chosen:
            face = plan.face(p[0] + 1, p[1] + 1, p[2] + 1)
            point = layout.point(*p)
            assert plan.graph.xy(face) == pytest.approx((point.x, point.y), abs=1e-9)
            assert plan.graph.distance(plan.points["depot"], face) == pytest.approx(
                layout.distance(layout.depot, point), abs=1e-9)
            assert plan.graph.distance(face, plan.points["depot"]) == pytest.approx(
                layout.distance(point, layout.depot), abs=1e-9)
            for q in chosen:
                assert d(plan, (p[0] + 1, p[1] + 1, p[2] + 1), (q[0] + 1, q[1] + 1, q[2] + 1)) == pytest.approx(
                    layout.distance(point, layout.point(*q)), abs=1e-9)


def test_a_rotated_and_moved_hall_walks_the_same():
    hall = Hall("A", (4, 5, 6, 7), blocks=2, slots=8, aisle_pitch=3.0)
    flat = compile_building(Building((hall,), points=(NamedPoint("p", Anchor("A", 0, 5, 1.0)),)))
    for rotation, origin in ((90.0, (10.0, -4.0)), (-37.5, (0.0, 0.0)), (180.0, (-3.0, 100.0))):
        turned = Hall("A", (4, 5, 6, 7), blocks=2, slots=8, aisle_pitch=3.0, rotation=rotation, origin=origin)
        plan = compile_building(Building((turned,), points=(NamedPoint("p", Anchor("A", 0, 5, 1.0)),)))
        cells = [(a, b, s) for a in (4, 5, 6, 7) for b in (1, 2) for s in (1, 4, 8)]
        for p in cells:
            assert d(plan, "p", p) == pytest.approx(d(flat, "p", p), abs=1e-9)
            for q in cells:
                assert d(plan, p, q) == pytest.approx(d(flat, p, q), abs=1e-9)
        # The face itself moved: the hall's local (x, y) turned and shifted.
        x, y = flat.graph.xy(flat.face(6, 2, 4))
        a = math.radians(rotation)
        assert plan.graph.xy(plan.face(6, 2, 4)) == pytest.approx(
            (origin[0] + math.cos(a) * x - math.sin(a) * y, origin[1] + math.sin(a) * x + math.cos(a) * y))


def test_a_column_makes_the_detour_through_the_back():
    free = compile_building(small(aisles=(1, 2, 3)))
    column = compile_building(small(aisles=(1, 2, 3), columns=(Column("A", 0, (1, 2)),)))
    # Slot 1 is at y = 2.5; from the start (x 0, y 1) to aisle 2 (x 3):
    assert d(free, "start", (2, 1, 1)) == pytest.approx(3 + 1.5)
    # up aisle 1 to the back (12), across (3), down to the slot (10.5)
    assert d(column, "start", (2, 1, 1)) == pytest.approx(12 + 3 + 10.5)
    assert d(column, "start", (3, 1, 1)) == pytest.approx(12 + 6 + 10.5)
    assert d(column, (3, 1, 1), (2, 1, 1)) == pytest.approx(3 + 1.5 + 1.5)  # the front between 2 and 3 is open


def test_a_one_way_aisle_is_only_walked_its_way():
    up = compile_building(small(AisleRule(2, oneway="up")))
    # Slot 2 at y 3.5, slot 8 at y 9.5 in aisle 2 (x 3).
    assert d(up, (2, 1, 2), (2, 1, 8)) == pytest.approx(6)
    # Against it: on up to the back (3.5), across (3), down aisle 1 (12), across (3), up to slot 2 (2.5).
    assert d(up, (2, 1, 8), (2, 1, 2)) == pytest.approx(3.5 + 3 + 12 + 3 + 2.5)
    assert d(up, "start", (2, 1, 8)) == pytest.approx(3 + 8.5)
    assert d(up, (2, 1, 8), "start") == pytest.approx(3.5 + 3 + 12)
    down = compile_building(small(AisleRule(2, oneway="down")))
    assert d(down, (2, 1, 8), (2, 1, 2)) == pytest.approx(6)
    assert d(down, (2, 1, 2), (2, 1, 8)) == pytest.approx(2.5 + 3 + 12 + 3 + 3.5)
    edge = down.face(2, 1, 8).edge
    u, v, oneway = down.graph.edges[edge]
    assert oneway and down.graph.nodes[u][1] > down.graph.nodes[v][1]  # back -> front
    # No walk in the graph runs an aisle against its way.
    for plan in (up, down):
        path = plan.graph.path(plan.face(2, 1, 8), plan.face(2, 1, 2))
        on_aisle = [(a, b) for a, b in zip(path, path[1:], strict=False) if a[0] == b[0] == 3.0]
        wanted = 1 if plan is up else -1
        assert on_aisle and all((b[1] - a[1]) * wanted > 0 for a, b in on_aisle)


def test_a_closed_back_is_a_dead_end_and_short_racks_have_no_faces_behind():
    building = Building((Hall("A", (1, 2, 3), **{**SMALL, "blocks": 2}),),
                        aisles=(AisleRule(2, closed_back=True), AisleRule(3, blocks=(1, 1))),
                        points=(NamedPoint("start", Anchor("A", 0, 1)),))
    plan = compile_building(building)
    # Block 2 slot 10 at y 23.5; the back cross aisle at y 25; block 2's front at y 13.
    assert d(plan, (2, 2, 10), (1, 2, 10)) == pytest.approx(10.5 + 3 + 10.5)
    assert d(plan, (1, 2, 10), (2, 2, 10)) == pytest.approx(10.5 + 3 + 10.5)
    dead_end = plan.graph.edges[plan.face(2, 2, 10).edge][1]
    assert plan.graph.nodes[dead_end] == pytest.approx((3.0, 24.0))  # the rack's end, short of the cross aisle
    assert plan.span(3) == (1, 1)
    with pytest.raises(LookupError, match="aisle 3 spans blocks 1..1, not block 2"):
        plan.face(3, 2, 1)
    with pytest.raises(LookupError, match="slots 1..10, not slot 11"):
        plan.face(1, 1, 11)
    with pytest.raises(LookupError, match="aisle 9 is not in the building plan"):
        plan.face(9, 1, 1)


TWO_HALLS = Building(
    halls=(Hall("A", (1, 2), **SMALL), Hall("B", (11, 12), **SMALL, origin=(30.0, 0.0), rotation=90.0)),
    corridors=(Corridor(Anchor("A", 0, 2, 2.0), Anchor("B", 0, 11), via=((20.0, 1.0),), name="door"),),
    points=(NamedPoint("start", Anchor("A", 0, 1)), NamedPoint("drop", Anchor("B", 0, 12))),
)


def test_two_halls_joined_by_a_corridor_through_a_door():
    plan = compile_building(TWO_HALLS)
    assert plan.hall_of(12) == "B" and plan.aisle_numbers == (1, 2, 11, 12)
    # Hall B turned 90 degrees at (30, 0): its local (x, y) is (30 - y, x); aisle 11's front at (29, 0).
    assert plan.graph.xy(plan.points["drop"]) == pytest.approx((29.0, 3.0))
    # Start (0, 1) -> aisle 2 (3) -> the stub to the door (2) -> (20, 1) (15) -> (29, 0) -> slot 1 of 11 (1.5).
    corridor = 3 + 2 + 15 + math.hypot(9, 1)
    assert d(plan, "start", (11, 1, 1)) == pytest.approx(corridor + 1.5)
    assert d(plan, "start", "drop") == pytest.approx(corridor + 3)
    assert d(plan, "drop", "start") == pytest.approx(corridor + 3)
    halls = plan.halls()
    assert [h["code"] for h in halls] == ["A", "B"] and halls[1]["aisles"] == [11, 12]
    assert halls[1]["corners"][0] == pytest.approx((30.0, -1.5))
    racks = plan.racks()
    assert len(racks) == 4 * 2 and {r["side"] for r in racks} == {"L", "R"}


def test_a_one_way_corridor_and_an_unreachable_hall_are_refused():
    one_way = Building(TWO_HALLS.halls, corridors=(
        Corridor(Anchor("A", 0, 2, 2.0), Anchor("B", 0, 11), oneway=True),), points=TWO_HALLS.points)
    with pytest.raises(BuildingError, match=r"points\[1\]: there is no way back from point 'drop' to point 'start'"):
        compile_building(one_way)
    with pytest.raises(BuildingError, match=r"points\[1\]: point 'drop' cannot be reached from point 'start'"):
        compile_building(Building(TWO_HALLS.halls, points=TWO_HALLS.points))
    no_points = Building(TWO_HALLS.halls)
    with pytest.raises(BuildingError, match=r"halls\[1\].aisles\[0\]: aisle 11 block 1 cannot be reached"):
        compile_building(no_points)
    both = Building(TWO_HALLS.halls, corridors=(
        Corridor(Anchor("A", 0, 2, 2.0), Anchor("B", 0, 11), oneway=True),
        Corridor(Anchor("B", 1, 12), Anchor("A", 1, 2, 2.0), via=((20.0, 13.0),), oneway=True)), points=TWO_HALLS.points)
    plan = compile_building(both)
    assert d(plan, "start", "drop") < d(plan, "drop", "start")


def test_anchors_split_cross_aisles_and_stubs_extend_them():
    building = Building((Hall("A", (1, 2, 3), **SMALL),), points=(
        NamedPoint("mid", Anchor("A", 0, 1, 1.0)), NamedPoint("mid2", Anchor("A", 0, 2, -1.0)),
        NamedPoint("left", Anchor("A", 0, 1, -4.0)), NamedPoint("far", Anchor("A", 1, 3, 5.0)),
        NamedPoint("same", Anchor("A", 0, 2, 0.0))))
    plan = compile_building(building)
    assert plan.graph.xy(plan.points["mid"]) == pytest.approx((1.0, 1.0))
    assert plan.graph.xy(plan.points["far"]) == pytest.approx((11.0, 13.0))
    assert d(plan, "mid", "mid2") == pytest.approx(1.0)
    assert d(plan, "left", "same") == pytest.approx(7.0)
    assert d(plan, "far", "left") == pytest.approx(5 + 6 + 12 + 4)
    # An anchor right on an aisle's node is that node.
    assert plan.graph.xy(plan.points["same"]) == pytest.approx((3.0, 1.0))
    assert sum(1 for u, v, _ in plan.graph.edges if plan.points["same"] in (u, v)) == 3


def test_a_plan_survives_its_json():
    plan = compile_building(Building(
        TWO_HALLS.halls, aisles=(AisleRule(2, oneway="down"), AisleRule(12, closed_back=True)),
        columns=(Column("B", 1, (11, 12)),), corridors=TWO_HALLS.corridors, points=TWO_HALLS.points))
    again = Plan.from_json(json.loads(json.dumps(plan.to_json())))
    assert again.to_json() == plan.to_json()
    assert again.building == plan.building
    assert again.points == plan.points and again.aisle_numbers == plan.aisle_numbers
    for cell in ((1, 1, 3), (2, 1, 7), (12, 1, 10)):
        assert again.face(*cell) == plan.face(*cell)
    assert building_from_json(building_to_json(TWO_HALLS)) == TWO_HALLS
    with pytest.raises(BuildingError, match=r"building.halls\[0\].colour: is not a known key"):
        building_from_json({**building_to_json(TWO_HALLS), "halls": [{"code": "A", "aisles": [1], "colour": 1}]})
    with pytest.raises(BuildingError, match=r"plan.graph: is missing"):
        Plan.from_json({"building": building_to_json(TWO_HALLS), "points": {}, "aisles": []})


HALL = Hall("A", (1, 2, 3), **{**SMALL, "blocks": 2})
START = (NamedPoint("start", Anchor("A", 0, 1)),)


@pytest.mark.parametrize("building, message", [
    (Building(()), "halls: a building needs at least one hall"),
    (Building((HALL, Hall("A", (4,)))), "halls[1].code: hall 'A' appears twice (halls[0])"),
    (Building((HALL, Hall("B", (3, 4)))), "halls[1].aisles[0]: aisle 3 is in two halls ('A' and 'B')"),
    (Building((Hall("A", (1, 1)),)), "halls[0].aisles[1]: aisle 1 appears twice in hall 'A'"),
    (Building((Hall("A", ()),)), "halls[0].aisles: must list at least one aisle number"),
    (Building((Hall("A", (1,), rotation="90"),)), "halls[0].rotation: must be a number (got '90')"),
    (Building((Hall("A", (1,), rotation=math.nan),)), "halls[0].rotation: must be a number"),
    (Building((Hall("A", (1,), blocks=0),)), "halls[0].blocks: must be in >= 1 (got 0)"),
    (Building((Hall("A", (1,), aisle_pitch=-3),)), "halls[0].aisle_pitch: must be a positive number"),
    (Building((Hall("A", (1,), origin=(0.0,)),)), "halls[0].origin: must be a pair [x, y]"),
    (Building((HALL,), aisles=(AisleRule(7),)), "aisles[0].aisle: aisle 7 is in no hall"),
    (Building((HALL,), aisles=(AisleRule(1), AisleRule(1))), "aisles[1].aisle: aisle 1 has a rule already (aisles[0])"),
    (Building((HALL,), aisles=(AisleRule(1, (1, 3)),)), "aisles[0].blocks[1]: must be in 1..2 (got 3)"),
    (Building((HALL,), aisles=(AisleRule(1, (2, 1)),)), "aisles[0].blocks[1]: must be in 2..2 (got 1)"),
    (Building((HALL,), aisles=(AisleRule(1, (0, 1)),)), "aisles[0].blocks[0]: must be in 1..2 (got 0)"),
    (Building((HALL,), aisles=(AisleRule(1, oneway="left"),)), "aisles[0].oneway: must be 'up' or 'down'"),
    (Building((HALL,), aisles=(AisleRule(1, closed_back="yes"),)), "aisles[0].closed_back: must be true or false"),
    (Building((HALL,), columns=(Column("Z", 0, (1, 2)),)), "columns[0].hall: unknown hall 'Z'; known: A"),
    (Building((HALL,), columns=(Column("A", 0, (1, 3)),)), "columns[0].between: aisles 1 and 3 are not next to each other"),
    (Building((HALL,), columns=(Column("A", 3, (1, 2)),)), "columns[0].cross_aisle: must be in 0..2 (got 3)"),
    (Building((HALL,), columns=(Column("A", 0, (1, 9)),)), "columns[0].between[1]: aisle 9 is not in hall 'A'"),
    (Building((HALL,), points=(NamedPoint("p", Anchor("A", 3, 1)),)), "points[0].at.cross_aisle: must be in 0..2 (got 3)"),
    (Building((HALL,), points=(NamedPoint("p", Anchor("B", 0, 1)),)), "points[0].at.hall: unknown hall 'B'"),
    (Building((HALL,), points=(NamedPoint("p", Anchor("A", 0, 1, "1")),)), "points[0].at.offset: must be a number"),
    (Building((HALL,), points=(*START, NamedPoint("start", Anchor("A", 0, 2)))),
     "points[1].code: point 'start' appears twice (points[0])"),
    (Building((HALL,), points=(NamedPoint("", Anchor("A", 0, 2)),)), "points[0].code: must be a non-empty text"),
    (Building((HALL,), columns=(Column("A", 0, (1, 2)),), points=(NamedPoint("p", Anchor("A", 0, 1, 1.0)),)),
     "points[0].at: lies where columns[0] blocks the cross aisle"),
    (Building((HALL,), corridors=(Corridor(Anchor("A", 0, 1), Anchor("A", 2, 3), via=((0.0, 1.0),)),)),
     "corridors[0].via[0]: is the same point as the one before it"),
    (Building((HALL,), corridors=(Corridor(Anchor("A", 0, 1), Anchor("A", 2, 3), via=((1.0,),)),)),
     "corridors[0].via[0]: must be a pair [x, y]"),
    (Building((HALL,), corridors=(Corridor(Anchor("A", 0, 1), Anchor("A", 2, 9)),)),
     "corridors[0].end.aisle: aisle 9 is not in hall 'A'"),
    (Building((HALL,), aisles=(AisleRule(2, oneway="up", closed_back=True),), points=START),
     "aisles[0]: there is no way back from aisle 2 block 2 to point 'start'"),
    (Building((HALL,), columns=(Column("A", 0, (2, 3)), Column("A", 1, (2, 3)), Column("A", 2, (2, 3))), points=START),
     "halls[0].aisles[2]: aisle 3 block 1 cannot be reached from point 'start'"),
])
def test_bad_buildings_are_refused_naming_the_key(building, message):
    with pytest.raises(BuildingError) as caught:
        compile_building(building)
    assert str(caught.value).startswith(message), str(caught.value)
    assert caught.value.key == message.split(":")[0]


def test_cells_are_listed_in_address_order_within_each_aisles_span():
    plan = compile_building(Building((Hall("A", (1, 2, 3), **{**SMALL, "blocks": 2, "slots": 3}),),
                                     aisles=(AisleRule(2, blocks=(2, 2)),)))
    cells = plan.cells()
    assert cells == sorted(cells) and len(cells) == 3 * 2 * 3 - 3
    assert (2, 1, 1) not in cells and (2, 2, 3) in cells
    for cell in cells:
        plan.face(*cell)
