"""Scales: golden frames per protocol, property tests for every codec, drivers against pty emulators, CLI."""

import random
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terminal.devices.scales import (
    CODECS,
    CasCodec,
    HidPosCodec,
    MassaKCodec,
    MtSicsCodec,
    Reading,
    Toledo8217Codec,
    cas,
    hidpos,
    massak,
    mtsics,
    toledo8217,
)


def r(value, unit="kg", stable=True, net=False, tare=None, status="ok"):
    return Reading(value, unit, stable, net, tare, status)


# ---- golden frames (from the protocols' documentation) ----

def test_mtsics_golden():
    c = MtSicsCodec("g")
    assert c.feed(b"S S     100.00 g\r\n") == [r(100.0, "g")]
    assert c.feed(b"S D     129.07 g\r\n") == [r(129.07, "g", False, status="motion")]
    assert c.feed(b"S +\r\nS -\r\nS I\r\n") == [r(None, "g", False, status=s) for s in ("overload", "under_zero", "fault")]
    assert c.feed(b"Z A\r\n") == [] and (c.acks[-1].command, c.acks[-1].ok) == ("Z", True)
    assert c.feed(b"T S     100.00 g\r\n") == [] and c.tare == 100.0
    assert c.feed(b"S S      50.00 g\r\n") == [r(50.0, "g", net=True, tare=100.0)]
    assert c.feed(b"TA A      0.00 g\r\n") == [] and c.tare is None
    assert c.feed(b'I4 A "B021002593"\r\n') == [] and c.info["I4"] == "B021002593"
    assert c.feed(b"ES\r\n") == [] and c.acks[-1].ok is False
    assert c.feed(b"S S     -2.00 g\r\n") == [r(-2.0, "g", False, status="under_zero")]
    assert mtsics.request_stable() == b"S\r\n" and mtsics.zero() == b"Z\r\n" and mtsics.tare() == b"T\r\n"
    assert mtsics.tare_preset(100, "g", 2) == b"TA 100.00 g\r\n" and mtsics.reset() == b"@\r\n"


def test_toledo8217_golden():
    c = Toledo8217Codec("kg")
    assert c.feed(b"\x0201.234\r") == [r(1.234)]
    motion, over, under = (bytes([2, ord("?"), 0x60 | bit, 13]) for bit in (1, 2, 4))
    assert c.feed(motion + over + under) == [r(None, stable=False, status=s) for s in ("motion", "overload", "under_zero")]
    assert c.feed(b"\x02?\x70\r") == []  # center of zero, stable: status only
    assert c.encode("tare") == b"T" and c.feed(b"\x0200.500\r") == [r(0.5, net=True)]
    assert c.encode("clear") == b"C" and c.encode("zero") == b"Z" and c.encode("weight") == b"W"
    assert toledo8217.weight_frame(1.234) == b"\x0201.234\r"


def test_cas_golden():
    c = CasCodec()
    assert c.feed(b"ST,GS,+  1.234kg\r\n") == [r(1.234)]
    assert c.feed(b"US,GS,+  1.200kg\r\n") == [r(1.2, stable=False, status="motion")]
    assert c.feed(b"ST,NT,+  0.850kg\r\n") == [r(0.85, net=True)]
    assert c.feed(b"ST,GS,-  0.010kg\r\n") == [r(-0.01, stable=False, status="under_zero")]
    assert c.feed(b"OL,GS,        kg\r\n") == [r(None, stable=False, status="overload")]
    assert c.feed(b"ST,GS,01,1A,+  2.000kg\r\n") == [r(2.0)]  # id and lamp fields
    assert c.feed(b"ST,GS,+ 250.0 g\r\n") == [r(250.0, "g")]
    assert cas.frame("ST", "GS", 1.234) == b"ST,GS,+  1.234kg\r\n"


def test_massak_golden():
    assert massak.get_massa() == bytes.fromhex("f855ce0100232300")  # CMD_GET_MASSA as in the manual
    c = MassaKCodec()
    frame = massak.ack_massa(1234, 1, True, False, False)
    assert frame[:6] == bytes.fromhex("f855ce090024") and len(frame) == 16
    assert c.feed(frame) == [r(1.234)]
    assert c.feed(massak.ack_massa(150, 2, False, True, False, tare=20)) == [r(1.5, stable=False, net=True, tare=0.2, status="motion")]
    assert c.feed(massak.error(0x08)) == [r(None, stable=False, status="overload")]
    assert c.feed(massak.reply(massak.CMD_ACK_SET)) == [] and c.acks[-1].command == "zero"
    bad = bytearray(frame)
    bad[-1] ^= 1
    assert c.feed(bytes(bad)) == []


