"""The demo warehouse: layout, 2,000 SKUs with Russian EAN-13s, opening stock, users, stations
(marked emulated: emulators and a demo script drive them, and the KPIs keep their work apart).

`seed_demo(size)` builds it once in the caller's transaction, then the work waiting in the flows
(server.services.demo_flows); a second call finds the warehouse and adds only the work it lacks.
Cells and SKUs go in with bulk inserts; stock goes through the ledger's bulk path (receive
movements and quants together), so `check_quants()` is empty afterwards.
Everything is generated from a fixed seed: the same demo every time.
"""

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, insert, select

from server.auth import new_token
from server.extensions import db
from server.models import (
    ApiToken,
    Cell,
    Quant,
    Sku,
    SkuBarcode,
    Station,
    User,
    Warehouse,
    Zone,
)
from server.models.base import utcnow
from server.services import demo_flows
from server.services.barcodes import check_digit, normalize_gtin
from server.services.dates import today_in
from server.services.demo_flows import DEMO_SHOP_USER
from server.services.layout import apply_layout, parse_spec
from server.services.stock import OPENING_STOCK, Actor, ReceiptLine, receive_lines

DEMO_CODE = "DEMO"
STORAGE_ZONE = "A"


@dataclass(frozen=True)
class DemoSize:
    blocks: int = 2
    aisles: int = 20
    bays: int = 30  # per side of an aisle, per block
    levels: int = 4
    skus: int = 2000
    stocked_share: float = 0.6  # of storage cells


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    roles: tuple[str, ...]
    badge: str | None
    password: str | None = None
    pin: str | None = None  # supervisors and admins never sign in by a badge alone


DEMO_USERS = (
    DemoUser("receiver", "Иван Петров", ("receiver",), "BDG-1001"),
    DemoUser("picker", "Анна Смирнова", ("picker",), "BDG-1002"),
    DemoUser("picker2", "Олег Кузнецов", ("picker",), "BDG-1003"),
    DemoUser("packer", "Мария Иванова", ("packer",), "BDG-1004"),
    DemoUser("dispatcher", "Сергей Волков", ("dispatcher",), "BDG-1005"),
    DemoUser("returns", "Елена Соколова", ("returns",), "BDG-1006"),
    DemoUser("supervisor", "Наталья Морозова", ("supervisor",), "BDG-2001", "supervisor-demo", "2046"),
    DemoUser("admin", "Admin", ("admin",), "BDG-9001", "admin-demo", "9130"),
    # The demo shop's program: sends orders with an API token (`make demo` prints a fresh one).
    DemoUser("shop", "Интернет-магазин «Демо»", ("integration",), None, "shop-demo"),
)
DEMO_STATIONS = (
    ("DOCK-1", "dock", "Приёмка, ворота 1"),
    ("PACK-1", "pack", "Упаковка, стол 1"),
    ("PACK-2", "pack", "Упаковка, стол 2"),
    ("HANDOFF-1", "handoff", "Передача курьерам"),
)


@dataclass
class DemoInfo:
    created: bool
    cells: int = 0
    skus: int = 0
    stocked_cells: int = 0
    movements: int = 0
    users: tuple[DemoUser, ...] = DEMO_USERS
    station_tokens: dict[str, str] = field(default_factory=dict)


class DemoRefused(Exception):
    """The database holds a warehouse that is not the demo's: it is never seeded."""


