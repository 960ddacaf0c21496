"""Carrier adapters (minimal local stand-in, written in the pack-flow branch until the carriers
work is merged): `adapter_for(carrier)` returns an object with `create_shipment(parcel, order) ->
Shipment(tracking_number, label)` and `cancel(tracking_number)`. The local adapter numbers parcels
per carrier from the parcels already numbered."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from server.extensions import db
from server.models import Order, Warehouse
from server.models.shipping import Parcel


@dataclass
class Shipment:
    tracking_number: str
    label: dict = field(default_factory=dict)


class LocalAdapter:
    def __init__(self, carrier: str):
        self.carrier = carrier or "local"

    def create_shipment(self, parcel: Parcel, order: Order) -> Shipment:
        count = db.session.execute(select(func.count(Parcel.id)).where(
            Parcel.carrier == self.carrier, Parcel.tracking_number.is_not(None))).scalar() or 0
        tracking = f"{count + 1:010d}"
        warehouse = db.session.get(Warehouse, order.warehouse_id)
        label = {"carrier": self.carrier, "tracking": tracking, "order": order.number,
                 "sender": {"name": warehouse.name, "address": warehouse.name},
                 "recipient": {"name": order.customer_name or order.number,
                               "address": [order.delivery_address or "-"], "phone": order.customer_phone or ""},
                 "weight_kg": round((parcel.weight_g or parcel.expected_weight_g or 0) / 1000, 3),
                 "parcel": parcel.seq, "parcels": parcel.seq}
        return Shipment(tracking, label)

    def cancel(self, tracking_number: str) -> None:
        return None


def adapter_for(carrier: str) -> LocalAdapter:
    return LocalAdapter(carrier)
