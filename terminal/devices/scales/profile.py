"""Scale profiles: firmware_profiles/scales/<name>.toml."""

from terminal.devices.profiles import ProfileError, check_keys, read_profile

from . import CODECS

KEYS = {"vendor", "model", "protocol", "interface", "baudrate", "bytesize", "parity", "stopbits", "unit",
        "division", "capacity", "decimals", "mode", "poll_interval", "commands", "usb_vendor_id",
        "usb_product_id", "notes"}
REQUIRED = ("vendor", "model", "protocol", "interface", "unit", "division", "capacity")


def load(name_or_path: str) -> tuple[str, dict]:
    name, data = read_profile("scales", name_or_path)
    check_keys(f"scales/{name}", data, KEYS, REQUIRED)
    if data["protocol"] not in CODECS:
        raise ProfileError(f"scales/{name}: protocol {data['protocol']!r} unknown (known: {', '.join(CODECS)})")
    data.setdefault("decimals", 3)
    data.setdefault("poll_interval", 0.2)
    data.setdefault("mode", "poll")
    data.setdefault("commands", [])
    return name, data
