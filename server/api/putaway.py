"""API: putaway tasks (list, one, confirm, assign) and the walking route through them."""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from server.api.bounds import Id, Quantity, Text
from server.api.docs import problems
from server.api.pagination import SelectPage
from server.api.schemas import UtcDateTime
from server.auth import current_principal, roles_required
from server.extensions import db
from server.models import Cell, PutawayStatus, PutawayTask, Role, User
from server.problems import Problem
from server.services import putaway as service

# Named putaway_api: the handheld pages have a blueprint "putaway" of their own.
blp = Blueprint("putaway_api", __name__, url_prefix="/api/v1", description="Putaway tasks and their route")

READERS = (Role.receiver, Role.supervisor, Role.picker)
WORKERS = (Role.receiver, Role.supervisor)


class CellRefSchema(Schema):
    id = Id()
    address = Text()


class PutawayTaskSchema(Schema):
    id = Id()
    warehouse_id = Id()
    delivery_id = Id(allow_none=True)
    sku_id = Id()
    sku_code = fields.Function(lambda t: t.sku.code)
    sku_name = fields.Function(lambda t: t.sku.name)
    lot = Text()
    expiry = fields.Date(allow_none=True)
    quantity = Quantity()
    status = Text()
    from_cell = fields.Nested(CellRefSchema)
    suggested_cell = fields.Nested(CellRefSchema, allow_none=True)
    done_cell = fields.Nested(CellRefSchema, allow_none=True)
    override_reason = Text(allow_none=True)
    assigned_user_id = Id(allow_none=True)
    done_by_user_id = Id(allow_none=True)
    created_at = UtcDateTime()
    started_at = UtcDateTime(allow_none=True)
    done_at = UtcDateTime(allow_none=True)
    note = fields.Function(service.note_of)


class TaskQuerySchema(Schema):
    status = Text(validate=validate.OneOf([s.value for s in PutawayStatus]))
    delivery_id = Id()
    warehouse_id = Id()
    assigned = Text(metadata={"description": "me, none, or a user id"})


class ConfirmSchema(Schema):
    cell_id = Id(strict=True)
    cell_barcode = Text(validate=validate.Length(min=1, max=64))
    reason = Text(allow_none=True, load_default=None, validate=validate.OneOf(service.OVERRIDE_REASONS))
    quantity = Quantity(strict=True, validate=validate.Range(min=1))

    @validates_schema
    def one_cell(self, data, **kwargs):
        if ("cell_id" in data) == ("cell_barcode" in data):
            raise ValidationError("Give cell_id or cell_barcode.", "cell_id")


class AssignSchema(Schema):
    user_id = Id(allow_none=True, strict=True, metadata={"description": "omitted: the caller"})


class RouteQuerySchema(Schema):
    delivery_id = Id()
    warehouse_id = Id()
    start_cell_id = Id()


class StopSchema(Schema):
    cell_ids = fields.List(Id())
    addresses = fields.List(Text())
    x = fields.Float()
    y = fields.Float()
    task_ids = fields.List(Id())


class RouteSchema(Schema):
    tasks = fields.List(fields.Nested(PutawayTaskSchema))
    stops = fields.List(fields.Nested(StopSchema))
    polyline = fields.List(fields.List(fields.Float()))
    length = fields.Float()


def _task(task_id: int) -> PutawayTask:
    task = db.session.get(PutawayTask, task_id)
    if task is None:
        raise Problem(404, "unknown-putaway-task", f"No putaway task with id {task_id}.")
    return task


def _user():
    principal = current_principal()
    return principal.user if principal else None


