"""Order import: `cellwms import orders FILE` (CSV in UTF-8 or Windows-1251, or JSON; docs/orders.md).

One record per order line: number, sku, quantity, and the card's fields on any row of the order
(customer_name, phone, delivery_address, carrier, service, priority, cutoff_at, cod_amount,
comment, needs_confirmation, partial_allowed); where given twice they must agree. Russian headers
are accepted (Номер заказа, Артикул, Количество, Клиент, Телефон, ...: importer/records.ALIASES).

All or nothing: every row is checked, every problem reported as (line, field, reason), and nothing
is written if there is one. An order number that exists with the same lines is skipped (the file
imported again); with other lines it is an error. Otherwise each order goes through
`orders.create_order`, in the caller's transaction; those that need no confirmation are then
reserved together in file order (`reservation.reserve_many`)."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from server.models import OrderStatus
from server.services import orders, reservation
from server.services.errors import DomainError
from server.services.importer.records import ImportFailed, Record, RowError
from server.services.importer.values import _BAD, _Bad, _flag, _Rows, _text, _warehouse, _whole

CARD = {"customer_name": 200, "phone": 32, "delivery_address": 500, "carrier": 64, "service": 64, "comment": 2000}
ORDER_FIELDS = {"number", "sku", "quantity", "priority", "cutoff_at", "cod_amount", "needs_confirmation",
                "partial_allowed", *CARD}


@dataclass
class OrderImportReport:
    records: int = 0
    orders: int = 0
    order_lines: int = 0
    units: int = 0
    skipped: int = 0
    statuses: dict = field(default_factory=dict)
    dry_run: bool = False

    def lines(self) -> list[str]:
        by_status = ", ".join(f"{n} {status}" for status, n in sorted(self.statuses.items()))
        out = [f"orders: {self.records} record(s): {self.orders} order(s) created ({by_status or 'none'}), "
               f"{self.order_lines} line(s), {self.units} unit(s); {self.skipped} already imported"]
        if self.dry_run:
            out.append("dry run: nothing written")
        return out


def _bounded(value, name):
    text = _text(value, name, False)
    if text is not None and len(text) > CARD[name]:
        raise _Bad(f"longer than {CARD[name]} characters")
    return text


def _moment(value):
    text = _text(value, "cutoff_at", False)
    if text is None:
        return None
    for form in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d %H:%M:%S%z"):
        try:
            return datetime.strptime(text.replace("Z", "+0000"), form).astimezone(UTC)
        except ValueError:
            continue
    raise _Bad(f"a time with its zone, e.g. 2026-12-03 16:00+03:00, not {text[:40]!r}")


def _money(value):
    text = _text(value, "cod_amount", False)
    if text is None:
        return None
    try:
        amount = Decimal(text.replace(" ", "").replace("\u00a0", "").replace(",", "."))
    except InvalidOperation:
        raise _Bad(f"an amount like 1500.50, not {text[:40]!r}") from None
    if not amount.is_finite() or not 0 <= amount < 10**10:
        raise _Bad("an amount from 0 to 9999999999.99")
    return amount.quantize(Decimal("0.01"))


def _priority(value):
    if isinstance(value, str) and value.strip().startswith("-"):
        number = _whole(value.strip()[1:], 0)
        number = -number if number is not None else None
    else:
        number = _whole(value, 0)
    if number is not None and not -1000 <= number <= 1000:
        raise _Bad("from -1000 to 1000")
    return number


CONVERTERS = {"priority": _priority, "cutoff_at": _moment, "cod_amount": _money, "needs_confirmation": _flag,
              "partial_allowed": _flag}


@dataclass
class _Order:
    number: str
    line: int
    card: dict = field(default_factory=dict)  # name -> (value, line)
    lines: list = field(default_factory=list)  # (line, sku, quantity)


def import_orders(records: list[Record], *, warehouse_code: str | None = None, warehouse_id: int | None = None,
                  dry_run: bool = False, user=None) -> OrderImportReport:
    rows = _Rows(records, ORDER_FIELDS)
    report = OrderImportReport(records=len(records), dry_run=dry_run)
    warehouse_id = warehouse_id or _warehouse(warehouse_code).id
    planned: dict[str, _Order] = {}
    for r in records:
        number = rows.get(r, "number", _text, "code", True)
        sku = rows.get(r, "sku", _text, "code", True)
        quantity = rows.get(r, "quantity", _whole, 1)
        if quantity is None:
            rows.error(r, "quantity", "missing")
        elif isinstance(quantity, int) and quantity > 100_000:
            rows.error(r, "quantity", "at most 100000")
        if not isinstance(number, str):
            continue
        if len(number) > 64:
            rows.error(r, "number", "longer than 64 characters")
            continue
        order = planned.setdefault(number, _Order(number, r.line))
        for name in ORDER_FIELDS - {"number", "sku", "quantity"}:
            value = rows.get(r, name, CONVERTERS.get(name, _bounded), *(() if name in CONVERTERS else (name,)))
            if value is None or value is _BAD:
                continue
            if name in order.card and order.card[name][0] != value:
                rows.error(r, name, f"order {number} has {order.card[name][0]!s} on line {order.card[name][1]}")
            order.card.setdefault(name, (value, r.line))
        if isinstance(sku, str) and isinstance(quantity, int):
            order.lines.append((r.line, sku, quantity))
    rows.raise_if_bad()

    errors, made = [], []
    for order in planned.values():
        card = {name: value for name, (value, _line) in order.card.items()}
        existing = orders.find_order(order.number)
        if existing is not None:
            if [(line.sku.code, line.quantity) for line in existing.lines] == [(s, q) for _l, s, q in order.lines]:
                report.skipped += 1
            else:
                errors.append(RowError(order.line, "number", f"order {order.number} exists with other lines"))
            continue
        try:
            created, _new = orders.create_order(
                warehouse_id, order.number, [{"sku": s, "quantity": q} for _l, s, q in order.lines], user=user,
                source="csv", needs_confirmation=card.pop("needs_confirmation", False),
                partial_allowed=card.pop("partial_allowed", False), reserve_now=False, customer_name=card.pop("customer_name", None),
                customer_phone=card.pop("phone", None), carrier_service=card.pop("service", None), **card)
        except DomainError as error:
            line = order.lines[error.extra["line"] - 1][0] if "line" in error.extra else order.line
            errors.append(RowError(line, "sku" if error.slug == "unknown-sku" else "", str(error.title)))
            continue
        report.orders += 1
        report.order_lines += len(order.lines)
        report.units += sum(q for *_x, q in order.lines)
        made.append(created)
    if not errors:  # reserved together, in file order: one read of the stock
        reservation.reserve_many([o.id for o in made if o.status == OrderStatus.new and not o.needs_confirmation], user)
    for created in made:
        report.statuses[created.status] = report.statuses.get(created.status, 0) + 1
    if errors:
        raise ImportFailed(errors)
    return report
