"""A small warehouse for putaway tests: a receiving cell at the dock and placed storage cells."""

from datetime import date

from server.extensions import db
from server.models import Delivery, DeliveryLine, DeliveryStatus, PutawayTask, Quant
from server.services.stock import apply_movement
from tests import factories as f


def putaway_warehouse(code="W1", aisles=3, slots=4, **cell_fields):
    """Warehouse with a receiving cell (no place in the aisles), a quarantine cell and shelf cells
    S-<aisle>-<slot> in aisles 1..aisles, block 1, slots 1..slots (max 10 units each unless
    told). Returns (wh, receiving cell, {address: cell}, quarantine cell)."""
    wh = f.warehouse(code=code)
    receiving = f.cell(f.zone(wh, "R", "receiving"), f"{code}-R-01")
    quarantine = f.cell(f.zone(wh, "Q", "quarantine"), f"{code}-Q-01", aisle=1, block=1, slot=slots)
    storage = f.zone(wh, "S", "storage")
    fields = {"max_units": 10, **cell_fields}
    cells = {}
    for aisle in range(1, aisles + 1):
        for slot in range(1, slots + 1):
            address = f"{code}-S-{aisle:02d}-{slot:02d}"
            cells[address] = f.cell(storage, address, aisle=aisle, bay=slot, level=1, position=1, block=1,
                                    slot=slot, **fields)
    db.session.commit()
    return wh, receiving, cells, quarantine


def received_delivery(wh, receiving, goods, number="D-1"):
    """A closed delivery whose good units were received into the receiving cell.
    goods: [(sku, quantity, lot, expiry)]."""
    delivery = Delivery(warehouse_id=wh.id, number=number, status=DeliveryStatus.closed,
                        receiving_cell_id=receiving.id)
    db.session.add(delivery)
    db.session.flush()
    for line_no, (sku, quantity, lot, expiry) in enumerate(goods, start=1):
        db.session.add(DeliveryLine(delivery_id=delivery.id, line_no=line_no, sku_id=sku.id, expected_qty=quantity,
                                    received_qty=quantity, lot=lot, expiry=expiry))
        apply_movement("receive", sku.id, quantity, to_cell_id=receiving.id, lot=lot, expiry=expiry,
                       reference=number)
    db.session.flush()
    return delivery


def snapshot():
    """Quants and tasks as comparable tuples (nothing changed == equal snapshots)."""
    db.session.expire_all()
    quants = sorted((q.cell_id, q.sku_id, q.lot, q.expiry or date.max, q.quantity, q.reserved)
                    for q in db.session.query(Quant).all())
    tasks = sorted((t.id, t.status, t.quantity, t.suggested_cell_id, t.done_cell_id, t.override_reason,
                    t.assigned_user_id) for t in db.session.query(PutawayTask).all())
    return quants, tasks
