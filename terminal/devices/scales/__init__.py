"""Scales: pure codecs (bytes in, readings out) shared by the driver and the emulator."""

from .cas import CasCodec
from .hidpos import HidPosCodec
from .massak import MassaKCodec
from .mtsics import MtSicsCodec
from .reading import Ack, Reading
from .toledo8217 import Toledo8217Codec

CODECS = {c.protocol: c for c in (MtSicsCodec, Toledo8217Codec, CasCodec, MassaKCodec, HidPosCodec)}

__all__ = ["CODECS", "Ack", "CasCodec", "HidPosCodec", "MassaKCodec", "MtSicsCodec", "Reading",
           "Toledo8217Codec", "codec_for"]


def codec_for(protocol: str, unit: str = "kg"):
    try:
        return CODECS[protocol](unit)
    except KeyError:
        raise ValueError(f"unknown scale protocol {protocol!r} (known: {', '.join(CODECS)})") from None
