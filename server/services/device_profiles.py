"""Which printer and device profiles are in use: each station's devices as its agent last reported
them (heartbeat) and as its station profile names them (firmware_profiles/stations/<code>.toml),
with the model of each device profile (firmware_profiles/<kind>s/<profile>.toml). Read-only."""

import tomllib
from pathlib import Path

from sqlalchemy import select

from printers.profiles import PROFILE_DIRS
from server.extensions import db
from server.models import Station
from server.services.stations import station_health

# firmware_profiles/ in the repository and in an installed package (beside printers/).
FIRMWARE_DIRS = tuple(folder.parent for folder in PROFILE_DIRS)
KIND_FOLDERS = {"printer": "printers", "scanner": "scanners", "scale": "scales", "camera": "cameras"}


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def station_profiles() -> dict[str, dict]:
    """Station profiles by their station name (the station code they are for)."""
    found: dict[str, dict] = {}
    for folder in FIRMWARE_DIRS:
        for path in sorted((folder / "stations").glob("*.toml")):
            data = _read(path)
            name = str((data.get("station") or {}).get("name") or path.stem)
            found.setdefault(name.lower(), {"file": path.name, "devices": data.get("devices") or {}})
    return found


def device_profile(kind: str, name: str) -> dict:
    """vendor and model of a device profile, empty when the file is missing."""
    folder = KIND_FOLDERS.get(kind)
    if not folder or not name or "/" in name or "\\" in name:
        return {}
    for base in FIRMWARE_DIRS:
        path = base / folder / f"{name}.toml"
        if path.exists():
            data = _read(path)
            return {"vendor": str(data.get("vendor", "")), "model": str(data.get("model", "")), "file": path.name}
    return {}


def devices_in_use() -> dict:
    """{"stations": [...], "profiles": [...]}: per station its devices (name, kind, profile,
    model, state) and per device profile the stations using it."""
    profiles = station_profiles()
    rows, used = [], {}
    stations = db.session.execute(select(Station).order_by(Station.code)).scalars().all()
    for station in stations:
        health = station_health(station)
        reported = health["devices"] or {}
        planned = (profiles.get(station.code.lower()) or {}).get("devices") or {}
        devices = []
        for name in sorted(set(reported) | set(planned)):
            plan = planned.get(name) or {}
            report = reported.get(name) or {}
            kind = str(plan.get("kind") or report.get("kind") or "")
            profile = str(plan.get("profile") or "")
            model = device_profile(kind, profile)
            devices.append({"name": name, "kind": kind, "profile": profile, "model": model,
                            "state": report.get("state") or "", "detail": report.get("detail") or ""})
            if profile:
                entry = used.setdefault((kind, profile), {"kind": kind, "profile": profile, "model": model,
                                                          "stations": []})
                entry["stations"].append(station.code)
        rows.append({"station": station, "state": health["state"], "devices": devices,
                     "profile_file": (profiles.get(station.code.lower()) or {}).get("file")})
    return {"stations": rows, "profiles": sorted(used.values(), key=lambda e: (e["kind"], e["profile"]))}
