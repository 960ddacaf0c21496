"""Massa-K "protocol 100" (binary, serial or TCP), as in Massa-K MK-..-TB / ВТ / ТВ-S terminals.

Frame: F8 55 CE | LEN (uint16 LE, bytes in BODY) | BODY (command byte + data) | CRC16 (LE, of BODY).
CRC is Massa-K's CRC-16 (polynomial 0x1021, initial 0, as in the manufacturer's C routine).
Commands used here:
  0x23 CMD_GET_MASSA -> 0x24 CMD_ACK_MASSA: weight int32 LE, division code, stable, net, zero
       [, tare int32 LE] (LEN 9 or 13); division code 0..4 = 0.1 g, 1 g, 10 g, 100 g, 1 kg
  0x72 CMD_SET_ZERO  -> 0x27 CMD_ACK_SET (done) or 0x28 CMD_ERROR
  0xA3 CMD_SET_TARE (tare int32 LE, in divisions) -> 0x12 CMD_ACK_SET_TARE or 0x15 CMD_NACK_TARE
  0x28 CMD_ERROR: error code (0x08 load above the limit, 0x09 not in weighing mode, 0x15 zero impossible)
  0xF0 CMD_NACK: command not understood
"""

import struct

from .reading import FAULT, MAX_BUFFER, OVERLOAD, Ack, Reading, make

HEADER = b"\xf8\x55\xce"
CMD_GET_MASSA, CMD_ACK_MASSA = 0x23, 0x24
CMD_SET_ZERO, CMD_ACK_SET = 0x72, 0x27
CMD_SET_TARE, CMD_ACK_SET_TARE, CMD_NACK_TARE = 0xA3, 0x12, 0x15
CMD_ERROR, CMD_NACK = 0x28, 0xF0
ERR_OVERLOAD = 0x08
DIVISION_GRAMS = (0.1, 1.0, 10.0, 100.0, 1000.0)
MAX_LEN = 64


def crc16(body: bytes) -> int:
    crc = 0
    for byte in body:
        a, temp = 0, (crc >> 8) << 8
        for _ in range(8):
            a = ((a << 1) ^ 0x1021) if (temp ^ a) & 0x8000 else a << 1
            temp <<= 1
        crc = (a ^ (crc << 8) ^ byte) & 0xFFFF
    return crc


def pack(body: bytes) -> bytes:
    return HEADER + struct.pack("<H", len(body)) + body + struct.pack("<H", crc16(body))


def get_massa() -> bytes:
    return pack(bytes([CMD_GET_MASSA]))


def zero() -> bytes:
    return pack(bytes([CMD_SET_ZERO]))


def tare(raw: int) -> bytes:
    return pack(bytes([CMD_SET_TARE]) + struct.pack("<i", raw))


def ack_massa(raw: int, division: int, stable: bool, net: bool, at_zero: bool, tare: int | None = None) -> bytes:
    body = bytes([CMD_ACK_MASSA]) + struct.pack("<iBBBB", raw, division, stable, net, at_zero)
    if tare is not None:
        body += struct.pack("<i", tare)
    return pack(body)


def error(code: int) -> bytes:
    return pack(bytes([CMD_ERROR, code]))


def reply(command: int) -> bytes:
    return pack(bytes([command]))


def split_frames(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Complete valid bodies in `buffer`, and the bytes to keep. Skips garbage and bad CRCs;
    a header whose frame is not complete yet is kept unless a complete good frame follows it."""
    bodies: list[bytes] = []
    i = 0
    while True:
        i = buffer.find(HEADER, i)
        if i < 0:
            keep = next((k for k in (2, 1) if buffer.endswith(HEADER[:k])), 0)
            return bodies, buffer[len(buffer) - keep:] if keep else b""
        body = _frame_at(buffer, i)
        if body is None:  # not a frame
            i += 1
            continue
        if body is ...:  # incomplete: wait, unless a good frame follows
            j = buffer.find(HEADER, i + 1)
            while j >= 0 and not isinstance(_frame_at(buffer, j), bytes):
                j = buffer.find(HEADER, j + 1)
            if j < 0:
                return bodies, buffer[i:][-MAX_BUFFER:]
            i = j
            continue
        bodies.append(body)
        i += 7 + len(body)


def _frame_at(buffer: bytes, i: int):
    """The body of a good frame at i, ... when incomplete, None when not a frame."""
    if len(buffer) < i + 5:
        return ...
    (length,) = struct.unpack_from("<H", buffer, i + 3)
    if not 1 <= length <= MAX_LEN:
        return None
    if len(buffer) < i + 7 + length:
        return ...
    body = buffer[i + 5:i + 5 + length]
    (crc,) = struct.unpack_from("<H", buffer, i + 5 + length)
    return body if crc == crc16(body) else None


class MassaKCodec:
    protocol = "massa-k-100"

    def __init__(self, unit: str = "kg"):
        self.unit = unit  # readings are reported in kg
        self.buffer = b""
        self.acks: list[Ack] = []
        self.division = 1
        self.last_raw = 0

    def feed(self, data: bytes) -> list[Reading]:
        bodies, self.buffer = split_frames(self.buffer + data)
        out = []
        for body in bodies:
            reading = self._body(body)
            if reading is not None:
                out.append(reading)
        return out

    def _body(self, body: bytes) -> Reading | None:
        command, frame = body[0], pack(body)
        if command == CMD_ACK_MASSA and len(body) in (9, 13):
            raw, division, stable, net, _at_zero = struct.unpack_from("<iBBBB", body, 1)
            if division >= len(DIVISION_GRAMS) or stable > 1 or net > 1:
                return make(None, "kg", False, status=FAULT, frame=frame)
            step = DIVISION_GRAMS[division] / 1000
            self.division, self.last_raw = division, raw
            tare = round(struct.unpack_from("<i", body, 9)[0] * step, 4) if len(body) == 13 else None
            return make(round(raw * step, 4), "kg", stable == 1, net=net == 1, tare=tare, frame=frame)
        if command == CMD_ERROR:
            code = body[1] if len(body) > 1 else 0
            self.acks.append(Ack("error", False, f"{code:#04x}"))
            if code == ERR_OVERLOAD:
                return make(None, "kg", False, status=OVERLOAD, frame=frame)
            return None
        names = {CMD_ACK_SET: ("zero", True), CMD_ACK_SET_TARE: ("tare", True),
                 CMD_NACK_TARE: ("tare", False), CMD_NACK: ("nack", False)}
        if command in names:
            self.acks.append(Ack(*names[command]))
        return None
