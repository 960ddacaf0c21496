"""Scanners: framing and wedge codecs (golden inputs, recorded evdev sequences, hypothesis), the
serial driver against the pty emulator (unplug/replug), the evdev reader on a pipe, probe."""

import json
import os
import struct
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terminal.devices.scanners import load_profile, probe
from terminal.devices.scanners.evdev import EvdevScanner
from terminal.devices.scanners.framing import GS, Framer, Scan, ScanFormat, encode
from terminal.devices.scanners.serial import SerialScanner
from terminal.devices.scanners.wedge import WedgeDecoder, keystrokes, relayout
from terminal.emulators.scanner import ScannerEmulator

DATA = Path(__file__).parent / "data" / "evdev"
MARK = "0104604060001104215Jk+3dbNq&Nqf" + GS + "91EE07" + GS + "92dGVzdCBjcnlwdG8gdGFpbCBmb3IgY2VsbHdtcyB0ZXN0"
PROFILES = ("honeywell-voyager-1450g", "zebra-ds2208", "mertech-2310-p2d")


def recording(name):
    doc = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    return doc, [(s + u / 1e6, t, c, v) for s, u, t, c, v in doc["events"]]


# ---- framing ----

@pytest.mark.parametrize("suffix, tail", [("CR", b"\r"), ("LF", b"\n"), ("CRLF", b"\r\n"), ("TAB", b"\t")])
def test_suffix_framing(suffix, tail):
    framer = Framer(ScanFormat(suffix=suffix))
    assert framer.feed(b"46012345" + b"67893" + tail + b"4006381333931" + tail) == [
        Scan("4601234567893"), Scan("4006381333931")]


def test_frames_split_across_reads():
    framer = Framer(ScanFormat(suffix="CRLF"))
    data = b"]E04601234567893\r\n"
    scans = [s for i in range(len(data)) for s in framer.feed(data[i:i + 1], i * 0.001)]
    assert scans == [Scan("4601234567893", "]E0")]


def test_gap_framing_uses_callers_clock():
    framer = Framer(ScanFormat(suffix="none", gap=0.05))
    assert framer.feed(b"46012", 1.000) == []
    assert framer.feed(b"34567893", 1.010) == []
    assert framer.flush(1.030) == []
    assert framer.flush(1.070) == [Scan("4601234567893")]
    framer.feed(b"123", 2.0)
    assert framer.feed(b"456", 2.2) == [Scan("123")]      # a gap before new bytes ends the last scan


def test_aim_kept_and_gs1_fields_parsed():
    [scan] = Framer(ScanFormat(aim=True)).feed(b"]d2" + MARK.encode() + b"\r")
    assert (scan.aim, scan.text, scan.symbology, scan.gs1) == ("]d2", MARK, "Data Matrix", True)
    fields = {f["ai"]: f["value"] for f in scan.fields()}
    assert fields == {"01": "04604060001104", "21": "5Jk+3dbNq&Nqf", "91": "EE07",
                      "92": "dGVzdCBjcnlwdG8gdGFpbCBmb3IgY2VsbHdtcyB0ZXN0"}
    [ean] = Framer(ScanFormat(aim=True)).feed(b"]E04601234567893\r")
    assert ean.gs1 and ean.fields() == [{"ai": "01", "title": "GTIN", "value": "04601234567893"}]
    [plain] = Framer(ScanFormat(aim=True)).feed(b"]Q1CELL:A-01-02\r")
    assert (plain.aim, plain.gs1, plain.fields()) == ("]Q1", False, [])


def test_gs1_128_with_dates():
    [scan] = Framer(ScanFormat(aim=True)).feed(b"]C1010460406000110417261231" + b"10LOT7\x1d" + b"2112345\r")
    assert {f["ai"]: f.get("date", f["value"]) for f in scan.fields()} == {
        "01": "04604060001104", "17": "2026-12-31", "10": "LOT7", "21": "12345"}


@pytest.mark.parametrize("substitute", ["^]", "<GS>", "~", "\x1e"])
def test_gs_substitute_recovered(substitute):
    fmt = ScanFormat(aim=True, gs_substitute=substitute)
    wire = encode(MARK, fmt, "]d2")
    assert GS not in wire.decode()
    assert Framer(fmt).feed(wire) == [Scan(MARK, "]d2")]


def test_prefix_stripped_and_garbage_before_aim_dropped():
    fmt = ScanFormat(prefix="#", aim=True)
    assert Framer(fmt).feed(b"#]E04601234567893\r") == [Scan("4601234567893", "]E0")]
    assert Framer(ScanFormat(aim=True)).feed(b"\x00\xff#\xf8U]E04601234567893\r") == [Scan("4601234567893", "]E0")]


def test_stale_partial_frame_dropped():
    framer = Framer(ScanFormat(stale=0.5))
    assert framer.feed(b"460123", 10.0) == []
    assert framer.feed(b"4006381333931\r", 11.0) == [Scan("4006381333931")]
    assert framer.dropped == 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=20), st.sampled_from(["CR", "CRLF", "TAB", "none"]),
       st.booleans(), st.sampled_from(["", "^]", "<GS>"]))
