"""The demo's work waiting in the flows: deliveries expected at the dock, the shop's orders (some
to confirm, one awaiting stock) and a released wave, the pack station's box types, and the picked
totes and packed parcel of server.services.demo_packing. Each part is made once, only if missing,
so a demo from an older version gets it when it starts again (server.services.demo.seed_demo).
"""

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from server.extensions import db
from server.models import (
    BoxType,
    Cell,
    Delivery,
    DeliveryLine,
    DeliveryStatus,
    Order,
    Quant,
    Sku,
    User,
    Warehouse,
    Zone,
)

# --- packing -----------------------------------------------------------------------------------

# code, name, inner length x width x height (mm), the box's own weight (g), price (roubles)
DEMO_BOX_TYPES = (
    ("S", "Коробка малая S", (200, 150, 100), 90, "18.00"),
    ("M", "Коробка средняя M", (300, 200, 150), 180, "27.00"),
    ("L", "Коробка большая L", (400, 300, 200), 320, "39.00"),
    ("XL", "Коробка очень большая XL", (600, 400, 400), 650, "64.00"),
)
DEMO_SENDER_ADDRESS = "Москва, ул. Складская, д. 5"


def seed_pack_demo(warehouse: Warehouse):
    """Picked totes at the pack area for PACK-1 and one packed parcel with its evidence (demo_packing)."""
    from server.services import demo_packing

    return demo_packing.seed_pack_demo(warehouse)


def seed_packing(warehouse: Warehouse) -> None:
    """The demo's box types and the sender address of its labels (each once: a demo from before
    packing gets them when it starts again)."""
    if not warehouse.address:
        warehouse.address = DEMO_SENDER_ADDRESS
    if db.session.execute(select(BoxType.id).where(BoxType.warehouse_id == warehouse.id).limit(1)).first():
        return
    for code, name, (length, width, height), weight_g, price in DEMO_BOX_TYPES:
        db.session.add(BoxType(warehouse_id=warehouse.id, code=code, name=name, inner_length_mm=length,
                               inner_width_mm=width, inner_height_mm=height, weight_g=weight_g, price=Decimal(price)))
    db.session.flush()


# --- receiving ---------------------------------------------------------------------------------

# The demo's expected deliveries (ASN): the dock scanner starts with the first one's number.
DEMO_ASN_SHORT = "ASN-DEMO-0001"  # three lines; the dock scans fewer of the first than expected
DEMO_ASN_BLIND = "ASN-DEMO-0002"  # no lines: counted from what is scanned
DEMO_ASN_LOTS = "ASN-DEMO-0003"  # lot- and expiry-tracked goods, announced with lot and expiry
DEMO_RECEIVING_CELLS = ("RCV-01", "RCV-02")
DEMO_QUARANTINE_CELL = "QUA-01"


def _zone_with_cells(warehouse: Warehouse, kind: str, code: str, name: str, addresses: tuple[str, ...]) -> None:
    """A zone of `kind` with at least one cell: created as `code` with `addresses` if missing."""
    zone = db.session.execute(select(Zone).filter_by(warehouse_id=warehouse.id, kind=kind)).scalars().first()
    if zone is None:
        zone = Zone(warehouse_id=warehouse.id, code=code, name=name, kind=kind)
        db.session.add(zone)
        db.session.flush()
    has_cells = db.session.execute(select(Cell.id).filter_by(zone_id=zone.id).limit(1)).first()
    if has_cells is None:
        taken = set(db.session.execute(select(Cell.address).where(Cell.warehouse_id == warehouse.id,
                                                                  Cell.address.in_(addresses))).scalars())
        for address in addresses:
            if address not in taken:
                db.session.add(Cell(warehouse_id=warehouse.id, zone_id=zone.id, address=address, barcode=address))
        db.session.flush()


def seed_receiving(warehouse: Warehouse, today: date) -> list[str]:
    """Dock cells, a quarantine cell and three ASNs, each only if missing (safe on every start).
    Returns the numbers of the deliveries created."""
    _zone_with_cells(warehouse, "receiving", "RCV", "Приёмка", DEMO_RECEIVING_CELLS)
    _zone_with_cells(warehouse, "quarantine", "QUA", "Карантин", (DEMO_QUARANTINE_CELL,))
    have = set(db.session.execute(select(Delivery.number).where(
        Delivery.warehouse_id == warehouse.id,
        Delivery.number.in_((DEMO_ASN_SHORT, DEMO_ASN_BLIND, DEMO_ASN_LOTS)))).scalars())
    plain = db.session.execute(
        select(Sku.id).where(~Sku.track_lot, ~Sku.track_expiry, ~Sku.track_serial, ~Sku.track_marking)
        .order_by(Sku.id).limit(3)).scalars().all()
    tracked = db.session.execute(
        select(Sku.id).where(Sku.track_lot, Sku.track_expiry).order_by(Sku.id).limit(2)).scalars().all()
    plans = [
        (DEMO_ASN_SHORT, "ООО «Северный путь»", False, [(sku_id, qty, "", None) for sku_id, qty in zip(plain, (4, 2, 3),
                                                                                                        strict=False)]),
        (DEMO_ASN_BLIND, "ИП Кузнецов", True, []),
        (DEMO_ASN_LOTS, "АО «Молочная долина»", False,
         [(sku_id, 12 * (n + 1), f"L{today:%y%m}-{n + 1:02d}", today + timedelta(days=90 * (n + 1)))
          for n, sku_id in enumerate(tracked)]),
    ]
    created = []
    for number, supplier, blind, lines in plans:
        if number in have or (not blind and not lines):
            continue
        delivery = Delivery(warehouse_id=warehouse.id, number=number, supplier=supplier, expected_date=today,
                            status=DeliveryStatus.expected, blind=blind)
        delivery.lines = [DeliveryLine(line_no=n, sku_id=sku_id, expected_qty=qty, lot=lot, expiry=expiry)
                          for n, (sku_id, qty, lot, expiry) in enumerate(lines, 1)]
        db.session.add(delivery)
        created.append(number)
    db.session.flush()
    return created


