"""Reading stock: what one SKU has across cells, what one cell holds. Index-backed, no scans."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from server.extensions import db
from server.models import Cell, Quant, Sku
from server.models.stock import NO_EXPIRY


@dataclass(frozen=True)
class StockLine:
    quant_id: int
    cell_id: int
    cell_address: str
    sku_id: int
    sku_code: str
    lot: str
    expiry: date | None
    quantity: int
    reserved: int

    @property
    def available(self) -> int:
        return self.quantity - self.reserved


_LINE_COLUMNS = (
    Quant.id, Quant.cell_id, Cell.address, Quant.sku_id, Sku.code,
    Quant.lot, Quant.expiry, Quant.quantity, Quant.reserved,
)


def stock_by_sku(sku_id: int, warehouse_id: int | None = None) -> list[StockLine]:
    """Non-empty quants of a SKU, first-expiring first, then by cell address."""
    query = (
        select(*_LINE_COLUMNS)
        .join(Cell, Cell.id == Quant.cell_id)
        .join(Sku, Sku.id == Quant.sku_id)
        .where(Quant.sku_id == sku_id, Quant.quantity > 0)
    )
    if warehouse_id is not None:
        query = query.where(Cell.warehouse_id == warehouse_id)
    rows = db.session.execute(query).all()
    lines = [StockLine(*row) for row in rows]
    lines.sort(key=lambda line: (line.expiry or NO_EXPIRY, line.cell_address))
    return lines


def stock_by_cell(cell_id: int) -> list[StockLine]:
    """Non-empty quants in a cell, by SKU code."""
    query = (
        select(*_LINE_COLUMNS)
        .join(Cell, Cell.id == Quant.cell_id)
        .join(Sku, Sku.id == Quant.sku_id)
        .where(Quant.cell_id == cell_id, Quant.quantity > 0)
        .order_by(Sku.code, Quant.lot)
    )
    return [StockLine(*row) for row in db.session.execute(query).all()]


def totals(lines: list[StockLine]) -> dict:
    quantity = sum(line.quantity for line in lines)
    reserved = sum(line.reserved for line in lines)
    return {"quantity": quantity, "reserved": reserved, "available": quantity - reserved}
