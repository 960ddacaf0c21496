"""Every printable document by name: labels (ZPL) and receipts (ESC/POS).

`render(template, data, profile)` gives the printer's bytes, `preview_png` a picture of them,
`sample(template)` data to try a template with. The template's kind must match the printer's
language: labels go to ZPL printers, receipts to ESC/POS printers.
"""

from printers import labels, preview, receipt_preview, receipts, samples
from printers.errors import TemplateError
from printers.profiles import PrinterProfile, load_profile

LANGUAGE_OF = {**{name: "zpl" for name in labels.TEMPLATES}, **{name: "escpos" for name in receipts.TEMPLATES}}
TEMPLATE_NAMES = tuple(LANGUAGE_OF)
LANGUAGE_NAMES = {"zpl": "ZPL", "escpos": "ESC/POS"}


def _profile_for(template: str, profile: PrinterProfile | str) -> PrinterProfile:
    if template not in LANGUAGE_OF:
        raise TemplateError("template", f"unknown template {template!r} (known: {', '.join(TEMPLATE_NAMES)})")
    profile = load_profile(profile) if isinstance(profile, str) else profile
    if profile.language != LANGUAGE_OF[template]:
        raise TemplateError(
            "profile",
            f"{template} prints on {LANGUAGE_NAMES[LANGUAGE_OF[template]]} printers; {profile.name} speaks "
            f"{LANGUAGE_NAMES[profile.language]}",
        )
    return profile


def render(template: str, data, profile: PrinterProfile | str) -> bytes:
    profile = _profile_for(template, profile)
    if profile.language == "zpl":
        return labels.render(template, data, profile)
    return receipts.render(template, data, profile)


def preview_png(template: str, data, profile: PrinterProfile | str) -> bytes:
    profile = _profile_for(template, profile)
    if profile.language == "zpl":
        return preview.preview(template, data, profile)
    return receipt_preview.preview_png(receipts.render(template, data, profile), profile)


def sample(template: str) -> dict:
    if template in receipts.SAMPLES:
        return receipts.SAMPLES[template]
    if template in LANGUAGE_OF:
        return samples.sample(template)
    raise TemplateError("template", f"unknown template {template!r} (known: {', '.join(TEMPLATE_NAMES)})")


def templates_for(profile: PrinterProfile) -> list[str]:
    return [name for name, language in LANGUAGE_OF.items() if language == profile.language]
