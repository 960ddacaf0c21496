"""Station profiles: the examples load, every mistake names the file, the key and the problem,
and jobs go to the right device."""

from pathlib import Path

import pytest

from terminal.devices.profiles import ProfileError
from terminal.station.profile import load_station_profile

STATIONS = Path(__file__).resolve().parent.parent / "firmware_profiles" / "stations"

GOOD = """
[station]
name = "pack-9"
kind = "pack"

[devices.scanner]
kind = "scanner"
profile = "honeywell-voyager-1450g"
url = "/dev/serial/by-id/usb-Honeywell-if00"

[devices.scale]
kind = "scale"
profile = "cas-pdii"
url = "socket://127.0.0.1:4001"

[devices.labels]
kind = "printer"
profile = "zebra-zd421-203"
url = "tcp://192.168.1.20:9100"
templates = ["shipping-label"]

[devices.slips]
kind = "printer"
profile = "epson-tm-t20iii"
url = "tcp://192.168.1.21:9100"
templates = ["packing-slip"]

[devices.top]
kind = "camera"
profile = "generic-uvc"
url = "0"
role = "overhead"

[devices.table]
kind = "camera"
profile = "generic-uvc"
url = "rtsp://192.168.1.30/stream1"
role = "packing"
"""


def write(tmp_path, text, name="station.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("path", sorted(STATIONS.glob("*.toml")), ids=lambda p: p.stem)
def test_example_profiles_load(path):
    profile = load_station_profile(path)
    assert profile.kind in ("dock", "pack", "handoff", "returns", "pick")
    assert {spec.kind for spec in profile.devices.values()} >= {"scanner", "printer"}
    devices = profile.build_devices()  # made, not opened
    assert set(devices) == set(profile.devices)
    assert all(device.health()["state"] == "down" for device in devices.values())


def test_examples_cover_the_stations():
    assert {p.stem for p in STATIONS.glob("*.toml")} >= {"dock", "pack", "handoff", "returns"}


def test_load_by_name():
    assert load_station_profile("pack").name == "pack-1"


def test_job_routing(tmp_path):
    profile = load_station_profile(write(tmp_path, GOOD))
    route = profile.device_for_job
    assert route({"kind": "print", "payload": {"template": "shipping-label"}}) == "labels"
    assert route({"kind": "print", "payload": {"template": "packing-slip"}}) == "slips"
    assert route({"kind": "print", "payload": {"template": "badge"}}) is None  # assigned to no one
    assert route({"kind": "photo", "payload": {}}) == "top"
    assert route({"kind": "photo", "payload": {"role": "packing"}}) == "table"
    assert route({"kind": "record_start", "payload": {"session": "S-1"}}) == "table"
    assert route({"kind": "record_stop", "payload": {}}) == "table"
    assert route({"kind": "record_start", "payload": {"role": "nowhere"}}) is None
    assert route({"kind": "read_weight", "payload": {}}) == "scale"
    assert route({"kind": "beep", "payload": {"sound": "ok"}}) == "slips"  # ESC/POS: ESC B
    assert route({"kind": "print", "device": "labels", "payload": {}}) == "labels"
    assert route({"kind": "print", "device": "ghost", "payload": {}}) is None
    assert route({"kind": "dance", "payload": {}}) is None


def test_template_without_assignment_goes_to_the_only_printer_of_its_language(tmp_path):
    text = GOOD.replace('templates = ["shipping-label"]\n', "")
    profile = load_station_profile(write(tmp_path, text))
    assert profile.device_for_job({"kind": "print", "payload": {"template": "badge"}}) == "labels"


def broken(old, new):
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


CASES = [
    ("unknown top key", GOOD + '\n[extra]\nx = 1\n', "extra", "unknown key"),
    ("station kind", broken('kind = "pack"', 'kind = "packing"'), "station.kind", "unknown station kind 'packing'"),
    ("station name missing", broken('name = "pack-9"\n', ""), "station.name", "missing"),
    ("unknown station key", broken('kind = "pack"', 'kind = "pack"\nfloor = 2'), "station.floor", "unknown key"),
    ("device kind", broken('kind = "scale"', 'kind = "scales"'), "devices.scale.kind", "unknown device kind 'scales'"),
    ("unknown device key", broken('profile = "cas-pdii"', 'profile = "cas-pdii"\nbaud = 9600'),
     "devices.scale.baud", "unknown key"),
    ("url missing", broken('url = "socket://127.0.0.1:4001"\n', ""), "devices.scale.url", "missing"),
    ("unknown scanner model", broken('"honeywell-voyager-1450g"', '"honeywell-3310"'), "devices.scanner.profile",
     "no scanner profile 'honeywell-3310'"),
    ("unknown scale model", broken('"cas-pdii"', '"cas-er-jr"'), "devices.scale.profile", "no scale profile 'cas-er-jr'"),
    ("unknown printer model", broken('"zebra-zd421-203"', '"zebra-gk420"'), "devices.labels.profile",
     "no printer profile 'zebra-gk420'"),
    ("unknown camera model", broken('profile = "generic-uvc"', 'profile = "axis-m1065"'), "devices.top.profile",
     "no camera profile 'axis-m1065'"),
    ("template not printable", broken('["shipping-label"]', '["packing-slip"]'), "devices.labels.templates",
     "packing-slip prints on ESC/POS printers; zebra-zd421-203 speaks ZPL"),
    ("unknown template", broken('["shipping-label"]', '["pallet-label"]'), "devices.labels.templates",
     "unknown template 'pallet-label'"),
    ("two printers for one template", broken('["packing-slip"]', '["packing-slip"]') + """
[devices.slips2]
kind = "printer"
profile = "xprinter-xp-58iih"
url = "tcp://192.168.1.22:9100"
templates = ["packing-slip"]
""", "devices.slips2.templates", "already assigned to printer slips"),
    ("templates on a scanner", broken('url = "/dev/serial/by-id/usb-Honeywell-if00"',
                                      'url = "/dev/serial/by-id/usb-Honeywell-if00"\ntemplates = ["badge"]'),
     "devices.scanner.templates", "only printers take templates"),
    ("printer URL scheme", broken('"tcp://192.168.1.20:9100"', '"ipp://192.168.1.20"'), "devices.labels.url",
     "unknown printer URL scheme 'ipp'"),
    ("scanner URL scheme", broken('"/dev/serial/by-id/usb-Honeywell-if00"', '"http://scanner"'),
     "devices.scanner.url", "bad scanner URL 'http://scanner'"),
    ("camera URL scheme", broken('"rtsp://192.168.1.30/stream1"', '"ftp://cam/x"'), "devices.table.url",
     "bad camera URL 'ftp://cam/x'"),
    ("camera role missing", broken('role = "overhead"\n', ""), "devices.top.role", "missing"),
    ("two cameras one role", broken('role = "packing"', 'role = "overhead"'), "devices.table.role",
     "already camera top's"),
    ("role on a scale", broken('url = "socket://127.0.0.1:4001"', 'url = "socket://127.0.0.1:4001"\nrole = "x"'),
     "devices.scale.role", "only cameras have a role"),
    ("unknown option", broken('templates = ["packing-slip"]', 'templates = ["packing-slip"]\noptions = {max_weight = 3}'),
     "devices.slips.options.max_weight", "unknown key"),
    ("option type", broken('templates = ["packing-slip"]', 'templates = ["packing-slip"]\noptions = {max_wait = "long"}'),
     "devices.slips.options.max_wait", "must be float"),
    ("beep command", broken('templates = ["packing-slip"]', 'templates = ["packing-slip"]\noptions = {beep = "bell"}'),
     "devices.slips.options.beep", "unknown buzzer command 'bell'"),
    ("no devices", GOOD.split("[devices.scanner]")[0] + "[devices]\n", "devices", "at least one"),
    ("bad TOML", GOOD + "\n[station\n", "not valid TOML", ""),
]


@pytest.mark.parametrize(("text", "key", "problem"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_errors_name_file_key_and_problem(tmp_path, text, key, problem):
    path = write(tmp_path, text, "pack-9.toml")
    with pytest.raises(ProfileError) as caught:
        load_station_profile(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert key in message, message
    assert problem in message, message


def test_missing_file_names_it(tmp_path):
    with pytest.raises(ProfileError, match="no-such-station"):
        load_station_profile(tmp_path / "no-such-station")
