"""Print through the ZPL and ESC/POS emulators over real TCP and pty serial ports, with faults."""

import threading
import time

import pytest

from printers.profiles import parse_profile
from printers.spool import PrinterSpool, SpoolError, zpl_formats, zpl_label_count
from printers.status import query_status
from printers.transports import open_transport
from terminal.emulators.escpos_printer import EscposPrinterEmulator
from terminal.emulators.zpl_printer import ZplPrinterEmulator

ZPL = parse_profile("test-zpl", {"vendor": "Zebra", "model": "ZD421", "language": "zpl", "dpi": 203,
                                 "print_width_mm": 104, "label_sizes": [[100, 150]], "status": "zpl-hs"})
ESCPOS = parse_profile("test-escpos", {"vendor": "Epson", "model": "TM-T20III", "language": "escpos", "dpi": 203,
                                       "print_width_mm": 72, "chars_per_line": 48, "code_pages": {"CP866": 17},
                                       "cyrillic_code_page": "CP866", "status": "escpos-dle-eot"})
LABEL = "^XA^CI28^FO50,50^A0N,40,40^FDЯчейка A-01-02^FS^FO50,120^BCN,80,Y,N,N^FD0102^FS^XZ".encode()
RECEIPT = b"\x1b@\x1bt\x11" + "Накладная 42\n".encode("cp866") + b"\x1dV\x41\x03"
FAST = {"first_backoff": 0.02, "max_backoff": 0.1, "timeout": 8, "io_timeout": 2, "status_timeout": 1}


@pytest.fixture
def zebra():
    with ZplPrinterEmulator(ZPL) as printer:
        yield printer


@pytest.fixture
def epson():
    printer = EscposPrinterEmulator(ESCPOS).start(tcp=True, serial=True)
    yield printer
    printer.stop()


def later(seconds, action):
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


def test_zpl_job_comes_back_byte_exact(zebra):
    job = LABEL + b"\r\n" + LABEL.replace(b"0102", b"0103")
    result = PrinterSpool(zebra.url, ZPL, **FAST).print(job)
    assert result.printed and result.confirmed and result.attempts == 1 and not result.resent
    jobs = zebra.wait_for_jobs(2)
    assert [j.data for j in jobs] == [LABEL, LABEL.replace(b"0102", b"0103")]
    assert zebra.label_count == 2


def test_zpl_framing_helpers():
    assert zpl_formats(b"~SD20^XA^FDa^FS^XZ\r\n^XA^FDb^FS^PQ3^XZ") == [b"~SD20^XA^FDa^FS^XZ",
                                                                    b"\r\n^XA^FDb^FS^PQ3^XZ"]
    assert [zpl_label_count(f) for f in (b"^XA^FDa^FS^XZ", b"^XA^FDb^PQ3^XZ", b"^XA^MD10^XZ")] == [1, 3, 0]


def test_emulator_answers_host_status(zebra):
    with open_transport(zebra.url, timeout=2) as printer:
        assert query_status(printer, "zpl-hs").ready
        zebra.set_paper(False)
        zebra.open_head()
        status = query_status(printer, "zpl-hs")
        assert status.paper_out and status.head_open and not status.ready
        assert status.label_length_dots == 1199  # 150 mm at 203 dpi


def test_paper_out_before_the_job_waits_then_prints_once(zebra):
    zebra.set_paper(False)
    timer = later(0.4, lambda: zebra.set_paper(True))
    reasons = []
    result = PrinterSpool(zebra.url, ZPL, **FAST, on_wait=reasons.append).print(LABEL)
    timer.join()
    assert result.printed and result.waited_s >= 0.3
    assert reasons and all("paper" in reason for reason in reasons)  # why it waits, for the station's health
    assert [j.data for j in zebra.wait_for_jobs(1)] == [LABEL]
    assert zebra.pending == []


def test_paper_runs_out_during_the_job(zebra):
    job = LABEL * 3
    zebra.go_slow(4000)  # the job takes ~0.1 s to arrive

    def run_out():
        while zebra.connections == 0:
            time.sleep(0.005)
        zebra.set_paper(False)
        time.sleep(0.5)
        assert len(zebra.complete_jobs()) < 3  # the rest waits in the printer's buffer
        zebra.set_paper(True)

    feeder = threading.Thread(target=run_out)
    feeder.start()
    result = PrinterSpool(zebra.url, ZPL, **FAST).print(job)
    feeder.join()
    assert result.printed and result.waited_s > 0 and not result.resent
    assert [j.data for j in zebra.wait_for_jobs(3)] == [LABEL] * 3
    assert zebra.label_count == 3


def test_head_open_waits_until_closed(zebra):
    zebra.open_head()
    timer = later(0.3, zebra.close_head)
    result = PrinterSpool(zebra.url, ZPL, **FAST).print(LABEL)
    timer.join()
    assert result.printed and result.waited_s > 0
    assert len(zebra.wait_for_jobs(1)) == 1