def layout_spec(size: DemoSize) -> dict:
    return {
        "warehouse": {
            "code": DEMO_CODE,
            "name": "Демо-склад (Подольск)",
            "address_format": "{zone}-{aisle:02d}-{bay:02d}-{level}-{position}",
            "timezone": "Europe/Moscow",
        },
        "geometry": {"aisle_pitch_m": 3.0, "slot_length_m": 1.0, "cross_aisle_width_m": 2.5, "depot_aisle": 1},
        "zones": [
            {"code": "RCV", "name": "Приёмка", "kind": "receiving"},
            {"code": STORAGE_ZONE, "name": "Стеллажи", "kind": "storage"},
            {"code": "PCK", "name": "Упаковка", "kind": "packing"},
            {"code": "SHP", "name": "Отгрузка", "kind": "shipping"},
            {"code": "RET", "name": "Возвраты", "kind": "returns"},
            {"code": "QUA", "name": "Карантин", "kind": "quarantine"},
        ],
        "areas": [
            {
                "zone": STORAGE_ZONE, "blocks": size.blocks, "aisles": size.aisles, "bays": size.bays,
                "levels": size.levels, "sides": "both", "cell_type": "shelf",
                "capacity": {"size_mm": [1000, 600, 450], "weight_g": 80000},
            }
        ],
        "cells": [
            {"zone": "RCV", "address": "RCV-01"}, {"zone": "RCV", "address": "RCV-02"},
            {"zone": "PCK", "address": "PCK-01", "cell_type": "bin"},
            {"zone": "SHP", "address": "SHP-01"},
            {"zone": "RET", "address": "RET-01", "cell_type": "bin"},
            {"zone": "QUA", "address": "QUA-01", "cell_type": "bin"},
        ],
    }


def seed_demo(size: DemoSize = DemoSize(), seed: int = 7, today: date | None = None) -> DemoInfo:
    """Create the demo warehouse unless it exists; flush. Raises DemoRefused on a foreign database."""
    existing = db.session.execute(select(Warehouse).filter_by(code=DEMO_CODE)).scalar_one_or_none()
    if existing is not None:
        # a demo from before receiving (orders, packing) gets it now
        demo_flows.seed_receiving(existing, today or today_in(existing))
        demo_flows.seed_orders(existing, today or today_in(existing))
        demo_flows.seed_packing(existing)
        demo_flows.seed_pack_demo(existing)
        return _describe(existing, created=False)
    others = db.session.execute(select(func.count()).select_from(Warehouse)).scalar_one()
    users = db.session.execute(select(func.count()).select_from(User)).scalar_one()
    if others or users:
        raise DemoRefused(
            f"this database already holds {others} warehouse(s) and {users} user(s), none of them the demo's; "
            "the demo seeds only an empty database (unset DATABASE_URL to use the demo's own SQLite file)"
        )
    rng = random.Random(seed)
    apply_layout(parse_spec(layout_spec(size)))
    warehouse = db.session.execute(select(Warehouse).filter_by(code=DEMO_CODE)).scalar_one()
    today = today or today_in(warehouse)

    skus = generate_skus(size.skus, rng)
    for i in range(0, len(skus), 1000):
        db.session.execute(insert(Sku), [{k: v for k, v in s.items() if k != "barcode"} for s in skus[i : i + 1000]])
    ids = dict(db.session.execute(select(Sku.code, Sku.id)).all())
    barcodes = [{"sku_id": ids[s["code"]], "barcode": normalize_gtin(s["barcode"]), "kind": "ean13", "units": 1} for s in skus]
    for i in range(0, len(barcodes), 1000):
        db.session.execute(insert(SkuBarcode), barcodes[i : i + 1000])

    lines = opening_stock(warehouse.id, skus, ids, size.stocked_share, rng, today)
    receive_lines(lines, actor=Actor(scenario="demo"), reason=OPENING_STOCK, reference="demo")

    for u in DEMO_USERS:
        user = User(username=u.username, full_name=u.full_name, badge_code=u.badge)
        user.roles = u.roles
        if u.password:
            user.set_password(u.password)
        user.set_pin(u.pin)
        db.session.add(user)
    for code, kind, name in DEMO_STATIONS:
        db.session.add(Station(code=code, kind=kind, name=name, warehouse_id=warehouse.id, token_hash=new_token()[1],
                               emulated=True))
    db.session.flush()
    demo_flows.seed_receiving(warehouse, today)
    demo_flows.seed_orders(warehouse, today)
    demo_flows.seed_packing(warehouse)
    demo_flows.seed_pack_demo(warehouse)
    return _describe(warehouse, created=True)