def test_hidpos_golden():
    c = HidPosCodec()
    assert c.feed(bytes.fromhex("03040bff3100")) == [r(4.9, "oz")]  # DYMO M10: 4.9 oz
    assert c.feed(bytes.fromhex("0304020018 01".replace(" ", ""))) == [r(280.0, "g")]
    assert c.feed(bytes.fromhex("030202000000")) == [r(0.0, "g")]
    assert c.feed(bytes.fromhex("030302000a00")) == [r(10.0, "g", False, status="motion")]
    assert c.feed(bytes.fromhex("030602000000")) == [r(None, "g", False, status="overload")]
    assert c.feed(bytes.fromhex("030502000500")) == [r(-5.0, "g", False, status="under_zero")]
    assert c.feed(bytes.fromhex("0304020018")) == []  # short read dropped
    assert hidpos.report(4, "g", 0, 280) == bytes.fromhex("030402001801")


# ---- properties ----

def stable_frame(protocol, rng):
    value = rng.randint(1, 9999) / 1000
    return {
        "mt-sics": mtsics.weight_frame(True, value, "kg"),
        "toledo-8217": toledo8217.weight_frame(value),
        "cas": cas.frame("ST", "GS", value),
        "massa-k-100": massak.ack_massa(round(value * 1000), 1, True, False, False),
        "hid-pos": hidpos.report(4, "kg", -3, round(value * 1000)),
    }[protocol], value


def unstable_frames(protocol, rng):
    value = rng.randint(1, 9999) / 1000
    return {
        "mt-sics": [mtsics.weight_frame(False, value, "kg"), b"S +\r\n", b"S -\r\n", mtsics.weight_frame(True, -value, "kg")],
        "toledo-8217": [toledo8217.status_frame(b) for b in (1, 2, 4, 8)],
        "cas": [cas.frame("US", "GS", value), cas.frame("OL", "GS", None), cas.frame("ST", "GS", -value)],
        "massa-k-100": [massak.ack_massa(round(value * 1000), 1, False, False, False), massak.error(8),
                        massak.ack_massa(-round(value * 1000), 1, True, False, False)],
        "hid-pos": [hidpos.report(s, "kg", -3, round(value * 1000)) for s in (1, 3, 5, 6, 7, 8)],
    }[protocol]


# garbage that cannot spell a stable frame by itself
SAFE_GARBAGE = {"mt-sics": b"SDI+- \r\nZTAxyz", "toledo-8217": b"\x02?\r abc\x01", "cas": b"ST,GUNO+-\r\n kg",
                "massa-k-100": b"\x55\xce\x24\x00\x01\x09", "hid-pos": b"\x04\x02\x01\x00\xff"}
PROTOCOLS = sorted(CODECS)


def chunks(data, rng):
    i = 0
    while i < len(data):
        n = rng.randint(1, 8)
        yield data[i:i + n]
        i += n


def feed_all(codec, data, rng, hid=False):
    if hid:  # hidraw: one report (or a short read) per read
        return [x for piece in data for x in codec.feed(piece)]
    return [x for piece in chunks(b"".join(data), rng) for x in codec.feed(piece)]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(PROTOCOLS), st.binary(max_size=400), st.integers(0, 2**32))
def test_random_bytes_never_raise(protocol, data, seed):
    codec = CODECS[protocol]("kg")
    for reading in feed_all(codec, [data], random.Random(seed)):
        assert isinstance(reading, Reading)
        if reading.stable:  # a stable reading is backed by a whole good frame in the input
            assert reading.frame in data and reading.value is not None and reading.value >= 0
            assert CODECS[protocol]("kg").feed(reading.frame)[-1] == reading


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(PROTOCOLS), st.integers(0, 2**32), st.integers(1, 12))
def test_truncated_unstable_frames_and_garbage_never_make_a_stable_weight(protocol, seed, n):
    rng = random.Random(seed)
    pieces = []
    for _ in range(n):
        frame = rng.choice(unstable_frames(protocol, rng))
        pieces.append(frame[:rng.randint(1, len(frame))] if rng.random() < 0.4 else frame)
        if rng.random() < 0.4:
            pieces.append(bytes(rng.choice(SAFE_GARBAGE[protocol]) for _ in range(rng.randint(1, 10))))
    readings = feed_all(CODECS[protocol]("kg"), pieces, rng, hid=protocol == "hid-pos")
    assert not any(x.stable for x in readings)


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(PROTOCOLS), st.binary(max_size=60), st.integers(0, 2**32))
def test_resynchronises_on_the_next_good_frame(protocol, garbage, seed):
    rng = random.Random(seed)
    cut = rng.choice(unstable_frames(protocol, rng))
    good, value = stable_frame(protocol, rng)
    good2, value2 = stable_frame(protocol, rng)
    codec = CODECS[protocol]("kg")
    # a line protocol needs the end of the garbage line before a frame can start
    sep = {"mt-sics": b"\r\n", "cas": b"\r\n", "toledo-8217": b"\r"}.get(protocol, b"")
    pieces = [garbage, cut[:rng.randint(1, len(cut))] + sep, good, good2]
    readings = feed_all(codec, pieces, rng, hid=protocol == "hid-pos")
    stable = [x.value for x in readings if x.stable]
    assert stable[-2:] == [value, value2] or stable[-1:] == [value2]
    assert stable[-1] == value2


