"""Reading and checking a layout spec: every bad key named; areas expanded into planned cells."""

import tomllib
from dataclasses import dataclass

from server.models import CellType, ZoneKind
from server.models.warehouse import DEFAULT_ADDRESS_FORMAT
from server.services.dates import DEFAULT_ZONE, check_zone
from server.services.layout.addresses import ADDRESS_PARTS, AddressFormatError, address_parts, check_format
from server.services.layout.building_spec import (
    BUILDING_KEYS,
    BuildingSpec,
    check_cell_place,
    check_places,
    has_building,
    parse_building,
    zone_ends,
)

FORMAT_FIELDS = ADDRESS_PARTS
BARCODE_FIELDS = (*FORMAT_FIELDS, "address")
MAX_CELLS = 2_000_000
CELL_FIELDS = (
    "zone_id", "barcode", "cell_type", "max_volume_cm3", "max_weight_g", "max_units",
    "aisle", "bay", "level", "position", "block", "slot", "side",
)
WAREHOUSE_KEYS = {"code", "name", "address_format", "cell_barcode", "timezone"}
GEOMETRY_KEYS = {"aisle_pitch_m", "slot_length_m", "cross_aisle_width_m", "depot_aisle", "start", "drop"}
ZONE_KEYS = {"code", "name", "kind", "start", "drop"}
AREA_KEYS = {
    "zone", "blocks", "aisles", "bays", "levels", "positions", "sides", "bay_numbering",
    "cell_type", "barcode", "capacity",
}
CELL_KEYS = {
    "zone", "address", "barcode", "cell_type", "capacity",
    "aisle", "bay", "level", "position", "block", "slot", "side",
}
CAPACITY_KEYS = {"volume_cm3", "weight_g", "units", "size_mm"}
TOP_KEYS = {"warehouse", "geometry", "zones", "areas", "cells", *BUILDING_KEYS}
SIDES = {"left": ("L",), "right": ("R",), "both": ("L", "R")}
BAY_NUMBERING = {"odd_even", "per_side"}
GEOMETRY_DEFAULTS = {"aisle_pitch_m": 3.0, "slot_length_m": 1.0, "cross_aisle_width_m": 2.0, "depot_aisle": 0}