def issue_shop_token() -> str:
    """A new API token for the demo shop's program (the ones printed before are revoked)."""
    user = db.session.execute(select(User).filter_by(username=DEMO_SHOP_USER)).scalar_one_or_none()
    if user is None:  # a demo database from an older version
        spec = next(u for u in DEMO_USERS if u.username == DEMO_SHOP_USER)
        user = User(username=spec.username, full_name=spec.full_name)
        user.roles = spec.roles
        user.set_password(spec.password)
        db.session.add(user)
        db.session.flush()
    now = utcnow()
    for earlier in db.session.execute(select(ApiToken).filter_by(user_id=user.id, revoked_at=None)).scalars():
        earlier.revoked_at = now
    token, digest = new_token()
    db.session.add(ApiToken(user_id=user.id, name="demo shop", token_hash=digest))
    db.session.flush()
    return token


def issue_station_tokens() -> dict[str, str]:
    """New tokens for the demo stations (only hashes are stored, so each start prints fresh ones),
    each marked emulated. A demo database from an older version gets the stations it lacks."""
    tokens = {}
    warehouse = db.session.execute(select(Warehouse).filter_by(code=DEMO_CODE)).scalar_one()
    for code, kind, name in DEMO_STATIONS:
        station = db.session.execute(select(Station).filter_by(code=code)).scalar_one_or_none()
        if station is None:
            station = Station(code=code, kind=kind, name=name, warehouse_id=warehouse.id)
            db.session.add(station)
        station.emulated = True  # emulators and the demo script drive it, not a person
        tokens[code], station.token_hash = new_token()
    db.session.flush()
    return tokens


def _describe(warehouse: Warehouse, created: bool) -> DemoInfo:
    from server.models import Movement

    cells = db.session.execute(select(func.count()).select_from(Cell).filter_by(warehouse_id=warehouse.id)).scalar_one()
    stocked = db.session.execute(
        select(func.count(func.distinct(Quant.cell_id))).join(Cell, Cell.id == Quant.cell_id)
        .where(Cell.warehouse_id == warehouse.id, Quant.quantity > 0)
    ).scalar_one()
    return DemoInfo(
        created=created,
        cells=cells,
        skus=db.session.execute(select(func.count()).select_from(Sku)).scalar_one(),
        stocked_cells=stocked,
        movements=db.session.execute(select(func.count()).select_from(Movement)).scalar_one(),
    )


# --- SKUs ------------------------------------------------------------------------------------

