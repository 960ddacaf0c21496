"""The admin pages in headless Chromium against the real server (both databases): create a user
with a badge (who then signs in by it), create a station and see its token once, rotate it (the
old token stops working), and see the layout map; and the putaway handheld's route on the map
at 360x640."""

import os
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.models import PutawayTask
from server.services.layout import apply_layout, parse_spec
from server.services.putaway import create_putaway_tasks
from tests import factories
from tests.putaway_helpers import putaway_warehouse, received_delivery
from tests.test_layout import SPEC

pytestmark = pytest.mark.browser
HEARTBEAT = "/api/v1/stations/me/heartbeat"


@pytest.fixture
def root(db):
    factories.user("root", ("admin",), password="admin-pass-1")
    db.session.commit()


def sign_in(page, username="root", password="admin-pass-1"):
    page.goto("/sign-in")
    page.fill("#username", username)
    page.fill("#password", password)
    page.get_by_role("button", name="Sign in with password").click()
    page.wait_for_url(re.compile(r"/$"))


def test_create_a_user_with_a_badge(page, live_server, root, chromium):
    sign_in(page)
    page.locator('[data-flow="admin-users"]').click()
    form = page.locator("#new-user")
    form.locator('input[name="username"]').fill("ivan")
    form.locator('input[name="full_name"]').fill("Ivan Petrov")
    form.locator('input[name="roles"][value="picker"]').check()
    form.locator('input[name="badge"]').fill("B-1001")
    form.get_by_role("button", name="Create user").click()
    expect(page.locator(".msg-ok")).to_have_text("User ivan created.")
    expect(page.locator('tr[data-user="ivan"]')).to_contain_text("B-1001")

    worker = chromium.new_context(base_url=live_server, locale="en-US").new_page()
    worker.goto("/sign-in")
    worker.keyboard.type("B-1001")
    worker.keyboard.press("Enter")
    expect(worker.locator(".msg-ok")).to_have_text("Signed in as Ivan Petrov.")
    worker.context.close()

    page.goto("/admin/audit")
    expect(page.locator('tr[data-action="user.create"]')).to_contain_text("ivan")


def test_station_token_is_shown_once_and_rotated(page, live_server, root, db):
    factories.warehouse()
    db.session.commit()
    sign_in(page)
    page.goto("/admin/stations")
    form = page.locator("#new-station")
    form.locator('input[name="code"]').fill("PACK-1")
    form.locator('select[name="kind"]').select_option("pack")
    form.get_by_role("button", name="Create station").click()
    first = page.locator("#token-value").inner_text()
    assert len(first) > 30

    def heartbeat(token):
        return page.request.post(HEARTBEAT, data={}, headers={"Authorization": f"Bearer {token}"}).status

    assert heartbeat(first) == 200
    page.goto("/admin/stations")
    expect(page.locator("#token-value")).to_have_count(0)  # shown once only
    assert first not in page.content()

    page.locator('tr[data-station="PACK-1"] form.rotate button').click()
    second = page.locator("#token-value").inner_text()
    assert second != first
    assert heartbeat(first) == 401
    assert heartbeat(second) == 200


def test_layout_map(page, root, db):
    apply_layout(parse_spec(SPEC))
    db.session.commit()
    sign_in(page)
    page.goto("/admin/layout")
    drawing = page.locator("#layout-map svg.wh-map")
    expect(drawing).to_be_visible()
    expect(drawing.locator("text.aisle-label").first).to_have_text("1")
    assert drawing.locator("rect.face").count() == 2 * 3 * 4 * 2  # blocks x aisles x bays x sides
    page.locator('select[name="zone"]').select_option("A")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#map-totals")).to_contain_text("96 cells")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # nothing sideways
    shots = os.environ.get("CELLWMS_SCREENSHOTS")
    if shots:
        page.screenshot(path=os.path.join(shots, "admin-layout.png"), full_page=True)


def test_putaway_route_on_the_map_at_360x640(chromium, live_server, db):
    wh, receiving, cells, _quarantine = putaway_warehouse(aisles=4, slots=6, max_units=5)
    kettle = factories.sku("KETTLE", "Чайник", barcode="4601234567893")
    factories.user("rita", ("receiver",), badge="B-7")
    delivery = received_delivery(wh, receiving, [(kettle, 12, "", None)])
    create_putaway_tasks(delivery)
    db.session.commit()
    task_ids = db.session.execute(select(PutawayTask.id).order_by(PutawayTask.id)).scalars().all()
    assert len(task_ids) >= 2
    db.session.rollback()  # no open transaction of ours while the server writes
    context = chromium.new_context(base_url=live_server, locale="en-US", viewport={"width": 360, "height": 640})
    page = context.new_page()
    page.goto("/sign-in")
    page.keyboard.type("B-7")
    page.keyboard.press("Enter")
    expect(page.locator(".msg-ok")).to_be_visible()
    page.goto(f"/putaway/task?task={task_ids[0]}")
    drawing = page.locator("#route-map svg.wh-map")
    expect(drawing).to_be_visible()
    expect(drawing.locator("g.stop.current")).to_have_count(1)
    numbers = drawing.locator("g.stop text").all_text_contents()
    assert numbers == [str(n) for n in range(1, len(numbers) + 1)]
    target = drawing.locator("text.target-label")
    expect(target).to_have_text(page.locator("#target-cell").inner_text())
    box = drawing.bounding_box()
    assert box["width"] <= 360
    label = target.bounding_box()
    assert label["height"] >= 11  # legible on the handheld
    shots = os.environ.get("CELLWMS_SCREENSHOTS")
    if shots:
        page.screenshot(path=os.path.join(shots, "putaway-map.png"), full_page=True)
    context.close()
