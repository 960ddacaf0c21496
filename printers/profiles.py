"""Printer profiles: one TOML file per real printer model in firmware_profiles/printers/.

A profile is data: the model's language (ZPL or ESC/POS), resolution, print width, label sizes,
code pages and features. `load_profile(name_or_path)` reads and checks one (pydantic,
`PrinterProfileFile`); an unknown key, a missing one or a bad value is a `ProfileError`
"<file>: <key>: <problem>".
"""

import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PositiveInt, ValidationInfo, field_validator

from printers.schema import Table, check

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


NEEDED_BY = {"label_sizes": ("zpl", "a ZPL printer"), "chars_per_line": ("escpos", "an ESC/POS printer")}
FEATURES = ("cutter", "qr", "barcode", "datamatrix", "gs1", "status", "utf8", "graphics", "peeler")


class PrinterProfileFile(Table):
    """firmware_profiles/printers/<name>.toml"""

    vendor: str
    model: str
    language: Literal["zpl", "escpos"] = Field(title="language")
    dpi: PositiveInt
    print_width_mm: float
    # label_sizes and chars_per_line are checked against the language given above them
    label_sizes: list[Annotated[list[float], Field(min_length=2, max_length=2)]] = Field([], validate_default=True)
    paper_width_mm: float | None = None
    chars_per_line: PositiveInt | None = Field(None, validate_default=True)
    chars_per_line_font_b: PositiveInt | None = None
    code_pages: dict[str, int] = {}
    cyrillic_code_page: str | None = None
    features: list[Literal[FEATURES]] = Field([], title="feature")
    status: str = ""
    setup: str = ""
    escpos_capability: str = ""
    font: str = ""
    notes: str = ""

    @field_validator("label_sizes", "chars_per_line")
    @classmethod
    def _language_needs(cls, value, info: ValidationInfo):
        language, printer = NEEDED_BY[info.field_name]
        if info.data.get("language") == language and not value:
            raise ValueError(f"{printer} needs {info.field_name}")
        return value

    @field_validator("cyrillic_code_page")
    @classmethod
    def _cyrillic_is_listed(cls, name, info: ValidationInfo):
        if name and name not in info.data.get("code_pages", {}):
            raise ValueError(f"{name!r} is not in code_pages")
        return name


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
    checked = check(PrinterProfileFile, data, where, ProfileError)
    return PrinterProfile(
        name=name, vendor=checked.vendor, model=checked.model, language=checked.language, dpi=checked.dpi,
        print_width_mm=checked.print_width_mm, label_sizes=tuple(LabelSize(*size) for size in checked.label_sizes),
        paper_width_mm=checked.paper_width_mm, chars_per_line=checked.chars_per_line,
        chars_per_line_font_b=checked.chars_per_line_font_b, code_pages=dict(checked.code_pages),
        cyrillic_code_page=checked.cyrillic_code_page, features=frozenset(checked.features), status=checked.status,
        setup=checked.setup, font=checked.font, notes=checked.notes, escpos_capability=checked.escpos_capability,
    )