# (code prefix, {noun: variants}, typical size mm (l, w, h), weight range g, tracking flags, share)
CATEGORIES = [
    ("MLK", {"Молоко 3,2%": ["930 мл", "1 л"], "Кефир 2,5%": ["900 г", "450 г"], "Ряженка 4%": ["450 г"],
             "Йогурт питьевой клубника": ["270 г", "900 г"]},
     (70, 70, 190), (300, 1100), {"track_lot", "track_expiry", "track_marking"}, 1.5),
    ("TEA", {"Чай чёрный байховый": ["100 г", "25 пак."], "Чай зелёный": ["100 г", "20 пак."],
             "Кофе молотый": ["250 г", "500 г"], "Кофе в зёрнах": ["1 кг", "500 г"]},
     (120, 70, 180), (120, 1050), {"track_lot", "track_expiry"}, 2),
    ("GRO", {"Гречка ядрица": ["800 г", "5 x 80 г"], "Рис круглозёрный": ["900 г"], "Макароны спагетти": ["450 г"],
             "Овсяные хлопья": ["400 г", "1 кг"]},
     (200, 120, 60), (400, 1050), {"track_expiry"}, 2),
    ("COS", {"Шампунь для всех типов волос": ["250 мл", "400 мл"], "Гель для душа": ["250 мл", "500 мл"],
             "Крем для рук": ["75 мл"], "Зубная паста": ["100 мл"]},
     (60, 50, 200), (80, 550), {"track_lot", "track_expiry"}, 2),
    ("PRF", {"Туалетная вода": ["30 мл", "50 мл", "100 мл"], "Парфюмерная вода": ["50 мл", "100 мл"]},
     (90, 60, 130), (150, 400), {"track_marking"}, 1),
    ("SHO", {"Кроссовки беговые": ["р. 37", "р. 39", "р. 42", "р. 44"], "Ботинки зимние": ["р. 38", "р. 41", "р. 43"],
             "Кеды": ["р. 36", "р. 40", "р. 42"]},
     (330, 210, 120), (500, 1400), {"track_marking"}, 2),
    ("CLO", {"Футболка хлопковая": ["S", "M", "L", "XL"], "Худи с капюшоном": ["M", "L", "XL"],
             "Джинсы прямые": ["W30 L32", "W32 L32", "W34 L34"]},
     (300, 250, 50), (200, 900), {"track_marking"}, 2),
    ("HOM", {"Полотенце махровое": ["50 x 90 см", "70 x 140 см"], "Кружка керамическая": ["350 мл", "450 мл"],
             "Сковорода антипригарная": ["24 см", "28 см"], "Губки для посуды": ["5 шт.", "10 шт."],
             "Контейнер для еды": ["0,5 л", "1 л", "набор 3 шт."], "Плед флисовый": ["130 x 170 см", "150 x 200 см"],
             "Вешалки-плечики": ["5 шт.", "10 шт."], "Свеча ароматическая": ["ваниль", "лаванда"]},
     (300, 250, 100), (80, 1800), set(), 16),
    ("KIT", {"Чайник электрический": ["1,7 л", "1,5 л"], "Блендер погружной": ["600 Вт", "800 Вт"],
             "Тостер": ["2 ломтика", "4 ломтика"], "Мультиварка": ["5 л", "3 л"], "Фен для волос": ["1800 Вт", "2200 Вт"]},
     (250, 200, 300), (600, 4500), {"track_serial"}, 6),
    ("ELE", {"USB-C cable": ["1 m", "2 m", "braided 1 m"], "Wireless earbuds": ["black", "white"],
             "Power bank": ["10000 mAh", "20000 mAh"], "Phone case": ["clear", "black", "silicone"],
             "HDMI cable": ["2 m, 4K", "3 m"], "Bluetooth speaker": ["10 W", "20 W"],
             "Wall charger": ["20 W", "65 W"], "Smart watch strap": ["22 mm", "20 mm"]},
     (160, 100, 50), (30, 650), set(), 20),
    ("TOY", {"Конструктор": ["500 дет.", "1000 дет."], "Пазл": ["500 эл.", "1000 эл."], "Мягкая игрушка": ["30 см", "50 см"],
             "Настольная игра": ["6+", "12+"]},
     (300, 250, 80), (200, 1500), set(), 10),
    ("STA", {"Notebook A5": ["80 sheets", "120 sheets"], "Ballpoint pens": ["blue, 10 pcs", "black, 4 pcs"],
             "Sticky notes": ["76 x 76 mm", "neon, 5 pads"], "Desk organizer": ["wood", "metal"]},
     (220, 160, 30), (60, 600), set(), 12),
    ("SPO", {"Коврик для йоги": ["6 мм", "10 мм"], "Гантели виниловые": ["2 x 1 кг", "2 x 3 кг"],
             "Бутылка для воды": ["500 мл", "750 мл"], "Скакалка": ["скоростная", "с счётчиком"]},
     (350, 150, 120), (150, 3500), set(), 10),
    ("AUT", {"Щётка стеклоочистителя": ["45 см", "55 см", "60 см"], "Ароматизатор для авто": ["хвоя", "кофе"],
             "Автошампунь": ["1 л"]},
     (550, 80, 50), (50, 1100), set(), 5),
    ("PET", {"Корм для кошек": ["400 г", "1,5 кг"], "Корм для собак": ["2 кг"]},
     (300, 200, 100), (400, 2100), {"track_lot", "track_expiry"}, 1.5),
]
BRANDS_RU = ["Северянка", "Домовёнок", "Русское поле", "Вкусный день", "Лесная сказка", "Заря", "Уют", "Волжанка",
             "Белый медведь", "Калинка"]
