"""What a scan is: a cell, a SKU, a badge, a tote, an order, a parcel, or unknown.

Classification only reads. `decode()` turns the bytes a device sent into a `DecodedScan`
(suffix stripped, AIM symbology identifier split off, GS1 element strings parsed with biip);
`classify()` then asks every registered `Resolver` for its candidates in ONE query (a UNION ALL
of index-backed lookups) and lets the first resolver in the registry that matched describe
the entity. Recording the scan is `record_scan()`, kept apart so a scenario can classify first
and record with its own meaning.

Later flows plug in with `register_resolver()` (new kinds of codes) and read the
`Classification` they get back.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from biip import ParseConfig, ParseError
from biip.gs1_messages import GS1Message
from biip.sscc import Sscc
from biip.symbology import SymbologyIdentifier
from flask import has_request_context
from flask_babel import gettext
from sqlalchemy import Select, literal_column, select, union_all

from server.extensions import db
from server.models import Cell, Order, Parcel, ScanEvent, Sku, SkuBarcode, Tote, User
from server.services.barcodes import is_valid_gtin

SUFFIX_CHARS = "\r\n\t"
GS = "\x1d"
# Longest code any lookup column holds (String(64)); longer text can only be a GS1 string.
MAX_CODE_CHARS = 64
# Longest GS1 string worth parsing (a GS1 DataMatrix holds at most ~2,300 characters).
MAX_GS1_CHARS = 2400
# Longest scan text shown inside a message.
MESSAGE_CODE_CHARS = 40

GS1_SYMBOLOGIES = {"]C1", "]e0", "]e1", "]e2", "]d2", "]Q3", "]J1"}
GTIN_SYMBOLOGIES = {"]E0", "]E3", "]E4", "]I1"}
GS1_CONFIG = ParseConfig(separator_chars=(GS,))
_CONTROL = re.compile(r"[\x00-\x1c\x1e\x1f\x7f]")  # C0 controls and DEL, except GS
# A Chestny Znak code read by a scanner that dropped the GS separators:
# 01 GTIN, 21 serial (13 for most goods, 6 or 7 for tobacco), then 91 key + 92 signature or 93 tail.
_MARKING_WITHOUT_GS = re.compile(
    r"^01(\d{14})21(.{13}|.{7}|.{6})(?:91(.{4})92(.{44}|.{88})|93(.{4}))$", re.DOTALL
)


class Message:
    """A message translated when shown: into the request's language, or English outside requests."""

    __slots__ = ("msgid", "params")

    def __init__(self, msgid: str, **params):
        self.msgid = msgid
        self.params = params

    def __str__(self) -> str:
        if has_request_context():
            return gettext(self.msgid, **self.params)
        return self.msgid % self.params if self.params else self.msgid

    def __repr__(self) -> str:
        return f"Message({str(self)!r})"


def _(msgid: str, **params) -> Message:
    """Mark a message for translation (pybabel extracts `_`); translated when shown."""
    return Message(msgid, **params)


class Kind:
    cell = "cell"
    sku = "sku"
    badge = "badge"
    tote = "tote"
    order = "order"
    parcel = "parcel"
    unknown = "unknown"


@dataclass(frozen=True)
class DecodedScan:
    raw: bytes  # as received
    text: str  # decoded, suffix and symbology identifier removed; GS kept
    symbology: str = ""  # AIM identifier such as "]d2", or ""
    defect: str | None = None  # empty, control, too_long: nothing can match
    gs1: dict | None = None  # parsed GS1 data (GTIN, SSCC, lot, expiry, serial, marking code)
    gs1_error: str | None = None
    gtin: str | None = None  # 14 digits, from a plain GTIN or a GS1 string
    sscc: str | None = None  # 18 digits
    explicit_gs1: bool = False  # the symbology or GS separators say GS1: skip text lookups

    @property
    def lookup_text(self) -> str | None:
        """The text to look up in code columns, or None when it cannot be a code."""
        if self.defect or self.explicit_gs1 or not self.text or len(self.text) > MAX_CODE_CHARS:
            return None
        return self.text


