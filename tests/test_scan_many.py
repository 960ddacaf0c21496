"""classify_many() answers exactly what classify() answers, one scan at a time (both databases)."""

from server.services.scan import classify, classify_many
from tests.factories import stocked_warehouse, user

GS = "\x1d"


def test_classify_many_answers_like_classify_one_by_one(db):
    wh, _zone, cells, _sku = stocked_warehouse()
    user("worker", badge="BDG-77")
    db.session.commit()
    scans = [
        ("4601234567893", ""), (cells[0].address, ""), (cells[1].address + "\r\n", ""),
        (f"]C1010460123456789317271231{GS}10L42", "]C1"), ("BDG-77", ""), ("NOPE-1", ""), ("", ""),
        ("4601234567893", ""), ("x" * 70, ""), ("0" * 400, ""),
    ]
    for warehouse_id in (wh.id, None):
        one_by_one = [classify(raw, warehouse_id, symbology=symbology, max_bytes=300) for raw, symbology in scans]
        together = classify_many(scans, warehouse_id, max_bytes=300)
        assert [(c.kind, c.entity_id, c.answer()) for c in together] == \
               [(c.kind, c.entity_id, c.answer()) for c in one_by_one]
        assert [c.kind for c in together][:6] == ["sku", "cell", "cell", "sku", "badge", "unknown"]
    db.session.rollback()
