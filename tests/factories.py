"""Small builders for test data, committed so API calls in the same test can see them."""

from server.auth import new_token
from server.extensions import db
from server.models import ApiToken, Cell, Sku, SkuBarcode, Station, User, Warehouse, Zone


def warehouse(code="W1", name="Main warehouse") -> Warehouse:
    wh = Warehouse(code=code, name=name)
    db.session.add(wh)
    db.session.flush()
    return wh


def zone(wh: Warehouse, code="S", kind="storage") -> Zone:
    z = Zone(warehouse_id=wh.id, code=code, name=code, kind=kind)
    db.session.add(z)
    db.session.flush()
    return z


def cell(z: Zone, address: str, barcode: str | None = None, **fields) -> Cell:
    c = Cell(warehouse_id=z.warehouse_id, zone_id=z.id, address=address, barcode=barcode or address, **fields)
    db.session.add(c)
    db.session.flush()
    return c


def sku(code="SKU-1", name="Чайник электрический", barcode: str | None = None, **fields) -> Sku:
    s = Sku(code=code, name=name, **fields)
    if barcode:
        s.barcodes.append(SkuBarcode(barcode=barcode.zfill(14), kind="ean13"))
    db.session.add(s)
    db.session.flush()
    return s


def user(username="u1", roles=("picker",), password=None, badge=None, pin=None) -> User:
    u = User(username=username, full_name=username.title(), badge_code=badge)
    u.roles = roles
    if password:
        u.set_password(password)
    u.set_pin(pin)
    db.session.add(u)
    db.session.flush()
    return u


def token_for(u: User) -> dict:
    """Authorization header for a fresh API token of `u`."""
    token, digest = new_token()
    db.session.add(ApiToken(user_id=u.id, name="test", token_hash=digest))
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def station(wh: Warehouse, code="DOCK-1", kind="dock") -> tuple[Station, dict]:
    token, digest = new_token()
    st = Station(warehouse_id=wh.id, code=code, name=code, kind=kind, token_hash=digest)
    db.session.add(st)
    db.session.commit()
    return st, {"Authorization": f"Bearer {token}"}


def stocked_warehouse():
    """One warehouse, a storage zone with three cells, one SKU; committed."""
    wh = warehouse()
    z = zone(wh)
    cells = [cell(z, f"S-01-0{i}-1-1") for i in range(1, 4)]
    s = sku(barcode="4601234567893")
    db.session.commit()
    return wh, z, cells, s
