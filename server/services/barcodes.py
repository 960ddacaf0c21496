"""GTIN barcodes (EAN-8, UPC-A, EAN-13, GTIN-14): check digits, kinds, the 14-digit stored form.

A GTIN is stored left-padded with zeros to 14 digits, so every printed form of one product
(UPC-A 012345678905, EAN-13 0012345678905) finds the same row. The printed form is the last
8/12/13/14 digits, by kind.
"""

from biip.checksums import gs1_standard_check_digit

from server.models.catalog import GTIN_KINDS, BarcodeKind

GTIN_LENGTHS = {8: BarcodeKind.ean8, 12: BarcodeKind.upc, 13: BarcodeKind.ean13, 14: BarcodeKind.gtin14}
PRINTED_LENGTH = {kind: length for length, kind in GTIN_LENGTHS.items()}


class BarcodeError(ValueError):
    """A barcode that cannot be what it claims to be."""


def check_digit(body: str) -> int:
    """GS1 mod-10 check digit of `body` (all digits but the last), by biip."""
    return gs1_standard_check_digit(body)


def looks_like_gtin(text: str) -> bool:
    """Digits only, of a GTIN length (the check digit is not looked at)."""
    return text.isascii() and text.isdigit() and len(text) in GTIN_LENGTHS


def is_valid_gtin(text: str) -> bool:
    return looks_like_gtin(text) and int(text) != 0 and check_digit(text[:-1]) == int(text[-1])


def gtin_kind(text: str) -> BarcodeKind:
    """The kind a GTIN is printed as, from its length. Raises BarcodeError if it is no valid GTIN."""
    text = text.strip()
    if not looks_like_gtin(text):
        raise BarcodeError("A GTIN has 8, 12, 13 or 14 digits.")
    if not is_valid_gtin(text):
        raise BarcodeError(f"Wrong check digit: expected {check_digit(text[:-1])}.")
    return GTIN_LENGTHS[len(text)]


def normalize_gtin(text: str) -> str:
    """The 14-digit stored form of a valid GTIN. Raises BarcodeError otherwise."""
    text = text.strip()
    gtin_kind(text)
    return text.zfill(14)


def stored_form(text: str) -> str:
    """The form a scanned or typed barcode is looked up and stored in: a valid GTIN as 14 digits,
    anything else as read (outer spaces cut)."""
    text = text.strip()
    return text.zfill(14) if is_valid_gtin(text) else text


def printed_form(barcode: str, kind: str) -> str:
    """What is printed under the bars: the stored GTIN cut to its kind's length; internal codes as is."""
    length = PRINTED_LENGTH.get(kind)
    return barcode[-length:] if length and len(barcode) == 14 else barcode


def is_gtin_kind(kind: str) -> bool:
    return kind in GTIN_KINDS


def barcode_candidates(text: str) -> list[str]:
    """The stored forms a scanned or typed barcode may have: a GTIN is stored as 14 digits."""
    text = text.strip()
    return list(dict.fromkeys([text.zfill(14), text])) if looks_like_gtin(text) else [text]
