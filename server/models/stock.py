"""Stock: the immutable movement ledger and the per-cell quants kept beside it."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.base import UtcDateTime, utcnow

NO_EXPIRY = date(9999, 12, 31)


class MovementKind(StrEnum):
    receive = "receive"  # goods arrive into a cell
    issue = "issue"  # goods leave the warehouse from a cell (available stock)
    move = "move"  # available stock from one cell to another
    adjust_in = "adjust_in"  # count found more
    adjust_out = "adjust_out"  # count found less, damage, scrap
    reserve = "reserve"  # available stock set aside for an order
    release = "release"  # a reservation given back
    pick = "pick"  # reserved stock taken out of a cell


# What one unit of each kind does to (quantity, reserved) at the source and at the target cell.
KIND_EFFECTS: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    MovementKind.receive: ((0, 0), (1, 0)),
    MovementKind.issue: ((-1, 0), (0, 0)),
    MovementKind.move: ((-1, 0), (1, 0)),
    MovementKind.adjust_in: ((0, 0), (1, 0)),
    MovementKind.adjust_out: ((-1, 0), (0, 0)),
    MovementKind.reserve: ((0, 1), (0, 0)),
    MovementKind.release: ((0, -1), (0, 0)),
    MovementKind.pick: ((-1, -1), (0, 0)),
}
# Kinds that take from the source cell's available (unreserved) stock.
TAKES_AVAILABLE = {MovementKind.issue, MovementKind.move, MovementKind.adjust_out, MovementKind.reserve}


class Quant(db.Model):
    """Quantity of one SKU (lot, expiry) in one cell; always equal to the ledger's sum."""

    __tablename__ = "quants"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_nonneg"),
        CheckConstraint("reserved >= 0", name="reserved_nonneg"),
        CheckConstraint("reserved <= quantity", name="reserved_le_quantity"),
        Index(
            "uq_quants_key",
            "cell_id",
            "sku_id",
            "lot",
            text(f"coalesce(expiry, '{NO_EXPIRY.isoformat()}')"),
            unique=True,
        ),
        Index("ix_quants_sku_id", "sku_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    cell_id: Mapped[int] = mapped_column(ForeignKey("cells.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    lot: Mapped[str] = mapped_column(String(64), default="")
    expiry: Mapped[date | None] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    cell = relationship("Cell")
    sku = relationship("Sku")

    @property
    def available(self) -> int:
        return self.quantity - self.reserved


class Movement(db.Model):
    """One immutable line of the stock ledger. The database refuses UPDATE and DELETE on it."""

    __tablename__ = "movements"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("from_cell_id IS NOT NULL OR to_cell_id IS NOT NULL", name="has_cell"),
        Index("ix_movements_sku_id", "sku_id"),
        Index("ix_movements_from_cell_id", "from_cell_id"),
        Index("ix_movements_to_cell_id", "to_cell_id"),
        Index("ix_movements_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    lot: Mapped[str] = mapped_column(String(64), default="")
    expiry: Mapped[date | None] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(Integer)
    from_cell_id: Mapped[int | None] = mapped_column(ForeignKey("cells.id"))
    to_cell_id: Mapped[int | None] = mapped_column(ForeignKey("cells.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    scenario: Mapped[str] = mapped_column(String(32), default="")
    reference: Mapped[str] = mapped_column(String(128), default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)

    sku = relationship("Sku")
    from_cell = relationship("Cell", foreign_keys=[from_cell_id])
    to_cell = relationship("Cell", foreign_keys=[to_cell_id])


# The ledger is append-only: the database itself refuses to change or delete a movement.
# The same statements are in the initial migration.
IMMUTABLE_LEDGER_DDL = {
    "sqlite": [
        "CREATE TRIGGER movements_no_update BEFORE UPDATE ON movements "
        "BEGIN SELECT RAISE(ABORT, 'movements are immutable'); END",
        "CREATE TRIGGER movements_no_delete BEFORE DELETE ON movements "
        "BEGIN SELECT RAISE(ABORT, 'movements are immutable'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION movements_immutable() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'movements are immutable'; END $$",
        "CREATE TRIGGER movements_no_change BEFORE UPDATE OR DELETE ON movements "
        "FOR EACH ROW EXECUTE FUNCTION movements_immutable()",
    ],
}


def _create_ledger_triggers(target, connection, **_):
    for statement in IMMUTABLE_LEDGER_DDL.get(connection.dialect.name, []):
        connection.exec_driver_sql(statement)


event.listen(Movement.__table__, "after_create", _create_ledger_triggers)
