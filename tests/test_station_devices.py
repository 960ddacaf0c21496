"""Station devices against the real emulators: pty scanner and scale, TCP ZPL and ESC/POS
printers, the MJPEG network camera. Waits are bounded polls on conditions."""

import base64
import threading
import time
from pathlib import Path

import cv2
import pytest

from printers.documents import sample
from printers.profiles import load_profile as printer_profile
from terminal.devices.camera import count_frames
from terminal.devices.scales.profile import load as scale_profile
from terminal.devices.scanners import load_profile as scanner_profile
from terminal.emulators.escpos_printer import EscposPrinterEmulator
from terminal.emulators.mjpeg_camera import MjpegCameraEmulator
from terminal.emulators.scale import ScaleEmulator
from terminal.emulators.scanner import ScannerEmulator
from terminal.emulators.zpl_printer import ZplPrinterEmulator
from terminal.station.profile import load_station_profile

FAST = "options = {backoff_min = 0.02, backoff_max = 0.2}"
GS = "\x1d"
MARKING = "0104604060001104215Jk+3dbNq&Nqf" + GS + "91EE07" + GS + "92dGVzdA=="


class Events:
    """The agent's emit(): collects (kind, payload, media)."""

    def __init__(self):
        self.items, self.lock = [], threading.Lock()

    def __call__(self, kind, payload, media=None):
        with self.lock:
            self.items.append((kind, payload, media))
            return f"event-{len(self.items)}"

    def of(self, kind):
        with self.lock:
            return [(payload, media) for k, payload, media in self.items if k == kind]

    def states(self):
        return [payload["state"] for payload, _ in self.of("device_status")]


def wait_for(condition, what, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.02)
    pytest.fail(f"waited {timeout:g} s for {what}")


def station(tmp_path, devices: str):
    path = tmp_path / "test-station.toml"
    path.write_text('[station]\nname = "test-1"\nkind = "pack"\n' + devices, encoding="utf-8")
    return load_station_profile(path).build_devices(media_dir=tmp_path / "media")


@pytest.fixture
def started():
    devices = []

    def start(device, events):
        devices.append(device.start(events))
        return device

    yield start
    for device in devices:
        device.stop()


# ---- scanner -------------------------------------------------------------------------------------

def scanner_station(tmp_path, link, profile="honeywell-voyager-1450g"):
    return station(tmp_path, f'[devices.scanner]\nkind = "scanner"\nprofile = "{profile}"\nurl = "{link}"\n{FAST}\n')


def decoded(events):
    return [(base64.b64decode(p["raw_b64"]), p["symbology"]) for p, _ in events.of("scan")]


def test_scans_keep_aim_and_gs_bytes(tmp_path, started):
    with ScannerEmulator(scanner_profile("honeywell-voyager-1450g")[1], link=str(tmp_path / "scanner"),
                         byte_rate=50000) as emulator:
        events = Events()
        device = started(scanner_station(tmp_path, emulator.port)["scanner"], events)
        wait_for(lambda: device.health()["state"] == "up", "scanner up")
        emulator.scan("4601234567893", "]E0")
        emulator.scan(MARKING, "]d2")
        emulator.scan("CELL:A-01-02-3", "]Q1")
        wait_for(lambda: len(events.of("scan")) == 3, "3 scans")
        assert decoded(events) == [(b"]E04601234567893", "]E0"), (("]d2" + MARKING).encode(), "]d2"),
                                   (b"]Q1CELL:A-01-02-3", "]Q1")]
        assert b"\x1d91EE07\x1d92" in decoded(events)[1][0]


