"""API: SKUs and their barcodes (master data).

GTIN barcodes (EAN-8, UPC-A, EAN-13, GTIN-14) are checked by their check digit and stored as
14 digits; each barcode also shows its printed form. Internal barcodes are free text.
"""

from flask import request, send_file, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from server.api.docs import problem_doc, problems
from server.api.pagination import SelectPage
from server.api.schemas import (
    MASTER_READ,
    MASTER_WRITE,
    BarcodeSchema,
    SkuPatchSchema,
    SkuQuerySchema,
    SkuSchema,
    apply_fields,
    duplicate,
    exists,
    flush_or_conflict,
    get_or_404,
)
from server.auth import current_principal, roles_required
from server.extensions import db
from server.models import BarcodeKind, Role, Sku, SkuBarcode
from server.problems import Problem
from server.services import sku_pictures
from server.services.barcodes import (
    PRINTED_LENGTH,
    BarcodeError,
    barcode_candidates,
    gtin_kind,
    looks_like_gtin,
)

blp = Blueprint("catalog", __name__, url_prefix="/api/v1", description="SKUs and their barcodes")


def stored_barcode(text: str, kind: str | None, field: str = "barcode") -> tuple[str, str]:
    """(stored barcode, kind) for a barcode as sent. Raises a 422 Problem for a bad GTIN.

    Without a kind, digits of a GTIN length are taken for a GTIN and must carry a right check
    digit; anything else is internal. A GTIN kind may be stated when the digits fit it (a UPC-A
    sent in its 13-digit form, say).
    """
    if kind == BarcodeKind.internal or (kind is None and not looks_like_gtin(text)):
        return text, BarcodeKind.internal
    try:
        detected = gtin_kind(text)
    except BarcodeError as error:
        hint = "" if kind else " Send kind=internal for an in-house code."
        raise Problem(
            422, "bad-barcode", "Not a valid GTIN.", f"{error}{hint}", errors={field: [str(error)]}
        ) from None
    gtin = text.zfill(14)
    kind = kind or detected
    if gtin[: 14 - PRINTED_LENGTH[kind]].strip("0"):
        message = f"{text} does not fit in a {kind} barcode."
        raise Problem(422, "bad-barcode", "The barcode does not fit its kind.", message, errors={field: [message]})
    return gtin, kind


def _check_barcode_free(barcode: str) -> None:
    owner = db.session.execute(
        select(Sku.code).join(SkuBarcode).where(SkuBarcode.barcode == barcode)
    ).scalar_one_or_none()
    if owner is not None:
        raise duplicate("barcode", f"Barcode {barcode} already belongs to SKU {owner}.")


def _new_barcodes(items: list[dict], field: str = "barcodes") -> list[SkuBarcode]:
    rows, seen = [], set()
    for i, item in enumerate(items):
        barcode, kind = stored_barcode(item["barcode"], item.get("kind"), f"{field}.{i}.barcode")
        if barcode in seen:
            raise duplicate("barcode", f"Barcode {barcode} is listed twice.")
        seen.add(barcode)
        _check_barcode_free(barcode)
        rows.append(SkuBarcode(barcode=barcode, kind=kind, units=item["units"]))
    return rows


def _check_sku_code(code: str, own_id: int | None = None) -> None:
    stmt = select(Sku.id).where(Sku.code == code)
    if own_id is not None:
        stmt = stmt.where(Sku.id != own_id)
    if exists(stmt):
        raise duplicate("code", f"A SKU with code {code!r} already exists.")


