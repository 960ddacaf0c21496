"""`cellwms print preview` and `cellwms print test` against the real emulators on 127.0.0.1."""

import pytest

from printers.profiles import load_profile
from server import create_app
from terminal.emulators.escpos_printer import EscposPrinterEmulator
from terminal.emulators.zpl_printer import ZplPrinterEmulator


@pytest.fixture
def cli(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/cli.db", "INSTANCE_PATH": str(tmp_path)})
    return app.test_cli_runner()


@pytest.fixture
def emulator(request):
    profile = load_profile(request.param)
    kind = ZplPrinterEmulator if profile.language == "zpl" else EscposPrinterEmulator
    printer = kind(profile)
    printer.start()
    yield printer
    printer.stop()


@pytest.mark.parametrize("emulator", ["zebra-zd421-203", "epson-tm-t20iii"], indirect=True)
def test_print_test_reaches_the_printer_once(cli, emulator):
    result = cli.invoke(args=["print", "test", "--profile", emulator.profile.name, "--to", emulator.url,
                              "--timeout", "20"])
    assert result.exit_code == 0, result.output
    assert "printed" in result.output
    assert len(emulator.complete_jobs()) == 1


def test_print_preview_writes_a_png_and_bad_input_is_named(cli, tmp_path):
    out = tmp_path / "slip.png"
    result = cli.invoke(args=["print", "preview", "packing-slip", "--profile", "xprinter-xp-58iih", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\x89PNG")
    data = tmp_path / "label.json"
    data.write_text('{"zone": "A"}', encoding="utf-8")
    broken = cli.invoke(args=["print", "preview", "cell-label", "--profile", "zebra-zd421-203",
                              "--data", str(data), "-o", str(tmp_path / "x.png")])
    assert broken.exit_code != 0 and "address" in broken.output
    unknown = cli.invoke(args=["print", "test", "--profile", "no-such-printer", "--to", "tcp://127.0.0.1:9"])
    assert unknown.exit_code != 0 and "no printer profile" in unknown.output
    bad_url = cli.invoke(args=["print", "test", "--profile", "zebra-zd421-203", "--to", "gopher://x"])
    assert bad_url.exit_code != 0 and "gopher" in bad_url.output
