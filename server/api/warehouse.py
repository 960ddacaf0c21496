"""API: warehouses, their zones and cells (master data)."""

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from server.api.docs import problems
from server.api.pagination import SelectPage
from server.api.schemas import (
    MASTER_READ,
    MASTER_WRITE,
    ByBarcodeQuerySchema,
    CellPatchSchema,
    CellQuerySchema,
    CellSchema,
    WarehousePatchSchema,
    WarehouseSchema,
    ZonePatchSchema,
    ZoneSchema,
    apply_fields,
    duplicate,
    exists,
    flush_or_conflict,
    get_or_404,
    get_or_422,
)
from server.auth import current_principal, roles_required
from server.extensions import db
from server.models import Cell, Warehouse, Zone
from server.problems import Problem
from server.services.layout.addresses import format_address

blp = Blueprint("warehouse", __name__, url_prefix="/api/v1", description="Warehouses, zones and cells")


# --- warehouses ------------------------------------------------------------------------------


def _check_warehouse_code(code: str, own_id: int | None = None) -> None:
    stmt = select(Warehouse.id).where(Warehouse.code == code)
    if own_id is not None:
        stmt = stmt.where(Warehouse.id != own_id)
    if exists(stmt):
        raise duplicate("code", f"A warehouse with code {code!r} already exists.")


@blp.route("/warehouses")
class Warehouses(MethodView):
    @roles_required(*MASTER_READ)
    @blp.response(200, WarehouseSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self):
        """List warehouses"""
        return select(Warehouse).order_by(Warehouse.code)

    @roles_required(*MASTER_WRITE)
    @blp.arguments(WarehouseSchema)
    @blp.response(201, WarehouseSchema)
    @problems(blp, {409: "A warehouse with this code exists (duplicate)"})
    def post(self, data):
        """Create a warehouse"""
        _check_warehouse_code(data["code"])
        wh = Warehouse(**data)
        db.session.add(wh)
        flush_or_conflict("A warehouse with this code already exists.")
        return wh, 201, {"Location": url_for("warehouse.Warehouse", warehouse_id=wh.id)}


@blp.route("/warehouses/<int:warehouse_id>", endpoint="Warehouse")
class WarehouseView(MethodView):
    @roles_required(*MASTER_READ)
    @blp.response(200, WarehouseSchema)
    def get(self, warehouse_id):
        """Get a warehouse"""
        return get_or_404(Warehouse, warehouse_id, "warehouse")

    @roles_required(*MASTER_WRITE)
    @blp.arguments(WarehousePatchSchema)
    @blp.response(200, WarehouseSchema)
    @problems(blp, {409: "A warehouse with this code exists (duplicate, conflict)"})
    def patch(self, data, warehouse_id):
        """Change a warehouse (addresses of existing cells stay as they are)"""
        wh = get_or_404(Warehouse, warehouse_id, "warehouse")
        if "code" in data:
            _check_warehouse_code(data["code"], wh.id)
        apply_fields(wh, data)
        flush_or_conflict("A warehouse with this code already exists.")
        return wh


# --- zones -----------------------------------------------------------------------------------


def _check_zone_code(warehouse_id: int, code: str, own_id: int | None = None) -> None:
    stmt = select(Zone.id).where(Zone.warehouse_id == warehouse_id, Zone.code == code)
    if own_id is not None:
        stmt = stmt.where(Zone.id != own_id)
    if exists(stmt):
        raise duplicate("code", f"Zone {code!r} already exists in this warehouse.")


@blp.route("/warehouses/<int:warehouse_id>/zones")
class Zones(MethodView):
    @roles_required(*MASTER_READ)
    @blp.response(200, ZoneSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, warehouse_id):
        """List the zones of a warehouse"""
        get_or_404(Warehouse, warehouse_id, "warehouse")
        return select(Zone).where(Zone.warehouse_id == warehouse_id).order_by(Zone.code)

    @roles_required(*MASTER_WRITE)
    @blp.arguments(ZoneSchema)
    @blp.response(201, ZoneSchema)
    @problems(blp, {409: "A zone with this code exists here (duplicate)"})
    def post(self, data, warehouse_id):
        """Create a zone"""
        get_or_404(Warehouse, warehouse_id, "warehouse")
        _check_zone_code(warehouse_id, data["code"])
        zone = Zone(warehouse_id=warehouse_id, **data)
        db.session.add(zone)
        flush_or_conflict("This zone code already exists in the warehouse.")
        return zone, 201, {"Location": url_for("warehouse.Zone", zone_id=zone.id)}


