"""Slotting: putaway suggestions from the incremental index, and the re-slotting plan."""

import random
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.core.layout import Layout
from server.core.routing import route_length
from server.core.slotting import (
    MIXED,
    MIXED_SCAN,
    MIXING_RULES,
    ONE_LOT,
    ONE_SKU,
    ZONE_ORDER,
    CellSpec,
    NothingFitsError,
    RankSet,
    SlotIndex,
    SlottingError,
    UnknownCellError,
    UnknownSkuError,
    plan_reslotting,
    velocity,
    velocity_classes,
)

JAN, MAR, JUN = date(2026, 1, 31), date(2026, 3, 31), date(2026, 6, 30)
LAYOUT = Layout(aisles=3, slots=4)


def grid(layout=LAYOUT, levels=2, **spec):
    """One cell per (aisle, block, slot, level), id "a-b-s-l"."""
    return [CellSpec(f"{a}-{b}-{s}-{lv}", a, b, s, lv, **spec)
            for a in range(layout.aisles) for b in range(layout.blocks) for s in range(layout.slots)
            for lv in range(levels)]


def small(mixing=ONE_SKU, **spec):
    spec.setdefault("max_volume_cm3", 1000)
    spec.setdefault("max_weight_g", 10_000)
    spec.setdefault("max_units", 100)
    return SlotIndex(LAYOUT, grid(mixing=mixing, **spec), skus={"X": (10, 10), "Y": (10, 10)})


def ids(candidates):
    return [c.cell_id for c in candidates]


# --- a reference: is a cell a valid place, judged from the outside -----------------------------


def valid(index, cell_id, sku, quantity, uv, uw, lot, expiry, types=None) -> bool:
    spec = next(c for c in index.cells() if c.id == cell_id)
    if spec.status != "active" or (types is not None and spec.cell_type not in types):
        return False
    free_v, free_w, free_u = index.free(cell_id)
    if ((free_v is not None and quantity * uv > free_v + 1e-9) or (free_w is not None and quantity * uw > free_w + 1e-9)
            or (free_u is not None and quantity > free_u)):
        return False
    held = index.cell_contents(cell_id)
    rule = index.mixing(cell_id)
    if rule == ONE_LOT and any(key != (sku, lot, expiry) for key in held):
        return False
    if rule == ONE_SKU and any(key[0] != sku for key in held):
        return False
    return not any(key[0] == sku and key[2] is not None and expiry is not None and key[2] < expiry for key in held)


# --- suggestions -------------------------------------------------------------------------------


def test_empty_warehouse_fast_movers_nearest_slow_movers_farthest():
    index = small()
    fast = index.suggest("X", 5, velocity="A")
    slow = index.suggest("X", 5, velocity="C")
    assert all(c.zone == "A" and c.reason == "empty" for c in fast)
    assert all(c.zone == "C" for c in slow)
    assert max(c.distance for c in fast) <= min(c.distance for c in slow)
    assert [c.distance for c in fast] == sorted(c.distance for c in fast)
    # Nearest cell first, lower level first at one pick point.
    assert ids(fast)[:2] == ["0-0-0-0", "0-0-0-1"]


def test_consolidation_with_same_sku_comes_first_even_far_away():
    index = small()
    far = "2-0-3-1"
    index.apply(far, "X", "L1", None, 10)
    first = index.suggest("X", 5, lot="L1", velocity="A")[0]
    assert (first.cell_id, first.reason) == (far, "same lot")
    other_lot = index.suggest("X", 5, lot="L2", velocity="A")[0]
    assert (other_lot.cell_id, other_lot.reason) == (far, "same SKU")


def test_same_lot_before_same_sku():
    index = small()
    index.apply("0-0-0-0", "X", "L1", None, 10)
    index.apply("2-0-3-1", "X", "L2", None, 10)
    assert ids(index.suggest("X", 1, lot="L2", velocity="A"))[:2] == ["2-0-3-1", "0-0-0-0"]


def test_one_lot_rule_takes_only_the_same_lot():
    index = small(mixing=ONE_LOT)
    index.apply("0-0-0-0", "X", "L1", JAN, 10)
    assert "0-0-0-0" not in ids(index.suggest("X", 1, lot="L2", expiry=JAN, velocity="A"))
    assert "0-0-0-0" not in ids(index.suggest("Y", 1, velocity="A"))
    assert ids(index.suggest("X", 1, lot="L1", expiry=JAN, velocity="A"))[0] == "0-0-0-0"