class LayoutError(Exception):
    """A bad spec: every problem as (key, message)."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{key}: {message}" for key, message in errors))


@dataclass
class CellPlan:
    zone: str
    address: str
    barcode: str
    cell_type: str
    max_volume_cm3: int | None
    max_weight_g: int | None
    max_units: int | None
    aisle: int = 0
    bay: int = 0
    level: int = 0
    position: int = 0
    block: int = 0
    slot: int = 0
    side: str = "L"


@dataclass
class LayoutSpec:
    warehouse: dict
    geometry: dict
    zones: list[dict]
    cells: list[CellPlan]
    building: BuildingSpec | None = None  # halls on a building plan; None: one rectangular grid


def load_spec(path: str) -> LayoutSpec:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise LayoutError([("(file)", f"not valid TOML: {e}")]) from None
    except OSError as e:
        raise LayoutError([("(file)", f"cannot read {path}: {e.strerror}")]) from None
    return parse_spec(data)


class _Checker:
    def __init__(self):
        self.errors: list[tuple[str, str]] = []

    def error(self, key: str, message: str) -> None:
        self.errors.append((key, message))

    def table(self, data, key: str, allowed: set, required: bool = True) -> dict:
        if data is None:
            if required:
                self.error(key, "missing")
            return {}
        if not isinstance(data, dict):
            self.error(key, "must be a table")
            return {}
        for name in sorted(set(data) - allowed):
            self.error(f"{key}.{name}" if key else name, f"unknown key (known: {', '.join(sorted(allowed))})")
        return data

    def tables(self, data: dict, key: str, allowed: set):
        """(where, table) for each non-empty table of the optional array `key` ([[key]])."""
        raw = data.get(key, [])
        if not isinstance(raw, list):
            self.error(key, f"must be an array of tables ([[{key}]])")
            return
        for i, item in enumerate(raw):
            table = self.table(item, f"{key}[{i}]", allowed)
            if table:
                yield f"{key}[{i}]", table

    def text(self, data: dict, key: str, where: str, required=True, default=None, max_len=200) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.error(f"{where}.{key}", "missing")
            return default
        if not isinstance(value, str) or not value.strip():
            self.error(f"{where}.{key}", "must be a non-empty string")
            return default
        if len(value) > max_len:
            self.error(f"{where}.{key}", f"longer than {max_len} characters")
            return default
        return value.strip()

    def zone(self, data: dict, key: str, where: str) -> str:
        value = self.text(data, key, where, required=False, default=DEFAULT_ZONE, max_len=64)
        try:
            return check_zone(value)
        except ValueError:
            self.error(f"{where}.{key}", "unknown time zone: give an IANA name such as Europe/Moscow")
            return DEFAULT_ZONE

    def whole(self, data: dict, key: str, where: str, default=None, minimum=1) -> int | None:
        value = data.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.error(f"{where}.{key}", f"must be a whole number >= {minimum}")
            return default
        return value

    def number(self, data: dict, key: str, where: str, default: float) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            self.error(f"{where}.{key}", "must be a number > 0")
            return default
        return float(value)

    def span(self, data: dict, key: str, where: str) -> range:
        """`n` (1..n) or `[first, last]` (inclusive)."""
        value = data.get(key, 1 if key in ("blocks", "positions") else None)
        if value is None:
            self.error(f"{where}.{key}", "missing")
            return range(0)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return range(1, value + 1)
        if (
            isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            and 0 <= value[0] <= value[1]
        ):
            return range(value[0], value[1] + 1)
        self.error(f"{where}.{key}", "must be a count >= 1 or a range [first, last]")
        return range(0)

    def capacity(self, data: dict, where: str) -> tuple[int | None, int | None, int | None]:
        cap = self.table(data.get("capacity"), f"{where}.capacity", CAPACITY_KEYS, required=False)
        volume = self.whole(cap, "volume_cm3", f"{where}.capacity", minimum=0)
        weight = self.whole(cap, "weight_g", f"{where}.capacity", minimum=0)
        units = self.whole(cap, "units", f"{where}.capacity", minimum=0)
        size = cap.get("size_mm")
        if size is not None:
            if not (
                isinstance(size, list) and len(size) == 3
                and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
            ):
                self.error(f"{where}.capacity.size_mm", "must be [length, depth, height] in whole mm > 0")
            elif volume is None:
                volume = size[0] * size[1] * size[2] // 1000
            else:
                self.error(f"{where}.capacity", "give volume_cm3 or size_mm, not both")
        return volume, weight, units

    def pattern(self, value: str | None, key: str, fields: tuple) -> str | None:
        """A Python format string over `fields`; checked by formatting sample values."""
        if value is None:
            return None
        try:
            check_format(value, fields)
        except AddressFormatError as e:
            if e.unknown:
                self.error(key, f"unknown field(s) {', '.join(sorted(e.unknown))} (known: {', '.join(fields)})")
            else:
                self.error(key, f"bad format string: {e}")
            return None
        return value


def parse_spec(data: dict) -> LayoutSpec:
    """Check a spec dict and expand it into cells. Raises LayoutError listing every bad key."""
    c = _Checker()
    data = c.table(data, "", TOP_KEYS)
    wh = c.table(data.get("warehouse"), "warehouse", WAREHOUSE_KEYS)
    warehouse = {
        "code": c.text(wh, "code", "warehouse", max_len=32),
        "name": c.text(wh, "name", "warehouse"),
        "address_format": c.pattern(
            c.text(wh, "address_format", "warehouse", required=False, default=DEFAULT_ADDRESS_FORMAT),
            "warehouse.address_format", FORMAT_FIELDS,
        ),
        "timezone": c.zone(wh, "timezone", "warehouse"),
    }
    default_barcode = c.pattern(
        c.text(wh, "cell_barcode", "warehouse", required=False, default="{address}"),
        "warehouse.cell_barcode", BARCODE_FIELDS,
    )
    geo = c.table(data.get("geometry"), "geometry", GEOMETRY_KEYS, required=False)
    geometry = {
        key: c.number(geo, key, "geometry", GEOMETRY_DEFAULTS[key])
        for key in ("aisle_pitch_m", "slot_length_m", "cross_aisle_width_m")
    }
    geometry["depot_aisle"] = c.whole(geo, "depot_aisle", "geometry", default=0, minimum=0)
    building = parse_building(c, data, geometry)
    geometry |= _plan_fields(building)

    zones, zone_codes = [], set()
    raw_zones = data.get("zones")
    if not isinstance(raw_zones, list) or not raw_zones:
        c.error("zones", "missing: give at least one [[zones]] table")
        raw_zones = []
    for i, raw in enumerate(raw_zones):
        where = f"zones[{i}]"
        z = c.table(raw, where, ZONE_KEYS)
        code = c.text(z, "code", where, max_len=32)
        kind = c.text(z, "kind", where)
        if kind is not None and kind not in set(ZoneKind):
            c.error(f"{where}.kind", f"unknown zone kind {kind!r} (known: {', '.join(ZoneKind)})")
        if code in zone_codes:
            c.error(f"{where}.code", f"zone {code!r} appears twice")
        zone_codes.add(code)
        zones.append({"code": code, "name": c.text(z, "name", where, required=False, default=code), "kind": kind,
                      **zone_ends(c, z, where, building, has_building(data))})

    cells: list[CellPlan] = []
    fmt = warehouse["address_format"]
    for where, a in c.tables(data, "areas", AREA_KEYS):
        zone = _zone_ref(c, a, where, zone_codes)
        blocks, aisles, levels, positions = (c.span(a, k, where) for k in ("blocks", "aisles", "levels", "positions"))
        bays = c.whole(a, "bays", where)
        if bays is None:
            c.error(f"{where}.bays", "missing")
        sides = a.get("sides", "both")
        if sides not in SIDES:
            c.error(f"{where}.sides", "must be left, right or both")
            sides = "both"
        numbering = a.get("bay_numbering", "odd_even")
        if numbering not in BAY_NUMBERING:
            c.error(f"{where}.bay_numbering", f"must be one of {', '.join(sorted(BAY_NUMBERING))}")
        cell_type = _cell_type(c, a, where, CellType.shelf)
        barcode = c.pattern(c.text(a, "barcode", where, required=False), f"{where}.barcode", BARCODE_FIELDS)
        capacity = c.capacity(a, where)
        if c.errors or not bays:
            continue
        if building is not None:
            check_places(c, building, where, aisles, blocks, bays)
            if c.errors:
                continue
        total = len(blocks) * len(aisles) * bays * len(SIDES[sides]) * len(levels) * len(positions)
        if total + len(cells) > MAX_CELLS:
            c.error(where, f"{total} cells; a spec may make at most {MAX_CELLS}")
            continue
        cells.extend(
            _area_cells(
                warehouse["code"], zone, fmt, barcode or default_barcode, cell_type, capacity,
                blocks, aisles, bays, SIDES[sides], numbering, levels, positions,
            )
        )

    for where, x in c.tables(data, "cells", CELL_KEYS):
        zone = _zone_ref(c, x, where, zone_codes)
        address = c.text(x, "address", where, max_len=64)
        parts = {k: c.whole(x, k, where, default=0, minimum=0) for k in ("aisle", "bay", "level", "position", "block", "slot")}
        side = x.get("side", "L")
        if side not in ("L", "R"):
            c.error(f"{where}.side", "must be L or R")
        cell_type = _cell_type(c, x, where, CellType.floor)
        barcode = c.text(x, "barcode", where, required=False, default=address, max_len=64)
        volume, weight, units = c.capacity(x, where)
        if building is not None:
            check_cell_place(c, building, where, parts["aisle"], parts["block"], parts["slot"])
        if address:
            cells.append(CellPlan(zone, address, barcode, cell_type, volume, weight, units, side=side, **parts))

    if not c.errors:
        _check_unique(c, cells)
    if c.errors:
        raise LayoutError(c.errors)
    return LayoutSpec(warehouse=warehouse, geometry=geometry, zones=zones, cells=cells, building=building)


def _plan_fields(building: BuildingSpec | None) -> dict:
    """The warehouse's columns for its building plan (all empty without one)."""
    if building is None:
        return {"plan_json": None, "plan_hash": None, "point_names": None, "start_point": None, "drop_point": None}
    return {"plan_json": building.plan_text, "plan_hash": building.plan_hash, "point_names": building.names,
            "start_point": building.start, "drop_point": building.drop}


