"""MT-SICS (Mettler Toledo Standard Interface Command Set), level 0/1 subset.

Commands end with CR LF. Replies used here:
  S S <value> <unit>   stable weight (reply to S, SI, SIR)
  S D <value> <unit>   dynamic (not stable) weight (SI, SIR)
  S I / S + / S -      not executable / overload / underload
  Z A | Z I | Z + | Z -           zero done / not executable / upper / lower limit
  T S <value> <unit> | T I | T + | T -   tare taken (value is the tare)
  TA A <value> <unit> | TA I | TA L      tare preset query/set
  I2 A "<type> <capacity>"  I4 A "<serial>"  (@ answers like I4)
  ES / ET / EL         syntax / transmission / logical error
"""

import re

from .reading import FAULT, OVERLOAD, UNDER_ZERO, Ack, Reading, make, split_lines

NUM = rb"([+-]?\s*\d+(?:\.\d*)?|[+-]?\s*\.\d+)"
WEIGHT = re.compile(rb"(S)\s+([SD])\s+" + NUM + rb"\s+(\S+)\s*")
STATUS = re.compile(rb"(S|SI|SIR)\s+([I+-])\s*")
TARE = re.compile(rb"(T)\s+S\s+" + NUM + rb"\s+(\S+)\s*|(TA)\s+A\s+" + NUM + rb"\s+(\S+)\s*")
SIMPLE = re.compile(rb"(Z|T|TA)\s+([AIL+-])\s*|(ES|ET|EL)\s*")
INFO = re.compile(rb"(I2|I4|I3)\s+A\s+\"([^\"]*)\"\s*")
STARTS = b"STZEI"


def _num(raw: bytes) -> float:
    return float(raw.replace(b" ", b""))


# ---- encoders (host -> balance) ----
def request_stable() -> bytes:
    return b"S\r\n"


def request_immediate() -> bytes:
    return b"SI\r\n"


def request_repeat() -> bytes:
    return b"SIR\r\n"


def zero() -> bytes:
    return b"Z\r\n"


def tare() -> bytes:
    return b"T\r\n"


def tare_preset(value: float, unit: str, decimals: int = 3) -> bytes:
    return f"TA {value:.{decimals}f} {unit}\r\n".encode()


def reset() -> bytes:
    return b"@\r\n"


def identify(kind: str = "I2") -> bytes:
    return f"{kind}\r\n".encode()


# ---- frames (balance -> host), used by the emulator ----
def weight_frame(stable: bool, value: float, unit: str, decimals: int = 3) -> bytes:
    return f"S {'S' if stable else 'D'} {value:>10.{decimals}f} {unit}\r\n".encode()


def status_frame(command: str, code: str) -> bytes:
    return f"{command} {code}\r\n".encode()


def tare_frame(value: float, unit: str, decimals: int = 3, command: str = "T") -> bytes:
    return f"{command} {'S' if command == 'T' else 'A'} {value:>10.{decimals}f} {unit}\r\n".encode()


def info_frame(kind: str, text: str) -> bytes:
    return f'{kind} A "{text}"\r\n'.encode()


class MtSicsCodec:
    protocol = "mt-sics"

    def __init__(self, unit: str = "kg"):
        self.unit = unit
        self.buffer = b""
        self.tare: float | None = None
        self.acks: list[Ack] = []
        self.info: dict[str, str] = {}

    def feed(self, data: bytes) -> list[Reading]:
        lines, self.buffer = split_lines(self.buffer + data)
        out: list[Reading] = []
        for line in lines:
            reading = self._line(line)
            if reading is not None:
                out.append(reading)
        return out

    def _line(self, line: bytes) -> Reading | None:
        # A cut-off reply glued to the next one: try each later start of a reply.
        for start in range(len(line)):
            if line[start] in STARTS or line[start:start + 1] == b"@":
                result = self._parse(line[start:])
                if result is not False:
                    return result
        return None

    def _parse(self, line: bytes):
        """A Reading, None (understood, no reading), or False (not a reply)."""
        net = bool(self.tare)
        if m := WEIGHT.fullmatch(line):
            try:
                value = _num(m.group(3))
            except ValueError:
                return False
            return make(value, m.group(4).decode("ascii", "replace"), m.group(2) == b"S",
                        net=net, tare=self.tare, frame=line)
        if m := STATUS.fullmatch(line):
            code = m.group(2)
            status = {b"+": OVERLOAD, b"-": UNDER_ZERO}.get(code, FAULT)
            return make(None, self.unit, False, net=net, tare=self.tare, status=status, frame=line)
        if m := TARE.fullmatch(line):
            raw = m.group(2) or m.group(5)
            try:
                self.tare = _num(raw) or None
            except ValueError:
                return False
            self.acks.append(Ack("T" if m.group(1) else "TA", True, raw.decode().strip()))
            return None
        if m := SIMPLE.fullmatch(line):
            if m.group(3):
                self.acks.append(Ack(m.group(3).decode(), False, "error"))
            else:
                command, code = m.group(1).decode(), m.group(2).decode()
                self.acks.append(Ack(command, code == "A", code))
            return None
        if m := INFO.fullmatch(line):
            self.info[m.group(1).decode()] = m.group(2).decode("ascii", "replace")
            self.acks.append(Ack(m.group(1).decode(), True, m.group(2).decode("ascii", "replace")))
            return None
        return False
