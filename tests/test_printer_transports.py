"""Printer URLs, transports and the status codecs (~HS, DLE EOT), over real sockets and files."""

import socket
import threading

import pytest

from printers.status import (
    StatusError,
    escpos_status_byte,
    format_zpl_host_status,
    parse_escpos_status,
    parse_zpl_host_status,
)
from printers.transports import PrinterURLError, TransportError, open_transport, parse_url

# A ~HS answer as a Zebra sends it: paper out, head up, 2 formats waiting, 812-dot label.
HS_PAPER_OUT = (b"\x02030,1,0,0812,002,0,0,0,000,0,0,0\x03\r\n"
                b"\x02001,0,1,0,0,2,6,0,00000000,1,000\x03\r\n"
                b"\x021234,0\x03\r\n")
HS_READY = (b"\x02030,0,0,1218,000,0,0,0,000,0,0,0\x03\r\n"
            b"\x02001,0,0,0,1,2,6,0,00000000,1,000\x03\r\n"
            b"\x021234,0\x03\r\n")


def test_zpl_host_status_fields():
    status = parse_zpl_host_status(HS_PAPER_OUT)
    assert status.paper_out and status.head_open and not status.paused and not status.ribbon_out
    assert status.formats_in_buffer == 2 and status.label_length_dots == 812 and status.print_mode == 2
    assert not status.ready and status.problems() == ["paper_out", "head_open"]
    ready = parse_zpl_host_status(HS_READY)
    assert ready.ready and ready.label_length_dots == 1218 and not ready.partial_format


def test_zpl_host_status_pause_ribbon_and_counts():
    status = parse_zpl_host_status(
        b"\x02030,0,1,1218,000,1,0,1,000,0,0,1\x03\r\n\x02001,0,0,1,1,1,6,1,00000042,1,000\x03\r\n\x021234,0\x03\r\n")
    assert status.paused and status.ribbon_out and status.buffer_full and status.partial_format
    assert status.over_temperature and status.labels_remaining == 42 and status.print_mode == 1


def test_zpl_host_status_round_trip_and_bad_answers():
    data = format_zpl_host_status(paper_out=True, formats_in_buffer=3, labels_remaining=7)
    status = parse_zpl_host_status(data)
    assert (status.paper_out, status.formats_in_buffer, status.labels_remaining) == (True, 3, 7)
    with pytest.raises(StatusError, match="3 <STX>"):
        parse_zpl_host_status(HS_READY[:40])
    with pytest.raises(StatusError, match="string 2 needs 11 fields"):
        parse_zpl_host_status(HS_READY.replace(b"00000000,1,000", b"00000000"))


def test_escpos_status_bytes():
    # Epson reference values: online 0x12; paper end: DLE EOT 1 0x1A (offline),
    # DLE EOT 2 0x32 (stopped by paper end), DLE EOT 4 0x7E (near end + end).
    assert escpos_status_byte(1) == 0x12
    assert escpos_status_byte(1, offline=True) == 0x1A
    assert escpos_status_byte(2, paper_end=True) == 0x32
    assert escpos_status_byte(2, cover_open=True) == 0x16
    assert escpos_status_byte(4, paper_end=True) == 0x7E
    assert escpos_status_byte(4, paper_near_end=True) == 0x1E
    status = parse_escpos_status({1: 0x1A, 2: 0x32, 3: 0x12, 4: 0x7E})
    assert status.offline and status.paper_out and status.paper_near_end and not status.head_open
    cover = parse_escpos_status({1: 0x1A, 2: 0x16, 4: 0x12})
    assert cover.head_open and not cover.paper_out and cover.problems() == ["head_open", "offline"]
    assert parse_escpos_status({1: 0x12, 2: 0x12, 3: 0x12, 4: 0x1E}).ready
    with pytest.raises(StatusError, match="fixed bits"):
        parse_escpos_status({1: 0x00})


