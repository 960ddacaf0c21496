"""CAS continuous output (CAS PD-II, ER-Plus, DB-II, SW and others in stream mode).

One line per reading, e.g. b"ST,GS,+  1.234kg\\r\\n":
  header 1: ST stable, US unstable, OL overload; header 2: GS gross, NT net;
  some models add fields (device id, lamp status) before the weight; the weight field is
  sign, digits with a decimal point, and the unit (kg, g, lb, oz).
The protocol has no commands in stream mode.
"""

import re

from .reading import OVERLOAD, Reading, make, split_lines

HEADER = re.compile(rb"(ST|US|OL),(GS|NT),")
LINE = re.compile(rb"(ST|US|OL),(GS|NT),(?:[^,]*,)*?\s*([+-]?)\s*(\d*\.?\d*)\s*([A-Za-z]{1,3})\s*")


def frame(header: str, kind: str, value: float | None, unit: str = "kg", decimals: int = 3) -> bytes:
    body = f"{'':>8}" if value is None else ("-" if value < 0 else "+") + f"{abs(value):>7.{decimals}f}"
    return f"{header},{kind},{body}{unit:>2}\r\n".encode()


class CasCodec:
    protocol = "cas"

    def __init__(self, unit: str = "kg"):
        self.unit = unit
        self.buffer = b""

    def feed(self, data: bytes) -> list[Reading]:
        lines, self.buffer = split_lines(self.buffer + data)
        out: list[Reading] = []
        for line in lines:
            for header in reversed(list(HEADER.finditer(line))):  # a cut-off frame glued in front
                reading = self._parse(line[header.start():])
                if reading is not None:
                    out.append(reading)
                    break
        return out

    def _parse(self, line: bytes) -> Reading | None:
        if line.startswith(b"OL,"):
            net = line[3:5] == b"NT"
            if not (m := re.fullmatch(rb"OL,(?:GS|NT),[^\r\n]*?([A-Za-z]{1,3})?\s*", line)):
                return None
            unit = (m.group(1) or self.unit.encode()).decode()
            return make(None, unit, False, net=net, status=OVERLOAD, frame=line)
        m = LINE.fullmatch(line)
        if not m or not any(c in b"0123456789" for c in m.group(4)):
            return None
        try:
            value = float(m.group(4))
        except ValueError:
            return None
        if m.group(3) == b"-":
            value = -value
        return make(value, m.group(5).decode(), m.group(1) == b"ST", net=m.group(2) == b"NT", frame=line)
