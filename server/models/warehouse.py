"""The warehouse aggregate: warehouses, zones, cells and totes."""

from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from server.extensions import db
from server.models.base import Timestamped
from server.services.dates import DEFAULT_ZONE

DEFAULT_ADDRESS_FORMAT = "{zone}-{aisle:02d}-{bay:02d}-{level}-{position}"


class ZoneKind(StrEnum):
    receiving = "receiving"
    storage = "storage"
    picking = "picking"
    packing = "packing"
    shipping = "shipping"
    returns = "returns"
    quarantine = "quarantine"


class CellType(StrEnum):
    pallet = "pallet"
    shelf = "shelf"
    bin = "bin"
    floor = "floor"


class CellStatus(StrEnum):
    active = "active"
    blocked = "blocked"


class Warehouse(Timestamped, db.Model):
    __tablename__ = "warehouses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Python format string over zone, aisle, bay, level, position (and block, side).
    address_format: Mapped[str] = mapped_column(String(200), default=DEFAULT_ADDRESS_FORMAT)
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_ZONE)  # IANA name, see services/dates
    # Walking geometry shared by the whole building (metres), used by routing.
    aisle_pitch_m: Mapped[float] = mapped_column(default=3.0)
    slot_length_m: Mapped[float] = mapped_column(default=1.0)
    cross_aisle_width_m: Mapped[float] = mapped_column(default=2.0)
    depot_aisle: Mapped[int] = mapped_column(default=0)
    # Halls on a building plan (layout spec [[halls]]): the compiled walkable graph
    # (server.core.building.Plan.to_json() as canonical JSON, read only when its hash is new to the
    # process), its point names and where pickers start and drop. All NULL: one rectangular grid.
    plan_json: Mapped[str | None] = deferred(mapped_column(Text))
    plan_hash: Mapped[str | None] = mapped_column(String(64))
    point_names: Mapped[dict | None] = mapped_column(JSON)
    start_point: Mapped[str | None] = mapped_column(String(32))
    drop_point: Mapped[str | None] = mapped_column(String(32))
    # Picking: "fefo" takes the first-expiring goods first (first received where no expiry), "fifo"
    # the first received. A cart's capacity for waves.
    reservation_rule: Mapped[str] = mapped_column(String(8), default="fefo")
    totes_per_cart: Mapped[int] = mapped_column(default=8)
    tote_volume_l: Mapped[float] = mapped_column(default=40.0)
    tote_max_kg: Mapped[float] = mapped_column(default=15.0)
    # Packing: a parcel's stable weight may differ from the expected (items + box + filler) by
    # at most both tolerances' larger one; filler per parcel; packing photos and clips are kept
    # this many days (the records stay).
    pack_tolerance_g: Mapped[int] = mapped_column(default=30)
    pack_tolerance_pct: Mapped[float] = mapped_column(default=5.0)
    pack_filler_g: Mapped[int] = mapped_column(default=0)
    media_retention_days: Mapped[int] = mapped_column(default=180)
    # The sender on shipping labels: the warehouse's postal address, lines split by newlines.
    address: Mapped[str] = mapped_column(String(500), default="")

    zones: Mapped[list["Zone"]] = relationship(back_populates="warehouse", order_by="Zone.code")


class Zone(Timestamped, db.Model):
    __tablename__ = "zones"
    __table_args__ = (UniqueConstraint("warehouse_id", "code", name="uq_zones_warehouse_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    # Where this zone's pickers start and drop (point codes of the plan; NULL: the warehouse's).
    start_point: Mapped[str | None] = mapped_column(String(32))
    drop_point: Mapped[str | None] = mapped_column(String(32))

    warehouse: Mapped[Warehouse] = relationship(back_populates="zones")


class Cell(Timestamped, db.Model):
    __tablename__ = "cells"
    __table_args__ = (
        UniqueConstraint("warehouse_id", "address", name="uq_cells_warehouse_address"),
        UniqueConstraint("warehouse_id", "barcode", name="uq_cells_warehouse_barcode"),
        Index("ix_cells_barcode", "barcode"),
        # Scans by address without knowing the warehouse (a handheld user, not a station).
        Index("ix_cells_address", "address"),
        Index("ix_cells_zone_id", "zone_id"),
        # The walking geometry's aggregates (aisles in use, blocks, slots) read from the index alone.
        Index("ix_cells_place", "warehouse_id", "aisle", "block", "slot"),
        CheckConstraint("max_volume_cm3 IS NULL OR max_volume_cm3 >= 0", name="volume_nonneg"),
        CheckConstraint("max_weight_g IS NULL OR max_weight_g >= 0", name="weight_nonneg"),
        CheckConstraint("max_units IS NULL OR max_units >= 0", name="units_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id", ondelete="CASCADE"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
    address: Mapped[str] = mapped_column(String(64))
    barcode: Mapped[str] = mapped_column(String(64))
    cell_type: Mapped[str] = mapped_column(String(16), default=CellType.shelf)
    status: Mapped[str] = mapped_column(String(16), default=CellStatus.active)
    # Capacity; NULL means "not limited by this measure".
    max_volume_cm3: Mapped[int | None] = mapped_column(Integer)
    max_weight_g: Mapped[int | None] = mapped_column(Integer)
    max_units: Mapped[int | None] = mapped_column(Integer)
    # Address parts.
    aisle: Mapped[int] = mapped_column(default=0)
    bay: Mapped[int] = mapped_column(default=0)
    level: Mapped[int] = mapped_column(default=0)
    position: Mapped[int] = mapped_column(default=0)
    # Place in the walking geometry: block between two cross aisles, slot along the aisle,
    # side of the aisle the pick face is on (L or R).
    block: Mapped[int] = mapped_column(default=0)
    slot: Mapped[int] = mapped_column(default=0)
    side: Mapped[str] = mapped_column(String(1), default="L")

    zone: Mapped[Zone] = relationship()
    warehouse: Mapped[Warehouse] = relationship()


class Tote(Timestamped, db.Model):
    """A reusable container that carries picked goods between cells and stations."""

    __tablename__ = "totes"

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="free")  # free, picking, at_pack
    # The order whose goods it carries (from its first pick until packing empties it) and where it stands.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    cell_id: Mapped[int | None] = mapped_column(ForeignKey("cells.id"))