@blp.route("/zones/<int:zone_id>", endpoint="Zone")
class ZoneView(MethodView):
    @roles_required(*MASTER_READ)
    @blp.response(200, ZoneSchema)
    def get(self, zone_id):
        """Get a zone"""
        return get_or_404(Zone, zone_id, "zone")

    @roles_required(*MASTER_WRITE)
    @blp.arguments(ZonePatchSchema)
    @blp.response(200, ZoneSchema)
    @problems(blp, {409: "A zone with this code exists here (duplicate, conflict)"})
    def patch(self, data, zone_id):
        """Change a zone"""
        zone = get_or_404(Zone, zone_id, "zone")
        if "code" in data:
            _check_zone_code(zone.warehouse_id, data["code"], zone.id)
        apply_fields(zone, data)
        flush_or_conflict("This zone code already exists in the warehouse.")
        return zone


# --- cells -----------------------------------------------------------------------------------


def _address(wh: Warehouse, zone: Zone, data: dict) -> str:
    """The cell's address from the warehouse's address format."""
    parts = {name: data.get(name, 0) for name in ("aisle", "bay", "level", "position", "block", "slot")}
    try:
        address = format_address(wh.address_format, warehouse=wh.code, zone=zone.code, side=data.get("side", "L"),
                                 **parts)
    except (KeyError, ValueError, IndexError) as error:
        raise Problem(
            422, "bad-address-format", "The warehouse's address format does not fit this cell.", str(error)
        ) from None
    if not address or len(address) > 64:
        raise Problem(422, "bad-address-format", "The built address is empty or longer than 64 characters.")
    return address


@blp.route("/cells")
class Cells(MethodView):
    @roles_required(*MASTER_READ)
    @blp.arguments(CellQuerySchema, location="query")
    @blp.response(200, CellSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, args):
        """List cells, by address; filter by warehouse, zone, status, type, address prefix"""
        stmt = select(Cell).order_by(Cell.warehouse_id, Cell.address)
        for name in ("warehouse_id", "zone_id", "status", "cell_type"):
            if name in args:
                stmt = stmt.where(getattr(Cell, name) == args[name])
        if "address_prefix" in args:
            stmt = stmt.where(Cell.address.startswith(args["address_prefix"], autoescape=True))
        return stmt

    @roles_required(*MASTER_WRITE)
    @blp.arguments(CellSchema)
    @blp.response(201, CellSchema)
    @problems(blp, {409: "A cell with this address or barcode exists here (duplicate)"})
    def post(self, data):
        """Create a cell; its address and barcode are unique in the warehouse"""
        zone = get_or_422(Zone, data["zone_id"], "zone_id", "zone")
        wh = zone.warehouse
        if "address" not in data:
            data["address"] = _address(wh, zone, data)
        data.setdefault("barcode", data["address"])
        if exists(select(Cell.id).where(Cell.warehouse_id == wh.id, Cell.address == data["address"])):
            raise duplicate("address", f"Cell {data['address']!r} already exists in this warehouse.")
        if exists(select(Cell.id).where(Cell.warehouse_id == wh.id, Cell.barcode == data["barcode"])):
            raise duplicate("barcode", f"Another cell in this warehouse has barcode {data['barcode']!r}.")
        cell = Cell(warehouse_id=wh.id, **data)
        db.session.add(cell)
        flush_or_conflict("A cell with this address or barcode already exists in the warehouse.")
        return cell, 201, {"Location": url_for("warehouse.Cell", cell_id=cell.id)}


@blp.route("/cells/<int:cell_id>", endpoint="Cell")
class CellView(MethodView):
    @roles_required(*MASTER_READ)
    @blp.response(200, CellSchema)
    def get(self, cell_id):
        """Get a cell"""
        return get_or_404(Cell, cell_id, "cell")

    @roles_required(*MASTER_WRITE)
    @blp.arguments(CellPatchSchema)
    @blp.response(200, CellSchema)
    @problems(blp, {409: "Another cell has this address or barcode (duplicate, conflict)"})
    def patch(self, data, cell_id):
        """Block or unblock a cell, change its type or capacity (null: not limited)"""
        cell = get_or_404(Cell, cell_id, "cell")
        apply_fields(cell, data)
        flush_or_conflict()
        return cell


@blp.route("/cells/by-barcode/<path:barcode>")
class CellByBarcode(MethodView):
    @roles_required(*MASTER_READ)
    @blp.arguments(ByBarcodeQuerySchema, location="query")
    @blp.response(200, CellSchema)
    def get(self, args, barcode):
        """Find a cell by its barcode (a station looks in its own warehouse)"""
        barcode = barcode.strip()
        stmt = select(Cell).where(Cell.barcode == barcode).order_by(Cell.id)
        warehouse_id = args.get("warehouse_id")
        principal = current_principal()
        if warehouse_id is None and principal.station is not None:
            warehouse_id = principal.station.warehouse_id
        if warehouse_id is not None:
            stmt = stmt.where(Cell.warehouse_id == warehouse_id)
        cells = db.session.execute(stmt.limit(2)).scalars().all()
        if not cells:
            raise Problem(404, "not-found", "No cell has this barcode.", resource="cell", barcode=barcode)
        if len(cells) > 1:
            raise Problem(
                409, "ambiguous-barcode", "Cells in several warehouses have this barcode; pass warehouse_id."
            )
        return cells[0]
