"""Layout apply: cells from a spec, idempotent re-apply, bad specs write nothing."""

import copy
from pathlib import Path

import pytest
from sqlalchemy import select

from server.models import Cell, Warehouse, Zone
from server.services.layout import LayoutError, apply_layout, load_spec, parse_spec
from server.services.stock import apply_movement
from tests.assertions import count

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "layout.toml"

SPEC = {
    "warehouse": {"code": "T1", "name": "Тестовый склад", "address_format": "{zone}-{aisle:02d}-{bay:02d}-{level}"},
    "geometry": {"aisle_pitch_m": 2.5, "slot_length_m": 0.9, "cross_aisle_width_m": 2.0, "depot_aisle": 1},
    "zones": [
        {"code": "RCV", "name": "Приёмка", "kind": "receiving"},
        {"code": "A", "name": "Стеллажи", "kind": "storage"},
    ],
    "areas": [
        {
            "zone": "A", "blocks": 2, "aisles": 3, "bays": 4, "levels": 2, "sides": "both",
            "cell_type": "shelf", "barcode": "C{aisle:02d}{bay:02d}{level}",
            "capacity": {"size_mm": [1000, 500, 400], "weight_g": 50000, "units": 100},
        }
    ],
    "cells": [{"zone": "RCV", "address": "RCV-01"}, {"zone": "RCV", "address": "RCV-02", "barcode": "DOCK2"}],
}
AREA_CELLS = 2 * 3 * 4 * 2 * 2  # blocks x aisles x bays x sides x levels


def cell(db, address) -> Cell:
    return db.session.execute(select(Cell).filter_by(address=address)).scalar_one()


def test_apply_creates_cells_with_address_parts_and_routing_place(db):
    report = apply_layout(parse_spec(SPEC))
    db.session.commit()
    assert report.warehouse_action == "created"
    assert (report.zones.created, report.cells.created) == (2, AREA_CELLS + 2)
    assert count(db, Cell) == AREA_CELLS + 2
    wh = db.session.execute(select(Warehouse)).scalar_one()
    assert (wh.aisle_pitch_m, wh.slot_length_m, wh.depot_aisle) == (2.5, 0.9, 1)
    assert wh.address_format == SPEC["warehouse"]["address_format"]

    first = cell(db, "A-01-01-1")  # block 1, first slot, left side: odd bay
    assert (first.block, first.aisle, first.slot, first.side, first.bay, first.level) == (1, 1, 1, "L", 1, 1)
    assert first.barcode == "C01011" and first.cell_type == "shelf"
    assert (first.max_volume_cm3, first.max_weight_g, first.max_units) == (200_000, 50_000, 100)
    across = cell(db, "A-01-02-1")  # same slot, right side: even bay
    assert (across.slot, across.side) == (1, "R")
    block2 = cell(db, "A-03-09-2")  # bays continue along the aisle into block 2
    assert (block2.block, block2.slot, block2.side, block2.aisle) == (2, 1, "L", 3)
    assert cell(db, "A-03-16-2").slot == 4
    dock = cell(db, "RCV-02")
    assert (dock.barcode, dock.cell_type, dock.zone.kind) == ("DOCK2", "floor", "receiving")


def test_reapply_changes_nothing(db):
    apply_layout(parse_spec(SPEC))
    db.session.commit()
    report = apply_layout(parse_spec(SPEC))
    db.session.commit()
    assert report.warehouse_action == "unchanged"
    assert (report.zones.created, report.zones.updated, report.zones.unchanged) == (0, 0, 2)
    assert (report.cells.created, report.cells.updated, report.cells.unchanged) == (0, 0, AREA_CELLS + 2)
    assert count(db, Cell) == AREA_CELLS + 2


