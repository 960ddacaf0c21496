"""The demo's picked totes and its packed parcel (issue 14), made through the real services.

The demo picker takes the released wave's first batch, puts a tote on every order slot, picks
every line and drops the totes at the pack area: those orders wait `picked` in their totes for
PACK-1. The first of them (when the batch has more than one) is packed at PACK-1 by the demo
packer: every unit scanned, weighed at its expected weight, labelled by the carrier adapter, a
still (JPEG) and a short clip (MJPG AVI) stored under MEDIA_DIR through the station upload store.
PACK-1 is an emulated station, so the KPIs keep this parcel apart from people's work. The SKUs of
the orders at packing get a picture (a generated coloured square with the SKU's code, no photo)
through the SKU picture service, so the station screen shows its thumbnails.
Each part is done once: a demo that already has a dropped batch or a packed parcel gets nothing.
"""

import hashlib
import io
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw
from sqlalchemy import select

from server.extensions import db
from server.models import (
    Batch,
    BatchStatus,
    Cell,
    Order,
    OrderLine,
    OrderStatus,
    Parcel,
    Sku,
    SkuBarcode,
    Station,
    Tote,
    User,
    Warehouse,
    Zone,
)
from server.services import evidence, packing, pick_scans, picking, sku_pictures
from server.services.scan import classify
from server.services.stations import open_upload, write_chunk

DEMO_TOTE_FIRST = 9001  # the demo's totes: TOTE-9001, TOTE-9002, ...
DEMO_PACK_STATION = "PACK-1"
DEMO_PICKER, DEMO_PACKER = "picker", "packer"


def _user(username: str) -> User | None:
    return db.session.execute(select(User).filter_by(username=username)).scalar_one_or_none()


def _pack_cell(warehouse: Warehouse) -> Cell | None:
    return db.session.execute(select(Cell).join(Zone, Zone.id == Cell.zone_id)
                              .where(Cell.warehouse_id == warehouse.id, Zone.kind == "packing")
                              .order_by(Cell.id).limit(1)).scalar_one_or_none()


def seed_picked(warehouse: Warehouse) -> list[str]:
    """The released wave's first batch picked into totes and dropped at the pack area (once).
    Returns the numbers of the orders now picked."""
    done = db.session.execute(select(Batch.id).where(Batch.warehouse_id == warehouse.id,
                                                     Batch.status != BatchStatus.ready).limit(1)).first()
    picker, cell = _user(DEMO_PICKER), _pack_cell(warehouse)
    if done is not None or picker is None or cell is None:
        return []
    ready = db.session.execute(select(Batch.id).where(Batch.warehouse_id == warehouse.id,
                                                      Batch.status == BatchStatus.ready).limit(1)).first()
    if ready is None:
        return []
    batch = picking.take_next_batch(picker, warehouse.id)
    taken = {code for (code,) in db.session.execute(select(Tote.code).where(Tote.code.like("TOTE-9%")))}
    number = DEMO_TOTE_FIRST
    for place in sorted(batch.orders, key=lambda p: p.slot):
        while f"TOTE-{number}" in taken:
            number += 1
        picking.assign_tote(batch, place.slot, f"TOTE-{number}")
        number += 1
    while (line := picking.next_line(batch)) is not None:
        place = picking.slot_of(batch, line.order_id)
        pick_scans.pick(line, line.cell_id, line.sku_id, picking.left_of(line), place.tote_id, picker)
    picking.drop_off(batch, cell.id, picker)
    return [db.session.get(Order, p.order_id).number for p in sorted(batch.orders, key=lambda p: p.slot)]


# --- the packed parcel's evidence ------------------------------------------------------------------