def test_prefix_and_gs_substitute_are_undone(tmp_path, started):
    text = Path(__file__).resolve().parent.parent / "firmware_profiles" / "scanners" / "honeywell-voyager-1450g.toml"
    custom = tmp_path / "voyager-prefixed.toml"
    custom.write_text(text.read_text().replace('prefix = ""', 'prefix = "@@"')
                      .replace('gs_substitute = ""', 'gs_substitute = "<GS>"'), encoding="utf-8")
    model = scanner_profile(str(custom))[1]
    with ScannerEmulator(model, link=str(tmp_path / "scanner"), byte_rate=50000) as emulator:
        events = Events()
        device = started(scanner_station(tmp_path, emulator.port, profile=custom)["scanner"], events)
        wait_for(lambda: device.health()["state"] == "up", "scanner up")
        emulator.scan(MARKING, "]d2")
        wait_for(lambda: events.of("scan"), "a scan")
        assert decoded(events) == [(("]d2" + MARKING).encode(), "]d2")]


def test_scanner_unplug_replug_is_down_then_up(tmp_path, started):
    with ScannerEmulator(scanner_profile("honeywell-voyager-1450g")[1], link=str(tmp_path / "scanner"),
                         byte_rate=50000) as emulator:
        events = Events()
        device = started(scanner_station(tmp_path, emulator.port)["scanner"], events)
        wait_for(lambda: device.health()["state"] == "up", "scanner up")
        emulator.unplug()
        wait_for(lambda: device.health()["state"] == "down", "scanner down")
        emulator.replug()
        wait_for(lambda: device.health()["state"] == "up", "scanner up again")
        assert events.states() == ["up", "down", "up"]
        assert all(p["device_kind"] == "scanner" for p, _ in events.of("device_status"))
        emulator.scan("4601234567893", "]E0")
        wait_for(lambda: events.of("scan"), "a scan after replug")


def test_scanner_missing_at_start_reports_down_then_comes_up(tmp_path, started):
    link = tmp_path / "scanner"
    emulator = ScannerEmulator(scanner_profile("honeywell-voyager-1450g")[1], link=str(link), byte_rate=50000)
    events = Events()
    device = started(scanner_station(tmp_path, link)["scanner"], events)
    wait_for(lambda: events.states() == ["down"], "down at start")
    assert "cannot open" in device.health()["detail"]
    with emulator:
        wait_for(lambda: device.health()["state"] == "up", "scanner up once plugged")


# ---- scale ---------------------------------------------------------------------------------------

def test_stable_weights_are_sent_once_per_change(tmp_path, started):
    model = scale_profile("cas-pdii")[1]
    with ScaleEmulator(model, link=str(tmp_path / "scale"), settle=0.15) as emulator:
        events = Events()
        device = started(station(tmp_path, f'[devices.scale]\nkind = "scale"\nprofile = "cas-pdii"\n'
                                           f'url = "{emulator.port}"\n{FAST}\n')["scale"], events)
        wait_for(lambda: device.health()["state"] == "up", "scale up")

        def weights():
            return [p["value"] for p, _ in events.of("weight")]

        emulator.put(1.25)
        wait_for(lambda: weights() == [1.25], "1.25 kg")
        seen = device.readings
        wait_for(lambda: device.readings >= seen + 10, "ten more readings")
        assert weights() == [1.25]                       # no flood of the same weight
        emulator.put(2.0)
        wait_for(lambda: weights() == [1.25, 2.0], "2.0 kg")
        emulator.put(0.0)
        wait_for(lambda: device.current is not None and device.current.stable and device.current.value == 0,
                 "an empty platform")
        emulator.put(2.0)                                 # the same load again after zero: new
        wait_for(lambda: weights() == [1.25, 2.0, 2.0], "2.0 kg again")
        payload = events.of("weight")[0][0]
        assert payload == {"value": 1.25, "unit": "kg", "net": False, "tare": payload["tare"]}
        result = device.run_job({"id": 5, "kind": "read_weight", "payload": {"timeout": 5}})
        assert result["result"] == "done" and result["weight"]["value"] == 2.0


