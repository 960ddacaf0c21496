"""What every scale codec reports."""

from dataclasses import dataclass, field

# status values
OK = "ok"  # stable weight
MOTION = "motion"
OVERLOAD = "overload"
UNDER_ZERO = "under_zero"
FAULT = "fault"

MAX_BUFFER = 512  # a codec keeps at most this many undecoded bytes


@dataclass(frozen=True)
class Reading:
    """One weight reading. `value` is None when the scale sends no number (overload, motion status)."""

    value: float | None
    unit: str
    stable: bool
    net: bool = False
    tare: float | None = None
    status: str = OK
    frame: bytes = field(default=b"", compare=False, repr=False)  # the bytes it came from

    def as_dict(self) -> dict:
        return {"value": self.value, "unit": self.unit, "stable": self.stable, "net": self.net,
                "tare": self.tare, "status": self.status}


def make(value, unit, stable, *, net=False, tare=None, status=None, frame=b"") -> Reading:
    """A reading that is stable only when the scale says so and the weight is a sane, non-negative number."""
    if status is None:
        status = OK if stable else MOTION
    if value is not None and value < 0 and status in (OK, MOTION):
        status = UNDER_ZERO
    stable = bool(stable) and status == OK and value is not None
    return Reading(value, unit, stable, bool(net), tare, status, frame)


@dataclass
class Ack:
    """A reply to a command (zero, tare, reset, identification)."""

    command: str
    ok: bool
    detail: str = ""


def split_lines(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Complete LF-ended lines (CR stripped) and what is left, cut to MAX_BUFFER bytes."""
    *lines, rest = buffer.split(b"\n")
    return [line.rstrip(b"\r") for line in lines], rest[-MAX_BUFFER:]
