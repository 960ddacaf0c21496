"""Long lists of ids and rows cut into pieces: for `IN (...)` (SQLite limits a statement's
parameters) and for bulk inserts of thousands of rows (a rush, an import, a wave)."""

from sqlalchemy import insert

from server.extensions import db


def chunks(values, size: int = 900):
    """The values in consecutive lists of at most `size`, in their order."""
    values = list(values)
    for i in range(0, len(values), size):
        yield values[i:i + size]


def insert_rows(model, rows: list[dict], size: int = 500) -> None:
    """Bulk INSERT of row dicts (no session objects), `size` rows a statement. `render_nulls`: every
    row sends every key, so rows with and without NULLs share one multi-row statement."""
    for chunk in chunks(rows, size):
        db.session.execute(insert(model).execution_options(render_nulls=True), chunk)