@blp.route("/skus")
class Skus(MethodView):
    @roles_required(*MASTER_READ)
    @blp.arguments(SkuQuerySchema, location="query")
    @blp.response(200, SkuSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, args):
        """List SKUs by code; search a part of the code or name, or find by any barcode form"""
        stmt = select(Sku).options(selectinload(Sku.barcodes), selectinload(Sku.picture)).order_by(Sku.code)
        if "q" in args:
            q = args["q"].strip()
            stmt = stmt.where(or_(Sku.code.icontains(q, autoescape=True), Sku.name.icontains(q, autoescape=True)))
        if "barcode" in args:
            stmt = stmt.where(
                Sku.id.in_(select(SkuBarcode.sku_id).where(SkuBarcode.barcode.in_(barcode_candidates(args["barcode"]))))
            )
        if "active" in args:
            stmt = stmt.where(Sku.active.is_(args["active"]))
        return stmt

    @roles_required(*MASTER_WRITE)
    @blp.arguments(SkuSchema)
    @blp.response(201, SkuSchema)
    @problems(blp, {409: "A SKU with this code, or one of these barcodes, exists (duplicate)"})
    def post(self, data):
        """Create a SKU with its barcodes"""
        _check_sku_code(data["code"])
        barcodes = _new_barcodes(data.pop("barcodes"))
        sku = Sku(**data, barcodes=barcodes)
        db.session.add(sku)
        flush_or_conflict("The SKU code or one of the barcodes already exists.")
        return sku, 201, {"Location": url_for("catalog.Sku", sku_id=sku.id)}


@blp.route("/skus/<int:sku_id>", endpoint="Sku")
class SkuView(MethodView):
    @roles_required(*MASTER_READ)
    @blp.response(200, SkuSchema)
    def get(self, sku_id):
        """Get a SKU with its barcodes"""
        return get_or_404(Sku, sku_id, "SKU")

    @roles_required(*MASTER_WRITE)
    @blp.arguments(SkuPatchSchema)
    @blp.response(200, SkuSchema)
    @problems(blp, {409: "Another SKU has this code or barcode (duplicate, conflict)"})
    def patch(self, data, sku_id):
        """Change a SKU (barcodes have their own calls)"""
        sku = get_or_404(Sku, sku_id, "SKU")
        if "code" in data:
            _check_sku_code(data["code"], sku.id)
        apply_fields(sku, data)
        flush_or_conflict("A SKU with this code already exists.")
        return sku


@blp.route("/skus/<int:sku_id>/barcodes")
class SkuBarcodes(MethodView):
    @roles_required(*MASTER_WRITE)
    @blp.arguments(BarcodeSchema)
    @blp.response(201, BarcodeSchema)
    @problems(blp, {409: "The barcode belongs to another SKU (duplicate)"})
    def post(self, data, sku_id):
        """Add a barcode to a SKU"""
        sku = get_or_404(Sku, sku_id, "SKU")
        (row,) = _new_barcodes([data], field="barcode")
        sku.barcodes.append(row)
        flush_or_conflict("This barcode already belongs to a SKU.")
        return row


@blp.route("/skus/<int:sku_id>/barcodes/<path:barcode>")
class SkuBarcodeView(MethodView):
    @roles_required(*MASTER_WRITE)
    @blp.response(204)
    def delete(self, sku_id, barcode):
        """Remove a barcode from a SKU (any printed form of a GTIN finds it)"""
        sku = get_or_404(Sku, sku_id, "SKU")
        # Locked: of two removals at once, the second waits and finds nothing (404).
        row = db.session.scalar(
            select(SkuBarcode)
            .where(SkuBarcode.sku_id == sku.id, SkuBarcode.barcode.in_(barcode_candidates(barcode)))
            .with_for_update()
        )
        if row is None:
            raise Problem(404, "not-found", "The SKU has no such barcode.", resource="barcode", barcode=barcode)
        db.session.delete(row)
        db.session.flush()
        return None


# --- pictures ----------------------------------------------------------------------------------

PICTURE_WRITERS = (Role.supervisor, Role.integration)
PICTURE_READERS = (*MASTER_READ, Role.integration)  # station screens (packers), and who uploads
PICTURE_TYPES = tuple(sku_pictures.EXTENSIONS)


