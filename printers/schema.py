"""TOML profiles checked with pydantic: a strict model per kind of file, and one way of saying
what is wrong, `<where>: <key>: <problem>` (e.g. `pack.toml: devices.scale.kind: unknown device
kind 'scales' (known: scanner, scale, printer, camera)`).

Printer profiles use it here; the station agent's device and station profiles (terminal/) too.
"""

from __future__ import annotations

import types
import typing
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)

# pydantic error types -> the type a value must have, in our words
TYPE_WORDS = {"float": "float", "int": "int", "string": "str", "bool": "bool", "list": "a list",
              "dict": "a table", "model": "a table", "model_attributes": "a table"}


class Table(BaseModel):
    """A TOML table: only the declared keys, values of the declared types (no "9600" for 9600)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def check(model: type[M], data, where: str, error: type[Exception] = ValueError, at: str = "") -> M:
    """`data` as `model`, or `error("<where>: <key>: <problem>")` for the first problem; `at`: the
    key of `data` itself in a bigger file (e.g. devices.scale.options)."""
    try:
        return model.model_validate(data)
    except ValidationError as invalid:
        first = invalid.errors(include_url=False)[0]
        key = ".".join(part for part in (at, key_path(first["loc"])) if part)
        raise error(f"{where}: {key}: {problem(model, first)}" if key else f"{where}: {problem(model, first)}") from None


def key_path(loc: tuple) -> str:
    """("devices", "scale", "url") -> devices.scale.url; list items as label_sizes[0]."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def problem(model: type[BaseModel], error: dict) -> str:
    kind, value = error["type"], error.get("input")
    named = [i for i, part in enumerate(error["loc"]) if isinstance(part, str)]
    field_name = error["loc"][named[-1]] if named else ""
    field = _field(model, error["loc"][:named[-1] + 1]) if named else None  # features[1]: the features field
    if kind == "extra_forbidden":
        parent = _table(_annotation(model, error["loc"][:-1]))
        known = f" (known: {', '.join(parent.model_fields)})" if parent is not None else ""
        return f"unknown key{known}"
    if kind == "missing":
        return "missing"
    if kind == "literal_error":
        what = (field.title if field is not None and field.title else None) or str(field_name)
        known = ", ".join(str(choice) for choice in typing.get_args(_annotation(model, error["loc"])))
        return f"unknown {what} {value!r}" + (f" (known: {known})" if known else "")
    if kind.endswith("_type") and kind.removesuffix("_type") in TYPE_WORDS:
        return f"must be {TYPE_WORDS[kind.removesuffix('_type')]}, not {value!r}"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    message = error["msg"]
    if message.startswith("Input should be"):
        return message.replace("Input should be", "must be") + f", not {value!r}"
    return message[:1].lower() + message[1:]


def _annotation(model: type[BaseModel], loc: tuple):
    """The type declared at `loc` (through tables, lists, dicts and optionals)."""
    annotation = model
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return None
    return annotation


def _step(annotation, part):
    table = _table(annotation)
    if table is not None:
        field = table.model_fields.get(part) if isinstance(part, str) else None
        return field.annotation if field is not None else None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is dict:
        return args[1]
    if origin in (list, set, frozenset) or (origin is tuple and args):
        return args[0]
    return None


def _table(annotation) -> type[BaseModel] | None:
    """The model of a table type, also inside `X | None`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return next((t for t in map(_table, typing.get_args(annotation)) if t is not None), None)
    return None


def _field(model: type[BaseModel], loc: tuple):
    parent = _table(_annotation(model, loc[:-1])) if loc else None
    return parent.model_fields.get(loc[-1]) if parent is not None and isinstance(loc[-1], str) else None
