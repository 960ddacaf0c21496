"""Carrier adapters: where a parcel's tracking number comes from.

The interface (`CarrierAdapter`), for an adapter of a real carrier's API:

- `create_shipment(parcel, order) -> Shipment`: register the parcel with the carrier and return its
  tracking number, the parcel's SSCC (or None) and `label`, extra fields the carrier wants on the
  shipping label (merged into the label data). It does not write to the parcel: the caller stores
  `tracking_number` and `sscc` on it.
- `cancel(tracking_number) -> None`: withdraw a shipment (a labelled parcel cancelled before its
  handover, `services/parcels.cancel_parcel`), in the caller's transaction; raise a DomainError when
  the carrier refuses (the parcel then stays labelled).
- `label_data(parcel, order, shipment) -> dict`: optional; the fields it returns override the
  shipping label's data (by default the shipment's `label`).

`ship_parcel(parcel, order)` does it and stores the numbers on the parcel.

`adapter_for(carrier)` returns the adapter registered for a carrier's name (case and spaces
ignored, `register_adapter`), else the local adapter under that name.

The local adapter ships with the product and needs no carrier account. It numbers parcels per
carrier (its name case-folded, spaces collapsed) from a counter row in `carrier_counters` (updated in the caller's transaction, so two
parcels at once never get the same number: the UPDATE locks the row until commit):

- tracking number: `<PREFIX><8 digits><check digit>`. PREFIX is the carrier's name upper-cased,
  Cyrillic transliterated, letters and digits only, its first 3 characters ("LC" when nothing is
  left); the 8 digits are the counter; the check digit is the UPU S10 one: weights 8 6 4 2 3 5 9 7
  over the 8 digits, c = 11 - (sum mod 11), 10 -> 0 and 11 -> 5. After 99 999 999 parcels of one
  carrier it refuses (`carrier_numbers_exhausted`).
- SSCC (GS1 AI 00): extension digit 0, the company prefix (setting `CELLWMS_GS1_COMPANY_PREFIX`,
  7 to 10 digits; default "2000000", a GS1 prefix for use inside a company: set your own), a serial
  reference from the counter "sscc:<prefix>" filling 17 digits, and the GS1 mod-10 check digit.
- cancel: marks the tracking number void (a row "void:<tracking number>" in `carrier_counters`;
  `is_void` reads it). The counter never goes back, so a void number is never given out again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from server.extensions import db
from server.models.carriers import CarrierCounter
from server.services.db_locks import hold_advisory_lock
from server.services.errors import DomainError

DEFAULT_COMPANY_PREFIX = "2000000"
TRACKING_DIGITS = 8
S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
_CYRILLIC = dict(zip("АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ",
                     ["A", "B", "V", "G", "D", "E", "E", "ZH", "Z", "I", "I", "K", "L", "M", "N", "O", "P", "R",
                      "S", "T", "U", "F", "H", "C", "CH", "SH", "SCH", "", "Y", "", "E", "YU", "YA"], strict=True))


@dataclass
class Shipment:
    tracking_number: str
    label: dict = field(default_factory=dict)  # extra label fields the carrier wants
    sscc: str | None = None  # 18 digits


class CarrierAdapter:
    """Base of carrier adapters; see the module docstring for the contract."""

    name: str = ""

    def create_shipment(self, parcel, order) -> Shipment:
        raise NotImplementedError

    def cancel(self, tracking_number: str) -> None:
        raise NotImplementedError

    def label_data(self, parcel, order, shipment: Shipment) -> dict:
        return dict(shipment.label)


def s10_check_digit(digits: str) -> str:
    """The UPU S10 check digit of 8 digits."""
    total = sum(int(d) * w for d, w in zip(digits, S10_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "0", 11: "5"}.get(check, str(check))


def gs1_check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit: weights 3, 1, 3, ... from the rightmost digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str(-total % 10)


def tracking_prefix(carrier: str) -> str:
    letters = "".join(_CYRILLIC.get(ch, ch) for ch in carrier.upper())
    prefix = "".join(ch for ch in letters if ch.isascii() and ch.isalnum())[:3]
    return prefix or "LC"


def next_number(name: str) -> int:
    """The next number of counter `name` (1, 2, ...), in the caller's transaction. The UPDATE takes
    the row's lock (held to commit); a missing row is created under an advisory lock (PostgreSQL)
    or the database's write lock (SQLite)."""
    bump = update(CarrierCounter).where(CarrierCounter.name == name).values(
        last_number=CarrierCounter.last_number + 1).returning(CarrierCounter.last_number).execution_options(
        synchronize_session=False)
    number = db.session.execute(bump).scalar()
    if number is None:
        hold_advisory_lock("carrier_counter", name)
        number = db.session.execute(bump).scalar()
        if number is None:
            db.session.add(CarrierCounter(name=name, last_number=1))
            db.session.flush()
            number = 1
    return number