@pytest.mark.parametrize("profile", ["cas-pdii", "mettler-toledo-ics425", "mettler-toledo-ariva-s-8217", "massa-k-mk-15-2-tb"])
def test_a_load_that_never_settles_degrades_the_scale_until_it_does(tmp_path, started, profile):
    model = scale_profile(profile)[1]
    with ScaleEmulator(model, link=str(tmp_path / "scale"), settle=0.05) as emulator:
        events = Events()
        options = "options = {backoff_min = 0.02, backoff_max = 0.2, settle_timeout = 0.5}"
        device = started(station(tmp_path, f'[devices.scale]\nkind = "scale"\nprofile = "{profile}"\n'
                                           f'url = "{emulator.port}"\n{options}\n')["scale"], events)
        wait_for(lambda: device.health()["state"] == "up", "scale up")
        emulator.put(1.2)
        emulator.motion()
        wait_for(lambda: device.health() == {**device.health(), "state": "degraded", "detail": "not_settling"},
                 "the scale degraded: not settling")
        assert events.of("weight") == []                 # nothing unstable is sent as a weight
        emulator.motion(False)
        wait_for(lambda: [p["value"] for p, _ in events.of("weight")] == [1.2], "the weight once it settles")
        wait_for(lambda: device.health()["state"] == "up", "scale up again")
        assert events.states()[-2:] == ["degraded", "up"]
        emulator.put(model["capacity"] + 1)
        wait_for(lambda: device.health()["detail"] == "overload", "the scale degraded: overload")
        emulator.put(0.5)
        wait_for(lambda: device.health()["state"] == "up", "scale up once the load is off")


def test_read_weight_on_an_unplugged_scale_fails_with_the_reason(tmp_path, started):
    model = scale_profile("cas-pdii")[1]
    with ScaleEmulator(model, link=str(tmp_path / "scale"), settle=0.05) as emulator:
        events = Events()
        device = started(station(tmp_path, f'[devices.scale]\nkind = "scale"\nprofile = "cas-pdii"\n'
                                           f'url = "{emulator.port}"\n{FAST}\n')["scale"], events)
        wait_for(lambda: device.health()["state"] == "up", "scale up")
        emulator.unplug()
        wait_for(lambda: device.health()["state"] == "down", "scale down")
        result = device.run_job({"id": 6, "kind": "read_weight", "payload": {"timeout": 0.3}})
        assert result["result"] == "failed" and "scale is down" in result["detail"]
        emulator.replug()
        wait_for(lambda: device.health()["state"] == "up", "scale up again")


# ---- printers ------------------------------------------------------------------------------------

def printer_station(tmp_path, profile, url, template, extra=""):
    return station(tmp_path, f'[devices.printer]\nkind = "printer"\nprofile = "{profile}"\nurl = "{url}"\n'
                             f'templates = ["{template}"]\n'
                             f"options = {{backoff_min = 0.02, backoff_max = 0.2, status_interval = 0.1{extra}}}\n")["printer"]


def run_in_thread(device, job):
    box = {}
    thread = threading.Thread(target=lambda: box.update(device.run_job(job)), daemon=True)
    thread.start()
    return box


@pytest.mark.parametrize(("kind", "profile", "template"), [
    ("zpl", "zebra-zd421-203", "sku-sticker"), ("escpos", "epson-tm-t20iii", "packing-slip")])
def test_out_of_paper_job_waits_then_prints_once(tmp_path, started, kind, profile, template):
    emulator_class = ZplPrinterEmulator if kind == "zpl" else EscposPrinterEmulator
    with emulator_class(printer_profile(profile)) as emulator:
        emulator.set_paper(False)
        events = Events()
        device = started(printer_station(tmp_path, profile, emulator.url, template), events)
        wait_for(lambda: device.health()["state"] == "degraded", "degraded")
        assert "paper_out" in device.health()["detail"]
        box = run_in_thread(device, {"id": 7, "kind": "print", "payload": {"template": template,
                                                                            "data": sample(template)}})
        wait_for(lambda: emulator.connections >= 5, "the job asking the printer again and again")
        assert not box and emulator.jobs == [] and emulator.pending == []  # nothing sent while out of paper
        emulator.set_paper(True)
        wait_for(lambda: box, "the job's result")
        assert box["result"] == "printed", box
        wait_for(lambda: device.health()["state"] == "up", "up")
        connections = emulator.connections
        wait_for(lambda: emulator.connections >= connections + 3, "a few more status polls")
        assert len(emulator.complete_jobs()) == 1 and len(emulator.jobs) == 1
        assert events.states()[0] == "degraded" and events.states()[-1] == "up"


