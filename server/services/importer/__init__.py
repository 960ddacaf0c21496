"""Master data import: SKUs, barcodes and opening stock from CSV or JSON (docs/import.md).

All or nothing: every record is checked first against the file and the database (lookups are
prefetched in bulk, never a query per row); on any bad record ImportFailed lists every problem
as (line, field, reason) and nothing is written. Otherwise the rows are written with bulk
statements in the caller's transaction (the service flushes; the caller commits).

Opening stock goes into the ledger as `receive` movements (reason "opening stock") with the
quants updated in the same transaction, so `check_quants()` stays empty.

One module a job: records (reading files, problems, reports), values (checking fields, bulk
lookups), catalog (SKUs and barcodes), stock (opening stock).
"""

from server.services.importer.catalog import BARCODE_FIELDS, SKU_FIELDS, import_barcodes, import_skus
from server.services.importer.records import (
    ImportFailed,
    ImportReport,
    Record,
    RowError,
    read_csv,
    read_file,
    read_json,
)
from server.services.importer.stock import STOCK_FIELDS, import_stock

__all__ = [
    "BARCODE_FIELDS", "SKU_FIELDS", "STOCK_FIELDS", "ImportFailed", "ImportReport", "Record", "RowError",
    "import_barcodes", "import_skus", "import_stock", "read_csv", "read_file", "read_json",
]