@dataclass
class Classification:
    kind: str
    message: Message | str  # str() translates it
    entity: dict | None = None
    entity_id: int | None = None
    scan: DecodedScan | None = None

    @property
    def gs1(self) -> dict | None:
        return self.scan.gs1 if self.scan else None

    def answer(self) -> dict:
        return {"kind": self.kind, "message": str(self.message), "entity": self.entity, "gs1": self.gs1}


@dataclass(frozen=True)
class Resolver:
    """One kind of code.

    `candidates(scan, warehouse_id)` returns index-backed selects of ONE id column (or none);
    `describe(id, scan)` returns (entity id, entity JSON, message) for the id that won (the entity
    may be another row than the candidate: a SKU barcode names its SKU), or None to pass. Registry order is priority: the first resolver with a hit wins.
    """

    kind: str
    candidates: Callable[[DecodedScan, int | None], list[Select]]
    describe: Callable[[int, DecodedScan], tuple[int, dict, Message | str] | None]
    name: str = field(default="")


RESOLVERS: list[Resolver] = []


def register_resolver(resolver: Resolver, *, before: str | None = None) -> Resolver:
    """Add a resolver; `before` names a resolver (by name or kind) it takes priority over."""
    name = resolver.name or resolver.kind
    RESOLVERS[:] = [r for r in RESOLVERS if (r.name or r.kind) != name]
    index = len(RESOLVERS)
    if before is not None:
        index = next((i for i, r in enumerate(RESOLVERS) if before in (r.name, r.kind)), index)
    RESOLVERS.insert(index, resolver)
    return resolver


# --- decoding -------------------------------------------------------------------------------


def normalize_symbology(symbology: str | None) -> str:
    """'d2', ']d2' -> ']d2'; anything unrecognised -> ''."""
    if not symbology:
        return ""
    value = symbology if symbology.startswith("]") else "]" + symbology
    try:
        return str(SymbologyIdentifier.extract(value))
    except (ParseError, ValueError, IndexError):
        return ""


def decode(raw: bytes, symbology: str | None = None, max_bytes: int | None = None) -> DecodedScan:
    """Bytes from a device -> DecodedScan. Never raises."""
    raw = bytes(raw or b"")
    if max_bytes is not None and len(raw) > max_bytes:
        text = _clean(raw[:max_bytes].decode("utf-8", errors="replace"))
        return DecodedScan(raw=raw, text=text, symbology=normalize_symbology(symbology), defect="too_long")
    text = raw.decode("utf-8", errors="replace").rstrip(SUFFIX_CHARS).strip(" ")
    aim = ""
    if text.startswith("]") and len(text) >= 3:
        try:
            aim = str(SymbologyIdentifier.extract(text))
            text = text[len(aim):]
        except (ParseError, ValueError, IndexError):
            aim = ""
    aim = aim or normalize_symbology(symbology)
    if not text:
        return DecodedScan(raw=raw, text="", symbology=aim, defect="empty")
    if _CONTROL.search(text):
        return DecodedScan(raw=raw, text=_clean(text), symbology=aim, defect="control")
    if len(text) > MAX_GS1_CHARS:
        return DecodedScan(raw=raw, text=text, symbology=aim, defect="too_long")
    try:
        return _read_codes(raw, text, aim)
    except Exception:  # biip on hostile input: the scan stays a plain text
        return DecodedScan(raw=raw, text=text, symbology=aim)


def _clean(text: str) -> str:
    """Printable text for the database: NUL and other controls (except GS) become U+FFFD."""
    return _CONTROL.sub("\ufffd", text)