@pytest.mark.parametrize(("kind", "profile", "template"), [
    ("zpl", "zebra-zd421-203", "sku-sticker"), ("escpos", "epson-tm-t20iii", "packing-slip")])
def test_a_job_asks_the_ready_printer_its_status_once_on_the_connection_it_prints_on(tmp_path, started, kind,
                                                                                     profile, template):
    emulator_class = ZplPrinterEmulator if kind == "zpl" else EscposPrinterEmulator
    with emulator_class(printer_profile(profile)) as emulator:
        device = started(station(tmp_path, f'[devices.printer]\nkind = "printer"\nprofile = "{profile}"\n'
                                           f'url = "{emulator.url}"\ntemplates = ["{template}"]\n'
                                           "options = {backoff_min = 0.02, backoff_max = 0.2, status_interval = 600}\n"
                                 )["printer"], Events())
        wait_for(lambda: device.health()["state"] == "up", "up")
        before = emulator.connections
        result = device.run_job({"id": 13, "kind": "print", "payload": {"template": template, "data": sample(template)}})
        assert result["result"] == "printed", result
        assert emulator.connections == before + 1  # the status asked, the job sent, on one connection
        assert len(emulator.complete_jobs()) == 1 and device.health()["state"] == "up"


def test_head_open_too_long_answers_head_open(tmp_path, started):
    with EscposPrinterEmulator(printer_profile("epson-tm-t20iii")) as emulator:
        emulator.open_head()
        device = started(printer_station(tmp_path, "epson-tm-t20iii", emulator.url, "packing-slip",
                                         ", max_wait = 0.5"), Events())
        result = device.run_job({"id": 8, "kind": "print", "payload": {"template": "packing-slip",
                                                                        "data": sample("packing-slip")}})
        assert result["result"] == "head_open", result
        health = device.health()
        assert health["state"] == "degraded" and "head_open" in health["detail"], health
        emulator.close_head()
        wait_for(lambda: device.health()["state"] == "up", "up once the head is closed")
        assert emulator.jobs == []


def test_job_that_cannot_be_rendered_fails_with_the_reason(tmp_path, started):
    with ZplPrinterEmulator(printer_profile("zebra-zd421-203")) as emulator:
        device = started(printer_station(tmp_path, "zebra-zd421-203", emulator.url, "sku-sticker"), Events())
        result = device.run_job({"id": 9, "kind": "print", "payload": {"template": "sku-sticker", "data": {}}})
        assert result["result"] == "failed" and "cannot render sku-sticker" in result["detail"]
        result = device.run_job({"id": 10, "kind": "print", "payload": {"template": "packing-slip", "data": {}}})
        assert result["result"] == "failed" and "ESC/POS" in result["detail"]
        assert device.run_job({"id": 11, "kind": "beep", "payload": {}})["result"] == "failed"
        assert emulator.jobs == []


def test_escpos_printer_beeps(tmp_path, started):
    with EscposPrinterEmulator(printer_profile("epson-tm-t20iii")) as emulator:
        device = started(printer_station(tmp_path, "epson-tm-t20iii", emulator.url, "packing-slip"), Events())
        assert device.run_job({"id": 12, "kind": "beep", "payload": {"sound": "error"}})["result"] == "done"
        wait_for(lambda: emulator.jobs, "the buzzer command")
        assert emulator.jobs[0].data == b"\x1bB\x03\x02"


# ---- camera --------------------------------------------------------------------------------------

def camera_station(tmp_path, url):
    return station(tmp_path, f'[devices.camera]\nkind = "camera"\nprofile = "generic-uvc"\nurl = "{url}"\n'
                             f'role = "packing"\n{FAST}\n')["camera"]


