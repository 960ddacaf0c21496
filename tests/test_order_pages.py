"""Order pages on SQLite and PostgreSQL: the list and its filters, the card with its timeline, the
confirmation page's confirmed / no answer / cancelled, the card's cancel and reserve now; bad input
flashed (never a 500), CSRF required, pickers refused."""

import re
from datetime import timedelta

from server.extensions import db as _db
from server.models import Order, OrderStatus, PostponedReason
from server.models.base import utcnow
from server.services import dates, reservation
from server.services import orders as service
from server.services.stock import apply_movement
from tests import factories as f
from tests.test_pages import csrf_token, sign_in_badge, sign_in_password

PASSWORD = "pass-word-1"


def shop(db):
    wh = f.warehouse()
    storage = f.zone(wh, "A")
    cell = f.cell(storage, "A-01-01-1-1")
    kettle = f.sku("KET-1", "Чайник электрический")
    mug = f.sku("MUG-1", "Кружка")
    f.user("olga", roles=("supervisor",), password=PASSWORD)
    f.user("petr", roles=("picker",), badge="B-2")
    db.session.commit()
    apply_movement("receive", kettle.id, 10, to_cell_id=cell.id)
    db.session.commit()
    return {"wh": wh, "cell": cell, "kettle": kettle, "mug": mug}


def order(s, number, sku="KET-1", quantity=2, **card):
    created, _new = service.create_order(s["wh"].id, number, [{"sku": sku, "quantity": quantity}], **card)
    _db.session.commit()
    return created


def supervisor(client):
    sign_in_password(client, "olga", PASSWORD)
    return client


def page(client, path) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, answer.status_code
    return answer.get_data(as_text=True)


def numbers(html: str) -> list[str]:
    return re.findall(r'<tr data-order="([^"]+)"', html)


def post(client, path, data, token_from="/orders"):
    return client.post(path, data={"csrf_token": csrf_token(client, token_from), **data})


def fresh(order_id) -> Order:
    _db.session.expire_all()
    return _db.session.get(Order, order_id)


def test_the_list_filters_by_status_reason_carrier_cutoff_and_text(client, db):
    s = shop(db)
    soon = utcnow() + timedelta(hours=3)
    order(s, "A-1", customer_name="Иван Петров", carrier="CDEK", cutoff_at=soon)
    order(s, "A-2", sku="MUG-1", carrier="Boxberry")  # no stock of mugs: postponed awaiting stock
    order(s, "A-3", needs_confirmation=True, customer_phone="+79990001122", carrier="CDEK",
          cutoff_at=utcnow() + timedelta(days=2))
    supervisor(client)
    assert numbers(page(client, "/orders")) == ["A-3", "A-2", "A-1"]  # newest first
    html = page(client, "/orders?status=reserved")
    assert numbers(html) == ["A-1"]
    assert 'data-status="postponed"' in html and "(1)" in html  # the tabs' counts
    assert numbers(page(client, "/orders?reason=awaiting_stock")) == ["A-2"]
    assert numbers(page(client, "/orders?carrier=CDEK")) == ["A-3", "A-1"]
    cutoff = dates.local_time(utcnow() + timedelta(days=1), s["wh"], "%Y-%m-%dT%H:%M")
    assert numbers(page(client, f"/orders?cutoff_before={cutoff}")) == ["A-1"]
    assert numbers(page(client, "/orders?q=петров")) == ["A-1"]
    assert numbers(page(client, "/orders?q=0001122")) == ["A-3"]
    assert numbers(page(client, "/orders?q=mug-1")) == ["A-2"]
    html = page(client, "/orders?cutoff_before=yesterday&status=bogus")  # bad filters: a message, not a 500
    assert numbers(html) == ["A-3", "A-2", "A-1"] and "msg-error" in html
    home = page(client, "/")
    assert 'data-flow="orders"' in home and 'data-count="1"' in home


def test_the_list_is_paginated_by_50(client, db):
    s = shop(db)
    for n in range(51):
        order(s, f"P-{n:02d}", sku="MUG-1")
    supervisor(client)
    first = page(client, "/orders")
    assert len(numbers(first)) == 50 and "P-50" in numbers(first)
    assert numbers(page(client, "/orders?page=2")) == ["P-00"]


def test_the_card_shows_lines_reservations_and_the_timeline(client, db):
    s = shop(db)
    placed = order(s, "C-1", quantity=3, customer_name="Анна", customer_phone="+7 999 123-45-67",
                   delivery_address="Москва, ул. Ленина, 1", carrier="CDEK", carrier_service="courier",
                   cod_amount=1500, comment="Позвонить заранее")
    supervisor(client)
    html = page(client, f"/orders/{placed.id}")
    for text in ("Анна", 'href="tel:+7 999 123-45-67"', "Москва, ул. Ленина, 1", "CDEK / courier", "1500",
                 "Позвонить заранее", s["cell"].address, 'data-kind="order.created"', 'data-kind="order.reserved"'):
        assert text in html, text
    assert client.get("/orders/999999").status_code == 404
    answer = post(client, f"/orders/{placed.id}/cancel", {"reason": "  "}, f"/orders/{placed.id}")
    assert answer.status_code == 302 and fresh(placed.id).status == OrderStatus.reserved
    assert "msg-error" in page(client, f"/orders/{placed.id}")
    post(client, f"/orders/{placed.id}/cancel", {"reason": "Передумал"}, f"/orders/{placed.id}")
    cancelled = fresh(placed.id)
    assert cancelled.status == OrderStatus.cancelled and cancelled.cancel_reason == "Передумал"
    html = page(client, f"/orders/{placed.id}")
    assert 'data-kind="order.cancelled"' in html and "Передумал" in html
    post(client, f"/orders/{placed.id}/cancel", {"reason": "again"}, f"/orders/{placed.id}")  # stale: a message
    assert "msg-error" in page(client, f"/orders/{placed.id}")


