"""Scale profiles: firmware_profiles/scales/<name>.toml."""

from typing import Literal

from pydantic import Field, PositiveInt

from terminal.devices.profiles import Table, check_profile, read_profile

from . import CODECS


class ScaleProfileFile(Table):
    vendor: str
    model: str
    protocol: Literal[tuple(CODECS)] = Field(title="protocol")
    interface: str
    baudrate: PositiveInt = 9600
    bytesize: int = 8
    parity: Literal["N", "E", "O"] = Field("N", title="parity")
    stopbits: float = 1
    unit: str
    division: float
    capacity: float
    decimals: int = 3
    mode: str = "poll"  # poll | continuous | stream, as the protocol has them
    poll_interval: float = 0.2
    commands: list[str] = []
    usb_vendor_id: int | None = None
    usb_product_id: int | None = None
    notes: str = ""


DEFAULTED = {"decimals", "poll_interval", "mode", "commands"}  # always in the loaded dict


def load(name_or_path: str) -> tuple[str, dict]:
    name, data = read_profile("scales", name_or_path)
    checked = check_profile(ScaleProfileFile, data, f"scales/{name}")
    return name, {**data, **checked.model_dump(include=DEFAULTED)}
