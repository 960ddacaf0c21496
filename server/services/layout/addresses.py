"""Cell addresses: the parts a warehouse's address format may name, and the address they make."""

import string

ADDRESS_PARTS = ("warehouse", "zone", "block", "aisle", "bay", "level", "level_letter", "position", "side", "slot")
_SAMPLE_TEXT = {"warehouse": "W", "zone": "Z", "level_letter": "A", "side": "L", "address": "A"}


class AddressFormatError(ValueError):
    """A format string that cannot make addresses: `unknown` names the parts no cell has."""

    def __init__(self, reason: str, unknown: set[str] | None = None):
        super().__init__(reason)
        self.unknown = unknown or set()


def level_letter(level: int) -> str:
    """1 -> A, 26 -> Z, 27 -> AA (0 -> '0')."""
    if level <= 0:
        return str(level)
    out = ""
    while level:
        level, rest = divmod(level - 1, 26)
        out = chr(ord("A") + rest) + out
    return out


def address_parts(*, zone: str, warehouse: str = "", block: int = 0, aisle: int = 0, bay: int = 0, level: int = 0,
                  position: int = 0, side: str = "L", slot: int = 0) -> dict:
    """Every part an address format may name, for one cell."""
    return {"warehouse": warehouse, "zone": zone, "block": block, "aisle": aisle, "bay": bay, "level": level,
            "level_letter": level_letter(level), "position": position, "side": side, "slot": slot}


def format_address(fmt: str, **parts) -> str:
    """The cell's address by the format `fmt` (KeyError, ValueError or IndexError when it does not fit)."""
    return fmt.format(**address_parts(**parts))


def check_format(value: str, parts: tuple = ADDRESS_PARTS) -> None:
    """Raise AddressFormatError unless `value` is a format string over `parts` that formats sample values."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as error:
        raise AddressFormatError(str(error)) from None
    unknown = {n for n in names if n.split(".")[0].split("[")[0] not in parts}
    if unknown or "" in names:
        raise AddressFormatError("unknown parts", unknown or {"{}"})
    sample = {name: _SAMPLE_TEXT.get(name, 1) for name in parts}
    try:
        value.format(**sample)
    except (ValueError, KeyError, IndexError, AttributeError) as error:
        raise AddressFormatError(str(error)) from None
