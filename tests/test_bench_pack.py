"""`cellwms bench pack --json` end to end with 3 orders on SQLite (real server, real agent,
emulated scanner, scale and printers), so the benchmark cannot rot. No time limit here."""

import json

from click.testing import CliRunner

from server.commands.bench import bench_group


def test_pack_bench_prints_one_json_object():
    result = CliRunner().invoke(bench_group, ["pack", "--orders", "3", "--json"])
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.output.splitlines() if line.startswith("{")]
    report = json.loads(line)
    assert {"samples", "p50_ms", "p95_ms", "max_ms", "backend"} <= report.keys()
    assert report["backend"] == "SQLite"
    assert len(report["samples"]) == 3
    assert all(sample > 0 for sample in report["samples"]), report["samples"]
    assert 0 < report["p50_ms"] <= report["p95_ms"] <= report["max_ms"]


def test_zpl_emulator_stamps_a_label_with_its_first_byte():
    import socket
    import time

    from terminal.emulators.zpl_printer import ZplPrinterEmulator

    with ZplPrinterEmulator() as printer:
        before = time.time()
        with socket.create_connection((printer.host, printer.port)) as conn:
            conn.sendall(b"~HS")
            conn.recv(200)
            conn.sendall(b"^XA^FO10,10^FDone^FS")
            time.sleep(0.05)
            conn.sendall(b"^XZ")
            [job] = printer.wait_for_jobs(1)
        wall, mono = job.first_byte
        assert before <= printer.first_bytes[0][0] <= wall <= job.printed_at - 0.04
        assert mono <= time.monotonic()
