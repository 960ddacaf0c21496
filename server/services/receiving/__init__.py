"""Receiving at the dock: expected deliveries (ASN), counting, unknown barcodes, stickers, closing.

The flow: `create_delivery` (API, or the CSV import) -> `open_delivery` at the dock (a receiving
cell is chosen) -> `count` / `count_scan` units into the delivery's lines (two receivers may count
into one line: totals are changed by atomic UPDATEs, each count is stored once by its event_id) ->
`hold_unknown` keeps a barcode nobody knows as a question, `link_question` or
`create_sku_for_question` answers it -> `close_delivery` lists the discrepancies, receives the good
units into the receiving cell (damaged ones into quarantine), and creates the putaway tasks ->
`accept_discrepancies` by a supervisor.

Nothing here commits: the caller's unit of work does. Refusals are DomainErrors and change nothing.
One module a job: deliveries (and pallets), counting, questions, stickers, closing, views (read
views), scans (the resolvers of delivery and pallet scans, registered on import).
"""

from server.services.receiving import scans as _scans  # noqa: F401  (registers the resolvers)
from server.services.receiving.closing import accept_discrepancies, close_delivery
from server.services.receiving.counting import (
    Counted,
    attach_photo,
    count,
    count_scan,
    scan_facts,
    undo_count,
)
from server.services.receiving.deliveries import (
    DELIVERY_STATUS_NAMES,
    MAX_LOT,
    MAX_NUMBER,
    MAX_SUPPLIER,
    MAX_UNITS_PER_COUNT,
    OPEN_STATES,
    SCENARIO,
    create_delivery,
    find_delivery,
    normalize_sscc,
    open_delivery,
    quarantine_cell,
    receive_pallet,
    receiving_cell,
)
from server.services.receiving.questions import (
    QUESTION_STATUS_NAMES,
    create_sku_for_question,
    hold_unknown,
    link_question,
    question_barcode,
)
from server.services.receiving.stickers import sticker_barcode, sticker_data
from server.services.receiving.views import (
    act_kind,
    arrival,
    delivery_summary,
    discrepancies_of,
    line_state,
    receiving_act_data,
)

__all__ = [
    "DELIVERY_STATUS_NAMES", "MAX_LOT", "MAX_NUMBER", "MAX_SUPPLIER", "MAX_UNITS_PER_COUNT", "OPEN_STATES",
    "QUESTION_STATUS_NAMES", "SCENARIO", "Counted", "accept_discrepancies", "act_kind", "arrival", "attach_photo",
    "close_delivery", "count", "count_scan", "create_delivery", "create_sku_for_question", "delivery_summary",
    "discrepancies_of", "find_delivery", "hold_unknown", "line_state", "link_question", "normalize_sscc",
    "open_delivery", "quarantine_cell", "question_barcode", "receive_pallet", "receiving_act_data",
    "receiving_cell", "scan_facts", "sticker_barcode", "sticker_data", "undo_count",
]