def test_one_sku_rule_takes_other_lots_but_no_other_sku():
    index = small(mixing=ONE_SKU)
    index.apply("0-0-0-0", "X", "L1", None, 10)
    assert ids(index.suggest("X", 1, lot="L2", velocity="A"))[0] == "0-0-0-0"
    assert "0-0-0-0" not in ids(index.suggest("Y", 1, velocity="A"))


def test_mixed_cells_take_other_skus():
    index = small(mixing=MIXED)
    index.apply("0-0-0-0", "X", "L1", None, 10)
    found = index.suggest("Y", 1, velocity="A")
    assert found[0].cell_id == "0-0-0-0" and found[0].reason == "mixed"


def test_zone_rule_and_cell_rule():
    cells = [CellSpec("p", 0, 0, 0, zone="PAL"), CellSpec("m", 0, 0, 1, zone="BIN"),
             CellSpec("o", 0, 0, 2, zone="BIN", mixing=ONE_LOT)]
    index = SlotIndex(LAYOUT, cells, zone_mixing={"BIN": MIXED}, default_mixing=ONE_LOT)
    assert [index.mixing(c) for c in ("p", "m", "o")] == [ONE_LOT, MIXED, ONE_LOT]


def test_fefo_a_later_lot_never_goes_in_front_of_an_earlier_one():
    index = small(mixing=ONE_SKU)
    index.apply("0-0-0-0", "X", "L1", MAR, 10)
    assert "0-0-0-0" not in ids(index.suggest("X", 1, lot="L2", expiry=JUN, velocity="A"))
    # An earlier lot in front of a later one is what FEFO picking wants.
    assert ids(index.suggest("X", 1, lot="L0", expiry=JAN, velocity="A"))[0] == "0-0-0-0"
    assert ids(index.suggest("X", 1, lot="L1", expiry=MAR, velocity="A"))[0] == "0-0-0-0"


def test_capacity_volume_weight_units():
    index = small(max_volume_cm3=100, max_weight_g=1000, max_units=8)
    index.apply("0-0-0-0", "X", "", None, 5)  # 50 cm3, 50 g, 5 units
    assert ids(index.suggest("X", 3, velocity="A"))[0] == "0-0-0-0"
    assert "0-0-0-0" not in ids(index.suggest("X", 4, velocity="A"))  # 9 units > 8
    assert "0-0-0-0" not in ids(index.suggest("X", 3, 20, 1, velocity="A"))  # 50 + 60 cm3 > 100
    assert "0-0-0-0" not in ids(index.suggest("X", 3, 1, 320, velocity="A"))  # 50 + 960 g > 1000
    assert index.free("0-0-0-0") == (50.0, 950.0, 3)


def test_unlimited_capacity():
    index = small(max_volume_cm3=None, max_weight_g=None, max_units=None)
    index.apply("1-0-0-0", "X", "", None, 10**6)
    assert ids(index.suggest("X", 10**6, velocity="A"))[0] == "1-0-0-0"
    assert index.free("1-0-0-0") == (None, None, None)


def test_blocked_cells_are_never_suggested_and_come_back_when_unblocked():
    index = small()
    index.apply("0-0-0-0", "X", "", None, 1)
    index.block("0-0-0-0")
    index.block("0-0-0-1")
    found = ids(index.suggest("X", 1, velocity="A", limit=50))
    assert "0-0-0-0" not in found and "0-0-0-1" not in found
    index.unblock("0-0-0-0")
    assert ids(index.suggest("X", 1, velocity="A"))[0] == "0-0-0-0"


def test_cell_types():
    cells = [CellSpec(f"s{s}", 0, 0, s, cell_type="shelf") for s in range(4)]
    cells += [CellSpec(f"p{s}", 1, 0, s, cell_type="pallet") for s in range(4)]
    index = SlotIndex(LAYOUT, cells, skus={"X": (1, 1)})
    assert all(c.startswith("p") for c in ids(index.suggest("X", 1, cell_types=["pallet"], limit=10)))
    assert len(index.suggest("X", 1, cell_types=("pallet", "shelf"), limit=10)) == 8
    # Zones are per cell type: each type has its own nearest 20%.
    assert index.zone("s0") == "A" and index.zone("p0") == "A"