def _read_codes(raw: bytes, text: str, aim: str) -> DecodedScan:
    explicit_gs1 = aim in GS1_SYMBOLOGIES or GS in text
    message, error = None, None
    if explicit_gs1 or text.startswith("(") or _may_be_gs1(text):
        message, error = _parse_gs1(text)
        if message is None and not explicit_gs1:
            error = None  # an ordinary code that happens to start like one
    if message is not None:
        gs1 = _gs1_answer(message, aim)
        if gs1.get("gtin") or gs1.get("sscc"):
            return DecodedScan(
                raw=raw, text=text, symbology=aim, gs1=gs1, gtin=gs1.get("gtin"), sscc=gs1.get("sscc"),
                explicit_gs1=explicit_gs1,
            )
    if explicit_gs1:
        return DecodedScan(raw=raw, text=text, symbology=aim, gs1_error=error or "no GTIN or SSCC in it",
                           explicit_gs1=True)
    if text.isascii() and text.isdigit():
        if is_valid_gtin(text):
            gtin = text.zfill(14)
            return DecodedScan(raw=raw, text=text, symbology=aim, gtin=gtin, gs1={"symbology": aim, "gtin": gtin})
        if len(text) == 18 and _valid_sscc(text):
            return DecodedScan(raw=raw, text=text, symbology=aim, sscc=text, gs1={"symbology": aim, "sscc": text})
    return DecodedScan(raw=raw, text=text, symbology=aim)


def _may_be_gs1(text: str) -> bool:
    # Unprefixed GS1 strings as keyboard wedges type them: (00) SSCC or (01) GTIN plus more.
    return len(text) > 16 and text[:2] in ("00", "01", "02") and text[2:16].isdigit()


def _parse_gs1(text: str) -> tuple[GS1Message | None, str | None]:
    try:
        if text.startswith("("):
            return GS1Message.parse_hri(text, config=GS1_CONFIG), None
        return GS1Message.parse(text, config=GS1_CONFIG), None
    except (ParseError, ValueError) as exc:
        match = _MARKING_WITHOUT_GS.match(text)
        if match:  # a marking code whose GS separators the scanner dropped
            gtin, serial, key, signature, tail = match.groups()
            rebuilt = f"01{gtin}21{serial}{GS}" + (f"91{key}{GS}92{signature}" if key else f"93{tail}")
            try:
                return GS1Message.parse(rebuilt, config=GS1_CONFIG), None
            except (ParseError, ValueError):
                pass
        return None, str(exc)


def _valid_sscc(text: str) -> bool:
    try:
        Sscc.parse(text)
        return True
    except ParseError:
        return False


def _gs1_answer(message: GS1Message, aim: str) -> dict:
    elements = message.element_strings
    answer: dict = {
        "symbology": aim,
        "hri": message.as_hri(),
        "elements": [{"ai": e.ai.ai, "title": e.ai.data_title, "value": e.value} for e in elements],
    }
    gtin = elements.get(ai="01") or elements.get(ai="02")
    if gtin is not None and gtin.gtin is not None:
        answer["gtin"] = gtin.gtin.as_gtin_14()
    sscc = elements.get(ai="00")
    if sscc is not None and sscc.sscc is not None:
        answer["sscc"] = sscc.sscc.value
    for ai, key in (("10", "lot"), ("21", "serial")):
        element = elements.get(ai=ai)
        if element is not None:
            answer[key] = element.value
    for ai, key in (("17", "expiry"), ("15", "best_before"), ("11", "produced")):
        element = elements.get(ai=ai)
        if element is not None and element.date is not None:
            answer[key] = element.date.isoformat()
    # Chestny Znak: 01 GTIN + 21 serial is the identification code; 91/92 or 93 verify it.
    crypto = elements.get(ai="92") or elements.get(ai="93")
    if "gtin" in answer and "serial" in answer and crypto is not None:
        key = elements.get(ai="91")
        answer["marking_code"] = {
            "id": f"01{answer['gtin']}21{answer['serial']}",
            "key": key.value if key is not None else None,
            "crypto": crypto.value,
            "crypto_ai": crypto.ai.ai,
        }
    return answer


# --- classifying ----------------------------------------------------------------------------


