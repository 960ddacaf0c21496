"""Printer profiles: one TOML file per real printer model in firmware_profiles/printers/.

A profile is data: the model's language (ZPL or ESC/POS), resolution, print width, label sizes,
code pages and features. `load_profile(name_or_path)` reads and checks one; an unknown key or a
missing one is a `ProfileError` naming it.
"""

import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

LANGUAGES = ("zpl", "escpos")
# The repository's profiles; an installed package finds them under share/cellwms/ too.
PROFILE_DIRS = (
    Path(__file__).resolve().parent.parent / "firmware_profiles" / "printers",
    Path(sys.prefix) / "share" / "cellwms" / "firmware_profiles" / "printers",
)


class ProfileError(ValueError):
    """A profile that is missing, malformed or names an unknown key."""


@dataclass(frozen=True)
class LabelSize:
    width_mm: float
    height_mm: float


@dataclass(frozen=True)
class PrinterProfile:
    name: str  # file stem, e.g. "zebra-zd421-203"
    vendor: str
    model: str
    language: str  # "zpl" or "escpos"
    dpi: int
    print_width_mm: float  # printable width
    # ZPL: label sizes the station may load; the first is the default.
    label_sizes: tuple[LabelSize, ...] = ()
    # ESC/POS: characters per line in font A and B, paper width, code pages by name -> ESC t number.
    paper_width_mm: float | None = None
    chars_per_line: int | None = None
    chars_per_line_font_b: int | None = None
    code_pages: dict[str, int] = field(default_factory=dict)
    cyrillic_code_page: str | None = None  # e.g. "CP866"
    # What the printer does natively; what it cannot do is sent as an image.
    features: frozenset[str] = frozenset()  # e.g. {"cutter", "qr", "barcode", "datamatrix", "status", "gs1"}
    # Status protocol: "zpl-hs" (~HS), "escpos-dle-eot" (DLE EOT n), or "" (none).
    status: str = ""
    # Extra commands sent before every job (e.g. darkness, media type), as text.
    setup: str = ""
    # ESC/POS: python-escpos capability profile to build with (e.g. "TM-T20II"); "" means "default".
    escpos_capability: str = ""
    # ZPL: font for text, e.g. "E:TT0003M_.FNT" (sent as ^A@); "" means resident font 0 (^A0).
    font: str = ""
    notes: str = ""

    @property
    def dots_per_mm(self) -> float:
        return self.dpi / 25.4

    @property
    def print_width_dots(self) -> int:
        return int(round(self.print_width_mm * self.dots_per_mm))

    def has(self, feature: str) -> bool:
        return feature in self.features


_KEYS = {
    "vendor", "model", "language", "dpi", "print_width_mm", "label_sizes", "paper_width_mm",
    "chars_per_line", "chars_per_line_font_b", "code_pages", "cyrillic_code_page", "features",
    "status", "setup", "notes", "escpos_capability", "font",
}
_REQUIRED = ("vendor", "model", "language", "dpi", "print_width_mm")
_FEATURES = {"cutter", "qr", "barcode", "datamatrix", "gs1", "status", "utf8", "graphics", "peeler"}


def profile_path(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" and candidate.exists():
        return candidate
    for folder in PROFILE_DIRS:
        path = folder / f"{name_or_path}.toml"
        if path.exists():
            return path
    known = ", ".join(available_profiles()) or "none"
    raise ProfileError(f"no printer profile {name_or_path!r} (known: {known})")


def available_profiles() -> list[str]:
    names = set()
    for folder in PROFILE_DIRS:
        if folder.is_dir():
            names.update(p.stem for p in folder.glob("*.toml"))
    return sorted(names)


def load_profile(name_or_path: str) -> PrinterProfile:
    path = profile_path(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"{path.name}: {error}") from None
    return parse_profile(path.stem, data, where=path.name)


def parse_profile(name: str, data: dict, where: str = "profile") -> PrinterProfile:
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ProfileError(f"{where}: unknown key(s) {', '.join(unknown)}")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise ProfileError(f"{where}: missing key(s) {', '.join(missing)}")
    if data["language"] not in LANGUAGES:
        raise ProfileError(f"{where}: language must be one of {', '.join(LANGUAGES)}, not {data['language']!r}")
    if not isinstance(data["dpi"], int) or data["dpi"] <= 0:
        raise ProfileError(f"{where}: dpi must be a positive whole number")
    features = frozenset(data.get("features", ()))
    if features - _FEATURES:
        raise ProfileError(f"{where}: unknown feature(s) {', '.join(sorted(features - _FEATURES))}")
    sizes = []
    for i, size in enumerate(data.get("label_sizes", ())):
        try:
            width, height = size
            sizes.append(LabelSize(float(width), float(height)))
        except (TypeError, ValueError):
            raise ProfileError(f"{where}: label_sizes[{i}] must be [width_mm, height_mm]") from None
    if data["language"] == "zpl" and not sizes:
        raise ProfileError(f"{where}: a ZPL printer needs label_sizes")
    if data["language"] == "escpos" and not data.get("chars_per_line"):
        raise ProfileError(f"{where}: an ESC/POS printer needs chars_per_line")
    code_pages = dict(data.get("code_pages", {}))
    cyrillic = data.get("cyrillic_code_page")
    if cyrillic and cyrillic not in code_pages:
        raise ProfileError(f"{where}: cyrillic_code_page {cyrillic!r} is not in code_pages")
    return PrinterProfile(
        name=name, vendor=data["vendor"], model=data["model"], language=data["language"], dpi=data["dpi"],
        print_width_mm=float(data["print_width_mm"]), label_sizes=tuple(sizes),
        paper_width_mm=data.get("paper_width_mm"), chars_per_line=data.get("chars_per_line"),
        chars_per_line_font_b=data.get("chars_per_line_font_b"), code_pages=code_pages,
        cyrillic_code_page=cyrillic, features=features, status=data.get("status", ""),
        setup=data.get("setup", ""), font=data.get("font", ""), notes=data.get("notes", ""),
        escpos_capability=data.get("escpos_capability", ""),
    )
