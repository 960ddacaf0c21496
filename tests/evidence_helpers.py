"""A packed parcel built from the models, with a real still (JPEG) and clip (MJPG AVI) uploaded
through the station media store under the test's MEDIA_DIR."""

import hashlib
from datetime import timedelta

import cv2
import numpy as np

from server.extensions import db
from server.models import MarkingCode, Order, OrderLine, Parcel, ParcelItem, User
from server.models.base import utcnow
from server.services.evidence import attach_media
from server.services.stations import open_upload, write_chunk
from tests import factories as f


def jpeg_bytes(shade: int = 120) -> bytes:
    frame = np.full((48, 64, 3), shade, np.uint8)
    cv2.rectangle(frame, (8, 8), (40, 30), (0, 0, 255), -1)
    ok, data = cv2.imencode(".jpg", frame)
    assert ok
    return data.tobytes()


def clip_bytes(tmp_path, frames: int = 5) -> bytes:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (64, 48))
    assert writer.isOpened()
    for n in range(frames):
        writer.write(np.full((48, 64, 3), 30 * n, np.uint8))
    writer.release()
    return path.read_bytes()


def upload(station, data: bytes, kind: str):
    media, _ = open_upload(station, hashlib.sha256(data).hexdigest(), len(data), kind, filename=f"{kind}.bin")
    write_chunk(media, 0, data)
    return media


def packed_parcel(tmp_path, number="SO-1", wh=None, station=None, packed_days_ago=0, shade=120, code_suffix=""):
    """(parcel, still MediaFile, clip MediaFile): one order, one line of 2 units scanned, weighed
    with an override, a still and a clip attached."""
    wh = wh or f.warehouse()
    if station is None:
        station, _ = f.station(wh, code="PACK-1", kind="pack")
    packer = db.session.execute(db.select(User).where(User.username == "packer")).scalar_one_or_none() \
        or f.user("packer", ("packer",), badge="B-PACK")
    boss = db.session.execute(db.select(User).where(User.username == "boss")).scalar_one_or_none() \
        or f.user("boss", ("supervisor",))
    sku = f.sku(f"SKU-{number}", barcode="4600000000017" if not code_suffix else None)
    order = Order(warehouse_id=wh.id, number=number, status="packed")
    db.session.add(order)
    db.session.flush()
    line = OrderLine(order_id=order.id, line_no=1, sku_id=sku.id, quantity=2, picked=2)
    db.session.add(line)
    db.session.flush()
    packed_at = utcnow() - timedelta(days=packed_days_ago)
    parcel = Parcel(order_id=order.id, code=f"P-{number}", carrier="local", tracking_number=f"TR{number}",
                    seq=1, expected_weight_g=1500, weight_g=1580, weighed_at=packed_at, override_user_id=boss.id,
                    override_reason="Box heavier than listed", packer_user_id=packer.id, station_id=station.id,
                    packed_at=packed_at, status="packed")
    db.session.add(parcel)
    db.session.flush()
    gtin = f"0460000000001{len(number) % 10}"
    for n in range(2):
        item = ParcelItem(parcel_id=parcel.id, order_line_id=line.id, sku_id=sku.id, quantity=1,
                          code=f"01{gtin}21SER{n}{number}\x1d91EE06\x1d92abc{n}=", user_id=packer.id,
                          scanned_at=packed_at)
        db.session.add(item)
        db.session.flush()
        db.session.add(MarkingCode(gtin=gtin, serial=f"SER{n}{number}", crypto_key="EE06", crypto_code=f"abc{n}=",
                                   raw=item.code, sku_id=sku.id, order_id=order.id, parcel_id=parcel.id,
                                   parcel_item_id=item.id))
    still = upload(station, jpeg_bytes(shade), "photo")
    clip = upload(station, clip_bytes(tmp_path, frames=4 + shade % 3), "clip")
    attach_media(parcel, still, "still")
    attach_media(parcel, clip, "clip", partial=True)
    db.session.commit()
    return parcel, still, clip