def _zone_ref(c: _Checker, data: dict, where: str, zone_codes: set) -> str | None:
    zone = c.text(data, "zone", where)
    if zone is not None and zone not in zone_codes:
        c.error(f"{where}.zone", f"no zone {zone!r} in [[zones]]")
    return zone


def _cell_type(c: _Checker, data: dict, where: str, default: str) -> str:
    value = data.get("cell_type", default)
    if value not in set(CellType):
        c.error(f"{where}.cell_type", f"unknown cell type {value!r} (known: {', '.join(CellType)})")
        return default
    return str(value)


def _area_cells(wh_code, zone, fmt, barcode_fmt, cell_type, capacity, blocks, aisles, bays, sides,
                numbering, levels, positions):
    both = len(sides) == 2
    per_block = bays * 2 if both and numbering == "odd_even" else bays
    volume, weight, units = capacity
    for block_index, block in enumerate(blocks):
        for aisle in aisles:
            for slot in range(1, bays + 1):
                for side in sides:
                    odd_even = both and numbering == "odd_even"
                    bay = (2 * slot - (side == "L") if odd_even else slot) + block_index * per_block
                    for level in levels:
                        for position in positions:
                            parts = address_parts(warehouse=wh_code, zone=zone, block=block, aisle=aisle,
                                                  bay=bay, level=level, position=position, side=side, slot=slot)
                            address = fmt.format(**parts)
                            yield CellPlan(
                                zone, address, barcode_fmt.format(address=address, **parts), cell_type,
                                volume, weight, units, aisle=aisle, bay=bay, level=level,
                                position=position, block=block, slot=slot, side=side,
                            )


def _check_unique(c: _Checker, cells: list[CellPlan]) -> None:
    seen_address: dict[str, CellPlan] = {}
    seen_barcode: dict[str, CellPlan] = {}
    for cell in cells:
        if len(cell.address) > 64:
            c.error("warehouse.address_format", f"address {cell.address!r} is longer than 64 characters")
        if len(cell.barcode) > 64:
            c.error("cell barcode", f"barcode {cell.barcode!r} is longer than 64 characters")
        if cell.address in seen_address:
            c.error(
                "warehouse.address_format",
                f"two cells get address {cell.address!r} (add the differing parts, e.g. {{block}} or {{side}})",
            )
        if cell.barcode in seen_barcode:
            c.error("cell barcode", f"two cells get barcode {cell.barcode!r}")
        seen_address[cell.address] = cell
        seen_barcode[cell.barcode] = cell
        if len(c.errors) >= 20:
            c.error("(spec)", "too many errors; stopped checking")
            return