def test_stock_leaving_empties_the_cell_again():
    index = small(mixing=ONE_LOT)
    index.apply("0-0-0-0", "X", "L1", None, 10)
    assert "0-0-0-0" not in ids(index.suggest("Y", 1, velocity="A"))
    index.apply("0-0-0-0", "X", "L1", None, -10)
    assert ids(index.suggest("Y", 1, velocity="A"))[0] == "0-0-0-0"
    assert index.cells_holding("X") == []


def test_sku_dims_change_recounts_cells():
    index = small()
    index.apply("0-0-0-0", "X", "", None, 10)
    index.set_sku("X", 20, 5)
    assert index.free("0-0-0-0") == (800.0, 9950.0, 90)
    assert index.state() == SlotIndex(LAYOUT, index.cells(), index.contents()).state()


# --- properties --------------------------------------------------------------------------------

OPS = st.lists(
    st.tuples(
        st.sampled_from(["stock", "stock", "stock", "block", "unblock"]),
        st.integers(0, 23),  # cell
        st.sampled_from(["X", "Y", "Z"]),
        st.sampled_from(["", "L1", "L2"]),
        st.sampled_from([None, JAN, MAR]),
        st.integers(-30, 30),
    ),
    max_size=60,
)
CELL_SPECS = st.lists(
    st.tuples(st.sampled_from(["shelf", "bin"]), st.sampled_from(MIXING_RULES),
              st.one_of(st.none(), st.integers(0, 400)), st.one_of(st.none(), st.integers(0, 4000)),
              st.one_of(st.none(), st.integers(0, 40))),
    min_size=24, max_size=24,
)
DIMS = {"X": (7, 30), "Y": (13, 11), "Z": (2, 100)}


def build(specs, ops):
    cells = [CellSpec(f"c{k}", k % 3, 0, (k // 3) % 4, k // 12, kind, volume, weight, units, mixing=rule)
             for k, (kind, rule, volume, weight, units) in enumerate(specs)]
    index = SlotIndex(LAYOUT, cells, skus=DIMS)
    for op, k, sku, lot, expiry, delta in ops:
        cell = f"c{k}"
        if op == "block":
            index.block(cell)
        elif op == "unblock":
            index.unblock(cell)
        else:
            held = index.cell_contents(cell).get((sku, lot, expiry), 0)
            index.apply(cell, sku, lot, expiry, max(delta, -held))
    return index


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CELL_SPECS, OPS)
def test_index_after_changes_equals_index_rebuilt_from_scratch(specs, ops):
    index = build(specs, ops)
    rebuilt = SlotIndex(LAYOUT, index.cells(), index.contents(), skus=DIMS)
    assert index.state() == rebuilt.state()
    for sku in DIMS:
        for velocity_class in "AC":
            try:
                expected = rebuilt.suggest(sku, 2, lot="L1", expiry=MAR, velocity=velocity_class)
            except NothingFitsError:
                expected = None
            try:
                got = index.suggest(sku, 2, lot="L1", expiry=MAR, velocity=velocity_class)
            except NothingFitsError:
                got = None
            assert got == expected


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CELL_SPECS, OPS, st.sampled_from(["X", "Y", "Z"]), st.integers(1, 20), st.sampled_from(["", "L1", "L2"]),
       st.sampled_from([None, JAN, MAR]), st.sampled_from("ABC"),
       st.sampled_from([None, ("shelf",), ("bin",)]), st.integers(1, 8))