def test_reapply_updates_changed_cells_and_adds_new_ones(db):
    apply_layout(parse_spec(SPEC))
    db.session.commit()
    ids = dict(db.session.execute(select(Cell.address, Cell.id)).all())
    spec = copy.deepcopy(SPEC)
    spec["areas"][0]["levels"] = 3
    spec["areas"][0]["capacity"]["units"] = 80
    spec["zones"][0]["name"] = "Приёмка товара"
    report = apply_layout(parse_spec(spec))
    db.session.commit()
    assert report.zones.updated == 1
    assert (report.cells.created, report.cells.updated, report.cells.unchanged) == (AREA_CELLS // 2, AREA_CELLS, 2)
    assert cell(db, "A-01-01-1").id == ids["A-01-01-1"]  # upserted by address, same row
    assert cell(db, "A-01-01-1").max_units == 80
    assert cell(db, "A-01-01-3").level == 3


def test_dry_run_reports_and_writes_nothing(db):
    report = apply_layout(parse_spec(SPEC), dry_run=True)
    db.session.rollback()
    assert report.dry_run and report.cells.created == AREA_CELLS + 2
    assert count(db, Cell) == 0 and count(db, Warehouse) == 0


def test_prune_never_removes_cells_with_stock(db):
    from tests import factories

    apply_layout(parse_spec(SPEC))
    db.session.commit()
    sku = factories.sku()
    stocked = cell(db, "A-02-01-2")
    apply_movement("receive", sku.id, 5, to_cell_id=stocked.id, reason="opening stock")
    db.session.commit()
    smaller = copy.deepcopy(SPEC)
    smaller["areas"][0]["aisles"] = 1
    left_alone = apply_layout(parse_spec(smaller))
    db.session.commit()
    assert left_alone.not_in_spec == AREA_CELLS * 2 // 3 and left_alone.pruned == 0
    assert count(db, Cell) == AREA_CELLS + 2

    report = apply_layout(parse_spec(smaller), prune=True)
    db.session.commit()
    assert (report.pruned, report.kept) == (AREA_CELLS * 2 // 3 - 1, 1)
    assert count(db, Cell) == AREA_CELLS // 3 + 2 + 1
    assert cell(db, "A-02-01-2").id == stocked.id


def test_example_spec(db):
    spec = load_spec(str(EXAMPLE))
    report = apply_layout(spec)
    db.session.commit()
    shelves = 2 * 6 * 10 * 2 * 4 * 2
    pallets = 12 * 2
    assert report.cells.created == shelves + pallets + 5
    assert count(db, Zone) == 6
    pallet = cell(db, "P-07-12-2-1")
    assert (pallet.barcode, pallet.cell_type, pallet.side, pallet.max_weight_g) == ("P07122", "pallet", "L", 1_000_000)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda s: s["areas"][0].update(levles=3), "areas[0].levles"),
        (lambda s: s["zones"][1].update(kind="attic"), "zones[1].kind"),
        (lambda s: s["areas"][0].update(bays=0), "areas[0].bays"),
        (lambda s: s["areas"][0].update(zone="B"), "areas[0].zone"),
        (lambda s: s["warehouse"].update(address_format="{zone}-{row}"), "warehouse.address_format"),
        (lambda s: s["warehouse"].pop("code"), "warehouse.code"),
        (lambda s: s["areas"][0]["capacity"].update(units=-1), "areas[0].capacity.units"),
        (lambda s: s["geometry"].update(aisle_pitch_m="wide"), "geometry.aisle_pitch_m"),
        # Addresses without the level collide.
        (lambda s: s["warehouse"].update(address_format="{zone}-{aisle:02d}-{bay:02d}"), "warehouse.address_format"),
        (lambda s: s["cells"][1].update(address="A-01-01-1"), "warehouse.address_format"),
    ],
)
def test_bad_spec_names_the_key_and_writes_nothing(db, change, key):
    spec = copy.deepcopy(SPEC)
    change(spec)
    with pytest.raises(LayoutError) as caught:
        apply_layout(parse_spec(spec))
    assert key in [k for k, _ in caught.value.errors], caught.value.errors
    db.session.rollback()
    assert count(db, Warehouse) == 0 and count(db, Cell) == 0


def test_barcode_of_a_cell_outside_the_spec_is_refused(db):
    apply_layout(parse_spec(SPEC))
    db.session.commit()
    spec = copy.deepcopy(SPEC)
    spec["cells"] = [{"zone": "RCV", "address": "RCV-03", "barcode": "DOCK2"}]
    with pytest.raises(LayoutError, match="DOCK2"):
        apply_layout(parse_spec(spec))
    db.session.rollback()
    assert count(db, Cell) == AREA_CELLS + 2


def test_swapped_barcodes_are_applied(db):
    apply_layout(parse_spec(SPEC))
    db.session.commit()
    spec = copy.deepcopy(SPEC)
    spec["cells"] = [
        {"zone": "RCV", "address": "RCV-01", "barcode": "DOCK2"},
        {"zone": "RCV", "address": "RCV-02", "barcode": "RCV-01"},
    ]
    report = apply_layout(parse_spec(spec))
    db.session.commit()
    assert report.cells.updated == 2
    assert (cell(db, "RCV-01").barcode, cell(db, "RCV-02").barcode) == ("DOCK2", "RCV-01")
