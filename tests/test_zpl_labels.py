"""ZPL labels: golden bytes per template and profile, barcode round trip through the preview, bad input.

Update the goldens after an intended layout change:
    CELLWMS_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_zpl_labels.py
(each rewritten case then fails, naming its file), then review `git diff tests/golden/zpl/`
and run again without it.
"""

import io
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from printers.errors import TemplateError
from printers.labels import TEMPLATES, build, render
from printers.preview import render_image, render_png
from printers.profiles import load_profile
from printers.samples import SAMPLE_VARIANTS, SAMPLES
from tests.golden_files import check_golden

GOLDEN = Path(__file__).parent / "golden" / "zpl"
PROFILES = ["zebra-zd421-203", "zebra-zt411-300", "zebra-zt411-600", "xprinter-xp-420b"]
CASES = {name: (name, data) for name, data in SAMPLES.items()} | SAMPLE_VARIANTS


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_bytes(case, profile):
    template, data = CASES[case]
    zpl = render(template, data, profile)
    path = GOLDEN / f"{case}.{profile}.zpl"
    check_golden(path, zpl, lambda: "see the module docstring to update")


def test_goldens_cover_every_template():
    assert {template for template, _ in CASES.values()} == set(TEMPLATES)


def _symbols(zpl: bytes, dpi: int):
    return zxingcpp.read_barcodes(render_image(zpl, dpi))


_FORMATS = {"code128": "Code128", "gs1-128": "Code128", "ean13": "EAN13", "datamatrix": "DataMatrix",
            "gs1-datamatrix": "DataMatrix"}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_round_trip_barcodes(case, profile):
    template, data = CASES[case]
    canvas = build(template, data, profile)
    found = _symbols(canvas.zpl(), canvas.profile.dpi)
    got = sorted((s.format.name, s.bytes.decode("ascii")) for s in found)
    want = sorted((_FORMATS[b.symbology], b.payload) for b in canvas.barcodes)
    assert got == want
    for symbol, barcode in zip(sorted(found, key=lambda s: (s.format.name, s.bytes)),
                               sorted(canvas.barcodes, key=lambda b: (_FORMATS[b.symbology], b.payload)),
                               strict=True):
        gs1 = barcode.symbology.startswith("gs1")
        assert (symbol.content_type == zxingcpp.ContentType.GS1) == gs1
        assert symbol.symbology_identifier in (("]C1", "]d2") if gs1 else ("]C0", "]E0", "]d1"))


def test_expected_payloads_of_the_samples():
    canvas = build("shipping-label", SAMPLES["shipping-label"], "zebra-zd421-203")
    assert {(b.field, b.payload) for b in canvas.barcodes} == {
        ("tracking", "1234567890123"), ("sscc", "00146070123456789016")}
    assert {b.payload for b in build("sku-sticker", SAMPLES["sku-sticker"], "zebra-zd421-203").barcodes} == {
        "4607012345677"}


GS1_CASES = {
    # HRI -> raw payload with GS after variable-length elements that are not last
    "(01)04607012345677(17)261231(10)L2405-07": "0104607012345677172612311" + "0L2405-07",
    "(01)04607012345677(10)AB_12(21)SN1": "010460701234567710AB_12\x1d21SN1",
    "(00)146070123456789016": "00146070123456789016",
    "(02)04607012345677(37)12(10)LOT7": "020460701234567737" + "12\x1d10LOT7",
}


@pytest.mark.parametrize("hri", sorted(GS1_CASES))
@pytest.mark.parametrize("kind", ["gs1_128", "gs1_datamatrix"])
def test_gs1_separators_round_trip(hri, kind):
    from printers.zpl import Canvas

    profile = load_profile("zebra-zd421-203")
    canvas = Canvas(profile, 100, 50)
    if kind == "gs1_128":
        canvas.gs1_128("value", 4, 4, hri, 15, 0.25)
    else:
        canvas.gs1_datamatrix("value", 4, 4, hri, 0.75)
    (symbol,) = _symbols(canvas.zpl(), profile.dpi)
    assert symbol.content_type == zxingcpp.ContentType.GS1
    assert symbol.bytes.decode("ascii") == GS1_CASES[hri] == canvas.barcodes[0].payload


def test_code128_escapes_round_trip():
    from printers.zpl import Canvas

    profile = load_profile("zebra-zd421-203")
    canvas = Canvas(profile, 100, 50)
    canvas.code128("v", 4, 4, "A>B^C~D_E 12345", 15, 0.25)
    (symbol,) = _symbols(canvas.zpl(), profile.dpi)
    assert symbol.text == "A>B^C~D_E 12345"


