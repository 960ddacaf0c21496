"""The picking flow on a handheld (cluster picking into totes): take the next batch, scan a tote
for each order slot, then along the route: scan the cell, the goods, the quantity (key or scan each
unit) and the order's tote. Short and Skip at any line; at the end the totes go to the pack area.
`docs/flows/picking.md` has the state diagram drawn from the declarations below.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _
from flask_babel import lazy_ngettext

from server.extensions import db
from server.models import Batch, BatchStatus, PickLine, PickLineStatus, Sku
from server.scenarios.base import Context
from server.scenarios.machine import ANY, Answer, Flow, FlowScenario, FlowState, State, key, scan
from server.services import flow_states, pick_scans
from server.services import picking as service
from server.services.errors import DomainError
from server.services.scan import Classification, Kind, classify


@dataclass
class PickingState(FlowState):
    VERSION = 1

    batch_id: int | None = None
    warehouse_id: int | None = None
    line_id: int | None = None  # the line being picked
    cell_id: int | None = None  # its cell, scanned
    sku_id: int | None = None  # its goods, scanned
    lot: str = ""  # the lot and expiry the goods' GS1 code carried
    expiry: str = ""
    count: int = 0  # units counted so far

    def reset_line(self, line_id: int | None = None) -> None:
        self.line_id, self.cell_id, self.sku_id, self.lot, self.expiry, self.count = line_id, None, None, "", "", 0


TAKE = key("take", _("Take next batch"), "take", "totes", "cell", "drop")
LINE_KEYS = (
    key("short", _("Short"), "short", "cell", "drop", params=("found",), note="the cell has fewer"),
    key("skip", _("Skip"), "skip", "cell", note="the line goes to the end of the route"),
)

FLOW = Flow("picking", title=_("Picking"), data=PickingState, states=(
    State("batch", _("Take the next batch."), note="no batch", on=(
        TAKE,
        scan(ANY, "take_first", "batch"),
    )),
    State("totes", _("Scan a tote label for the slot shown."), note="a tote per order slot", on=(
        scan(ANY, "tote_for_slot", "totes", "cell", note="next slot, or the first cell"),
    )),
    State("cell", _("Go to the cell shown and scan it."), note="walking to the cell", on=(
        scan(Kind.cell, "at_cell", "item"),
        scan(ANY, "scan_the_cell", "cell"),
        *LINE_KEYS,
    )),
    State("item", _("Scan the goods."), note="at the cell", on=(
        scan(Kind.sku, "goods", "quantity"),
        scan(Kind.cell, "at_cell", "item"),
        scan(ANY, "scan_the_goods", "item"),
        *LINE_KEYS,
    )),
    State("quantity", _("Scan each unit or enter the quantity, then scan the tote."), note="counting", on=(
        scan(Kind.sku, "one_more", "quantity"),
        scan(Kind.tote, "put", "cell", "drop", note="picked into the tote"),
        key("quantity", _("Quantity"), "set_quantity", "tote", params=("quantity",)),
        scan(ANY, "scan_the_tote", "quantity"),
        *LINE_KEYS,
    )),
    State("tote", _("Scan the tote of the order shown."), note="the quantity entered", on=(
        scan(Kind.tote, "put", "cell", "drop", note="picked into the tote"),
        scan(ANY, "scan_the_tote", "tote"),
        *LINE_KEYS,
    )),
    State("drop", _("Take the cart to the pack area and scan a pack-area cell."), note="every line done", on=(
        scan(Kind.cell, "drop_off", "done"),
        scan(ANY, "scan_pack_cell", "drop"),
    )),
    State("done", _("The totes are at the pack area. Take the next batch."), note="batch dropped", on=(
        TAKE,
        scan(ANY, "take_first", "done"),
    )),
))

LINE_STATES = ("cell", "item", "quantity", "tote")


class PickingScenario(FlowScenario):
    flow = FLOW

    def on_scan(self, ctx: Context, payload: dict):
        # A handheld has no station's warehouse: codes are looked up in the batch's warehouse.
        stored = flow_states.find(ctx.session_key, self.flow.name)  # as stored: settled once, by the run
        warehouse_id = ctx.warehouse_id or ((stored.data or {}).get("warehouse_id") if stored else None)
        if ctx.classified is None and warehouse_id is not None:
            limit = current_app.config["CELLWMS_SCAN_MAX_BYTES"]
            ctx.classified = classify(payload["raw"], warehouse_id, symbology=payload.get("symbology"), max_bytes=limit)
        return super().on_scan(ctx, payload)

    # --- where the flow is -----------------------------------------------------------------

    def _batch(self, data: PickingState) -> Batch | None:
        return db.session.get(Batch, data.batch_id) if data.batch_id else None

    def settle(self, ctx: Context, state: str, data: PickingState):
        batch = self._batch(data)
        if batch is None:
            data.batch_id = None
            data.reset_line()
            return ("done" if state == "done" else "batch"), data
        if ctx.user is not None and batch.picker_user_id != ctx.user.id or batch.status == BatchStatus.cancelled:
            data.batch_id = None
            data.reset_line()
            return "batch", data
        return self._where(batch, data, state), data

    def _where(self, batch: Batch, data: PickingState, state: str) -> str:
        """The state the batch is in, keeping the scans of the line when it is still the next one."""
        if batch.status == BatchStatus.dropped:
            return "done"
        if batch.status == BatchStatus.picked:
            data.reset_line()
            return "drop"
        if service.next_free_slot(batch) is not None:
            return "totes"
        line = service.next_line(batch)
        if line is None:
            return "drop"
        if line.id != data.line_id or state not in LINE_STATES:
            data.reset_line(line.id)
            return "cell"
        return state

    def screen(self, ctx: Context, state: str, data: PickingState) -> dict:
        batch = self._batch(data)
        if batch is None:
            return {}
        screen = {"batch": service.batch_view(batch)}
        if state == "totes":
            place = service.next_free_slot(batch)
            if place is not None:
                screen["slot"] = service.slot_view(place)
        if state in LINE_STATES and data.line_id:
            line = db.session.get(PickLine, data.line_id)
            if line is not None and line.status == PickLineStatus.open:
                screen["line"] = service.line_view(line)
                screen["count"] = data.count
        return screen

    def _line(self, data: PickingState) -> PickLine:
        line = db.session.get(PickLine, data.line_id) if data.line_id else None
        if line is None:
            raise DomainError(409, "no-pick-line", _("No line to pick: take the next batch."))
        return line

    def _next(self, ctx: Context, data: PickingState, message) -> Answer:
        """Where to go after a line is done: the next tote slot, the next cell, or the pack area."""
        batch = self._batch(data)
        to = self._where(batch, data, "")
        if to == "drop":
            return Answer("drop", _("%(message)s Every line is done: take the cart to the pack area.",
                                    message=message))
        line = db.session.get(PickLine, data.line_id)
        view = service.line_view(line)
        return Answer(to, _("%(message)s Next: cell %(cell)s.", message=message, cell=view["cell"]["address"]))

    # --- steps -----------------------------------------------------------------------------

    def take(self, ctx: Context, data: PickingState, payload: dict) -> Answer:
        warehouse_id = ctx.warehouse_id
        batch = service.take_next_batch(ctx.user, warehouse_id)
        data.batch_id, data.warehouse_id = batch.id, batch.warehouse_id
        data.reset_line()
        to = self._where(batch, data, "")
        orders = len(batch.orders)
        if to == "totes":
            place = service.next_free_slot(batch)
            return Answer("totes", lazy_ngettext(
                "Batch %(batch)s: %(num)s order. Scan a tote for slot %(slot)s.",
                "Batch %(batch)s: %(num)s orders. Scan a tote for slot %(slot)s.", orders,
                batch=batch.id, slot=place.slot))
        if to == "drop":
            return Answer("drop", _("Batch %(batch)s is picked: take the cart to the pack area.", batch=batch.id))
        view = service.line_view(db.session.get(PickLine, data.line_id))
        return Answer("cell", _("Batch %(batch)s. Go to cell %(cell)s.", batch=batch.id, cell=view["cell"]["address"]))

    def take_first(self, ctx: Context, data: PickingState, result: Classification) -> Answer:
        return Answer(ctx.state, _("Press \"Take next batch\" first."), "error", screen={"scan": result.answer()})

    def tote_for_slot(self, ctx: Context, data: PickingState, result: Classification) -> Answer:
        batch = self._batch(data)
        place = service.next_free_slot(batch)
        if result.kind not in (Kind.tote, Kind.unknown):
            return Answer("totes", _("Scan a tote label for slot %(slot)s.", slot=place.slot), "error",
                          screen={"scan": result.answer()})
        code = result.entity["code"] if result.kind == Kind.tote else (result.scan.text if result.scan else "")
        place = service.assign_tote(batch, place.slot, code)
        order_number = service.slot_view(place)["order"]["number"]
        following = service.next_free_slot(batch)
        if following is not None:
            return Answer("totes", _("Slot %(slot)s: tote %(tote)s for order %(order)s. Scan a tote for slot "
                                     "%(next)s.", slot=place.slot, tote=code, order=order_number, next=following.slot))
        return self._next(ctx, data, _("Slot %(slot)s: tote %(tote)s for order %(order)s.", slot=place.slot,
                                       tote=code, order=order_number))

    def at_cell(self, ctx: Context, data: PickingState, result: Classification) -> Answer:
        line = self._line(data)
        cell = pick_scans.check_cell(line, result.entity_id)
        data.cell_id = cell.id
        sku = db.session.get(Sku, line.sku_id)
        return Answer("item", _("Cell %(cell)s: take %(num)s × %(sku)s.", num=service.left_of(line),
                                cell=cell.address, sku=sku.name))

    def scan_the_cell(self, ctx: Context, data: PickingState, result: Classification) -> Answer:
        line = self._line(data)
        view = service.line_view(line)
        return Answer("cell", _("Scan the cell %(cell)s first.", cell=view["cell"]["address"]), "error",
                      screen={"scan": result.answer()})

    def goods(self, ctx: Context, data: PickingState, result: Classification) -> Answer:
        line = self._line(data)
        gs1 = result.gs1 or {}
        sku = pick_scans.check_item(line, result.entity_id, gs1.get("lot"), gs1.get("expiry"))
        units = (result.entity or {}).get("units") or 1
        pick_scans.check_quantity(line, units)
        data.sku_id, data.lot, data.expiry, data.count = sku.id, gs1.get("lot") or "", gs1.get("expiry") or "", units
        return Answer("quantity", self._counted(line, data, sku))

    def _counted(self, line: PickLine, data: PickingState, sku: Sku):
        return _("%(num)s of %(left)s × %(sku)s. Scan the next unit, or the tote.", num=data.count,
                 left=service.left_of(line), sku=sku.name)

    def one_more(self, ctx: Context, data: PickingState, result: Classification) -> Answer:
        line = self._line(data)
        gs1 = result.gs1 or {}
        sku = pick_scans.check_item(line, result.entity_id, gs1.get("lot"), gs1.get("expiry"))
        units = (result.entity or {}).get("units") or 1
        pick_scans.check_quantity(line, data.count + units)
        data.count += units
        return Answer("quantity", self._counted(line, data, sku))

    def set_quantity(self, ctx: Context, data: PickingState, payload: dict) -> Answer:
        line = self._line(data)
        data.count = pick_scans.check_quantity(line, payload.get("quantity"))
        view = service.line_view(line)
        return Answer("tote", lazy_ngettext("%(num)s unit: scan tote %(tote)s (slot %(slot)s).",
                                            "%(num)s units: scan tote %(tote)s (slot %(slot)s).", data.count,
                                            tote=view["tote"], slot=view["slot"]))

    def scan_the_goods(self, ctx: Context, data: PickingState, result: Classification) -> Answer:
        line = self._line(data)
        view = service.line_view(line)
        goods = view["sku"]["code"] + " " + view["sku"]["name"]
        return Answer("item", _("Scan the goods: %(sku)s.", sku=goods), "error", screen={"scan": result.answer()})

    def scan_the_tote(self, ctx: Context, data: PickingState, result: Classification) -> Answer:
        line = self._line(data)
        view = service.line_view(line)
        return Answer(ctx.state, _("Scan tote %(tote)s (slot %(slot)s).", tote=view["tote"], slot=view["slot"]),
                      "error", screen={"scan": result.answer()})

    def put(self, ctx: Context, data: PickingState, result: Classification) -> Answer:
        line = self._line(data)
        pick_scans.pick(line, data.cell_id, data.sku_id, data.count, result.entity_id, ctx.user,
                     lot=data.lot or None, expiry=data.expiry or None,
                     station_id=ctx.station.id if ctx.station else None)
        view_sku = db.session.get(Sku, line.sku_id)
        message = _("Picked %(num)s × %(sku)s into tote %(tote)s.", num=data.count, sku=view_sku.name,
                    tote=result.entity["code"])
        data.reset_line()
        return self._next(ctx, data, message)

    def short(self, ctx: Context, data: PickingState, payload: dict) -> Answer:
        line = self._line(data)
        found = payload.get("found", 0)
        outcome = pick_scans.short(line, found, ctx.user, station_id=ctx.station.id if ctx.station else None)
        if outcome["flagged"]:
            message = _("Short reported: no stock elsewhere, the order is flagged. The cell goes on the count list.")
        else:
            message = lazy_ngettext(
                "Short reported: %(num)s unit reserved from another cell, route made again. The cell goes on the "
                "count list.",
                "Short reported: %(num)s units reserved from other cells, route made again. The cell goes on the "
                "count list.", outcome["reserved_again"])
        data.reset_line()
        return self._next(ctx, data, message)

    def skip(self, ctx: Context, data: PickingState, payload: dict) -> Answer:
        line = pick_scans.skip(self._line(data))
        data.reset_line()
        batch = self._batch(data)
        self._where(batch, data, "")
        if data.line_id == line.id:
            return Answer("cell", _("Skipped. This is the only line left: go to its cell."))
        return self._next(ctx, data, _("Skipped: the line goes to the end of the route."))

    def drop_off(self, ctx: Context, data: PickingState, result: Classification) -> Answer:
        batch = service.drop_off(self._batch(data), result.entity_id, ctx.user)
        totes = sum(1 for place in batch.orders if place.tote_id)
        return Answer("done", lazy_ngettext("%(num)s tote left at %(cell)s. Take the next batch.",
                                            "%(num)s totes left at %(cell)s. Take the next batch.", totes,
                                            cell=result.entity["address"]))

    def scan_pack_cell(self, ctx: Context, data: PickingState, result: Classification) -> Answer:
        return Answer("drop", _("Scan a cell of the pack area."), "error", screen={"scan": result.answer()})


PICKING = PickingScenario()
