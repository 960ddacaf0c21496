"""ESC/POS receipts: golden bytes, Cyrillic in CP866, decode, preview round trip with zxing-cpp, bad input.

Golden files: tests/golden/escpos/<template>--<profile>.bin hold the exact job bytes of each template's
sample data (printers.receipts.SAMPLES) for each ESC/POS profile. After an intended change, rewrite them with
    CELLWMS_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_receipts.py
(each rewritten case then fails, naming its file) and review the diff of the decoded text (`python -m printers.escpos_decode` is not needed: the test prints it).
"""

import copy
import dataclasses
from pathlib import Path

import pytest
import zxingcpp

from printers.errors import TemplateError
from printers.escpos import EscposDocument, encode_text
from printers.escpos_decode import decode
from printers.profiles import ProfileError, load_profile
from printers.receipt_preview import preview_png, render_image
from printers.receipts import SAMPLES, TEMPLATES, render
from tests.golden_files import check_golden

GOLDEN = Path(__file__).parent / "golden" / "escpos"
PROFILES = ["epson-tm-t20iii", "xprinter-xp-58iih"]
CASES = [(t, p) for t in TEMPLATES for p in PROFILES]
PAYLOAD_KEY = {"packing-slip": "order", "handoff-act": "manifest", "receiving-act": "number"}
TITLE = {"packing-slip": "Упаковочный лист", "handoff-act": "Акт приёма-передачи", "receiving-act": "Акт приёмки"}


def profile_without(name: str, *features: str):
    profile = load_profile(name)
    return dataclasses.replace(profile, features=profile.features - set(features))


@pytest.mark.parametrize(("template", "profile"), CASES)
def test_golden_bytes(template, profile):
    data = render(template, SAMPLES[template], profile)
    path = GOLDEN / f"{template}--{profile}.bin"
    check_golden(path, data, lambda: "\n".join(decode(data).lines))


@pytest.mark.parametrize("profile", PROFILES)
def test_profiles_are_real(profile):
    p = load_profile(profile)
    assert p.language == "escpos" and p.dpi == 203 and p.cyrillic_code_page == "CP866"
    assert p.code_pages["CP866"] == 17
    width = {"epson-tm-t20iii": (80, 576, 48), "xprinter-xp-58iih": (58, 384, 32)}[profile]
    assert (p.paper_width_mm, p.chars_per_line * 12, p.chars_per_line) == width
    assert p.has("cutter") == (profile == "epson-tm-t20iii")


@pytest.mark.parametrize(("template", "profile"), CASES)
def test_cyrillic_is_cp866_after_esc_t(template, profile):
    data = render(template, SAMPLES[template], profile)
    assert data.startswith(b"\x1b@\x1bt\x11")  # ESC @, then ESC t 17 = CP866
    title = TITLE[template]
    assert title.encode("cp866") in data.replace(b"\n", b" ")
    assert "Упаковочный лист".encode("cp866") == bytes.fromhex("93afa0aaaea2aee7adeba920aba8e1e2")
    decoded = decode(data)
    assert decoded.code_pages == [17] and not decoded.unknown
    text = " ".join(decoded.lines)
    assert title in text


def test_decode_gives_text_back():
    data = render("packing-slip", SAMPLES["packing-slip"], "xprinter-xp-58iih")
    lines = decode(data).lines
    assert "Упаковочный лист" in lines
    assert "1. Футболка хлопковая чёрная," in lines and "   размер M" in lines
    assert "   TS-001-BLK-M             2 шт" in lines
    assert "Упаковал: Иванова А. С." in lines
    assert all(len(line) <= 32 for line in lines)
    assert decode(render("handoff-act", SAMPLES["handoff-act"], "epson-tm-t20iii")).cuts == 1


def test_receiving_act_marks_each_discrepancy_and_has_signatures():
    lines = decode(render("receiving-act", SAMPLES["receiving-act"], "xprinter-xp-58iih")).lines
    assert all(len(line) <= 32 for line in lines)
    assert "Поставка PO-240514-03" in lines and "Товар             ожид/прин/брак" in lines
    assert lines[lines.index("   MUG-330               12/10/0") + 1] == "   >> НЕДОСТАЧА"
    assert lines[lines.index("   NB-A5-DOT             30/29/1") + 1] == "   >> БРАК"
    assert lines[lines.index("   TS-001-BLK-M          24/24/0") + 1].startswith("2. ")  # no mark: it matched
    summary = lines[lines.index("Расхождения: 4") + 1:lines.index("Расхождения: 4") + 5]
    assert summary == ["2. MUG-330             НЕДОСТАЧА", "3. NB-A5-DOT                БРАК",
                       "4. PEN-BLU          НЕ ПО ЗАЯВКЕ", "5. 4601234567893  НЕИЗВЕСТНЫЙ ШК"]
    assert "Недостача, шт:                 2" in lines and "Излишек, шт:                   0" in lines
    assert "Сдал (водитель поставщика):" in lines and "Принял (склад): Сидоров П. А." in lines
    assert sum(line.startswith("Подпись ___") for line in lines) == 2
    clean = copy.deepcopy(SAMPLES["receiving-act"])
    clean["lines"] = [clean["lines"][0]]
    assert "Расхождений нет" in decode(render("receiving-act", clean, "epson-tm-t20iii")).lines