BRANDS_EN = ["Nordline", "Lumen", "Arctica", "Vesta", "Kvant", "Polar", "Orbita", "Sever", "Stroika", "Mirra"]


def generate_skus(count: int, rng: random.Random) -> list[dict]:
    """`count` SKUs with real-looking names and unique valid EAN-13s (prefixes 460-469, Russia)."""
    weights = [c[5] for c in CATEGORIES]
    seen_names, seen_codes, out = set(), set(), []
    per_prefix: dict[str, int] = {}
    while len(out) < count:
        prefix, nouns, (ln, wd, ht), (g0, g1), flags, _ = rng.choices(CATEGORIES, weights)[0]
        noun = rng.choice(sorted(nouns))
        variants = nouns[noun]
        brand = rng.choice(BRANDS_EN if noun.isascii() else BRANDS_RU)
        brand = f"«{brand}»" if not noun.isascii() else brand
        name = f"{noun} {brand}, {rng.choice(variants)}"
        if name in seen_names:
            name = f"{name}, арт. {rng.randint(100, 999)}" if not noun.isascii() else f"{name}, model {rng.randint(100, 999)}"
            if name in seen_names:
                continue
        seen_names.add(name)
        per_prefix[prefix] = per_prefix.get(prefix, 0) + 1
        while True:
            body = str(rng.randint(460, 469)) + f"{rng.randrange(10**9):09d}"
            ean = body + str(check_digit(body))
            if ean not in seen_codes:
                seen_codes.add(ean)
                break
        scale = rng.uniform(0.6, 1.4)
        out.append({
            "code": f"{prefix}-{per_prefix[prefix]:05d}", "name": name,
            "length_mm": max(10, int(ln * scale)), "width_mm": max(10, int(wd * scale)),
            "height_mm": max(5, int(ht * scale)),
            "weight_g": rng.randint(g0, g1),
            "track_lot": "track_lot" in flags, "track_expiry": "track_expiry" in flags,
            "track_serial": "track_serial" in flags, "track_marking": "track_marking" in flags,
            "active": True, "barcode": ean,
        })
    return out


def opening_stock(warehouse_id: int, skus: list[dict], ids: dict, share: float, rng: random.Random,
                  today: date) -> list[ReceiptLine]:
    """One or two SKUs in `share` of the storage cells, quantities that fit the cell's volume."""
    cells = db.session.execute(
        select(Cell.id, Cell.max_volume_cm3, Cell.max_weight_g)
        .join(Zone, Zone.id == Cell.zone_id)
        .where(Cell.warehouse_id == warehouse_id, Zone.code == STORAGE_ZONE)
        .order_by(Cell.id)
    ).all()
    chosen = rng.sample(cells, int(len(cells) * share))
    chosen.sort()
    lines = []
    for n, cell in enumerate(chosen):
        # Every SKU is stocked somewhere first, then at random.
        picks = [skus[n % len(skus)]] if n < len(skus) else [rng.choice(skus)]
        if rng.random() < 0.15:
            picks.append(rng.choice(skus))
        seen = set()
        for sku in picks:
            if sku["code"] in seen:
                continue
            seen.add(sku["code"])
            volume = max(1, sku["length_mm"] * sku["width_mm"] * sku["height_mm"] // 1000)
            fit = min((cell.max_volume_cm3 or 10**9) // volume, (cell.max_weight_g or 10**9) // max(1, sku["weight_g"]))
            quantity = max(1, min(fit // len(picks), rng.randint(2, 60)))
            lot = f"L{today:%y%m}-{rng.randint(1, 99):02d}" if sku["track_lot"] else ""
            expiry = today + timedelta(days=rng.randint(20, 540)) if sku["track_expiry"] else None
            lines.append(ReceiptLine(cell.id, ids[sku["code"]], lot, expiry, quantity))
    return lines
