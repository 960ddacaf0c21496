"""Carrier adapters: the local adapter's tracking numbers and SSCCs, per carrier, unique at once."""

import threading

import pytest

from server.extensions import db as _db
from server.services.carriers import (
    CarrierAdapter,
    LocalAdapter,
    Shipment,
    adapter_for,
    gs1_check_digit,
    register_adapter,
    s10_check_digit,
    ship_parcel,
    tracking_prefix,
)
from server.services.errors import DomainError


def test_check_digits():
    assert s10_check_digit("47312482") == "9"  # the UPU S10 example RR473124829GB
    assert gs1_check_digit("00614141123456789") == "0"  # GS1's SSCC example 006141411234567890
    assert gs1_check_digit("460701234567") == "7"  # EAN-13 4607012345677


def test_prefixes():
    assert tracking_prefix("СДЭК") == "SDE"
    assert tracking_prefix("Почта России") == "POC"
    assert tracking_prefix("dpd") == "DPD"
    assert tracking_prefix("") == tracking_prefix("«»") == "LC"


def test_local_numbers_per_carrier(app, db):
    app.config["CELLWMS_GS1_COMPANY_PREFIX"] = "4607012"
    first = adapter_for("СДЭК").create_shipment(None, None)
    second = adapter_for(" сдэк ").create_shipment(None, None)
    other = adapter_for("DPD").create_shipment(None, None)
    assert first.tracking_number == "SDE00000001" + s10_check_digit("00000001")
    assert second.tracking_number.startswith("SDE00000002")
    assert other.tracking_number.startswith("DPD00000001")
    for shipment in (first, second, other):
        assert len(shipment.sscc) == 18 and shipment.sscc.startswith("04607012")
        assert shipment.sscc[-1] == gs1_check_digit(shipment.sscc[:-1])
    assert len({first.sscc, second.sscc, other.sscc}) == 3
    assert adapter_for("x").label_data(None, None, Shipment("T1", {"route": "7"})) == {"route": "7"}
    adapter_for("x").cancel("T1")  # nothing to withdraw


def test_registered_adapter_wins():
    class Fake(CarrierAdapter):
        def __init__(self, name):
            self.name = name

    register_adapter("Fake Post", Fake)
    assert isinstance(adapter_for("fake  post"), Fake)
    assert isinstance(adapter_for("Unknown"), LocalAdapter) and adapter_for("Unknown").name == "Unknown"
    assert adapter_for("").name == "local"


def test_bad_company_prefix(app, db):
    app.config["CELLWMS_GS1_COMPANY_PREFIX"] = "12ab"
    with pytest.raises(DomainError) as error:
        adapter_for("DPD").create_shipment(None, None)
    assert error.value.slug == "bad_company_prefix"


def test_numbers_exhausted(app, db):
    from server.models import CarrierCounter

    db.session.add(CarrierCounter(name="dpd", last_number=10 ** 8 - 1))
    db.session.commit()
    with pytest.raises(DomainError) as error:
        adapter_for("DPD").create_shipment(None, None)
    assert error.value.slug == "carrier_numbers_exhausted"


def test_parallel_parcels_never_share_a_number(app, db):
    workers, each = 8, 6
    got: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(workers)

    def worker():
        with app.app_context():
            start.wait()
            for _ in range(each):
                try:
                    shipment = adapter_for("СДЭК").create_shipment(None, None)
                    _db.session.commit()
                except BaseException as error:
                    _db.session.rollback()
                    with lock:
                        errors.append(error)
                    continue
                with lock:
                    got.append((shipment.tracking_number, shipment.sscc))
            _db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(got) == workers * each
    assert len({t for t, _ in got}) == len({s for _, s in got}) == workers * each
    assert sorted(t[3:11] for t, _ in got) == [str(n).zfill(8) for n in range(1, workers * each + 1)]


def test_ship_parcel_stores_the_numbers(app, db):
    from server.models import Order, Parcel
    from tests import factories as f

    wh = f.warehouse()
    order = Order(warehouse_id=wh.id, number="SO-1", carrier="Почта России")
    db.session.add(order)
    db.session.flush()
    parcel = Parcel(order_id=order.id, code="P-1")
    db.session.add(parcel)
    db.session.flush()
    shipment = ship_parcel(parcel, order)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Parcel, parcel.id)
    assert (stored.carrier, stored.tracking_number, stored.sscc) == ("Почта России", shipment.tracking_number,
                                                                     shipment.sscc)
    assert stored.tracking_number.startswith("POC00000001")
