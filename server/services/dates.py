"""Dates as people and files give them: ISO (YYYY-MM-DD) or DD.MM.YYYY as typed in Russia."""

from datetime import date, datetime

FORMATS = ("%Y-%m-%d", "%d.%m.%Y")


def parse_date(value) -> date | None:
    """A date from a date, YYYY-MM-DD or DD.MM.YYYY (also what the database hands back); None when
    blank. Raises ValueError for anything else."""
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        return value.date()
    text = str(value).strip()
    if not text:
        return None
    for fmt in FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    return date.fromisoformat(text)  # the other ISO forms (20240131); ValueError otherwise