def _upload() -> tuple[bytes, str]:
    """(bytes, file name) of a picture upload: a multipart form's `file`, else the raw body (a
    declared length past the limit is refused before reading)."""
    limit = sku_pictures.MAX_BYTES
    if request.mimetype == "multipart/form-data":
        if request.content_length and request.content_length > limit + 64 * 1024:
            raise sku_pictures.picture_too_large()
        upload = request.files.get("file")
        if upload is None:
            raise Problem(422, "picture-file-missing", "Send the picture as the form's `file` field.")
        return upload.stream.read(limit + 1), upload.filename or ""
    if request.content_length and request.content_length > limit:
        raise sku_pictures.picture_too_large()
    return request.get_data(cache=True), ""  # cached: an Idempotency-Key's hash reads it again


@blp.route("/skus/<int:sku_id>/picture", endpoint="SkuPicture")
class SkuPictureView(MethodView):
    @roles_required(*PICTURE_READERS)
    @blp.doc(responses={
        "200": {"description": "The picture, with the type its bytes show",
                "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in PICTURE_TYPES}},
        "404": problem_doc("No such SKU, or it has no picture"),
    })
    def get(self, sku_id):
        """The SKU's picture (JPEG, PNG or WebP)

        Served with its verified type, `X-Content-Type-Options: nosniff` and `Content-Disposition:
        inline`; the ETag is its sha256. The SKU's `picture_url` carries a version, so a replaced
        picture is never the cached one.
        """
        sku = get_or_404(Sku, sku_id, "SKU")
        image = sku.picture
        path = sku_pictures.path_of(image) if image is not None else None
        if path is None or not path.exists():
            raise Problem(404, "sku-picture-not-found", "The SKU has no picture.", resource="picture", sku=sku.code)
        with open(path, "rb") as stored:
            content_type = sku_pictures.sniff_type(stored.read(12))
        if content_type != image.content_type:  # the stored bytes are not what was checked
            raise Problem(404, "sku-picture-not-found", "The SKU's picture file is damaged.", resource="picture")
        response = send_file(path, mimetype=content_type, conditional=True, etag=image.sha256)
        response.headers["Cache-Control"] = "private, max-age=86400"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Disposition"] = (
            f'inline; filename="{sku_id}{sku_pictures.EXTENSIONS[content_type]}"')
        return response

    @roles_required(*PICTURE_WRITERS)
    @blp.doc(
        requestBody={"required": True, "content": {
            **{t: {"schema": {"type": "string", "format": "binary"}} for t in PICTURE_TYPES},
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "file": {"type": "string", "format": "binary"}}}}},
            "description": f"The picture's bytes (raw body, or a form's `file`), at most {sku_pictures.MAX_BYTES} "
                          f"bytes and {sku_pictures.MAX_PIXELS} pixels."},
        responses={"413": problem_doc("picture-too-large"),
                   "422": problem_doc("picture-refused (not a JPEG, PNG or WebP by its bytes, or damaged), "
                                      "picture-too-many-pixels, picture-empty")},
    )
    @blp.response(200, SkuSchema)
    @problems(blp, {404: "No such SKU"})
    def put(self, sku_id):
        """Set or replace the SKU's picture (JPEG, PNG or WebP, checked by its bytes)"""
        get_or_404(Sku, sku_id, "SKU")
        data, filename = _upload()
        principal = current_principal()
        sku_pictures.set_picture(principal.user if principal else None, sku_id, data, filename)
        return db.session.get(Sku, sku_id)

    @roles_required(*PICTURE_WRITERS)
    @blp.response(204)
    @problems(blp, {404: "No such SKU, or it has no picture (sku-picture-not-found)"})
    def delete(self, sku_id):
        """Remove the SKU's picture (its file too)"""
        get_or_404(Sku, sku_id, "SKU")
        principal = current_principal()
        sku_pictures.remove_picture(principal.user if principal else None, sku_id)
        return None