def test_gs1_128_zpl_uses_fnc1():
    zpl = render("shipping-label", SAMPLES["shipping-label"], "zebra-zd421-203").decode()
    assert "^FD>;>800146070123456789016^FS" in zpl
    from printers.zpl import Canvas

    canvas = Canvas(load_profile("zebra-zd421-203"), 100, 50)
    canvas.gs1_datamatrix("v", 4, 4, "(01)04607012345677(10)AB(21)X1")
    assert "^BXN,4,200,,,,_^FD_10104607012345677" "10AB_121X1^FS" in canvas.zpl().decode()


@pytest.mark.parametrize("profile", PROFILES)
def test_cyrillic_is_utf8_under_ci28(profile):
    zpl = render("badge", SAMPLES["badge"], profile)
    assert zpl.startswith(b"^XA^CI28")
    assert "^FDИванова Мария^FS".encode() in zpl
    font = load_profile(profile).font
    assert (b"^A@N," in zpl) == bool(font)
    if font:
        assert f",{font}^FD".encode() in zpl


def test_dots_scale_with_dpi():
    positions = {}
    for profile in ("zebra-zd421-203", "zebra-zt411-300", "zebra-zt411-600"):
        zpl = render("cell-label", SAMPLES["cell-label"], profile).decode()
        positions[profile] = zpl.split("\n")[2]  # the barcode line
    assert positions["zebra-zd421-203"].startswith("^FO32,168^BY3^BCN,144")
    assert positions["zebra-zt411-300"].startswith("^FO47,248^BY4^BCN,213")
    assert positions["zebra-zt411-600"].startswith("^FO94,496^BY9^BCN,425")


def test_preview_png_shows_cyrillic_text():
    png = render_png(render("badge", SAMPLES["badge"], "zebra-zd421-203"), 203)
    image = Image.open(io.BytesIO(png)).convert("L")
    assert image.size == (687, 432)
    name_row = image.crop((0, 32, 687, 80))  # the name line
    assert name_row.getextrema()[0] == 0  # ink drawn there


# --- bad input: each names the field ---------------------------------------------------------

def _error(template, data, profile="zebra-zd421-203"):
    with pytest.raises(TemplateError) as info:
        render(template, data, profile)
    return info.value


def test_unknown_template():
    assert _error("pallet-label", {}).field == "template"


@pytest.mark.parametrize("template,path", [
    ("cell-label", "address"), ("sku-sticker", "name"), ("sku-sticker", "sku"), ("tote-label", "code"),
    ("badge", "role"), ("shipping-label", "recipient.name"), ("shipping-label", "tracking"),
    ("shipping-label", "weight_kg"),
])
def test_missing_field(template, path):
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in SAMPLES[template].items()}
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    del node[last]
    error = _error(template, data)
    assert error.field == path and "missing" in str(error)


@pytest.mark.parametrize("profile", PROFILES)
def test_text_too_wide(profile):
    data = dict(SAMPLES["sku-sticker"], name="Очень длинное название товара, которое не помещается")
    error = _error("sku-sticker", data, profile)
    assert error.field == "name" and "mm available" in str(error)


@pytest.mark.parametrize("value,why", [
    ("4607012345670", "check digit"), ("46070123A5677", "12 or 13 digits"), ("460701234", "12 or 13 digits"),
])
def test_bad_ean13(value, why):
    error = _error("sku-sticker", dict(SAMPLES["sku-sticker"], ean13=value))
    assert error.field == "ean13" and why in str(error)


@pytest.mark.parametrize("sscc,why", [
    ("(00)146070123456789013", "check digit"),  # wrong SSCC check digit
    ("(00)14607012345678901", "pattern"),  # 17 digits, not 18
    ("(01)123", "pattern"),
    ("(10)ЛОТ", "pattern"),  # outside the GS1 character set
    ("(17)261331", "pattern"),  # month 13
    ("00146070123456789016", "(AI)value"),  # no parentheses
])
def test_bad_gs1(sscc, why):
    error = _error("shipping-label", dict(SAMPLES["shipping-label"], sscc=sscc))
    assert error.field == "sscc" and why in str(error)


def test_unknown_gs1_ai():
    error = _error("shipping-label", dict(SAMPLES["shipping-label"], sscc="(0)12345"))
    assert error.field == "sscc"


def test_code128_non_ascii():
    error = _error("badge", dict(SAMPLES["badge"], code="ПРОПУСК-1"))
    assert error.field == "code" and "ASCII" in str(error)
    assert _error("cell-label", {"address": "Б-01"}).field == "barcode"


def test_barcode_too_wide():
    error = _error("cell-label", {"address": "A-1", "barcode": "X" * 40})
    assert error.field == "barcode" and "mm available" in str(error)


def test_parcel_n_of_m():
    assert _error("shipping-label", dict(SAMPLES["shipping-label"], parcel=3, parcels=2)).field == "parcel"


def test_dataclass_input():
    from dataclasses import dataclass

    @dataclass
    class Cell:
        address: str

    assert render("cell-label", Cell("A-01-02-03"), "zebra-zd421-203") == render(
        "cell-label", {"address": "A-01-02-03"}, "zebra-zd421-203")
