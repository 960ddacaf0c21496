"""API: a parcel's signed evidence pack, the installation's public key, an order's marking codes."""

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, validate

from server.api.bounds import Text
from server.api.docs import problem_doc, problems
from server.auth import public, roles_required
from server.models import Role
from server.services import evidence as service
from server.services import marking_export

blp = Blueprint("evidence", __name__, url_prefix="/api/v1",
                description="Evidence packs of parcels, the signing key, marking codes of orders")

SUPERVISORS = (Role.supervisor,)
MARKING_READERS = (Role.integration, Role.supervisor)


class PublicKeyOutSchema(Schema):
    algorithm = Text()
    pem = Text()
    fingerprint = Text(metadata={"description": "sha256 of the raw 32-byte public key, hex"})


class MarkingCodeOutSchema(Schema):
    gtin = Text()
    serial = Text()
    crypto_key = Text(metadata={"description": "AI 91"})
    crypto_code = Text(metadata={"description": "AI 92"})
    raw = Text(metadata={"description": "as scanned, group separators as GS (0x1D)"})
    parcel = Text(allow_none=True, metadata={"description": "the parcel's code"})
    status = Text()


class MarkingQuerySchema(Schema):
    format = Text(load_default="json", validate=validate.OneOf(("json", "csv")))


@blp.route("/evidence/public-key")
class PublicKey(MethodView):
    @public
    @blp.response(200, PublicKeyOutSchema)
    def get(self):
        """The public key that checks evidence packs' signatures (Ed25519)"""
        return {"algorithm": "Ed25519", "pem": service.public_key_pem(), "fingerprint": service.fingerprint()}


@blp.route("/parcels/<int:parcel_id>/evidence.zip")
class EvidencePack(MethodView):
    @roles_required(*SUPERVISORS)
    @blp.doc(responses={"200": {"description": "The evidence pack",
                                "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
                        "404": problem_doc("No such parcel")})
    def get(self, parcel_id):
        """A parcel's evidence pack: stills, clip, scans, weights, a manifest of sha256 hashes and its
        Ed25519 signature (docs/evidence.md)"""
        data = service.evidence_pack(parcel_id)
        return Response(data, mimetype="application/zip", headers={
            "Content-Disposition": f'attachment; filename="parcel-{parcel_id}-evidence.zip"',
            "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


@blp.route("/orders/<int:order_id>/marking-codes")
class MarkingCodes(MethodView):
    @roles_required(*MARKING_READERS)
    @blp.arguments(MarkingQuerySchema, location="query")
    @blp.response(200, MarkingCodeOutSchema(many=True))
    @blp.doc(responses={"200": {"description": "JSON; with format=csv: UTF-8 with a BOM, `;`-separated, a header row",
                                "content": {"application/json": {"schema": {
                                    "type": "array", "items": {"$ref": "#/components/schemas/MarkingCodeOut"}}},
                                    "text/csv": {"schema": {"type": "string"}}}}})
    @problems(blp, {404: "No such order"})
    def get(self, query, order_id):
        """The order's marking codes (Честный знак) for the shop's marking-system report, as JSON or CSV"""
        if query["format"] == "csv":
            text = marking_export.marking_codes_csv(order_id)
            return Response(text.encode("utf-8"), mimetype="text/csv", headers={
                "Content-Disposition": f'attachment; filename="order-{order_id}-marking-codes.csv"',
                "X-Content-Type-Options": "nosniff"})
        return marking_export.marking_codes(order_id)
