"""Device profiles: one TOML file per real model in firmware_profiles/<kind>/ (scanners, scales,
cameras, stations). `read_profile(kind, name_or_path)` finds and parses one; each device module
checks it with its own pydantic model (`Table`) through `check_profile`.
"""

import sys
import tomllib
from pathlib import Path
from typing import TypeVar

from printers.schema import Table, check

__all__ = ["ProfileError", "Table", "available", "check_profile", "read_profile"]
M = TypeVar("M")

KINDS = ("scanners", "scales", "cameras", "stations")
ROOTS = (
    Path(__file__).resolve().parent.parent.parent / "firmware_profiles",
    Path(sys.prefix) / "share" / "cellwms" / "firmware_profiles",
)


class ProfileError(ValueError):
    """A device profile that is missing, malformed, or names an unknown key."""


def available(kind: str) -> list[str]:
    names = set()
    for root in ROOTS:
        if (root / kind).is_dir():
            names.update(p.stem for p in (root / kind).glob("*.toml"))
    return sorted(names)


def read_profile(kind: str, name_or_path: str) -> tuple[str, dict]:
    """(name, data) of a profile given by name (firmware_profiles/<kind>/<name>.toml) or path."""
    if kind not in KINDS:
        raise ProfileError(f"unknown profile kind {kind!r}")
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        folder = path.resolve().parent.name
        if folder in KINDS and folder != kind:
            raise ProfileError(f"{name_or_path}: a {folder[:-1]} profile, not a {kind[:-1]} profile")
    else:
        path = next((root / kind / f"{name_or_path}.toml" for root in ROOTS
                     if (root / kind / f"{name_or_path}.toml").exists()), None)
        if path is None:
            raise ProfileError(f"no {kind[:-1]} profile {name_or_path!r} (known: {', '.join(available(kind)) or 'none'})")
    try:
        return path.stem, tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"{path.name}: {error}") from None


def check_profile(model: type[M], data, where: str, at: str = "") -> M:
    """`data` as `model` (printers/schema.py), or a ProfileError "<where>: <key>: <problem>"."""
    return check(model, data, where, ProfileError, at)