def test_every_suggestion_is_valid_ranked_and_none_is_missed(specs, ops, sku, quantity, lot, expiry, velocity_class,
                                                             types, limit):
    index = build(specs, ops)
    uv, uw = DIMS[sku]
    everything = [c.id for c in index.cells() if valid(index, c.id, sku, quantity, uv, uw, lot, expiry, types)]
    try:
        found = index.suggest(sku, quantity, lot=lot, expiry=expiry, velocity=velocity_class,
                              cell_types=types, limit=limit)
    except NothingFitsError:
        assert everything == []
        return
    assert 0 < len(found) <= limit
    assert len(set(ids(found))) == len(found)
    for candidate in found:
        assert valid(index, candidate.cell_id, sku, quantity, uv, uw, lot, expiry, types)
    assert len(found) == min(limit, len(everything))  # fewer than MIXED_SCAN cells: nothing is missed
    # Ranked: same lot, same SKU, then the rest by velocity zone (in the class's order) and distance.
    tiers = {"same lot": 0, "same SKU": 1, "empty": 2, "mixed": 2}
    order = ZONE_ORDER[velocity_class]
    keys = [(tiers[c.reason], order.index("ABC".index(c.zone))) for c in found]
    assert keys == sorted(keys)
    rest = [c for c in found if tiers[c.reason] == 2]
    for a, b in zip(rest, rest[1:], strict=False):
        assert a.zone != b.zone or a.distance <= b.distance
    # Consolidation is preferred: a valid cell already holding the SKU is never passed over.
    holding = [c for c in everything if any(key[0] == sku for key in index.cell_contents(c))]
    if holding:
        assert found[0].reason in ("same lot", "same SKU")


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 2000)), max_size=3000))
@settings(max_examples=30, deadline=None)
def test_rankset_is_a_sorted_set(ops):
    members, reference = RankSet(), set()
    for add, rank in ops:
        if add and rank not in reference:
            members.add(rank)
            reference.add(rank)
        elif not add and rank in reference:
            members.discard(rank)
            reference.discard(rank)
    assert list(members) == sorted(reference) and len(members) == len(reference)
    assert members.first(7) == sorted(reference)[:7]
    assert all(rank in members for rank in list(reference)[:20])


def test_mixed_scan_bound_is_documented():
    assert MIXED_SCAN >= 8


# --- bad input ---------------------------------------------------------------------------------


def test_bad_input_gives_clear_errors():
    index = small()
    with pytest.raises(UnknownCellError, match="unknown cell 'nope'"):
        index.apply("nope", "X", "", None, 1)
    with pytest.raises(UnknownSkuError, match="unit volume and weight"):
        index.apply("0-0-0-0", "NEW", "", None, 1)
    with pytest.raises(UnknownSkuError):
        index.suggest("NEW", 1)
    with pytest.raises(UnknownSkuError, match="unit volume"):
        index.suggest("X", 1, -5, 1)
    for quantity in (0, -3, 1.5, True, None):
        with pytest.raises(SlottingError, match="quantity"):
            index.suggest("X", quantity)
    with pytest.raises(SlottingError, match="cannot take out"):
        index.apply("0-0-0-0", "X", "", None, -1)
    with pytest.raises(SlottingError, match="velocity class"):
        index.suggest("X", 1, velocity="Z")
    with pytest.raises(SlottingError, match="no cells of type 'tank'"):
        index.suggest("X", 1, cell_types=["tank"])
    with pytest.raises(SlottingError, match="limit"):
        index.suggest("X", 1, limit=0)
    with pytest.raises(NothingFitsError, match="can take 1000 of SKU 'X'"):
        index.suggest("X", 1000)
    with pytest.raises(SlottingError, match="status"):
        index.set_status("0-0-0-0", "broken")
    assert issubclass(SlottingError, ValueError)


def test_bad_cells_give_clear_errors():
    with pytest.raises(SlottingError, match="appears twice"):
        SlotIndex(LAYOUT, [CellSpec("a", 0, 0, 0), CellSpec("a", 0, 0, 1)])
    with pytest.raises(SlottingError, match="cell 'far'.*outside the layout"):
        SlotIndex(LAYOUT, [CellSpec("far", 9, 0, 0)])
    with pytest.raises(SlottingError, match="mixing rule"):
        SlotIndex(LAYOUT, [CellSpec("a", 0, 0, 0, mixing="chaos")])
    with pytest.raises(SlottingError, match="max volume"):
        SlotIndex(LAYOUT, [CellSpec("a", 0, 0, 0, max_volume_cm3=-1)])


# --- re-slotting -------------------------------------------------------------------------------