def classify(raw: bytes | str, warehouse_id: int | None = None, *, symbology: str | None = None,
             max_bytes: int | None = None) -> Classification:
    """What `raw` is. Reads only; one query for the candidates and one for the winner."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    scan = decode(raw, symbology, max_bytes)
    if scan.defect:
        return Classification(Kind.unknown, _defect_message(scan), scan=scan)

    parts = []
    for rank, resolver in enumerate(RESOLVERS):
        for candidate in resolver.candidates(scan, warehouse_id) or ():
            parts.append(candidate.add_columns(literal_column(str(rank)).label("rank")))
    if parts:
        statement = parts[0] if len(parts) == 1 else union_all(*parts)
        hits = sorted(db.session.execute(statement).all(), key=lambda row: (row[1], row[0]))
        for entity_id, rank in hits:
            resolver = RESOLVERS[rank]
            described = resolver.describe(entity_id, scan)
            if described is not None:
                entity_id, entity, message = described
                return Classification(resolver.kind, message, entity=entity, entity_id=entity_id, scan=scan)
    return Classification(Kind.unknown, _unknown_message(scan), scan=scan)


def _defect_message(scan: DecodedScan):
    if scan.defect == "empty":
        return _("Empty scan: nothing was read.")
    if scan.defect == "control":
        return _("Unreadable scan: it contains control characters.")
    return _("Scan too long (%(length)s bytes) to be a warehouse code.", length=len(scan.raw))


def _unknown_message(scan: DecodedScan):
    if scan.gtin:
        return _("Unknown product: GTIN %(gtin)s is not a SKU barcode here.", gtin=scan.gtin)
    if scan.sscc:
        return _("Unknown SSCC %(sscc)s: no parcel carries it.", sscc=scan.sscc)
    if scan.explicit_gs1:
        return _("GS1 code not understood: %(error)s", error=scan.gs1_error or "")
    if len(scan.text) > MAX_CODE_CHARS:
        return _("Scan too long (%(length)s characters) to be a warehouse code.", length=len(scan.text))
    code = scan.text if len(scan.text) <= MESSAGE_CODE_CHARS else scan.text[:MESSAGE_CODE_CHARS] + "…"
    return _("Unknown code %(code)s: not a cell, SKU, badge, tote, order or parcel.", code=code)


# --- the built-in resolvers -----------------------------------------------------------------


def _cell_candidates(scan: DecodedScan, warehouse_id: int | None) -> list[Select]:
    text = scan.lookup_text
    if text is None:
        return []
    selects = [select(Cell.id).where(Cell.barcode == text), select(Cell.id).where(Cell.address == text)]
    if warehouse_id is not None:
        selects = [s.where(Cell.warehouse_id == warehouse_id) for s in selects]
    return selects


def _describe_cell(cell_id: int, scan: DecodedScan):
    cell = db.session.get(Cell, cell_id)
    entity = {
        "id": cell.id, "address": cell.address, "barcode": cell.barcode, "warehouse_id": cell.warehouse_id,
        "zone_id": cell.zone_id, "cell_type": cell.cell_type, "status": cell.status,
    }
    if cell.status != "active":
        return cell.id, entity, _("Cell %(address)s (%(status)s).", address=cell.address, status=cell.status)
    return cell.id, entity, _("Cell %(address)s.", address=cell.address)


def _sku_candidates(scan: DecodedScan, warehouse_id: int | None) -> list[Select]:
    keys = {key for key in (scan.gtin, scan.lookup_text) if key}
    if not keys:
        return []
    if len(keys) == 1:
        return [select(SkuBarcode.id).where(SkuBarcode.barcode == keys.pop())]
    return [select(SkuBarcode.id).where(SkuBarcode.barcode.in_(sorted(keys)))]


def _describe_sku(barcode_id: int, scan: DecodedScan):
    barcode = db.session.get(SkuBarcode, barcode_id)
    sku = db.session.get(Sku, barcode.sku_id)
    entity = {
        "id": sku.id, "code": sku.code, "name": sku.name, "barcode": barcode.barcode,
        "barcode_kind": barcode.kind, "units": barcode.units, "active": sku.active,
        "tracking": {"lot": sku.track_lot, "expiry": sku.track_expiry, "serial": sku.track_serial,
                     "marking": sku.track_marking},
    }
    if barcode.units > 1:
        return sku.id, entity, _("SKU %(code)s %(name)s, pack of %(units)s.", code=sku.code, name=sku.name,
                          units=barcode.units)
    return sku.id, entity, _("SKU %(code)s %(name)s.", code=sku.code, name=sku.name)


def _badge_candidates(scan: DecodedScan, warehouse_id: int | None) -> list[Select]:
    text = scan.lookup_text
    return [select(User.id).where(User.badge_code == text, User.active.is_(True))] if text else []


def _describe_badge(user_id: int, scan: DecodedScan):
    # Only the name and roles: a badge scan must not reveal more about the person.
    user = db.session.get(User, user_id)
    name = user.full_name or user.username
    return user.id, {"name": name, "roles": sorted(user.roles)}, _("Badge of %(name)s.", name=name)


def _tote_candidates(scan: DecodedScan, warehouse_id: int | None) -> list[Select]:
    text = scan.lookup_text
    return [select(Tote.id).where(Tote.code == text)] if text else []


def _describe_tote(tote_id: int, scan: DecodedScan):
    tote = db.session.get(Tote, tote_id)
    entity = {"id": tote.id, "code": tote.code, "status": tote.status, "warehouse_id": tote.warehouse_id}
    return tote.id, entity, _("Tote %(code)s (%(status)s).", code=tote.code, status=tote.status)


def _order_candidates(scan: DecodedScan, warehouse_id: int | None) -> list[Select]:
    text = scan.lookup_text
    return [select(Order.id).where(Order.number == text)] if text else []


def _describe_order(order_id: int, scan: DecodedScan):
    order = db.session.get(Order, order_id)
    entity = {"id": order.id, "number": order.number, "status": order.status, "warehouse_id": order.warehouse_id}
    return order.id, entity, _("Order %(number)s (%(status)s).", number=order.number, status=order.status)


def _parcel_candidates(scan: DecodedScan, warehouse_id: int | None) -> list[Select]:
    selects = []
    if scan.sscc:
        selects.append(select(Parcel.id).where(Parcel.sscc == scan.sscc))
    text = scan.lookup_text
    if text:
        selects.append(select(Parcel.id).where(Parcel.code == text))
        selects.append(select(Parcel.id).where(Parcel.tracking_number == text))
    return selects


def _describe_parcel(parcel_id: int, scan: DecodedScan):
    parcel = db.session.get(Parcel, parcel_id)
    entity = {
        "id": parcel.id, "code": parcel.code, "sscc": parcel.sscc, "carrier": parcel.carrier,
        "tracking_number": parcel.tracking_number, "status": parcel.status, "order_id": parcel.order_id,
    }
    return parcel.id, entity, _("Parcel %(code)s (%(status)s).", code=parcel.code, status=parcel.status)


for _resolver in (
    Resolver(Kind.cell, _cell_candidates, _describe_cell),
    Resolver(Kind.sku, _sku_candidates, _describe_sku),
    Resolver(Kind.parcel, _parcel_candidates, _describe_parcel),
    Resolver(Kind.tote, _tote_candidates, _describe_tote),
    Resolver(Kind.order, _order_candidates, _describe_order),
    Resolver(Kind.badge, _badge_candidates, _describe_badge),
):
    register_resolver(_resolver)


# --- recording ------------------------------------------------------------------------------


def record_scan(
    result: Classification,
    *,
    raw_length: int | None = None,
    max_bytes: int | None = None,
    station_id: int | None = None,
    user_id: int | None = None,
    warehouse_id: int | None = None,
    event_id: str | None = None,
    scanned_at: datetime | None = None,
    source: str = "api",
    meaning: dict | None = None,
) -> ScanEvent:
    """Add a ScanEvent for `result` to the session (the caller's transaction commits it).

    Raw bytes go to the bytea column as read (cut to `max_bytes`, with the true length kept);
    `text` is a printable copy without NUL or other controls, which PostgreSQL text refuses.
    """
    scan = result.scan
    raw = scan.raw
    limit = max_bytes if max_bytes is not None else len(raw)
    text = _clean(scan.text)[:limit]
    event = ScanEvent(
        event_id=event_id,
        warehouse_id=warehouse_id,
        station_id=station_id,
        user_id=user_id,
        source=source,
        scanned_at=scanned_at,
        raw=raw[:limit],
        raw_length=raw_length if raw_length is not None else len(raw),
        text=text,
        symbology=scan.symbology,
        kind=result.kind,
        entity_id=result.entity_id,
        meaning=meaning if meaning is not None else result.answer(),
    )
    db.session.add(event)
    return event