def test_reserve_now_takes_stock_that_arrived(client, db):
    s = shop(db)
    waiting = order(s, "R-1", sku="MUG-1")
    assert waiting.postponed_reason == PostponedReason.awaiting_stock
    supervisor(client)
    post(client, f"/orders/{waiting.id}/reserve", {}, f"/orders/{waiting.id}")
    assert fresh(waiting.id).status == OrderStatus.postponed
    assert "msg-error" in page(client, f"/orders/{waiting.id}")
    _db.session.execute(_db.update(Order).where(Order.id == waiting.id).values(retry_at=utcnow() + timedelta(hours=1)))
    _db.session.commit()
    # Stock arrives by a raw movement (it does not retry orders): the button does.
    apply_movement("receive", s["mug"].id, 5, to_cell_id=s["cell"].id)
    _db.session.commit()
    post(client, f"/orders/{waiting.id}/reserve", {}, f"/orders/{waiting.id}")
    assert fresh(waiting.id).status == OrderStatus.reserved


def test_the_confirm_page_confirms_postpones_and_cancels(client, db):
    s = shop(db)
    one = order(s, "N-1", needs_confirmation=True, customer_name="Олег", customer_phone="+79990001122")
    two = order(s, "N-2", needs_confirmation=True)
    three = order(s, "N-3", needs_confirmation=True)
    order(s, "N-4")  # reserved at once: nobody calls
    supervisor(client)
    html = page(client, "/orders/confirm")
    assert re.findall(r'data-order="([^"]+)"', html) == ["N-1", "N-2", "N-3"]
    assert 'href="tel:+79990001122"' in html and "Олег" in html

    answer = post(client, f"/orders/{one.id}/confirm", {}, "/orders/confirm")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/orders/confirm")
    assert fresh(one.id).status == OrderStatus.reserved
    assert "msg-ok" in page(client, "/orders/confirm")
    post(client, f"/orders/{one.id}/confirm", {}, "/orders/confirm")  # stale: the service's message
    assert "msg-error" in page(client, "/orders/confirm")

    past = dates.local_time(utcnow() - timedelta(hours=1), s["wh"], "%Y-%m-%dT%H:%M")
    post(client, f"/orders/{two.id}/no-answer", {"retry_at": past}, "/orders/confirm")
    assert fresh(two.id).status == OrderStatus.new and "msg-error" in page(client, "/orders/confirm")
    post(client, f"/orders/{two.id}/no-answer", {"retry_at": "not a time"}, "/orders/confirm")
    assert fresh(two.id).status == OrderStatus.new and "msg-error" in page(client, "/orders/confirm")
    later = utcnow() + timedelta(hours=3)
    post(client, f"/orders/{two.id}/no-answer", {"retry_at": dates.local_time(later, s["wh"], "%Y-%m-%dT%H:%M")},
         "/orders/confirm")
    postponed = fresh(two.id)
    assert postponed.status == OrderStatus.postponed
    assert postponed.postponed_reason == PostponedReason.awaiting_customer
    assert abs((postponed.retry_at - later).total_seconds()) < 60

    answer = post(client, f"/orders/{three.id}/cancel", {"reason": "Не отвечает неделю", "back": "confirm"},
                  "/orders/confirm")
    assert answer.headers["Location"].endswith("/orders/confirm")
    assert fresh(three.id).status == OrderStatus.cancelled
    assert re.findall(r'data-order="([^"]+)"', page(client, "/orders/confirm")) == []

    reservation.retry_due(now=later + timedelta(minutes=1))  # the time came: on the list again
    _db.session.commit()
    assert re.findall(r'data-order="([^"]+)"', page(client, "/orders/confirm")) == ["N-2"]


def test_no_answer_without_a_time_calls_again_in_two_hours(client, db):
    s = shop(db)
    waiting = order(s, "T-1", needs_confirmation=True)
    supervisor(client)
    post(client, f"/orders/{waiting.id}/no-answer", {"retry_at": ""}, "/orders/confirm")
    retry_at = fresh(waiting.id).retry_at
    assert abs((retry_at - (utcnow() + timedelta(hours=2))).total_seconds()) < 60


def test_forms_need_the_csrf_token_and_pickers_are_refused(client, db):
    s = shop(db)
    waiting = order(s, "X-1", needs_confirmation=True)
    supervisor(client)
    answer = client.post(f"/orders/{waiting.id}/confirm", data={})
    assert answer.status_code < 500 and fresh(waiting.id).status == OrderStatus.new
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/orders")})
    sign_in_badge(client, "B-2")
    for path in ("/orders", "/orders/confirm", f"/orders/{waiting.id}"):
        assert client.get(path).status_code == 403, path
    answer = client.post(f"/orders/{waiting.id}/confirm", data={"csrf_token": csrf_token(client, "/")})
    assert answer.status_code == 403 and fresh(waiting.id).status == OrderStatus.new
    assert 'data-flow="orders"' not in page(client, "/")


def test_the_pages_are_in_russian(client, db):
    s = shop(db)
    order(s, "RU-1", needs_confirmation=True)
    supervisor(client)
    client.post("/language", data={"language": "ru", "csrf_token": csrf_token(client, "/orders")})
    html = page(client, "/orders")
    assert "Заказы" in html and "новый" in html
    html = page(client, "/orders/confirm")
    assert "Заказы к подтверждению" in html and "Нет ответа" in html and "1 заказ ждёт звонка." in html