def abc_case(seed=3, aisles=5, slots=6):
    rng = random.Random(seed)
    layout = Layout(aisles=aisles, slots=slots)
    cells = grid(layout, levels=1)
    skus = [f"S{k}" for k in range(len(cells) - 4)]
    fast = skus[-6:]  # the fast movers start in the farthest cells
    orders = [sorted({rng.choice(fast) if rng.random() < 0.8 else rng.choice(skus) for _ in range(rng.randint(1, 4))})
              for _ in range(150)]
    assignment = dict(zip(skus, [c.id for c in cells], strict=False))
    return layout, cells, assignment, orders


def replay(before, moves):
    """Carry out the moves one by one; each must take the SKU from where it is."""
    cell_of = dict(before)
    occupant = {cell: sku for sku, cell in cell_of.items()}
    for move in moves:
        assert cell_of[move.sku] == move.from_cell
        assert occupant.get(move.to_cell) == move.other_sku
        del occupant[move.from_cell]
        if move.other_sku is not None:
            cell_of[move.other_sku] = move.from_cell
            occupant[move.from_cell] = move.other_sku
        cell_of[move.sku] = move.to_cell
        occupant[move.to_cell] = move.sku
    return cell_of


def test_reslotting_moves_are_valid_and_cut_walking():
    layout, cells, assignment, orders = abc_case()
    plan = plan_reslotting(layout, cells, assignment, orders, sample=60)
    assert plan.moves
    assert replay(plan.before, plan.moves) == plan.after
    assert len(set(plan.after.values())) == len(plan.after)
    assert plan.mean_route_after < plan.mean_route_before and plan.gain > 0
    point = {c.id: layout.point(c.aisle, c.block, c.slot) for c in cells}

    def mean(cell_of):
        return sum(route_length(layout, [point[cell_of[s]] for s in o]) for o in orders) / len(orders)

    assert mean(plan.after) <= mean(plan.before)
    # The fastest SKU ends up nearer the depot than it was.
    fastest = plan.velocity.most_common(1)[0][0]
    distance = {c.id: layout.distance(layout.depot, point[c.id]) for c in cells}
    assert distance[plan.after[fastest]] < distance[plan.before[fastest]]


def test_reslotting_never_makes_walking_longer():
    # Already good storage: fast movers at the front. The plan may not move anything.
    layout, cells, assignment, orders = abc_case()
    good = plan_reslotting(layout, cells, assignment, orders, sample=60).after
    again = plan_reslotting(layout, cells, good, orders, sample=60)
    assert again.mean_route_after <= again.mean_route_before
    assert replay(again.before, again.moves) == again.after


def test_reslotting_respects_max_moves_blocked_cells_and_fits():
    layout, cells, assignment, orders = abc_case()
    plan = plan_reslotting(layout, cells, assignment, orders, sample=40, max_moves=2)
    assert len(plan.moves) <= 2
    blocked = [CellSpec(c.id, c.aisle, c.block, c.slot, c.level, status="blocked") if c.slot == 0 else c
               for c in cells]
    plan = plan_reslotting(layout, blocked, assignment, orders, sample=40)
    touched = {m.from_cell for m in plan.moves} | {m.to_cell for m in plan.moves}
    assert not any(c.id in touched for c in blocked if c.status == "blocked")
    plan = plan_reslotting(layout, cells, assignment, orders, sample=40, fits=lambda sku, cell: cell.startswith("4"))
    assert all(m.to_cell.startswith("4") and (m.other_sku is None or m.from_cell.startswith("4")) for m in plan.moves)


def test_velocity_and_classes():
    orders = [["A", "B"], ["A"], ["A", "A", "C"]]
    picks = velocity(orders)
    assert picks == {"A": 3, "B": 1, "C": 1}
    assert velocity_classes(picks, (0.5, 0.7)) == {"A": "A", "B": "B", "C": "C"}


def test_reslotting_bad_input():
    layout, cells, assignment, orders = abc_case()
    with pytest.raises(SlottingError, match="order history"):
        plan_reslotting(layout, cells, assignment, [])
    with pytest.raises(SlottingError, match="not among the cells"):
        plan_reslotting(layout, cells, {"X": "nowhere"}, orders)
    with pytest.raises(SlottingError, match="one SKU per pick cell"):
        plan_reslotting(layout, cells, {"X": "0-0-0-0", "Y": "0-0-0-0"}, orders)