@pytest.mark.parametrize("url, message", [
    ("lpt://printer", "unknown printer URL scheme 'lpt'"),
    ("printer:9100", "not a printer URL"),
    ("", "empty"),
    ("tcp://:9100", "missing host"),
    ("tcp://host:http", "port must be a number"),
    ("usb://04b8", "usb://VENDOR:PRODUCT"),
    ("usb://zz:0202", "usb://VENDOR:PRODUCT"),
    ("serial:///dev/ttyUSB0?speed=9600", "unknown serial setting 'speed'"),
    ("serial:///dev/ttyUSB0?baud=fast", "bad value 'fast' for baud"),
    ("socket://localhost", "missing port"),
    ("cups://", "cups://QUEUE"),
])
def test_bad_urls(url, message):
    with pytest.raises(PrinterURLError, match=message):
        open_transport(url)


def test_good_urls_parse():
    assert parse_url("tcp://10.0.0.5") == ("tcp", {"host": "10.0.0.5", "port": 9100})
    assert parse_url("usb://04b8:0202") == ("usb", {"vendor": 0x04B8, "product": 0x0202})
    assert parse_url("usb://04b8:0e28") == ("usb", {"vendor": 0x04B8, "product": 0x0E28})  # hex letters
    assert parse_url("serial:///dev/ttyUSB0?baud=19200&parity=even&rtscts=1") == (
        "serial", {"path": "/dev/ttyUSB0", "settings": {"baudrate": 19200, "parity": "E", "rtscts": True}})
    assert parse_url("cups://Zebra_ZD421") == ("cups", {"queue": "Zebra_ZD421"})
    assert parse_url("/dev/usb/lp0") == ("file", {"path": "/dev/usb/lp0"})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_is_clear():
    port = _free_port()
    with pytest.raises(TransportError, match=f"cannot connect to printer at tcp://127.0.0.1:{port}: connection refused"):
        open_transport(f"tcp://127.0.0.1:{port}", timeout=1)


def test_missing_device_and_serial_port_are_clear(tmp_path):
    with pytest.raises(TransportError, match="cannot open printer at file:///"):
        open_transport(f"file://{tmp_path}/no/such/dir/out.prn")
    with pytest.raises(TransportError, match="cannot open printer at serial:///dev/ttyNOPE"):
        open_transport("serial:///dev/ttyNOPE?baud=9600")


def test_tcp_write_and_read_on_a_real_socket():
    server = socket.create_server(("127.0.0.1", 0))
    got = []

    def peer():
        conn, _ = server.accept()
        with conn:
            got.append(conn.recv(100))
            conn.sendall(b"pong")

    thread = threading.Thread(target=peer)
    thread.start()
    with open_transport(f"tcp://127.0.0.1:{server.getsockname()[1]}", timeout=2) as printer:
        printer.write(b"ping")
        assert printer.read(10, timeout=2) == b"pong"
        assert printer.read(10, timeout=2) is None  # the peer closed
    thread.join(2)
    server.close()
    assert got == [b"ping"]


def test_socket_url_through_pyserial():
    server = socket.create_server(("127.0.0.1", 0))

    def peer():
        conn, _ = server.accept()
        with conn:
            conn.sendall(conn.recv(100).upper())

    thread = threading.Thread(target=peer)
    thread.start()
    with open_transport(f"socket://127.0.0.1:{server.getsockname()[1]}", timeout=2) as printer:
        printer.write(b"abc")
        assert printer.read(10, timeout=2) == b"ABC"
    thread.join(2)
    server.close()


def test_file_transport_appends(tmp_path):
    path = tmp_path / "out.prn"
    for part in (b"^XA^FDone^FS^XZ", b"^XA^FDtwo^FS^XZ"):
        with open_transport(f"file://{path}") as printer:
            assert not printer.can_read
            printer.write(part)
    assert path.read_bytes() == b"^XA^FDone^FS^XZ^XA^FDtwo^FS^XZ"