def test_raw_cp866_line_roundtrip():
    profile = load_profile("epson-tm-t20iii")
    doc = EscposDocument(profile)
    doc.line("Съешь ещё этих мягких французских булок, №5", "text")
    assert doc.bytes() == b"\x1b@\x1bt\x11" + "Съешь ещё этих мягких французских булок, №5".encode("cp866") + b"\n"
    assert decode(doc.bytes()).lines == ["Съешь ещё этих мягких французских булок, №5"]


@pytest.mark.parametrize(("template", "profile"), CASES)
@pytest.mark.parametrize("native", [True, False], ids=["native", "raster"])
@pytest.mark.parametrize("payload", ["sample", "1234567890128", "Ab{c}-07"])
def test_preview_barcodes_decode_with_zxing(template, profile, native, payload):
    printer = load_profile(profile) if native else profile_without(profile, "barcode", "qr")
    data = copy.deepcopy(SAMPLES[template])
    if payload != "sample":
        data[PAYLOAD_KEY[template]] = payload
    expected = data[PAYLOAD_KEY[template]]
    job = render(template, data, printer)
    decoded = decode(job)
    if native:
        assert [b.data for b in decoded.barcodes] == [expected] * len(decoded.barcodes)
    else:
        assert not decoded.barcodes and decoded.images  # everything went as GS v 0
    image = render_image(job, printer.chars_per_line * 12)
    found = sorted((r.format.name, r.text) for r in zxingcpp.read_barcodes(image))
    want = [("Code128", expected)] + ([("QRCode", expected)] if template == "handoff-act" else [])
    assert found == sorted(want)


def test_preview_png_is_png_of_print_width():
    import io

    from PIL import Image

    profile = load_profile("xprinter-xp-58iih")
    png = preview_png(render("handoff-act", SAMPLES["handoff-act"], profile), profile)
    image = Image.open(io.BytesIO(png))
    assert png.startswith(b"\x89PNG") and image.width == 384 and image.height > 600


# bad input


def with_field(template, path, value):
    data = copy.deepcopy(SAMPLES[template])
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(("template", "path", "value", "field"), [
    ("packing-slip", ["order"], KeyError, "order"),
    ("packing-slip", ["packer"], "  ", "packer"),
    ("packing-slip", ["lines"], [], "lines"),
    ("packing-slip", ["lines", 1, "name"], KeyError, "lines[1].name"),
    ("packing-slip", ["lines", 0, "qty"], 0, "lines[0].qty"),
    ("packing-slip", ["lines", 0, "qty"], 1.5, "lines[0].qty"),
    ("packing-slip", ["lines", 2, "colour"], "red", "lines[2].colour"),
    ("packing-slip", ["customer"], "x", "customer"),
    ("packing-slip", ["shop"], "Shop 🛒", "shop"),
    ("packing-slip", ["lines", 0, "name"], "Ґудзик", "lines[0].name"),
    ("packing-slip", ["order"], "ЗАКАЗ-1", "order"),
    ("packing-slip", ["order"], "SO-" + "X" * 40, "order"),
    ("handoff-act", ["manifest"], KeyError, "manifest"),
    ("handoff-act", ["parcels", 1, "tracking"], None, "parcels[1].tracking"),
    ("handoff-act", ["parcels", 0, "weight_kg"], "heavy", "parcels[0].weight_kg"),
    ("handoff-act", ["carrier"], ["СДЭК"], "carrier"),
    ("receiving-act", ["number"], KeyError, "number"),
    ("receiving-act", ["receiver"], "", "receiver"),
    ("receiving-act", ["number"], "ПОСТАВКА-1", "number"),
    ("receiving-act", ["lines"], [], "lines"),
    ("receiving-act", ["lines", 1, "kind"], "lost", "lines[1].kind"),
    ("receiving-act", ["lines", 1, "received"], -1, "lines[1].received"),
    ("receiving-act", ["lines", 0, "expected"], KeyError, "lines[0].expected"),
    ("receiving-act", ["lines", 0, "damaged"], "1", "lines[0].damaged"),
    ("receiving-act", ["lines", 2, "lot"], "L1", "lines[2].lot"),
    ("receiving-act", ["totals"], KeyError, "totals"),
    ("receiving-act", ["totals", "short"], 1.5, "totals.short"),
    ("receiving-act", ["totals", "extra"], 1, "totals.extra"),
])
def test_bad_input_names_the_field(template, path, value, field):
    with pytest.raises(TemplateError) as error:
        render(template, with_field(template, path, value), "xprinter-xp-58iih")
    assert error.value.field == field
    assert field in str(error.value)


def test_long_word_is_wrapped_hard():
    token = "Ж" * 100
    data = with_field("packing-slip", ["lines", 0, "name"], token)
    lines = decode(render("packing-slip", data, "xprinter-xp-58iih")).lines
    assert all(len(line) <= 32 for line in lines)
    pieces = [line.strip() for line in lines if set(line.strip().removeprefix("1.").strip()) == {"Ж"}]
    assert "".join(p.removeprefix("1.").strip() for p in pieces) == token


def test_typographic_characters_are_replaced():
    assert encode_text("«Ёлка» — №1…", "cp866", "shop") == '"Ёлка" - №1...'.encode("cp866")


def test_unknown_profile_and_template():
    with pytest.raises(ProfileError, match="no printer profile 'epson-tm-t99'"):
        render("packing-slip", SAMPLES["packing-slip"], "epson-tm-t99")
    with pytest.raises(TemplateError) as error:
        render("gift-card", {}, "epson-tm-t20iii")
    assert error.value.field == "template"
