"""The two-hall warehouse of examples/layout-halls.toml with stock in both halls (the dead-end
aisle, the short aisle, behind the column, both one-way aisles) and a released wave of three
orders on one cart, for the building-plan tests (service and browser)."""

import tomllib
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import select

from server.extensions import db
from server.models import Batch, Cell
from server.services import waves
from server.services.layout import apply_layout, parse_spec
from server.services.stock import apply_movement
from tests import factories as f
from tests.picking_helpers import ean, order

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "layout-halls.toml"
# (SKU code, barcode, cell, units in stock, units ordered, order number)
STOCK = (
    ("MUG", ean("460765432101"), "A-02-05-1", 6, 2, "2001"),
    ("BOWL", ean("460765432102"), "A-01-31-1", 4, 1, "2001"),  # aisle 1, block 2: the dead end
    ("CUP", ean("460765432103"), "A-04-27-2", 5, 1, "2002"),  # behind the column, block 2
    ("PLATE", ean("460765432104"), "B-07-09-1", 5, 3, "2002"),  # one-way up
    ("JUG", ean("460765432105"), "B-08-16-2", 5, 1, "2003"),  # one-way down
    ("TRAY", ean("460765432106"), "B-09-05-1", 5, 1, "2003"),  # the short rack
    ("LID", ean("460765432107"), "A-05-03-1", 5, 1, "2003"),  # the short aisle
)


def example() -> dict:
    with open(EXAMPLE, "rb") as file:
        return tomllib.load(file)


def cell(address: str) -> Cell:
    return db.session.execute(select(Cell).filter_by(address=address)).scalar_one()


def halls_warehouse() -> SimpleNamespace:
    """The example applied, the goods in their cells, a picker (badge B-9). Flushed."""
    apply_layout(parse_spec(example()))
    s = SimpleNamespace(wh=cell("PCK-01").warehouse, skus={}, cells={}, pack=cell("PCK-01"))
    for code, barcode, address, units, _ordered, _number in STOCK:
        s.skus[code] = f.sku(code, code.title(), barcode=barcode)
        s.cells[code] = cell(address)
        apply_movement("receive", s.skus[code].id, units, to_cell_id=s.cells[code].id)
    s.picker = f.user("olga", roles=("picker",), badge="B-9")
    db.session.flush()
    return s


def halls_site() -> SimpleNamespace:
    """`halls_warehouse` with orders 2001-2003 reserved and released in one wave: one batch.
    Committed."""
    s = halls_warehouse()
    lines: dict[str, list] = {}
    for code, _barcode, _address, _units, ordered, number in STOCK:
        lines.setdefault(number, []).append((s.skus[code], ordered, [(s.cells[code], ordered, "", None)]))
    s.orders = [order(s.wh, number, held) for number, held in lines.items()]
    s.wave = waves.release_wave(s.wh.id)
    (s.batch,) = db.session.execute(select(Batch).filter_by(wave_id=s.wave.id)).scalars().all()
    db.session.commit()
    return s


def barcode_of(sku_code: str) -> str:
    return next(barcode for code, barcode, *_rest in STOCK if code == sku_code)