def test_every_scale_profile_loads():
    from terminal.devices.profiles import available
    from terminal.devices.scales.profile import load

    names = available("scales")
    protocols = {load(n)[1]["protocol"] for n in names}
    assert protocols == set(CODECS) and len(names) >= 5


# ---- drivers against pty emulators ----

SERIAL_PROFILES = ["mettler-toledo-ics425", "mettler-toledo-ariva-s-8217", "cas-pdii", "massa-k-mk-15-2-tb"]


def serial_profile(name):
    from terminal.devices.scales.profile import load

    data = dict(load(name)[1])
    data["poll_interval"] = 0.05
    return data


def settled(driver, value, timeout=5.0):
    """The first stable reading of `value` (older readings may still be in the buffer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reading = driver.stable_weight(timeout=deadline - time.monotonic())
        if reading is not None and reading.value == pytest.approx(value):
            return reading
    return None


@pytest.mark.parametrize("name", SERIAL_PROFILES)
def test_driver_against_emulator_settles_tares_and_survives_unplug(name, tmp_path):
    from terminal.devices.scales.driver import ScaleDriver
    from terminal.emulators.scale import ScaleEmulator

    profile = serial_profile(name)
    said = []
    with ScaleEmulator(profile, link=str(tmp_path / "scale"), settle=0.15) as emu:
        emu.put(2.0)
        with ScaleDriver(profile, emu.port, say=said.append) as driver:
            first = driver.stable_weight(timeout=5)
            assert first is not None and first.value == pytest.approx(2.0) and first.stable
            emu.put(3.5)  # moving: some readings in motion, none stable until it settles
            weight = driver.stable_weight(timeout=5)
            assert weight is not None and weight.value == pytest.approx(3.5)

            emu.put(99.0)  # overload: never a stable weight
            time.sleep(0.2)
            over = [x for x in driver.readings(count=3, timeout=2)]
            assert over and not any(x.stable for x in over) and {x.status for x in over} == {"overload"}
            emu.put(3.5)

            if "tare" in profile["commands"]:
                assert settled(driver, 3.5).value == pytest.approx(3.5)
                driver.tare()
                time.sleep(0.3)  # let the scale take the tare before the load changes
                emu.put(4.0)
                net = settled(driver, 0.5)
                assert net.value == pytest.approx(0.5) and net.net

            emu.garbage()
            emu.partial()
            assert driver.stable_weight(timeout=5) is not None

            emu.unplug()
            time.sleep(0.2)
            threading.Timer(0.3, emu.replug).start()
            back = driver.stable_weight(timeout=6)
            assert back is not None and back.stable
            assert driver.reconnects >= 1
            assert any("lost" in s for s in said) and any("reconnected" in s for s in said)


# ---- CLI ----

def test_cli_probe_against_emulator_in_a_subprocess(tmp_path):
    import json
    import subprocess
    import sys

    from click.testing import CliRunner

    from terminal.cli import main

    link = tmp_path / "scale"
    emu = subprocess.Popen([sys.executable, "-m", "terminal.cli", "emulate", "scale", "--profile",
                            "mettler-toledo-ics425", "--link", str(link), "--load", "1.5"],
                           stdout=subprocess.PIPE, text=True)
    try:
        assert emu.stdout.readline().strip() == str(link)
        result = CliRunner().invoke(main, ["devices", "probe", "--profile", "mettler-toledo-ics425",
                                           "--port", str(link), "--count", "3", "--json"])
        assert result.exit_code == 0, result.output
        lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
        assert len(lines) == 3 and lines[-1]["unit"] == "kg"
        assert set(lines[0]) >= {"value", "unit", "stable", "net", "tare", "status"}
    finally:
        emu.terminate()
        emu.wait(5)
    assert CliRunner().invoke(main, ["devices", "list"]).exit_code == 0
    missing = CliRunner().invoke(main, ["devices", "probe", "--profile", "no-such", "--port", "x"])
    assert missing.exit_code != 0 and "no scale, scanner or camera profile" in missing.output


def test_cli_emulator_takes_loads_from_stdin(tmp_path):
    """`emulate scale --stdin`: each line puts a load on (the demo's pack station screen writes them);
    the first ends the --loads script; a line that is not a load changes nothing."""
    import subprocess
    import sys

    from terminal.devices.scales.driver import ScaleDriver
    from terminal.devices.scales.profile import load

    link = tmp_path / "scale"
    emu = subprocess.Popen([sys.executable, "-m", "terminal.cli", "emulate", "scale", "--profile",
                            "mettler-toledo-ics425", "--link", str(link), "--load", "0", "--loads", "0.5,0.7",
                            "--every", "0.5", "--stdin"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert emu.stdout.readline().strip() == str(link)
        with ScaleDriver(load("mettler-toledo-ics425")[1], str(link), say=lambda _text: None) as driver:

            def put(text):
                emu.stdin.write(text + "\n")
                emu.stdin.flush()

            put("1.234")
            assert settled(driver, 1.234) is not None
            put("not a load")
            put("-1")
            put("2,5")  # a decimal comma
            assert settled(driver, 2.5) is not None
            time.sleep(1.2)  # the --loads script would have put 0.5 or 0.7 on by now
            later = list(driver.readings(count=10, timeout=2))[-3:]
            assert later and all(x.value == pytest.approx(2.5) for x in later), later
            put("0")  # the parcel taken off
            assert settled(driver, 0.0) is not None
    finally:
        emu.terminate()
        _out, err = emu.communicate(timeout=5)
    assert "'not a load'" in err and "'-1'" in err


# ---- USB HID POS scale against a FIFO standing in for /dev/hidrawN ----

def test_hid_driver_against_emulator_settles_and_survives_unplug(tmp_path):
    from terminal.devices.scales.driver import ScaleDriver
    from terminal.devices.scales.profile import load
    from terminal.emulators.scale import HidScaleEmulator

    profile = dict(load("dymo-m10")[1])
    profile["poll_interval"] = 0.02
    said = []
    with HidScaleEmulator(profile, link=str(tmp_path / "hidraw0"), settle=0.1) as emu:
        emu.set_weight(2.5)
        with ScaleDriver(profile, emu.port, say=said.append) as driver:
            weight = settled(driver, 2.5, timeout=3)
            assert weight is not None and weight.stable and weight.unit == "kg"
            assert said == []  # no writer yet at open is not a lost device

            emu.motion()
            time.sleep(0.05)
            moving = list(driver.readings(count=8, timeout=2))[-4:]
            assert moving and not any(x.stable for x in moving) and {x.status for x in moving} == {"motion"}

            emu.put(99.0)
            time.sleep(0.05)
            over = list(driver.readings(count=8, timeout=2))[-4:]
            assert over and not any(x.stable for x in over) and {x.status for x in over} == {"overload"}

            emu.put(-0.25)
            under = [x for x in driver.readings(count=20, timeout=2) if x.status == "under_zero"]
            assert under and not any(x.stable for x in under) and under[-1].value == pytest.approx(-0.25)

            emu.put(1.25)
            assert settled(driver, 1.25, timeout=3) is not None

            emu.unplug()
            assert not emu.link.exists()
            threading.Timer(0.2, emu.replug).start()
            emu.put(0.75)
            back = settled(driver, 0.75, timeout=3)
            assert back is not None and back.stable
            assert driver.reconnects >= 1
            assert any("lost" in s for s in said) and any("reconnected" in s for s in said)


def test_cli_probe_by_path_opens_the_port_once(tmp_path, monkeypatch):
    """A 7E1 Toledo 8217 given by its path (as the help allows), against the pty emulator: the
    port is opened once (a second open of such a port fails on real adapters)."""
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from terminal.cli import main
    from terminal.devices.scales.driver import ScaleDriver
    from terminal.devices.scales.profile import load
    from terminal.emulators.scale import ScaleEmulator

    path = Path(__file__).parent.parent / "firmware_profiles" / "scales" / "mettler-toledo-ariva-s-8217.toml"
    profile = load(str(path))[1]
    assert profile.get("parity") == "E" and profile.get("bytesize") == 7
    opens = []
    real_open = ScaleDriver.open

    def counting_open(self):
        opens.append(self.url)
        return real_open(self)

    monkeypatch.setattr(ScaleDriver, "open", counting_open)
    with ScaleEmulator(profile) as emu:
        emu.put(2.5)
        result = CliRunner().invoke(main, ["devices", "probe", "--profile", str(path), "--port", emu.port,
                                           "--count", "2", "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert len(lines) == 2 and lines[0]["profile"] == "mettler-toledo-ariva-s-8217"
    assert opens == [emu.port]
