"""USB HID POS scales (HID usage page 0x8D, "Scale Data Report"), e.g. DYMO M10/M25, Mettler Toledo PS60.

A 6-byte input report: report id (3), status, weight unit, scale exponent (signed),
weight LSB, weight MSB. Status: 1 fault, 2 stable at center of zero, 3 in motion,
4 weight stable, 5 under zero, 6 over weight limit, 7 requires calibration, 8 requires re-zeroing.
Reports have no framing or checksum: each read of a hidraw device returns whole reports, so
`feed` takes what one read returned; a short read is dropped, never joined to the next.
"""

import struct

from .reading import FAULT, MOTION, OVERLOAD, UNDER_ZERO, Reading, make

REPORT_ID = 3
SIZE = 6
UNITS = {1: "mg", 2: "g", 3: "kg", 4: "ct", 5: "tael", 6: "gr", 7: "dwt", 8: "t", 9: "ton",
         10: "ozt", 11: "oz", 12: "lb"}
UNIT_CODES = {name: code for code, name in UNITS.items()}
STATUS = {1: FAULT, 2: None, 3: MOTION, 4: None, 5: UNDER_ZERO, 6: OVERLOAD, 7: FAULT, 8: FAULT}


def report(status: int, unit: str, exponent: int, raw: int) -> bytes:
    return struct.pack("<BBBbH", REPORT_ID, status, UNIT_CODES[unit], exponent, raw & 0xFFFF)


class HidPosCodec:
    protocol = "hid-pos"

    def __init__(self, unit: str = "kg"):
        self.unit = unit

    def feed(self, data: bytes) -> list[Reading]:
        out = []
        for i in range(0, len(data) - SIZE + 1, SIZE):
            reading = self.decode(data[i:i + SIZE])
            if reading is not None:
                out.append(reading)
        return out

    def decode(self, rep: bytes) -> Reading | None:
        if len(rep) != SIZE or rep[0] != REPORT_ID:
            return None
        _, status, unit_code, exponent, raw = struct.unpack("<BBBbH", rep)
        if status not in STATUS or unit_code not in UNITS or not -9 <= exponent <= 9:
            return None
        value = round(raw * 10.0 ** exponent, 9)
        unit = UNITS[unit_code]
        if status in (2, 4):
            return make(0.0 if status == 2 else value, unit, True, frame=rep)
        if status == 5:
            value = -value
        return make(value if status in (3, 5) else None, unit, False, status=STATUS[status], frame=rep)