def test_random_bytes_never_raise(chunks, suffix, aim, substitute):
    framer = Framer(ScanFormat(suffix=suffix, aim=aim, gs_substitute=substitute))
    t = 0.0
    for chunk in chunks:
        t += 0.03
        for scan in framer.feed(chunk, t) + framer.flush(t + 0.1):
            assert scan.text
            scan.as_dict()
    # after any noise and a pause, a good frame comes through
    assert Framer(ScanFormat(suffix=suffix, aim=aim)).feed(b"") == []
    framer.feed(b"\r", t + 1)
    good = encode("4601234567893", framer.fmt, "]E0")
    scans = framer.feed(good, t + 2) + framer.flush(t + 3)
    assert scans[-1].text == "4601234567893"


# ---- wedge ----

@pytest.mark.parametrize("name", ["gs1-datamatrix-marking-code", "ean13", "cyrillic-host", "scanner-ru-layout"])
def test_recorded_wedge_sequences(name):
    doc, events = recording(name)
    fmt = ScanFormat(suffix=doc["suffix"], aim=doc["aim"], layout=doc["keyboard_layout"])
    [scan] = WedgeDecoder(fmt).feed(events)
    assert (scan.aim, scan.text) == (doc["expect"]["aim"], doc["expect"]["text"])


def test_cyrillic_host_decoded_by_scanner_layout():
    doc, events = recording("cyrillic-host")
    [host] = WedgeDecoder(ScanFormat(layout="ru")).feed(events)      # what a Russian desktop types
    assert host.text == doc["host_text"] != doc["expect"]["text"]
    assert any("\u0400" <= ch <= "\u04ff" for ch in host.text)
    [scan] = WedgeDecoder(ScanFormat(layout="us")).feed(events)      # the scanner's layout
    assert scan.text == doc["expect"]["text"]
    assert {f["ai"] for f in scan.fields()} == {"01", "21", "93"}
    assert relayout(host.text, typed_as="ru", meant="us") == doc["expect"]["text"]


def test_marking_code_fields_from_recording():
    _, events = recording("gs1-datamatrix-marking-code")
    [scan] = WedgeDecoder(ScanFormat(aim=True)).feed(events)
    assert scan.gs1 and scan.text.count(GS) == 2 and scan.fields()[0]["value"] == "04604060001104"


def test_wedge_gs_substitute_alt_numpad_caps_and_gap():
    fmt = ScanFormat(gs_substitute="~", suffix="TAB")
    [scan] = WedgeDecoder(fmt).feed(keystrokes("0104604060001104215Jk~93dGVz", "us", "TAB"))
    assert scan.text == "0104604060001104215Jk" + GS + "93dGVz"
    # Alt + keypad 0 2 9 (Zebra "Emulate Keypad") is GS too
    alt = [(0, 1, 56, 1), (0, 1, 82, 1), (0, 1, 82, 0), (0, 1, 80, 1), (0, 1, 80, 0), (0, 1, 73, 1),
           (0, 1, 73, 0), (0, 1, 56, 0)]
    events = keystrokes("01", "us", "none") + alt + keystrokes("93", "us", "CR", t0=0.05)
    assert WedgeDecoder(ScanFormat()).feed(events) == [Scan("01" + GS + "93")]
    # Caps Lock on: letters flip case
    caps = [(0, 1, 58, 1), (0, 1, 58, 0)] + keystrokes("abC1", "us", "CR")
    assert WedgeDecoder(ScanFormat()).feed(caps) == [Scan("ABc1")]
    # gap framing
    dec = WedgeDecoder(ScanFormat(suffix="none", gap=0.05))
    assert dec.feed(keystrokes("4601234567893", "us", "none", t0=5.0)) == []
    assert dec.flush(5.2) == [Scan("4601234567893")]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100), st.integers(0, 5), st.integers(0, 300), st.integers(0, 2)), max_size=200),
       st.sampled_from(["us", "ru"]), st.sampled_from(["CR", "TAB", "none"]))
def test_random_key_events_never_raise(events, layout, suffix):
    dec = WedgeDecoder(ScanFormat(layout=layout, suffix=suffix))
    for scan in dec.feed(sorted(events)) + dec.flush(1000.0):
        scan.as_dict()


# ---- evdev reader on a pipe of raw input_event structs ----

def test_evdev_reader_on_pipe():
    raw = (DATA / "ean13.bin").read_bytes()
    assert len(raw) % struct.calcsize("llHHi") == 0
    r, w = os.pipe()

    def writer():  # in uneven chunks, as a device would deliver them
        for i in range(0, len(raw), 40):
            os.write(w, raw[i:i + 40])
        os.close(w)

    threading.Thread(target=writer, daemon=True).start()
    profile = load_profile("mertech-2310-p2d")[1]
    with EvdevScanner(profile, f"/dev/fd/{r}") as scanner:
        assert not scanner.grabbed                          # a pipe is not grabbed; a device is
        assert scanner.read(5) == [Scan("4601234567893")]
        assert scanner.read(1) == []
    os.close(r)