def test_photo_is_a_jpeg_in_the_media_dir(tmp_path, started):
    with MjpegCameraEmulator(fps=20) as emulator:
        events = Events()
        device = started(camera_station(tmp_path, emulator.url), events)
        wait_for(lambda: device.health()["state"] == "up", "camera up")
        result = device.run_job({"id": 13, "kind": "photo", "payload": {"role": "packing"}})
        assert result["result"] == "done", result
        [(payload, media)] = events.of("photo")
        assert media == result["path"] and Path(media).parent == tmp_path / "media"
        assert payload["role"] == "packing" and payload["job_id"] == 13 and payload["size"] == Path(media).stat().st_size
        assert cv2.imread(media).shape == (360, 640, 3)


def test_camera_unplugged_mid_clip_leaves_a_playable_partial_clip(tmp_path, started):
    with MjpegCameraEmulator(fps=20) as emulator:
        events = Events()
        device = started(camera_station(tmp_path, emulator.url), events)
        wait_for(lambda: device.health()["state"] == "up", "camera up")
        start = device.run_job({"id": 14, "kind": "record_start", "payload": {"session": "PACK-77"}})
        assert start["result"] == "done", start
        frames = device.frames
        wait_for(lambda: device.frames >= frames + 15, "15 frames recorded")
        emulator.unplug()
        wait_for(lambda: events.of("clip"), "the partial clip")
        wait_for(lambda: device.health()["state"] == "down", "camera down")
        [(clip, path)] = events.of("clip")
        assert clip["partial"] is True and clip["frames"] >= 15 and clip["job_id"] == 14
        assert count_frames(path) == clip["frames"]
        assert events.states()[-1] == "down"
        emulator.replug()
        wait_for(lambda: device.health()["state"] == "up", "camera up again")
        frames = device.frames
        wait_for(lambda: device.frames >= frames + 5, "recording on after replug")
        stop = device.run_job({"id": 15, "kind": "record_stop", "payload": {}})
        assert stop["result"] == "done", stop
        clips = events.of("clip")
        assert len(clips) == 2 and clips[1][0]["partial"] is False and clips[1][1] != path
        assert count_frames(clips[1][1]) == clips[1][0]["frames"] >= 5
        assert device.run_job({"id": 16, "kind": "record_stop", "payload": {}})["result"] == "failed"


def test_mjpeg_emulator_is_a_network_camera_opencv_reads():
    import urllib.request

    with MjpegCameraEmulator(width=320, height=240, fps=30) as emulator:
        capture = cv2.VideoCapture(emulator.url, cv2.CAP_FFMPEG)
        try:
            assert capture.isOpened()
            frames = [capture.read() for _ in range(5)]
            assert all(ok and frame.shape == (240, 320, 3) for ok, frame in frames)
            jpeg = urllib.request.urlopen(emulator.snapshot_url, timeout=5).read()
            assert jpeg[:2] == b"\xff\xd8"
            emulator.unplug()
            wait_for(lambda: not capture.read()[0], "the stream to break")
            assert not cv2.VideoCapture(emulator.url, cv2.CAP_FFMPEG).isOpened()  # refused
            emulator.replug()
            again = cv2.VideoCapture(emulator.url, cv2.CAP_FFMPEG)
            assert again.isOpened() and again.read()[0]
            again.release()
        finally:
            capture.release()


def test_wedge_scanner_recording_gives_scan_events_with_gs(tmp_path, started):
    import struct

    from terminal.devices.scanners.wedge import keystrokes

    record = struct.Struct("llHHi")
    events_in = keystrokes("4601234567893") + keystrokes(MARKING, t0=1.0)
    path = tmp_path / "wedge.bin"
    path.write_bytes(b"".join(record.pack(int(t), int(t % 1 * 1e6), *rest) for t, *rest in events_in))
    events = Events()
    started(scanner_station(tmp_path, path, profile="zebra-ds2208")["scanner"], events)
    wait_for(lambda: len(events.of("scan")) == 2, "2 scans from the recording")
    assert decoded(events) == [(b"4601234567893", ""), (MARKING.encode(), "")]
