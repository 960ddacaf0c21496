"""Scan classification: every kind of code, AIM prefixes, GS1 strings, marking codes, garbage."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.models import Order, Parcel, SkuBarcode, Tote
from server.services.scan import RESOLVERS, Kind, Lookup, Resolver, classify, decode, register_resolver
from tests import factories as f

GS = "\x1d"
EAN13 = "4601234567893"
GTIN14 = "04601234567893"
SSCC = "346012340000000018"
# A Chestny Znak code: 01 GTIN, 21 serial (13), GS, 91 key, GS, 92 signature (44).
SIGNATURE = "dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3Q="
MARKING = f"01{GTIN14}215Jb3Ac8dZ<Wq){GS}91EE06{GS}92{SIGNATURE}"


@pytest.fixture
def house(db):
    wh, z, cells, sku = f.stocked_warehouse()
    sku.barcodes.append(SkuBarcode(barcode="INT-0042", kind="internal"))
    f.user("anna", roles=("picker", "packer"), badge="BADGE-0001", password="secret-pass")
    db.session.add(Tote(warehouse_id=wh.id, code="TOTE-17"))
    order = Order(warehouse_id=wh.id, number="ORD-1001", customer_name="Ivan Petrov")
    db.session.add(order)
    db.session.flush()
    db.session.add(Parcel(order_id=order.id, code="PCL-1", sscc=SSCC, carrier="cdek", tracking_number="CDEK123456"))
    db.session.commit()
    return {"wh": wh, "cells": cells, "sku": sku, "order": order}


def test_cell_by_barcode_and_address(house, db):
    cell = house["cells"][0]
    cell.barcode = "C000001"
    db.session.commit()
    by_barcode = classify(b"C000001\r\n")
    assert (by_barcode.kind, by_barcode.entity_id) == (Kind.cell, cell.id)
    assert by_barcode.entity["address"] == "S-01-01-1-1"
    assert "S-01-01-1-1" in str(by_barcode.message)
    by_address = classify(b"S-01-01-1-1", house["wh"].id)
    assert (by_address.kind, by_address.entity_id) == (Kind.cell, cell.id)
    assert classify(b"S-01-01-1-1", house["wh"].id + 1).kind == Kind.unknown  # other warehouse


def test_sku_by_ean13_by_gtin14_and_internal(house):
    sku = house["sku"]
    for code in (EAN13, GTIN14, f"]E0{EAN13}", "INT-0042"):
        result = classify(code.encode())
        assert (result.kind, result.entity_id) == (Kind.sku, sku.id), code
        assert result.entity["code"] == sku.code
    assert classify(EAN13.encode()).gs1 == {"symbology": "", "gtin": GTIN14}


def test_unknown_gtin_says_so(house):
    result = classify(b"4607000000014")
    assert result.kind == Kind.unknown
    assert "04607000000014" in str(result.message)


def test_gs1_128_with_lot_and_expiry(house):
    result = classify(f"]C101{GTIN14}17261231100329{GS}21SN-7".encode())
    assert (result.kind, result.entity_id) == (Kind.sku, house["sku"].id)
    assert result.gs1["gtin"] == GTIN14
    assert result.gs1["expiry"] == "2026-12-31"
    assert result.gs1["lot"] == "0329"
    assert result.gs1["serial"] == "SN-7"
    assert result.gs1["symbology"] == "]C1"


def test_gs1_without_aim_prefix_and_hri(house):
    for code in (f"01{GTIN14}10LOT-5", f"(01){GTIN14}(10)LOT-5"):
        result = classify(code.encode())
        assert result.kind == Kind.sku, code
        assert result.gs1["lot"] == "LOT-5"


def test_marking_code_with_gs_separators(house):
    for prefix in ("]d2", ""):
        result = classify((prefix + MARKING).encode())
        assert result.kind == Kind.sku
        marking = result.gs1["marking_code"]
        assert marking["id"] == f"01{GTIN14}215Jb3Ac8dZ<Wq)"
        assert marking["key"] == "EE06"
        assert marking["crypto"] == SIGNATURE
        assert result.gs1["serial"] == "5Jb3Ac8dZ<Wq)"


def test_marking_code_short_crypto_tail_and_lost_gs(house):
    short = classify(f"]d201{GTIN14}21ABCDEFGHIJKLM{GS}93dGVz".encode())
    assert short.kind == Kind.sku
    assert short.gs1["marking_code"]["crypto_ai"] == "93"
    assert short.gs1["marking_code"]["crypto"] == "dGVz"
    # A keyboard wedge that dropped the GS separators.
    lost = classify(MARKING.replace(GS, "").encode())
    assert lost.kind == Kind.sku
    assert lost.gs1["marking_code"]["key"] == "EE06"


def test_gs1_unknown_gtin_goes_no_further(house):
    result = classify(f"]C101{4607000000014:014d}10X".encode())
    assert result.kind == Kind.unknown
    assert result.gs1["gtin"] == "04607000000014"


def test_badge_reveals_only_name_and_roles(house):
    result = classify(b"BADGE-0001")
    assert result.kind == Kind.badge
    assert result.entity == {"name": "Anna", "roles": ["packer", "picker"]}


def test_tote_order_parcel(house):
    assert classify(b"TOTE-17").kind == Kind.tote
    order = classify(b"ORD-1001")
    assert (order.kind, order.entity["number"]) == (Kind.order, "ORD-1001")
    assert "Ivan" not in str(order.answer())
    for code in ("PCL-1", "CDEK123456", SSCC, f"]C100{SSCC}"):
        result = classify(code.encode())
        assert (result.kind, result.entity["code"]) == (Kind.parcel, "PCL-1"), code


@pytest.mark.parametrize(
    "raw, defect",
    [
        (b"", "empty"),
        (b"\r\n", "empty"),
        (b"\x00", "control"),
        (b"S-01\x00-01-1-1", "control"),
        (b"\x07\x1b[2J", "control"),
        (b"x" * 10_240, "too_long"),
        (bytes(range(256)), "control"),
        (b"\xff\xfe garbage \xc3", None),
    ],
)
def test_garbage_is_unknown(house, raw, defect):
    result = classify(raw)
    assert result.kind == Kind.unknown
    assert result.scan.defect == defect
    assert str(result.message)
    assert "\x00" not in str(result.message)


def test_over_the_limit_is_unknown_and_keeps_the_length(house):
    result = classify(b"S-01-01-1-1" * 100, max_bytes=64)
    assert result.kind == Kind.unknown
    assert result.scan.defect == "too_long"
    assert "1100 bytes" in str(result.message)


def test_symbology_given_beside_the_code():
    scan = decode(f"01{GTIN14}10L1".encode(), symbology="C1")
    assert scan.symbology == "]C1"
    assert scan.explicit_gs1 and scan.gtin == GTIN14


def test_registry_is_a_seam(house, db):
    from sqlalchemy import select

    def wave_number(scan, warehouse_id):
        text = scan.lookup_text
        return text.removeprefix("WAVE:") if text and text.startswith("WAVE:") else None

    def describe(entity_id, scan):
        return entity_id, {"wave_of": entity_id}, "wave"

    saved = list(RESOLVERS)
    try:
        register_resolver(
            Resolver("wave", (Lookup(lambda p: select(Order.id).where(Order.number == p), wave_number),), describe),
            before="cell",
        )
        result = classify(b"WAVE:ORD-1001")
        assert (result.kind, result.entity) == ("wave", {"wave_of": house["order"].id})
        assert classify(b"ORD-1001").kind == Kind.order
    finally:
        RESOLVERS[:] = saved


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300) | st.text(max_size=120).map(str.encode))
def test_classify_never_raises(app, raw):
    result = classify(raw)
    assert result.kind in {Kind.unknown, Kind.cell, Kind.sku, Kind.badge, Kind.tote, Kind.order, Kind.parcel}
    assert isinstance(str(result.message), str)