def test_probe_reads_recording(capsys):
    assert probe("mertech-2310-p2d", str(DATA / "ean13.bin"), 1, True, timeout=5) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["fields"] == [{"ai": "01", "title": "GTIN", "value": "04601234567893"}]


# ---- serial driver against the pty emulator ----

def test_profiles_load():
    for name in PROFILES:
        profile = load_profile(name)[1]
        assert profile["interface"] in ("usb-cdc", "hid")


def test_serial_driver_against_emulator_with_faults():
    profile = dict(load_profile("honeywell-voyager-1450g")[1], gs_substitute="<GS>")
    said, back = [], threading.Event()

    def say(message):
        said.append(message)
        if "reconnected" in message:
            back.set()

    with ScannerEmulator(profile, byte_rate=20000) as emulator, \
            SerialScanner(profile, emulator.port, say=say, backoff=(0.02, 0.2)) as driver:
        emulator.scan(MARK, "]d2")
        assert driver.read(5) == [Scan(MARK, "]d2")]          # AIM passed on, GS recovered
        emulator.garbage()
        emulator.partial("4006381333931", "]E0")
        emulator.pause(0.7)                                   # longer than the profile's stale time
        emulator.scan("4601234567893", "]E0")
        assert driver.read(5) == [Scan("4601234567893", "]E0")]
        emulator.unplug()
        threading.Timer(0.3, emulator.replug).start()
        assert driver.read(0.2) == []                         # still gone: nothing, no error
        for _ in range(50):                                   # reading on reconnects (bounded)
            if back.is_set():
                break
            driver.read(0.1)
        assert back.is_set(), said
        emulator.scan("00146012345000000018", "]C1")
        [sscc] = driver.read(5)
        assert sscc.fields() == [{"ai": "00", "title": "SSCC", "value": "146012345000000018"}]
        assert driver.reconnects == 1 and any("lost" in m for m in said)


def test_probe_cli_json_lines(tmp_path):
    from click.testing import CliRunner

    from terminal.cli import main
    profile = load_profile("honeywell-voyager-1450g")[1]
    with ScannerEmulator(profile, byte_rate=20000) as emulator:
        timer = threading.Timer(0.5, lambda: [emulator.scan(t, a) for a, t in (("]E0", "4601234567893"), ("]d2", MARK))])
        timer.start()
        result = CliRunner().invoke(main, ["devices", "probe", "--profile", "honeywell-voyager-1450g",
                                           "--port", emulator.port, "--count", "2", "--json"])
        timer.join()
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [(d["aim"], d["text"]) for d in lines] == [("]E0", "4601234567893"), ("]d2", MARK)]
    assert lines[1]["fields"][0] == {"ai": "01", "title": "GTIN", "value": "04604060001104"}


def test_emulate_scanner_command():
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "terminal.cli", "emulate", "scanner", "--profile",
                             "honeywell-voyager-1450g", "--rate", "20000"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=Path(__file__).parent.parent)
    try:
        port = proc.stdout.readline().strip()
        profile = load_profile("honeywell-voyager-1450g")[1]
        with SerialScanner(profile, port) as driver:
            proc.stdin.write("]d2 0104604060001104215Jk{GS}93dGVz\n")
            proc.stdin.flush()
            assert driver.read(5) == [Scan("0104604060001104215Jk" + GS + "93dGVz", "]d2")]
    finally:
        proc.terminate()
        proc.wait(5)


@pytest.mark.parametrize("where", ["firmware_profiles", "elsewhere"])
def test_probe_cli_takes_a_scanner_profile_by_path(tmp_path, where):
    """`--profile firmware_profiles/scanners/<model>.toml` is a scanner (not refused as a scale
    profile); a copy outside a kind folder is recognised by its schema."""
    import shutil

    from click.testing import CliRunner

    from terminal.cli import main

    path = Path(__file__).parent.parent / "firmware_profiles" / "scanners" / "honeywell-voyager-1450g.toml"
    if where == "elsewhere":
        path = Path(shutil.copy(path, tmp_path / "my-scanner.toml"))
    profile = load_profile("honeywell-voyager-1450g")[1]
    with ScannerEmulator(profile, byte_rate=20000) as emulator:
        timer = threading.Timer(0.5, lambda: emulator.scan("4601234567893", "]E0"))
        timer.start()
        result = CliRunner().invoke(main, ["devices", "probe", "--profile", str(path), "--port", emulator.port,
                                           "--count", "1", "--json", "--timeout", "5"])
        timer.join()
    assert result.exit_code == 0, result.output
    [line] = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert (line["aim"], line["text"]) == ("]E0", "4601234567893")


def test_read_profile_refuses_a_path_of_another_kind():
    from terminal.devices.profiles import ProfileError, read_profile

    path = Path(__file__).parent.parent / "firmware_profiles" / "scanners" / "zebra-ds2208.toml"
    with pytest.raises(ProfileError, match="a scanner profile, not a scale profile"):
        read_profile("scales", str(path))
