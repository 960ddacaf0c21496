"""Bounded field types: every number and text in an API request gets its bounds here.

Integers fit their column (`Int`, `Id`, `Count`, `Quantity`: a 32-bit `Integer`; `BigId`, `BigCount`:
a 64-bit `BigInteger`), and `Text` refuses NUL and unpaired surrogates and caps its length. The
limits themselves live in `server.core.bounds`, which the station-event checks and the request
guard (`server.api.guard`) share. Out of range is a 422 problem, like any validation error.
"""

from datetime import UTC, datetime

from marshmallow import ValidationError, fields, validate

from server.core.bounds import (
    DEFAULT_TEXT_MAX,
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    has_control,
    text_problem,
    value_problem,
)

MOMENT_MIN = datetime(2, 1, 1, tzinfo=UTC)  # a year inside datetime's range, so windows of days fit
MOMENT_MAX = datetime(9998, 12, 31, tzinfo=UTC)


class Moment(fields.AwareDateTime):
    """An ISO 8601 moment with its offset, handed on in UTC; `default_timezone=UTC` takes one
    without an offset as UTC (else it is refused). Years 2 to 9998 only."""

    default_error_messages = {"range": "Must be between years 2 and 9998."}

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:
            raise self.make_error("range") from None
        if not MOMENT_MIN <= moment <= MOMENT_MAX:
            raise self.make_error("range")
        return moment


class Int(fields.Integer):
    """An integer that fits an `Integer` column (or tighter: `minimum`/`maximum`)."""

    def __init__(self, *, minimum: int = INT32_MIN, maximum: int = INT32_MAX, **kwargs):
        super().__init__(**kwargs)
        self.validators.insert(0, validate.Range(min=minimum, max=maximum))


class Id(Int):
    """A row id (`Integer` primary key)."""

    def __init__(self, **kwargs):
        super().__init__(minimum=1, **kwargs)


class Count(Int):
    """A number of things that may be 0 (sizes in mm, grams, cm3, aisle numbers...)."""

    def __init__(self, **kwargs):
        super().__init__(minimum=0, **kwargs)


class Quantity(Int):
    """Units moved, reserved or expected: at least 1, and it fits the `quantity` column."""

    def __init__(self, **kwargs):
        super().__init__(minimum=1, **kwargs)


class BigId(Int):
    """A row id of a `BigInteger` primary key (station events, jobs, media, movements, quants)."""

    def __init__(self, **kwargs):
        super().__init__(minimum=1, maximum=INT64_MAX, **kwargs)


class BigCount(Int):
    """A byte count or offset kept in a `BigInteger` column."""

    def __init__(self, **kwargs):
        super().__init__(minimum=0, maximum=INT64_MAX, **kwargs)


def _storable(value: str) -> None:
    why = text_problem(value)
    if why:
        raise ValidationError(why)


def _storable_raw(value: str) -> None:
    why = text_problem(value, allow_nul=True)
    if why:
        raise ValidationError(why)


def _no_control(value: str) -> None:
    if has_control(value):
        raise ValidationError("Control characters (CR, LF, TAB...) are not allowed.")


class Text(fields.String):
    """Text that a database column can hold: no NUL, no unpaired surrogate, at most `max_length`
    characters (`DEFAULT_TEXT_MAX` unless the field says less). `allow_nul`: raw input that the
    service cleans itself (a scanned code)."""

    def __init__(self, *, max_length: int = DEFAULT_TEXT_MAX, allow_nul: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.validators.insert(0, validate.Length(max=max_length))
        self.validators.insert(0, _storable_raw if allow_nul else _storable)


class Trimmed(Text):
    """A string typed or scanned by people: surrounding whitespace is dropped."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


class Name(Text):
    """A one-line name that may end up in a header or a file name: no control characters."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.insert(1, _no_control)


def _storable_json(value) -> None:
    found = value_problem(value)
    if found:
        where, why = found
        raise ValidationError(f"{where}: {why}")


class Payload(fields.Dict):
    """A free-form JSON object (event, job and heartbeat payloads): every text in it (keys too)
    without NUL or unpaired surrogates, every number a finite one that fits 64 bits."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.insert(0, _storable_json)
