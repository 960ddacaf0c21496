"""What a scan is: a cell, a SKU, a badge, a tote, an order, a parcel, or unknown.

`decode()` turns the bytes a device sent into a `DecodedScan` (decode.py); `classify()` asks
every registered `Resolver` (resolvers.py) for its candidates in one query and lets the first
that matched describe the entity (lookup.py); `record_scan()` stores it (record.py).
Classification only reads.
"""

from server.services.scan.decode import (
    GS,
    MARKING_FORMS,
    MAX_CODE_CHARS,
    WEDGE_MAX_CHARS,
    DecodedScan,
    Wedge,
    decode,
    normalize_symbology,
    typed_readings,
)
from server.services.scan.lookup import Classification, classify, classify_many
from server.services.scan.record import record_scan, scan_row
from server.services.scan.resolvers import (
    ID,
    RESOLVERS,
    WAREHOUSE,
    Kind,
    Lookup,
    Resolver,
    _one,
    _text,
    _text_anywhere,
    _text_here,
    register_resolver,
)

__all__ = [
    "GS", "ID", "MARKING_FORMS", "MAX_CODE_CHARS", "RESOLVERS", "WAREHOUSE", "Classification", "DecodedScan", "Kind", "Lookup",
    "Resolver", "_one", "_text", "_text_anywhere", "_text_here", "classify", "classify_many", "decode",
    "normalize_symbology", "record_scan", "register_resolver", "scan_row", "typed_readings", "WEDGE_MAX_CHARS", "Wedge",
]
