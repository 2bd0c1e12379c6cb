"""Lossless conversion between frozen dataclass trees and plain JSON values.

The Snapshot and the Report are trees of frozen dataclasses whose fields are annotated with a small
set of types: str, int, float, bool, None, enums, ``Literal[...]`` (a closed set of strings), ``X | None``, ``tuple[X, ...]``, ``tuple[X, Y]``,
``dict[str, X]``, nested dataclasses and ``Any`` (a value that is already plain JSON). Converting by
the annotations, rather than with hand-written ``to_dict`` methods, keeps the JSON form and the Python
form from drifting apart: a field added to a dataclass is serialised and read back without more code.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


class SerdeError(ValueError):
    """The JSON value does not have the shape the dataclass expects."""


def to_plain(value: Any) -> Any:
    """Turn a dataclass tree into dicts, lists and scalars that `json.dumps` accepts."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    return value


def from_plain(cls: type[T], data: Any) -> T:
    """Rebuild an instance of `cls` from what `to_plain` produced, checking types on the way."""
    return _convert(cls, data, cls.__name__)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(tp: Any, data: Any, where: str) -> Any:
    if tp is Any:
        return data
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if data is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, data, where)
            except SerdeError as error:
                errors.append(str(error))
        raise SerdeError("; ".join(errors) or f"{where}: unexpected null")
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        if data not in allowed or type(data) is not type(allowed[0]):
            raise SerdeError(f"{where}: {data!r} is not one of {', '.join(map(repr, allowed))}")
        return data
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(data, list):
            raise SerdeError(f"{where}: expected a list, got {type(data).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], item, f"{where}[{i}]") for i, item in enumerate(data))
        if len(args) != len(data):
            raise SerdeError(f"{where}: expected {len(args)} items, got {len(data)}")
        return tuple(_convert(a, item, f"{where}[{i}]") for i, (a, item) in enumerate(zip(args, data, strict=True)))
    if origin is dict:
        _key_type, value_type = typing.get_args(tp)
        if not isinstance(data, dict):
            raise SerdeError(f"{where}: expected an object, got {type(data).__name__}")
        return {str(k): _convert(value_type, v, f"{where}.{k}") for k, v in data.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise SerdeError(f"{where}: expected an object for {tp.__name__}, got {type(data).__name__}")
        hints = _hints(tp)
        kwargs = {}
        for field in dataclasses.fields(tp):
            if field.name in data:
                kwargs[field.name] = _convert(hints[field.name], data[field.name], f"{where}.{field.name}")
            elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise SerdeError(f"{where}: missing field {field.name!r}")
        return tp(**kwargs)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(data)
        except ValueError:
            raise SerdeError(f"{where}: {data!r} is not a valid {tp.__name__}") from None
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise SerdeError(f"{where}: expected a number, got {type(data).__name__}")
        return float(data)
    if tp in (str, int, bool):
        if type(data) is not tp:
            raise SerdeError(f"{where}: expected {tp.__name__}, got {type(data).__name__}")
        return data
    if tp is type(None):
        if data is not None:
            raise SerdeError(f"{where}: expected null")
        return None
    raise SerdeError(f"{where}: cannot convert to {tp!r}")
