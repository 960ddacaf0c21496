"""Scans of a delivery's number ("delivery") and of its pallets' SSCC ("pallet"): their resolvers."""

from flask_babel import lazy_gettext as _
from sqlalchemy import select

from server.models import Delivery, DeliveryPallet
from server.services import scan as scan_service
from server.services.receiving.views import _iso
from server.services.scan import ID, WAREHOUSE, DecodedScan, Lookup, Resolver

_DELIVERY = select(Delivery.id, Delivery.number, Delivery.status, Delivery.supplier, Delivery.warehouse_id) \
    .where(Delivery.id == ID)
_PALLET = select(DeliveryPallet.id, DeliveryPallet.sscc, DeliveryPallet.delivery_id, DeliveryPallet.received_at,
                 Delivery.number, Delivery.status, Delivery.warehouse_id) \
    .join(Delivery, Delivery.id == DeliveryPallet.delivery_id).where(DeliveryPallet.id == ID)


def _describe_delivery(delivery_id: int, scan: DecodedScan):
    row = scan_service._one(_DELIVERY, delivery_id)
    if row is None:
        return None
    return row.id, dict(row._mapping), _("Delivery %(number)s (%(status)s).", number=row.number, status=row.status)


def _describe_pallet(pallet_id: int, scan: DecodedScan):
    row = scan_service._one(_PALLET, pallet_id)
    if row is None:
        return None
    entity = {**dict(row._mapping), "received_at": _iso(row.received_at)}
    return row.id, entity, _("Pallet %(sscc)s of delivery %(number)s.", sscc=row.sscc, number=row.number)


def _sscc(scan: DecodedScan, warehouse_id: int | None):
    return scan.sscc


scan_service.register_resolver(Resolver("delivery", (
    Lookup(lambda p: select(Delivery.id).where(Delivery.warehouse_id == WAREHOUSE, Delivery.number == p),
           scan_service._text_here),
    Lookup(lambda p: select(Delivery.id).where(Delivery.number == p), scan_service._text_anywhere),
), _describe_delivery, row=_DELIVERY))
scan_service.register_resolver(Resolver("pallet", (
    Lookup(lambda p: select(DeliveryPallet.id).where(DeliveryPallet.sscc == p), _sscc),
), _describe_pallet, row=_PALLET))
