"""API: parcels. A supervisor cancels a labelled parcel at its carrier before its handover."""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, validate

from server.api.bounds import Id, Int, Text, Trimmed
from server.api.docs import problems
from server.auth import current_principal, roles_required
from server.models import Role
from server.services import parcels as service

blp = Blueprint("parcels", __name__, url_prefix="/api/v1", description="Parcels")

CANCELLERS = (Role.supervisor,)


class ParcelCancelSchema(Schema):
    reason = Trimmed(required=True, validate=validate.Length(min=1, max=service.MAX_REASON))


class ParcelOutSchema(Schema):
    id = Id()
    code = Text()
    status = Text(metadata={"description": "packing, packed (labelled), cancelled"})
    carrier = Text()
    tracking_number = Text(allow_none=True)
    seq = Int()
    order_id = Id(allow_none=True)
    order_status = Text(allow_none=True)


@blp.route("/parcels/<int:parcel_id>/cancel")
class ParcelCancel(MethodView):
    @roles_required(*CANCELLERS)
    @blp.arguments(ParcelCancelSchema)
    @blp.response(200, ParcelOutSchema)
    @problems(blp, {404: "No such parcel",
                    409: "The parcel is already cancelled, handed over, or not labelled yet"})
    def post(self, body, parcel_id):
        """Cancel a labelled parcel at its carrier, with a reason: its tracking number is withdrawn, its
        marking codes free again, a packed order goes back to packing to pack a new parcel."""
        principal = current_principal()
        parcel = service.cancel_parcel(parcel_id, body["reason"], principal.user if principal else None)
        return service.parcel_payload(parcel)
