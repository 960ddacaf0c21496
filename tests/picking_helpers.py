"""A small warehouse with a ready picking batch, built from the models (reservations are ledger
`reserve` movements with their OrderReservation rows), until waves.release_wave builds batches."""

from datetime import date
from types import SimpleNamespace

from server.extensions import db
from server.models import Batch, BatchOrder, Order, OrderLine, OrderReservation, PickLine, Wave
from server.services.barcodes import check_digit
from server.services.pick_scans import reroute
from server.services.stock import apply_movement
from tests import factories as f
from tests.putaway_helpers import putaway_warehouse


def ean(body12: str) -> str:
    return body12 + str(check_digit(body12))


KETTLE, IRON, MILK = ean("460123456789"), ean("460123456780"), ean("460123456781")
L1_EXPIRY, L2_EXPIRY = date(2027, 1, 31), date(2027, 6, 30)


def gs1(barcode: str, lot: str, expiry: date) -> str:
    """A GS1-128 scan of `barcode`'s GTIN with expiry and lot."""
    return f"]C101{barcode.zfill(14)}17{expiry:%y%m%d}10{lot}"


def order(wh, number: str, lines) -> Order:
    """A reserved order. lines: [(sku, quantity, [(cell, qty, lot, expiry), ...])]."""
    o = Order(warehouse_id=wh.id, number=number, status="reserved")
    db.session.add(o)
    db.session.flush()
    for line_no, (sku, quantity, holds) in enumerate(lines, start=1):
        line = OrderLine(order_id=o.id, line_no=line_no, sku_id=sku.id, quantity=quantity, reserved=0, picked=0)
        db.session.add(line)
        db.session.flush()
        for cell, qty, lot, expiry in holds:
            apply_movement("reserve", sku.id, qty, from_cell_id=cell.id, lot=lot, expiry=expiry,
                           reference=f"order {number}")
            db.session.add(OrderReservation(order_id=o.id, order_line_id=line.id, cell_id=cell.id, sku_id=sku.id,
                                            lot=lot, expiry=expiry, quantity=qty, picked=0))
            line.reserved += qty
    db.session.flush()
    return o


def batch(wh, orders, seq=1, cart="C-03") -> Batch:
    """A ready batch of `orders` (slot = position), a pick line per reservation, in route order."""
    wave = Wave(warehouse_id=wh.id, totes_per_cart=8, tote_volume_l=40.0, tote_max_kg=15.0)
    db.session.add(wave)
    db.session.flush()
    b = Batch(wave_id=wave.id, warehouse_id=wh.id, seq=seq, cart=cart)
    db.session.add(b)
    db.session.flush()
    for slot, o in enumerate(orders, start=1):
        db.session.add(BatchOrder(batch_id=b.id, order_id=o.id, slot=slot))
        for r in db.session.query(OrderReservation).filter_by(order_id=o.id).order_by(OrderReservation.id):
            db.session.add(PickLine(batch_id=b.id, order_id=o.id, order_line_id=r.order_line_id, reservation_id=r.id,
                                    cell_id=r.cell_id, sku_id=r.sku_id, lot=r.lot, expiry=r.expiry,
                                    quantity=r.quantity, seq=0))
    db.session.flush()
    reroute(b, None)
    return b


def picking_warehouse() -> SimpleNamespace:
    """Shelves W1-S-<aisle>-<slot> (3 aisles x 4 slots), a pack-area cell W1-P-01; kettles in
    S-01-02 (5) and S-03-04 (5), irons in S-02-01 (2), milk (lot and expiry) L1 in S-01-04 and L2 in
    S-02-03; a picker (badge B-7). No orders. Flushed."""
    wh, receiving, cells, _quarantine = putaway_warehouse(aisles=3, slots=4, max_units=100)
    pack = f.cell(f.zone(wh, "P", "packing"), "W1-P-01")
    kettle = f.sku("KETTLE", "Чайник", barcode=KETTLE)
    iron = f.sku("IRON", "Утюг", barcode=IRON)
    milk = f.sku("MILK", "Молоко", barcode=MILK, track_lot=True, track_expiry=True)
    c = {name[5:]: cell for name, cell in cells.items()}  # "01-02" -> cell
    for sku, cell, qty, lot, expiry in ((kettle, c["01-02"], 5, "", None), (kettle, c["03-04"], 5, "", None),
                                        (iron, c["02-01"], 2, "", None), (milk, c["01-04"], 6, "L1", L1_EXPIRY),
                                        (milk, c["02-03"], 6, "L2", L2_EXPIRY)):
        apply_movement("receive", sku.id, qty, to_cell_id=cell.id, lot=lot, expiry=expiry)
    picker = f.user("petr", roles=("picker",), badge="B-7")
    db.session.flush()
    return SimpleNamespace(wh=wh, cells=c, pack=pack, kettle=kettle, iron=iron, milk=milk, picker=picker,
                           receiving=receiving)


BOX_TYPES = {"S": ((200, 200, 100), 100), "M": ((400, 300, 300), 300), "L": ((600, 400, 400), 600)}


def ready_to_pack(s: SimpleNamespace, boxes: str = "M", milk_g: int = 0) -> SimpleNamespace:
    """`s` (a picking warehouse) as packing needs it: tolerance 30 g / 5 %, filler 20 g, the
    kettle's and the iron's sizes and weights (the milk's too with `milk_g`), and the box types
    `boxes` (of S, M, L). Flushed."""
    from server.models import BoxType

    s.wh.pack_tolerance_g, s.wh.pack_tolerance_pct, s.wh.pack_filler_g = 30, 5.0, 20
    sizes = [(s.kettle, (200, 150, 250), 1000), (s.iron, (300, 120, 150), 1200)]
    if milk_g:
        sizes.append((s.milk, (70, 70, 200), milk_g))
    for sku, dims, grams in sizes:
        sku.length_mm, sku.width_mm, sku.height_mm = dims
        sku.weight_g = grams
    for code in boxes:
        (length, width, height), grams = BOX_TYPES[code]
        db.session.add(BoxType(warehouse_id=s.wh.id, code=code, name=f"Box {code}", inner_length_mm=length,
                               inner_width_mm=width, inner_height_mm=height, weight_g=grams))
    db.session.flush()
    return s


def picking_site() -> SimpleNamespace:
    """`picking_warehouse` with order 1001 (3 kettles, 2 milk L1) and 1002 (2 irons, 1 kettle) in
    one ready batch. Committed."""
    s = picking_warehouse()
    c, kettle, iron, milk = s.cells, s.kettle, s.iron, s.milk
    s.o1 = order(s.wh, "1001", [(kettle, 3, [(c["01-02"], 3, "", None)]),
                                (milk, 2, [(c["01-04"], 2, "L1", L1_EXPIRY)])])
    s.o2 = order(s.wh, "1002", [(iron, 2, [(c["02-01"], 2, "", None)]), (kettle, 1, [(c["01-02"], 1, "", None)])])
    s.batch = batch(s.wh, [s.o1, s.o2])
    db.session.commit()
    return s
