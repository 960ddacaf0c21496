"""API: a tote and the order it carries (scanning a tote at the pack area finds its order)."""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from server.api.bounds import Id, Text
from server.api.docs import problems
from server.auth import roles_required
from server.models import Role
from server.services import picking as service

blp = Blueprint("totes", __name__, url_prefix="/api/v1", description="Totes and their orders")

READERS = (Role.picker, Role.packer, Role.supervisor)


class ToteOrderSchema(Schema):
    id = Id()
    number = Text()
    status = Text()


class ToteSchema(Schema):
    code = Text()
    status = Text()
    cell_id = Id(allow_none=True)
    order = fields.Nested(ToteOrderSchema, allow_none=True)


@blp.route("/totes/<string:code>")
class ToteOne(MethodView):
    @roles_required(*READERS)
    @blp.response(200, ToteSchema)
    @problems(blp, {404: "No tote with this code"})
    def get(self, code):
        """A tote by its code: where it stands and the order it carries."""
        tote, order = service.tote_lookup(code)
        return {"code": tote.code, "status": tote.status, "cell_id": tote.cell_id,
                "order": {"id": order.id, "number": order.number, "status": order.status} if order else None}
