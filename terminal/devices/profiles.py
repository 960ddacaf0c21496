"""Device profiles: one TOML file per real model in firmware_profiles/<kind>/ (scanners, scales,
cameras, stations). `read_profile(kind, name_or_path)` finds and parses one; each device module
checks the keys of its own kind with `check_keys`.
"""

import sys
import tomllib
from pathlib import Path

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
    if not (path.suffix == ".toml" and path.exists()):
        path = next((root / kind / f"{name_or_path}.toml" for root in ROOTS
                     if (root / kind / f"{name_or_path}.toml").exists()), None)
        if path is None:
            raise ProfileError(f"no {kind[:-1]} profile {name_or_path!r} (known: {', '.join(available(kind)) or 'none'})")
    try:
        return path.stem, tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"{path.name}: {error}") from None


def check_keys(where: str, data: dict, allowed: set[str], required: tuple[str, ...] = ()) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ProfileError(f"{where}: unknown key(s) {', '.join(unknown)}")
    missing = [key for key in required if key not in data]
    if missing:
        raise ProfileError(f"{where}: missing key(s) {', '.join(missing)}")
