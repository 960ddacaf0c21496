"""SQLAlchemy models, one module per aggregate."""

from server.models.audit import AuditEntry
from server.models.carriers import CarrierCounter
from server.models.catalog import BarcodeKind, Sku, SkuBarcode, SkuImage
from server.models.events import ScanEvent
from server.models.idempotency import IdempotencyRecord
from server.models.inbound import (
    Delivery,
    DeliveryLine,
    DeliveryPallet,
    DeliveryStatus,
    Discrepancy,
    DiscrepancyKind,
    PutawayStatus,
    PutawayTask,
    QuestionStatus,
    ReceiptCount,
    ReceivingQuestion,
)
from server.models.orders import (
    Batch,
    BatchOrder,
    BatchStatus,
    CountRequest,
    CountRequestStatus,
    Order,
    OrderEvent,
    OrderLine,
    OrderReservation,
    OrderSource,
    OrderStatus,
    PickLine,
    PickLineStatus,
    PostponedReason,
    Wave,
    WaveStatus,
)
from server.models.people import ApiToken, Role, SignInFailure, StreamLease, User
from server.models.shipping import (
    BoxType,
    MarkingCode,
    PackingError,
    PackingErrorKind,
    PackingSession,
    PackingStatus,
    Parcel,
    ParcelItem,
    ParcelMedia,
)
from server.models.stations import (
    FlowState,
    HandheldSession,
    JobState,
    MediaFile,
    Station,
    StationEvent,
    StationJob,
    StationKind,
    StationSession,
)
from server.models.stock import KIND_EFFECTS, Movement, MovementKind, Quant
from server.models.warehouse import Cell, CellStatus, CellType, Tote, Warehouse, Zone, ZoneKind
from server.models.webhooks import WebhookDelivery, WebhookDeliveryStatus, WebhookSubscription

__all__ = [
    "Delivery", "DeliveryLine", "DeliveryPallet", "DeliveryStatus", "Discrepancy", "DiscrepancyKind",
    "FlowState", "HandheldSession", "PutawayStatus", "PutawayTask", "QuestionStatus", "ReceiptCount", "ReceivingQuestion",
    "CountRequest", "CountRequestStatus",
    "KIND_EFFECTS", "ApiToken", "StreamLease", "AuditEntry", "CarrierCounter", "BarcodeKind", "Cell", "CellStatus", "CellType", "IdempotencyRecord", "JobState",
    "MediaFile", "Movement", "MovementKind", "Order", "OrderStatus", "Parcel", "ParcelItem", "ParcelMedia", "BoxType", "MarkingCode", "PackingError", "PackingErrorKind", "PackingSession", "PackingStatus", "Quant", "Role", "ScanEvent",
    "SignInFailure", "Sku", "SkuBarcode", "SkuImage", "Station", "StationEvent", "StationJob", "StationKind", "StationSession",
    "Tote", "User", "Warehouse", "Zone", "ZoneKind",
    "Batch", "BatchOrder", "BatchStatus", "OrderEvent", "OrderLine", "OrderReservation", "OrderSource",
    "PickLine", "PickLineStatus", "PostponedReason", "Wave", "WaveStatus",
    "WebhookDelivery", "WebhookDeliveryStatus", "WebhookSubscription",
]
