"""The bounds every number and text from outside must keep: one place for the API's field types,
the station-event checks and the request guard.

Integers fit the database column they go to (`Integer`: 32-bit signed, `BigInteger`: 64-bit
signed); text holds no NUL (PostgreSQL refuses it) and no unpaired surrogate (not encodable as
UTF-8); JSON bodies nest at most `MAX_JSON_DEPTH` deep.
"""

from __future__ import annotations

import math
import re

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1  # an `Integer` column
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # a `BigInteger` column
MAX_JSON_DEPTH = 64
DEFAULT_TEXT_MAX = 2000  # a text field without a tighter cap of its own

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def fits_int32(value: int) -> bool:
    return INT32_MIN <= value <= INT32_MAX


def fits_int64(value: int) -> bool:
    return INT64_MIN <= value <= INT64_MAX


def text_problem(value: str, *, allow_nul: bool = False) -> str | None:
    """Why `value` cannot be stored as text, or None. (Python's json reads a lone `\\ud800` as is.)

    `allow_nul`: for raw input the server cleans itself (a scanned code may hold any byte)."""
    found = (_SURROGATE if allow_nul else _BAD_TEXT).search(value)
    if found is None:
        return None
    return "NUL characters are not allowed." if found.group() == "\x00" else "Unpaired surrogates are not allowed."


def has_control(value: str) -> bool:
    """CR, LF, TAB, NUL, DEL...: never in a name that goes into a header or a file name."""
    return _CONTROL.search(value) is not None


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text `body` opens more than `limit` arrays/objects inside each other.

    Read before parsing, so that a body nested 100k deep is refused instead of ending in a
    RecursionError. Brackets inside strings do not count."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def value_problem(value, path: str = "", *, allow_nul: bool = False) -> tuple[str, str] | None:
    """(where, why) for the first text, integer or float in parsed JSON `value` that no column can
    hold: NUL (unless `allow_nul`), unpaired surrogates, integers beyond 64 bits, NaN and infinities."""
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            why = text_problem(item, allow_nul=allow_nul)
            if why:
                return where or "(body)", why
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if not fits_int64(item):
                return where or "(body)", "Integer out of range."
        elif isinstance(item, float):
            if not math.isfinite(item):
                return where or "(body)", "Numbers must be finite."
        elif isinstance(item, dict):
            for key, child in item.items():
                why = text_problem(key, allow_nul=allow_nul) if isinstance(key, str) else None
                if why:
                    return f"{where}.{key!r}" if where else repr(key), why
                stack.append((f"{where}.{key}" if where else str(key), child))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", child) for i, child in enumerate(item))
    return None


def parse_whole(text: str | None, maximum: int = INT32_MAX) -> int | None:
    """`text` (a form field, a query argument) as a whole number from 0 to `maximum`, or None.

    ASCII digits only: `str.isdigit` also takes '²', which `int` refuses."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text[:30]) if len(text) <= 30 else maximum + 1
    return value if value <= maximum else None
