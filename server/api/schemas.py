"""Marshmallow schemas of the master-data API, and helpers the resource modules share.

Output schemas dump model rows. Create schemas validate a whole new row; patch schemas have no
defaults, so a field left out is left alone. Secrets (password and PIN hashes, token hashes)
have no field here and never leave the server.
"""

from datetime import UTC

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy.exc import IntegrityError

from server.api.bounds import Count, Id, Int, Quantity, Text, Trimmed
from server.extensions import db
from server.models import CellStatus, CellType, Role, StationKind, ZoneKind
from server.models.catalog import BarcodeKind
from server.models.people import WORKER_ROLES
from server.problems import Problem
from server.services.barcodes import printed_form
from server.services.dates import check_zone
from server.services.layout.addresses import ADDRESS_PARTS, AddressFormatError, check_format
from server.services.sku_pictures import picture_url

# Who may do what with master data (admins always pass).
MASTER_READ = (*sorted(WORKER_ROLES), Role.supervisor)
MASTER_WRITE = (Role.supervisor,)
ADMIN_ONLY = (Role.admin,)

class UtcDateTime(fields.DateTime):
    """ISO 8601 in UTC with its offset (+00:00); a naive value is taken as UTC."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None:
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return super()._serialize(value, attr, obj, **kwargs)


def _code(max_len: int, **kw):
    """A short identifier (code, address, barcode): trimmed, non-empty."""
    return Trimmed(validate=validate.Length(min=1, max=max_len), **kw)


def _count(**kw):
    return Count(strict=True, **kw)


def _metres(**kw):
    return fields.Float(validate=validate.Range(min=0, min_inclusive=False), **kw)


# --- helpers ---------------------------------------------------------------------------------


def get_or_404(model, ident, resource: str):
    row = db.session.get(model, ident)
    if row is None:
        raise Problem(404, "not-found", f"No {resource} with id {ident}.", resource=resource, id=ident)
    return row


def get_or_422(model, ident, field: str, resource: str):
    """A row referred to from a request body; unknown ids are a validation error."""
    row = db.session.get(model, ident)
    if row is None:
        raise Problem(
            422, "unknown-reference", f"No {resource} with id {ident}.", errors={field: [f"No {resource} with id {ident}."]}
        )
    return row


def duplicate(field: str, message: str) -> Problem:
    return Problem(409, "duplicate", message, field=field)


def exists(stmt) -> bool:
    return db.session.execute(stmt.limit(1)).first() is not None


def flush_or_conflict(message: str = "The change conflicts with an existing row.") -> None:
    """Flush now, so a unique constraint that a concurrent request won becomes a 409."""
    try:
        db.session.flush()
    except IntegrityError as error:
        db.session.rollback()
        raise Problem(409, "conflict", message) from error


def apply_fields(row, data: dict) -> None:
    for name, value in data.items():
        setattr(row, name, value)


# --- warehouse -------------------------------------------------------------------------------

def check_address_format(value: str) -> None:
    try:
        check_format(value)
    except AddressFormatError as error:
        if error.unknown:
            raise ValidationError(f"Unknown part(s): {', '.join(sorted(error.unknown))}. "
                                  f"Use {', '.join(ADDRESS_PARTS)}.") from None
        raise ValidationError(f"Not a usable address format: {error}.") from None


def check_timezone(value: str) -> None:
    try:
        check_zone(value)
    except ValueError as error:
        raise ValidationError(str(error)) from None


class WarehouseSchema(Schema):
    id = Id(dump_only=True)
    code = _code(32, required=True)
    name = Trimmed(required=True, validate=validate.Length(min=1, max=200))
    address_format = Text(validate=[validate.Length(min=1, max=200), check_address_format])
    timezone = Text(validate=[validate.Length(min=1, max=64), check_timezone])
    aisle_pitch_m = _metres()
    slot_length_m = _metres()
    cross_aisle_width_m = _metres()
    depot_aisle = _count()
    address = Text(validate=validate.Length(max=500))  # the sender on shipping labels
    created_at = UtcDateTime(dump_only=True)


class WarehousePatchSchema(WarehouseSchema):
    code = _code(32)
    name = Trimmed(validate=validate.Length(min=1, max=200))


class ZoneSchema(Schema):
    id = Id(dump_only=True)
    warehouse_id = Id(dump_only=True)
    code = _code(32, required=True)
    name = Trimmed(required=True, validate=validate.Length(min=1, max=200))
    kind = Text(required=True, validate=validate.OneOf([k.value for k in ZoneKind]))
    created_at = UtcDateTime(dump_only=True)


class ZonePatchSchema(ZoneSchema):
    code = _code(32)
    name = Trimmed(validate=validate.Length(min=1, max=200))
    kind = Text(validate=validate.OneOf([k.value for k in ZoneKind]))


CELL_TYPES = [t.value for t in CellType]
CELL_STATUSES = [s.value for s in CellStatus]


class CellSchema(Schema):
    id = Id(dump_only=True)
    warehouse_id = Id(dump_only=True)
    zone_id = Id(strict=True, required=True)
    # Left out, the address is built from the warehouse's address format and the parts below.
    address = _code(64)
    # Left out, the barcode is the address.
    barcode = _code(64)
    cell_type = Text(validate=validate.OneOf(CELL_TYPES))
    status = Text(validate=validate.OneOf(CELL_STATUSES))
    max_volume_cm3 = _count(allow_none=True, metadata={"description": "null: not limited"})
    max_weight_g = _count(allow_none=True, metadata={"description": "null: not limited"})
    max_units = _count(allow_none=True, metadata={"description": "null: not limited"})
    aisle = _count()
    bay = _count()
    level = _count()
    position = _count()
    block = _count()
    slot = _count()
    side = Text(validate=validate.OneOf(["L", "R"]))
    created_at = UtcDateTime(dump_only=True)


class CellPatchSchema(Schema):
    cell_type = Text(validate=validate.OneOf(CELL_TYPES))
    status = Text(validate=validate.OneOf(CELL_STATUSES))
    max_volume_cm3 = _count(allow_none=True)
    max_weight_g = _count(allow_none=True)
    max_units = _count(allow_none=True)


class CellQuerySchema(Schema):
    warehouse_id = Id()
    zone_id = Id()
    status = Text(validate=validate.OneOf(CELL_STATUSES))
    cell_type = Text(validate=validate.OneOf(CELL_TYPES))
    address_prefix = Text(validate=validate.Length(min=1, max=64))


class ByBarcodeQuerySchema(Schema):
    warehouse_id = Id(metadata={"description": "needed when warehouses share a cell barcode"})


# --- catalog ---------------------------------------------------------------------------------

BARCODE_KINDS = [k.value for k in BarcodeKind]


class BarcodeSchema(Schema):
    id = Id(dump_only=True)
    barcode = Text(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "as sent: a GTIN is stored and returned as 14 digits"},
    )
    printed = fields.Method("_printed", dump_only=True, metadata={"description": "as printed under the bars"})
    kind = Text(
        validate=validate.OneOf(BARCODE_KINDS),
        metadata={"description": "left out: a GTIN when the digits make one, else internal"},
    )
    units = Quantity(strict=True, validate=validate.Range(min=1), load_default=1)

    def _printed(self, row) -> str:
        return printed_form(row.barcode, row.kind)


class SkuSchema(Schema):
    id = Id(dump_only=True)
    code = _code(64, required=True)
    name = Trimmed(required=True, validate=validate.Length(min=1, max=300))
    length_mm = _count(load_default=0)
    width_mm = _count(load_default=0)
    height_mm = _count(load_default=0)
    weight_g = _count(load_default=0)
    volume_cm3 = Int(dump_only=True)
    track_lot = fields.Bool(load_default=False)
    track_expiry = fields.Bool(load_default=False)
    track_serial = fields.Bool(load_default=False)
    track_marking = fields.Bool(load_default=False)
    active = fields.Bool(load_default=True)
    barcodes = fields.List(fields.Nested(BarcodeSchema), load_default=list)
    picture_url = fields.Method("_picture_url", dump_only=True, allow_none=True, metadata={
        "description": "where the SKU's picture is served (PUT it at /skus/<id>/picture); null when none"})
    created_at = UtcDateTime(dump_only=True)

    def _picture_url(self, sku):
        return picture_url(sku)


class SkuPatchSchema(Schema):
    code = _code(64)
    name = Trimmed(validate=validate.Length(min=1, max=300))
    length_mm = _count()
    width_mm = _count()
    height_mm = _count()
    weight_g = _count()
    track_lot = fields.Bool()
    track_expiry = fields.Bool()
    track_serial = fields.Bool()
    track_marking = fields.Bool()
    active = fields.Bool()


class SkuQuerySchema(Schema):
    q = Text(validate=validate.Length(min=1, max=300), metadata={"description": "part of the code or name"})
    barcode = Text(validate=validate.Length(min=1, max=64), metadata={"description": "any printed form"})
    active = fields.Bool()


# --- people ----------------------------------------------------------------------------------

ROLES = [r.value for r in Role]
PIN = validate.Regexp(r"^[0-9]{4,8}$", error="A PIN is 4 to 8 digits.")


class UserSchema(Schema):
    id = Id(dump_only=True)
    username = _code(64, required=True)
    full_name = Text(validate=validate.Length(max=200), load_default="")
    roles = fields.List(
        Text(validate=validate.OneOf(ROLES)), required=True, validate=validate.Length(min=1, max=len(ROLES))
    )
    badge_code = _code(64, allow_none=True, load_default=None)
    locale = Text(validate=validate.OneOf(["en", "ru"]), allow_none=True, load_default=None)
    active = fields.Bool(load_default=True)
    password = Text(load_only=True, validate=validate.Length(min=8, max=128), allow_none=True, load_default=None)
    pin = Text(load_only=True, validate=PIN, allow_none=True, load_default=None)
    has_password = fields.Method("_has_password", dump_only=True)
    has_pin = fields.Method("_has_pin", dump_only=True)
    last_login_at = UtcDateTime(dump_only=True)
    created_at = UtcDateTime(dump_only=True)

    def _has_password(self, user) -> bool:
        return bool(user.password_hash)

    def _has_pin(self, user) -> bool:
        return bool(user.pin_hash)

    def get_attribute(self, obj, attr, default):
        if attr == "roles":
            return sorted(obj.roles)
        return super().get_attribute(obj, attr, default)


class UserPatchSchema(Schema):
    username = _code(64)
    full_name = Text(validate=validate.Length(max=200))
    roles = fields.List(Text(validate=validate.OneOf(ROLES)), validate=validate.Length(min=1, max=len(ROLES)))
    badge_code = _code(64, allow_none=True)
    locale = Text(validate=validate.OneOf(["en", "ru"]), allow_none=True)
    active = fields.Bool()
    password = Text(validate=validate.Length(min=8, max=128), allow_none=True)
    pin = Text(validate=PIN, allow_none=True)


class UserQuerySchema(Schema):
    q = Text(validate=validate.Length(min=1, max=200), metadata={"description": "part of username or name"})
    role = Text(validate=validate.OneOf(ROLES))
    active = fields.Bool()


STATION_KINDS = [k.value for k in StationKind]


class StationSchema(Schema):
    id = Id(dump_only=True)
    warehouse_id = Id(strict=True, required=True)
    code = _code(64, required=True)
    name = Text(validate=validate.Length(max=200), load_default="")
    kind = Text(required=True, validate=validate.OneOf(STATION_KINDS))
    role = Text(dump_only=True, metadata={"description": "the role the station acts in"})
    active = fields.Bool(dump_only=True)
    emulated = fields.Bool(dump_only=True, metadata={"description": "driven by emulators and a script (the "
                                                                    "demo's): kept out of people's KPIs"})
    last_seen_at = UtcDateTime(dump_only=True)
    created_at = UtcDateTime(dump_only=True)


class StationTokenSchema(StationSchema):
    token = Text(
        dump_only=True,
        allow_none=True,
        metadata={"description": "shown once; only its SHA-256 is stored. null in a replayed response"},
    )


class StationPatchSchema(Schema):
    name = Text(validate=validate.Length(max=200))
    active = fields.Bool(metadata={"description": "false: the token stops working at once"})


class StationQuerySchema(Schema):
    warehouse_id = Id()
    kind = Text(validate=validate.OneOf(STATION_KINDS))
    active = fields.Bool()