@blp.route("/putaway/tasks")
class TaskList(MethodView):
    @roles_required(*READERS)
    @blp.arguments(TaskQuerySchema, location="query")
    @blp.response(200, PutawayTaskSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, query):
        """Putaway tasks, filtered by status, delivery, warehouse and who they are assigned to."""
        statement = select(PutawayTask).order_by(PutawayTask.id)
        for name in ("status", "delivery_id", "warehouse_id"):
            if name in query:
                statement = statement.where(getattr(PutawayTask, name) == query[name])
        assigned = query.get("assigned")
        if assigned == "none":
            statement = statement.where(PutawayTask.assigned_user_id.is_(None))
        elif assigned == "me":
            user = _user()
            statement = statement.where(PutawayTask.assigned_user_id == (user.id if user else -1))
        elif assigned is not None:
            if not assigned.isdigit():
                raise Problem(422, "validation-error", "assigned: me, none, or a user id.")
            statement = statement.where(PutawayTask.assigned_user_id == int(assigned))
        return statement


@blp.route("/putaway/tasks/<int:task_id>")
class TaskOne(MethodView):
    @roles_required(*READERS)
    @blp.response(200, PutawayTaskSchema)
    def get(self, task_id):
        """One putaway task."""
        return _task(task_id)


@blp.route("/putaway/tasks/<int:task_id>/confirm")
class TaskConfirm(MethodView):
    @roles_required(*WORKERS)
    @blp.arguments(ConfirmSchema)
    @blp.response(200, PutawayTaskSchema)
    @problems(blp, {409: "The task or the target cell does not allow this"})
    def post(self, body, task_id):
        """Put the goods into a cell: the suggested one, or another valid cell with a reason
        (suggested-full, suggested-blocked, consolidate, closer, other). Stock moves once."""
        task = _task(task_id)
        if "cell_id" in body:
            cell = db.session.get(Cell, body["cell_id"])
        else:
            cell = db.session.execute(select(Cell).where(Cell.warehouse_id == task.warehouse_id,
                                                         Cell.barcode == body["cell_barcode"])).scalar_one_or_none()
        if cell is None:
            raise Problem(404, "unknown-cell", "No such cell.")
        principal = current_principal()
        return service.confirm_putaway(task, cell, _user(), reason=body.get("reason"),
                                       station=principal.station if principal else None,
                                       quantity=body.get("quantity"))


@blp.route("/putaway/tasks/<int:task_id>/assign")
class TaskAssign(MethodView):
    @roles_required(*WORKERS)
    @blp.arguments(AssignSchema)
    @blp.response(200, PutawayTaskSchema)
    @problems(blp, {409: "The task is done or taken"})
    def post(self, body, task_id):
        """Assign an open task to a worker (the caller when no user_id; null to unassign)."""
        task = _task(task_id)
        if "user_id" not in body:
            user = _user()
        elif body["user_id"] is None:
            user = None
        else:
            user = db.session.get(User, body["user_id"])
            if user is None:
                raise Problem(404, "unknown-user", f"No user with id {body['user_id']}.")
        return service.assign(task, user)


@blp.route("/putaway/route")
class TaskRoute(MethodView):
    @roles_required(*READERS)
    @blp.arguments(RouteQuerySchema, location="query")
    @blp.response(200, RouteSchema)
    def get(self, query):
        """Open tasks of a delivery (or a warehouse) in walking order, with the walk to draw."""
        statement = select(PutawayTask).where(PutawayTask.status == PutawayStatus.open).order_by(PutawayTask.id)
        if "delivery_id" in query:
            statement = statement.where(PutawayTask.delivery_id == query["delivery_id"])
        elif "warehouse_id" in query:
            statement = statement.where(PutawayTask.warehouse_id == query["warehouse_id"])
        else:
            raise Problem(422, "validation-error", "Give delivery_id or warehouse_id.")
        tasks = db.session.execute(statement.limit(500)).scalars().all()
        if not tasks:
            return {"tasks": [], "stops": [], "polyline": [], "length": 0.0}
        walk = service.route_for(tasks, tasks[0].warehouse_id, start=query.get("start_cell_id"))
        return {"tasks": walk.tasks, "stops": walk.stops, "polyline": walk.polyline, "length": walk.length}
