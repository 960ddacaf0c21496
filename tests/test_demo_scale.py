"""The demo's scale control on the pack station screen: outside the demo the control is not shown
and its endpoint answers 404; in the demo (a real DemoStations with a real scale emulator on a
pty) a signed-in packer puts the parcel's expected weight, a typed weight or nothing on the
emulated scale, and the real scale driver reads it."""

import subprocess
import sys

import pytest

from server.commands.demo_stations import DemoStations
from server.extensions import db as _db
from server.web.stations import DEMO_SCALES
from tests import test_packing
from tests.picking_helpers import IRON
from tests.test_scales import settled
from tests.test_station_pages import post_json, sign_in_badge

site = test_packing.site  # the packing tests' warehouse, orders 2001 and 2002 picked, PACK-1
URL = "/stations/PACK-1/demo-scale"
LABEL = "Demo: put the parcel on the emulated scale"


def test_outside_the_demo_there_is_no_control(client, site):
    assert post_json(client, URL, {"kg": 1}, "/sign-in").status_code == 401  # nobody signed in
    sign_in_badge(client, "B-P1")
    r = post_json(client, URL, {"kg": 1}, "/stations/PACK-1")
    assert r.status_code == 404 and r.content_type == "application/problem+json"
    assert LABEL not in client.get("/stations/PACK-1").get_data(as_text=True)


@pytest.fixture
def demo_scale(app, site, tmp_path):
    link = tmp_path / "scale"
    child = subprocess.Popen([sys.executable, "-m", "terminal.cli", "emulate", "scale", "--profile",
                              "mettler-toledo-ics425", "--link", str(link), "--load", "0", "--stdin"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == str(link)
    stations = DemoStations(tmp_path, "", {})
    stations.scales["PACK-1"] = child
    stations.children.append(child)
    app.extensions[DEMO_SCALES] = stations
    site.station.emulated = True
    _db.session.commit()
    yield link
    app.extensions.pop(DEMO_SCALES, None)
    stations.stop()


def test_the_demo_control_puts_loads_on_the_emulated_scale(client, site, demo_scale):
    from terminal.devices.scales.driver import ScaleDriver
    from terminal.devices.scales.profile import load

    sign_in_badge(client, "B-P1")
    page = client.get("/stations/PACK-1").get_data(as_text=True)
    assert LABEL in page and 'class="demo-scale emulated-control"' in page
    r = post_json(client, URL, {"load": "expected"}, "/stations/PACK-1")
    assert r.status_code == 409 and r.get_json()["type"].endswith("nothing-to-weigh")
    for bad in ({"kg": -1}, {"kg": "1"}, {"kg": True}, {"kg": 10_000}, {}):
        assert post_json(client, URL, bad, "/stations/PACK-1").status_code == 422, bad
    post_json(client, "/stations/PACK-1/input", {"kind": "button", "key": "sign_in"}, "/stations/PACK-1")
    post_json(client, "/stations/PACK-1/input", {"kind": "scan", "code": "TOTE-2"}, "/stations/PACK-1")
    r = post_json(client, "/stations/PACK-1/input", {"kind": "scan", "code": IRON}, "/stations/PACK-1")
    assert r.get_json()["prompt"]["state"] == "weighing", r.get_json()
    with ScaleDriver(load("mettler-toledo-ics425")[1], str(demo_scale), say=lambda _text: None) as driver:
        r = post_json(client, URL, {"load": "expected"}, "/stations/PACK-1")
        assert r.status_code == 200 and r.get_json() == {"kg": 1.52, "emulated": True}  # 1200 + box 300 + 20 g
        assert settled(driver, 1.52) is not None
        assert post_json(client, URL, {"kg": 0.75}, "/stations/PACK-1").status_code == 200
        assert settled(driver, 0.75) is not None
        assert post_json(client, URL, {"kg": 0}, "/stations/PACK-1").status_code == 200
        assert settled(driver, 0.0) is not None