def still_jpeg(order_number: str) -> bytes:
    """An overhead still: an open box (its flaps out) with the order number on it."""
    image = Image.new("RGB", (640, 480), (214, 219, 224))
    draw = ImageDraw.Draw(image)
    draw.rectangle((150, 140, 490, 400), fill=(196, 154, 108), outline=(120, 84, 50), width=4)
    draw.rectangle((185, 170, 455, 370), fill=(150, 110, 70))
    for flap in (((150, 140), (490, 140), (440, 70), (200, 70)), ((150, 400), (490, 400), (440, 460), (200, 460)),
                 ((150, 140), (150, 400), (80, 350), (80, 190)), ((490, 140), (490, 400), (560, 350), (560, 190))):
        draw.polygon(flap, fill=(210, 170, 125), outline=(120, 84, 50))
    draw.rectangle((210, 250, 300, 330), fill=(70, 110, 170))
    draw.rectangle((320, 230, 420, 340), fill=(230, 230, 230))
    draw.text((20, 20), f"DEMO  {order_number}", fill=(0, 0, 0))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def clip_avi(order_number: str, frames: int = 8) -> bytes | None:
    """A short MJPG AVI (cv2.VideoWriter): a box filling up; None without OpenCV or its writer."""
    try:
        import cv2
        import numpy as np
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 4, (320, 240))
        if not writer.isOpened():
            return None
        for n in range(frames):
            frame = np.full((240, 320, 3), 220, np.uint8)
            cv2.rectangle(frame, (70, 60), (250, 200), (80, 120, 170), -1)
            cv2.rectangle(frame, (90, 200 - 15 * n), (230, 200), (170, 120, 60), -1)
            cv2.putText(frame, f"DEMO {order_number}", (10, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1)
            writer.write(frame)
        writer.release()
        return path.read_bytes()


def _store(station: Station, data: bytes, kind: str, filename: str):
    media, _ = open_upload(station, hashlib.sha256(data).hexdigest(), len(data), kind, filename=filename)
    for offset in range(0, len(data), 256 * 1024):
        write_chunk(media, offset, data[offset:offset + 256 * 1024])
    return media


def seed_packed(warehouse: Warehouse, picked: list[str]) -> Parcel | None:
    """The first of `picked` (when another is left for the newcomer) packed at PACK-1 with its
    still and clip. Returns the parcel, or None."""
    station = db.session.execute(select(Station).filter_by(code=DEMO_PACK_STATION)).scalar_one_or_none()
    packer = _user(DEMO_PACKER)
    if len(picked) < 2 or station is None or packer is None:
        return None
    order = db.session.execute(select(Order).filter_by(number=picked[0])).scalar_one()
    session = packing.open_session(station, packer, order)
    for line in sorted(order.lines, key=lambda x: x.line_no):
        barcode = db.session.execute(select(SkuBarcode.barcode).where(SkuBarcode.sku_id == line.sku_id)
                                     .order_by(SkuBarcode.id).limit(1)).scalar_one_or_none()
        code = barcode or db.session.get(Sku, line.sku_id).code
        for _ in range(line.quantity):
            packing.verify(session, classify(code[1:] if len(code) == 14 and code[0] == "0" else code, warehouse.id),
                           packer, None)
    parcel = packing.close_contents(session)
    parcel, _within = packing.weigh(session, parcel.expected_weight_g, packer)
    packing.accept(session, parcel, packer)
    evidence.attach_media(parcel, _store(station, still_jpeg(order.number), "photo", "still.jpg"), "still")
    clip = clip_avi(order.number)
    if clip is not None:
        evidence.attach_media(parcel, _store(station, clip, "clip", "clip.avi"), "clip")
    db.session.flush()
    return parcel


# --- pictures of the packing SKUs ------------------------------------------------------------------

PICTURE_COLOURS = ((46, 110, 180), (200, 90, 40), (60, 150, 90), (150, 70, 160), (190, 160, 30), (90, 100, 110))


def sku_picture_jpeg(code: str, n: int = 0) -> bytes:
    """A 256 x 256 plain coloured square with the SKU's code: a stand-in picture, not a photo."""
    image = Image.new("RGB", (256, 256), PICTURE_COLOURS[n % len(PICTURE_COLOURS)])
    draw = ImageDraw.Draw(image)
    draw.rectangle((16, 16, 239, 239), outline=(255, 255, 255), width=4)
    draw.text((128, 128), code, fill=(255, 255, 255), anchor="mm", font_size=28)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def seed_pictures(warehouse: Warehouse) -> list[str]:
    """A picture for each SKU of the warehouse's orders at packing (picked, packing, packed) that has
    none. Returns their codes."""
    skus = db.session.execute(
        select(Sku).where(Sku.id.in_(select(OrderLine.sku_id).join(Order, Order.id == OrderLine.order_id).where(
            Order.warehouse_id == warehouse.id,
            Order.status.in_((OrderStatus.picked, OrderStatus.packing, OrderStatus.packed)))))
        .order_by(Sku.code)).scalars().all()
    given = []
    for n, sku in enumerate(skus):
        if sku.picture is None:
            sku_pictures.set_picture(None, sku.id, sku_picture_jpeg(sku.code, n), f"{sku.code}.jpg", via="demo")
            given.append(sku.code)
    return given


def seed_pack_demo(warehouse: Warehouse) -> Parcel | None:
    """Picked totes at the pack area, one packed parcel (each once), pictures of their SKUs."""
    parcel = seed_packed(warehouse, seed_picked(warehouse))
    seed_pictures(warehouse)
    return parcel
