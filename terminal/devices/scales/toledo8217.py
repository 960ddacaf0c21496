"""Toledo 8217 (NCR 8217 / "Toledo" POS scale protocol), as in Mettler Toledo retail scales.

Host sends one ASCII letter: W weight, Z zero, T tare, C clear tare.
Scale answers <STX>ww.www<CR> (five digits with a decimal point, stable weight only) or
<STX>?<status><CR>. Status byte (bit 7 parity, masked off):
  bit 0 in motion, bit 1 over capacity, bit 2 under zero, bit 3 outside zero capture range,
  bit 4 center of zero, bits 5 and 6 always 1.
The frame carries no unit or tare: the unit comes from the profile, net from the tare we set.
"""

import re

from .reading import FAULT, MAX_BUFFER, MOTION, OVERLOAD, UNDER_ZERO, Ack, Reading, make

STX, CR = 0x02, 0x0D
MOTION_BIT, OVER_BIT, UNDER_BIT, OUTSIDE_ZERO_BIT, CENTER_ZERO_BIT = 1, 2, 4, 8, 16
FIXED_BITS = 0x60
WEIGHT = re.compile(rb"(?=[\d.]{6}$)\d*\.\d*")


def request_weight() -> bytes:
    return b"W"


def zero() -> bytes:
    return b"Z"


def tare() -> bytes:
    return b"T"


def clear_tare() -> bytes:
    return b"C"


def weight_frame(value: float, decimals: int = 3) -> bytes:
    text = f"{value:0{6}.{decimals}f}"[-6:]
    return b"\x02" + text.encode() + b"\r"


def status_frame(bits: int) -> bytes:
    return bytes([STX, ord("?"), (bits | FIXED_BITS) & 0x7F, CR])


class Toledo8217Codec:
    protocol = "toledo-8217"

    def __init__(self, unit: str = "kg"):
        self.unit = unit
        self.buffer = b""
        self.net = False
        self.acks: list[Ack] = []
        self.last_status: int | None = None

    # commands change what the next frames mean (tare -> net)
    def encode(self, command: str) -> bytes:
        if command == "tare":
            self.net = True
            return tare()
        if command == "clear":
            self.net = False
            return clear_tare()
        return {"zero": zero, "weight": request_weight}[command]()

    def feed(self, data: bytes) -> list[Reading]:
        self.buffer += data
        out: list[Reading] = []
        while True:
            end = self.buffer.find(b"\r")
            if end < 0:
                break
            chunk, self.buffer = self.buffer[:end], self.buffer[end + 1:]
            start = chunk.rfind(b"\x02")
            if start < 0:
                continue
            reading = self._frame(chunk[start + 1:])
            if reading is not None:
                out.append(reading)
        start = self.buffer.rfind(b"\x02")
        self.buffer = self.buffer[start:] if start >= 0 else b""
        self.buffer = self.buffer[-MAX_BUFFER:]
        return out

    def _frame(self, body: bytes) -> Reading | None:
        frame = b"\x02" + body + b"\r"
        if len(body) == 2 and body[0] == ord("?"):
            bits = body[1] & 0x7F
            if bits & FIXED_BITS != FIXED_BITS:
                return None
            self.last_status = bits
            if bits & OVER_BIT:
                status = OVERLOAD
            elif bits & UNDER_BIT:
                status = UNDER_ZERO
            elif bits & MOTION_BIT:
                status = MOTION
            elif bits & OUTSIDE_ZERO_BIT:
                status = FAULT
            else:
                self.acks.append(Ack("status", True, f"{bits:#04x}"))
                return None
            return make(None, self.unit, False, net=self.net, status=status, frame=frame)
        if WEIGHT.fullmatch(body) and body.count(b".") == 1:
            return make(float(body), self.unit, True, net=self.net, frame=frame)
        return None