def company_prefix() -> str:
    prefix = str(current_app.config.get("CELLWMS_GS1_COMPANY_PREFIX") or DEFAULT_COMPANY_PREFIX)
    if not (prefix.isascii() and prefix.isdigit() and 7 <= len(prefix) <= 10):
        raise DomainError(409, "bad_company_prefix",
                          _l("The GS1 company prefix must be 7 to 10 digits."), prefix=prefix)
    return prefix


def new_sscc() -> str:
    """A new 18-digit SSCC: 0, the company prefix, the next serial reference, the check digit."""
    prefix = company_prefix()
    room = 16 - len(prefix)
    serial = next_number(f"sscc:{prefix}")
    if serial >= 10 ** room:
        raise DomainError(409, "sscc_numbers_exhausted",
                          _l("The SSCC serial numbers of this company prefix are used up."), prefix=prefix)
    body = "0" + prefix + str(serial).zfill(room)
    return body + gs1_check_digit(body)


class LocalAdapter(CarrierAdapter):
    """Numbers parcels itself, per carrier name (see the module docstring)."""

    def __init__(self, name: str = "local"):
        self.name = name.strip() or "local"

    def create_shipment(self, parcel, order) -> Shipment:
        number = next_number(_key(self.name)[:80])  # one counter whatever the case and spaces
        if number >= 10 ** TRACKING_DIGITS:
            raise DomainError(409, "carrier_numbers_exhausted",
                              _l("The tracking numbers of carrier %(carrier)s are used up.", carrier=self.name),
                              carrier=self.name)
        digits = str(number).zfill(TRACKING_DIGITS)
        return Shipment(tracking_number=tracking_prefix(self.name) + digits + s10_check_digit(digits),
                        sscc=new_sscc())

    def cancel(self, tracking_number: str) -> None:
        """Mark the number void (once); the counter stays where it is."""
        name = _void_name(tracking_number)
        if db.session.get(CarrierCounter, name) is None:
            hold_advisory_lock("carrier_counter", name)
            if db.session.get(CarrierCounter, name, populate_existing=True) is None:
                db.session.add(CarrierCounter(name=name, last_number=0))
                db.session.flush()


def _void_name(tracking_number: str) -> str:
    return f"void:{tracking_number}"[:80]


def is_void(tracking_number: str | None) -> bool:
    """Whether the local adapter cancelled this tracking number."""
    return bool(tracking_number) and db.session.get(CarrierCounter, _void_name(tracking_number)) is not None


_ADAPTERS: dict[str, Callable[[str], CarrierAdapter]] = {}


def _key(carrier: str) -> str:
    return " ".join(carrier.split()).casefold()


def register_adapter(carrier: str, factory: Callable[[str], CarrierAdapter]) -> None:
    """Use `factory(carrier_name)` for a carrier's parcels instead of the local adapter."""
    _ADAPTERS[_key(carrier)] = factory


def adapter_for(carrier: str) -> CarrierAdapter:
    """The adapter of a carrier's name; unknown names get the local adapter with that name."""
    carrier = carrier or ""
    factory = _ADAPTERS.get(_key(carrier))
    return factory(carrier) if factory else LocalAdapter(carrier)


def ship_parcel(parcel, order) -> Shipment:
    """Create the parcel's shipment with its carrier's adapter (the parcel's carrier, else the
    order's) and store the carrier, tracking number and SSCC on the parcel; flush."""
    carrier = parcel.carrier or order.carrier or ""
    shipment = adapter_for(carrier).create_shipment(parcel, order)
    parcel.carrier = carrier
    parcel.tracking_number = shipment.tracking_number
    parcel.sscc = shipment.sscc
    db.session.flush()
    return shipment
