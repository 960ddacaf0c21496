"""Read views of a delivery: the summary pages, the API and prompts show, and the receiving act's data."""

from sqlalchemy import select

from server.extensions import db
from server.models import Delivery, DeliveryLine, DeliveryPallet, Discrepancy, ReceivingQuestion, Sku
from server.models.base import utcnow
from server.services.dates import local_time


def discrepancies_of(delivery: Delivery) -> list[Discrepancy]:
    return db.session.execute(select(Discrepancy).where(Discrepancy.delivery_id == delivery.id)
                              .order_by(Discrepancy.id)).scalars().all()


def arrival(expected: int, arrived: int, unexpected: bool, blind: bool) -> str:
    """How a line's arrived units compare with the ASN: unexpected, short, over, or "" (as expected;
    a blind delivery has nothing to compare with)."""
    if unexpected:
        return "unexpected"
    if not blind and arrived < expected:
        return "short"
    if not blind and arrived > expected:
        return "over"
    return ""


def line_state(line: DeliveryLine, blind: bool = False) -> str:
    """done, short (so far), over, unexpected or open (nothing counted yet)."""
    arrived = line.received_qty + line.damaged_qty
    if not line.unexpected and arrived == 0 and (blind or line.expected_qty):
        return "open"
    return arrival(line.expected_qty, arrived, line.unexpected, blind) or "done"


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def delivery_summary(delivery: Delivery) -> dict:
    """The delivery as pages, the API and prompts show it."""
    db.session.refresh(delivery)
    skus = {}
    lines = []
    for line in db.session.execute(select(DeliveryLine).where(DeliveryLine.delivery_id == delivery.id)
                                   .order_by(DeliveryLine.line_no)
                                   .execution_options(populate_existing=True)).scalars():
        sku = skus.get(line.sku_id) or skus.setdefault(line.sku_id, db.session.get(Sku, line.sku_id))
        lines.append({"id": line.id, "line_no": line.line_no, "sku_id": sku.id, "sku": sku.code, "name": sku.name,
                      "lot": line.lot, "expiry": _iso(line.expiry), "expected": line.expected_qty,
                      "received": line.received_qty, "damaged": line.damaged_qty, "unexpected": line.unexpected,
                      "state": line_state(line, delivery.blind)})
    questions = [{"id": q.id, "barcode": q.barcode, "quantity": q.quantity, "status": q.status, "sku_id": q.sku_id}
                 for q in db.session.execute(select(ReceivingQuestion)
                                             .where(ReceivingQuestion.delivery_id == delivery.id)
                                             .order_by(ReceivingQuestion.id)).scalars()]
    pallets = [{"sscc": p.sscc, "received": p.received_at is not None, "received_at": _iso(p.received_at)}
               for p in db.session.execute(select(DeliveryPallet).where(DeliveryPallet.delivery_id == delivery.id)
                                           .order_by(DeliveryPallet.id)).scalars()]
    discrepancies = [{"id": d.id, "kind": d.kind, "quantity": d.quantity, "line_id": d.line_id,
                      "question_id": d.question_id, "sku_id": d.sku_id,
                      "sku": skus[d.sku_id].code if d.sku_id in skus else None, "note": d.note,
                      "accepted": d.accepted_at is not None} for d in discrepancies_of(delivery)]
    totals = {"expected": sum(x["expected"] for x in lines), "received": sum(x["received"] for x in lines),
              "damaged": sum(x["damaged"] for x in lines),
              "unknown": sum(q["quantity"] for q in questions if q["status"] == "open"),
              "lines": len(lines), "lines_done": sum(1 for x in lines if x["state"] == "done")}
    return {"id": delivery.id, "number": delivery.number, "supplier": delivery.supplier,
            "expected_date": _iso(delivery.expected_date), "status": delivery.status, "blind": delivery.blind,
            "notes": delivery.notes, "warehouse_id": delivery.warehouse_id,
            "receiving_cell_id": delivery.receiving_cell_id, "opened_at": _iso(delivery.opened_at),
            "closed_at": _iso(delivery.closed_at), "accepted_at": _iso(delivery.accepted_at),
            "lines": lines, "questions": questions, "pallets": pallets, "totals": totals,
            "discrepancies": discrepancies}


def act_kind(line: dict, blind: bool = False) -> str:
    """The one discrepancy a line shows on the act ("" when it matched the ASN)."""
    kind = arrival(line["expected"], line["received"] + line["damaged"], line["unexpected"], blind)
    return kind or ("damaged" if line["damaged"] else "")


def receiving_act_data(delivery: Delivery, receiver: str) -> dict:
    """Data of the ESC/POS `receiving-act` template (printers/receipts.py); its date is the close's
    (else now) in the warehouse's time zone."""
    summary = delivery_summary(delivery)
    lines = [{"sku": x["sku"], "name": x["name"], "expected": x["expected"], "received": x["received"],
              "damaged": x["damaged"], "kind": act_kind(x, delivery.blind)} for x in summary["lines"]]
    lines += [{"sku": q["barcode"][:40], "name": "", "expected": 0, "received": q["quantity"], "damaged": 0,
               "kind": "unknown"} for q in summary["questions"] if q["status"] == "open"]
    by_kind = {}
    for d in summary["discrepancies"]:
        by_kind[d["kind"]] = by_kind.get(d["kind"], 0) + d["quantity"]
    totals = {"expected": summary["totals"]["expected"], "received": summary["totals"]["received"],
              "damaged": summary["totals"]["damaged"], "short": by_kind.get("short", 0),
              "over": by_kind.get("over", 0), "unexpected": by_kind.get("unexpected", 0)}
    when = delivery.closed_at or utcnow()
    return {"number": delivery.number, "supplier": delivery.supplier, "date": local_time(when, delivery.warehouse_id),
            "receiver": receiver or "-", "lines": lines, "totals": totals}
