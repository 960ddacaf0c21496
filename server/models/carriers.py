"""Carrier numbering: the last number the local carrier adapter gave out, per carrier (and per
GS1 company prefix for SSCCs)."""

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db


class CarrierCounter(db.Model):
    """`name` is a carrier's name, or "sscc:<company prefix>" for the SSCC serial references."""

    __tablename__ = "carrier_counters"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    last_number: Mapped[int] = mapped_column(BigInteger, default=0)