# --- orders --------------------------------------------------------------------------------------

DEMO_ORDER_PREFIX = "DEMO-"
DEMO_CUSTOMERS = (
    ("Анна Смирнова", "Москва, ул. Тверская, д. 7, кв. 12"), ("Пётр Иванов", "Казань, ул. Баумана, д. 5"),
    ("Ольга Кузнецова", "Санкт-Петербург, Невский пр., д. 28"), ("Дмитрий Попов", "Екатеринбург, ул. Ленина, д. 40"),
    ("Елена Васильева", "Новосибирск, Красный пр., д. 15"), ("Сергей Соколов", "Нижний Новгород, ул. Большая Покровская, д. 3"),
    ("Мария Михайлова", "Самара, ул. Куйбышева, д. 90"), ("Алексей Новиков", "Ростов-на-Дону, ул. Садовая, д. 21"),
    ("Татьяна Фёдорова", "Краснодар, ул. Красная, д. 109"), ("Иван Морозов", "Воронеж, пр. Революции, д. 33"),
    ("Наталья Волкова", "Уфа, ул. Ленина, д. 14"), ("Андрей Лебедев", "Пермь, ул. Ленина, д. 58"),
)
DEMO_CARRIERS = ("CDEK", "Почта России", "Boxberry")
DEMO_TO_CONFIRM = 3  # the first orders wait for a call to the customer; the last one waits for stock
DEMO_WAVE_ORDERS = 4


def seed_orders(warehouse: Warehouse, today: date) -> list[str]:
    """The demo shop's orders at the card's first stages, each only if missing: some to confirm by
    phone, the others reserved (through the order service, as the shop's API would), and one
    postponed awaiting stock (a SKU the warehouse has none of). Numbers start with DEMO-."""
    from server.services import orders, waves

    have = db.session.execute(select(Order.id).where(Order.number.like(f"{DEMO_ORDER_PREFIX}%")).limit(1)).first()
    if have is not None:
        return []
    rng = random.Random(11)
    stocked = db.session.execute(
        select(Quant.sku_id).join(Cell, Cell.id == Quant.cell_id).join(Zone, Zone.id == Cell.zone_id).join(Sku)
        .where(Cell.warehouse_id == warehouse.id, Zone.kind == "storage", Quant.quantity - Quant.reserved >= 3,
               ~Sku.track_lot, ~Sku.track_serial, ~Sku.track_marking)
        .group_by(Quant.sku_id).order_by(Quant.sku_id).limit(200)).scalars().all()
    empty = db.session.execute(
        select(Sku.code).where(Sku.active, ~Sku.id.in_(select(Quant.sku_id).where(Quant.quantity > 0)))
        .order_by(Sku.id).limit(1)).scalar_one_or_none()
    codes = dict(db.session.execute(select(Sku.id, Sku.code).where(Sku.id.in_(stocked))).all())
    shop = db.session.execute(select(User).filter_by(username=DEMO_SHOP_USER)).scalar_one_or_none()
    zone = ZoneInfo(warehouse.timezone)
    numbers = []
    for n, (customer, address) in enumerate(DEMO_CUSTOMERS, start=1):
        number = f"{DEMO_ORDER_PREFIX}{n:04d}"
        lines = [{"sku": codes[sku_id], "quantity": rng.randint(1, 2)} for sku_id in rng.sample(stocked, rng.randint(1, 3))]
        if n == len(DEMO_CUSTOMERS) and empty:
            lines.append({"sku": empty, "quantity": 1})
        cutoff = datetime.combine(today + timedelta(days=n % 2), time(16 if n % 3 else 12), zone)
        orders.create_order(
            warehouse.id, number, lines, user=shop, source="demo", needs_confirmation=n <= DEMO_TO_CONFIRM,
            customer_name=customer, customer_phone=f"+7 900 000-00-{n:02d}", delivery_address=address,
            carrier=DEMO_CARRIERS[n % len(DEMO_CARRIERS)], priority=1 if n % 5 == 0 else 0, cutoff_at=cutoff,
            cod_amount=Decimal(rng.randint(5, 60) * 100) if n % 4 == 0 else None)
        numbers.append(number)
    # One wave released, so a picker can take a batch at once; the other reserved orders wait for the
    # supervisor to release them.
    waves.release_wave(warehouse.id, max_orders=DEMO_WAVE_ORDERS)
    return numbers


DEMO_SHOP_USER = "shop"