def test_dropped_connection_mid_job_prints_once(zebra):
    job = LABEL * 3
    zebra.drop_after(len(LABEL) + 20)  # the second format is cut
    result = PrinterSpool(zebra.url, ZPL, **FAST).print(job)
    assert result.printed and result.resent and result.attempts >= 2
    assert [j.data for j in zebra.wait_for_jobs(3)] == [LABEL] * 3
    assert zebra.label_count == 3


def test_dropped_after_the_whole_job_is_not_resent(zebra):
    # The status check, the counter query and the whole job arrive; the ~HS answer never comes back.
    counter_query = len(b'! U1 getvar "odometer.total_label_count"\r\n')
    zebra.drop_after(len(b"~HS") + counter_query + len(LABEL))
    result = PrinterSpool(zebra.url, ZPL, **FAST).print(LABEL)
    assert result.printed and not result.resent and result.attempts == 2
    assert [j.data for j in zebra.wait_for_jobs(1)] == [LABEL]


def test_unready_printer_gives_up_after_the_timeout(zebra):
    zebra.set_paper(False)
    with pytest.raises(SpoolError, match="paper_out") as caught:
        PrinterSpool(zebra.url, ZPL, **{**FAST, "timeout": 0.3}).print(LABEL)
    assert caught.value.status.paper_out
    assert zebra.jobs == []


def test_escpos_over_tcp(epson):
    result = PrinterSpool(epson.url, ESCPOS, **FAST).print(RECEIPT)
    assert result.printed and result.confirmed
    jobs = epson.wait_for_jobs(1)
    assert [j.data for j in jobs] == [RECEIPT]
    assert "Накладная 42".encode("cp866") in jobs[0].data


def test_escpos_over_pty_serial(epson):
    url = f"serial://{epson.serial_path}?baud=115200"
    result = PrinterSpool(url, ESCPOS, **FAST).print(RECEIPT)
    assert result.printed
    assert [j.data for j in epson.wait_for_jobs(1)] == [RECEIPT]


def test_dle_eot_answers_over_pty(epson):
    with open_transport(f"serial://{epson.serial_path}?baud=9600", timeout=2) as printer:
        assert query_status(printer, "escpos-dle-eot").ready
        epson.set_paper(False)
        status = query_status(printer, "escpos-dle-eot")
        assert status.paper_out and status.offline and status.raw == bytes([0x1A, 0x32, 0x12, 0x7E])
        epson.set_paper(True)
        epson.open_head()
        status = query_status(printer, "escpos-dle-eot")
        assert status.head_open and not status.paper_out and status.raw[1] == 0x16


def test_escpos_paper_end_waits_then_prints_once(epson):
    epson.set_paper(False)
    timer = later(0.3, lambda: epson.set_paper(True))
    result = PrinterSpool(epson.url, ESCPOS, **FAST).print(RECEIPT)
    timer.join()
    assert result.printed and result.waited_s > 0
    assert [j.data for j in epson.wait_for_jobs(1)] == [RECEIPT]


def test_escpos_dropped_connection_reprints_whole_receipt_once(epson):
    epson.drop_after(10)
    # the status check (4 x DLE EOT = 12 bytes) passes the cut: the first status read fails instead
    result = PrinterSpool(epson.url, ESCPOS, **FAST).print(RECEIPT)
    assert result.printed and result.attempts >= 2
    assert [j.data for j in epson.wait_for_jobs(1)] == [RECEIPT]


def test_escpos_dropped_mid_receipt_leaves_a_torn_part(epson):
    epson.drop_after(12 + 8)  # status check, then 8 bytes of the receipt
    result = PrinterSpool(epson.url, ESCPOS, **FAST).print(RECEIPT)
    assert result.printed and result.resent
    complete = epson.wait_for_jobs(1)
    assert [j.data for j in complete] == [RECEIPT]
    torn = [j for j in epson.jobs if not j.complete]
    assert [j.data for j in torn] == [RECEIPT[:8]]


def test_emulators_render_and_decode_jobs(zebra, epson):
    PrinterSpool(zebra.url, ZPL, **FAST).print(LABEL)
    png = zebra.png(zebra.wait_for_jobs(1)[0])
    assert png is not None and png.startswith(b"\x89PNG")
    PrinterSpool(epson.url, ESCPOS, **FAST).print(RECEIPT)
    receipt = epson.decode(epson.wait_for_jobs(1)[0])
    assert receipt.lines == ["Накладная 42"] and receipt.cuts == 1


def test_emulate_printer_command_runs_until_stopped(tmp_path):
    import signal
    import subprocess
    import sys

    child = subprocess.Popen(
        [sys.executable, "-m", "terminal.emulators.printer_cli", "--profile", "zebra-zd421-203", "--port", "0",
         "--out", str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        banner = child.stdout.readline()
        assert "ZPL printer emulator" in banner
        url = banner.split(" at ")[-1].strip()
        assert PrinterSpool(url, ZPL, **FAST).print(LABEL).printed
        assert child.stdout.readline().startswith("job 0:")
        assert (tmp_path / "job-0000.zpl").read_bytes() == LABEL
        assert (tmp_path / "job-0000.png").read_bytes().startswith(b"\x89PNG")
    finally:
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=30)  # a hang guard, not a speed limit
    assert child.returncode == 0 and "stopped" in out
