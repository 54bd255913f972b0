"""Typed, documented settings: the one validation style of every profile table and objective option.

A settings class is a frozen dataclass whose fields are declared with :func:`setting`: a default, a doc string, and
optionally a range (``ge``/``gt``/``le``/``lt``) or fixed ``choices``. Validation is derived from the fields:

- the type comes from the annotation: ``bool`` is not an ``int``; an ``int`` is accepted for a ``float``; tuples
  (``tuple[int, ...]`` or fixed length), optionals (``int | None``), ``dict[str, str]`` and ``str`` are checked;
- then the range and choices;
- then the class's own cross-field rules, if it defines ``check(self) -> None`` (raising :class:`SettingError`).

Every message names the table, the key, what was expected and the value: ``[rl] group_size: expected an integer,
got 4.5``; ``[sft] steps: must be >= 0, got -5``. :func:`build` reads a TOML table (unknown keys refused, lists made
tuples) and :func:`validate` checks an instance; settings classes call ``validate(self)`` in ``__post_init__``, so
an instance built in Python is checked the same way.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from typing import Any, ClassVar, Union

from pearbench.errors import PearbenchError


def env_whole_number(name: str, default: int) -> int:
    """``$name`` as a whole number >= 1 when it is set and not blank, else ``default``; anything else is one line."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise PearbenchError(f"{name} must be a whole number >= 1, got {raw!r}") from None
    if value < 1:
        raise PearbenchError(f"{name} must be a whole number >= 1, got {raw!r}")
    return value


class SettingError(PearbenchError):
    """A bad settings value; the message names ``[table] key``."""


def setting(
    default: Any = dataclasses.MISSING,
    *,
    doc: str,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: tuple[Any, ...] | None = None,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field with its documentation, range and choices in the field's metadata."""
    metadata = {"doc": doc, "ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_describe(a) for a in args) + " (or left out)"
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_plural(args[0])}"
        return f"a list of {len(args)} {_plural(args[0])}"
    if origin is dict:
        return "a table"
    return getattr(tp, "__name__", str(tp))


def _plural(tp: Any) -> str:
    return {int: "integers", float: "numbers", str: "strings", bool: "true/false values"}.get(
        tp, _describe(tp)
    )


def _matches(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if tp is Any:
        return True
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin in (Union, types.UnionType):
        return any(value is None if a is type(None) else _matches(value, a) for a in typing.get_args(tp))
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(_matches(v, a) for v, a in zip(value, args))
    if origin is dict:
        key_type, value_type = typing.get_args(tp)
        return isinstance(value, dict) and all(
            _matches(k, key_type) and _matches(v, value_type) for k, v in value.items()
        )
    return isinstance(value, origin or tp)


def _numbers(value: Any) -> list[float]:
    if isinstance(value, tuple):
        return [v for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value]
    return []


def check_value(where: str, key: str, value: Any, tp: Any, meta: dict[str, Any]) -> None:
    """Type, then finiteness, range and choices of one value; raises :class:`SettingError`."""
    label = f"[{where}] {key}"
    if not _matches(value, tp):
        raise SettingError(f"{label}: expected {_describe(tp)}, got {value!r}")
    for number in _numbers(value):
        if isinstance(number, float) and not math.isfinite(number):
            raise SettingError(f"{label}: must be a finite number, got {value!r}")
        for bound, test, word in (
            ("ge", lambda a, b: a >= b, ">="),
            ("gt", lambda a, b: a > b, ">"),
            ("le", lambda a, b: a <= b, "<="),
            ("lt", lambda a, b: a < b, "<"),
        ):
            limit = meta.get(bound)
            if limit is not None and not test(number, limit):
                raise SettingError(f"{label}: must be {word} {limit:g}, got {value!r}")
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise SettingError(f"{label}: must be one of {', '.join(map(str, choices))}; got {value!r}")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def validate(obj: Any, where: str | None = None) -> None:
    """Check every field of a settings instance, then its ``check()`` cross-field rules."""
    cls = type(obj)
    where = where or getattr(cls, "TABLE", cls.__name__)
    hints = _hints(cls)
    for f in dataclasses.fields(obj):
        if f.name in hints and "doc" in f.metadata:
            check_value(where, f.name, getattr(obj, f.name), hints[f.name], f.metadata)
    check = getattr(obj, "check", None)
    if check is not None:
        try:
            check()
        except SettingError as exc:
            message = str(exc)
            raise SettingError(message if message.startswith("[") else f"[{where}] {message}") from None


def build(cls: type, table: Any, where: str) -> Any:
    """An instance of ``cls`` from a TOML table: unknown keys refused, lists made tuples, every value checked."""
    if not isinstance(table, dict):
        raise SettingError(f"[{where}]: expected a table, got {table!r}")
    allowed = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SettingError(f"[{where}] {unknown[0]}: unknown key; allowed: {', '.join(sorted(allowed))}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in values and "doc" in f.metadata:
            check_value(where, f.name, values[f.name], hints[f.name], f.metadata)
    try:
        instance = cls(**values)
    except SettingError as exc:
        message = str(exc)
        raise SettingError(message.replace(f"[{getattr(cls, 'TABLE', '')}]", f"[{where}]", 1)) from None
    return instance


def describe_fields(cls: type) -> list[tuple[str, str, Any, str]]:
    """(name, type, default, doc) of every documented field, for docs and ``--help`` text."""
    hints = _hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if "doc" in f.metadata:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            out.append((f.name, _describe(hints[f.name]), default, f.metadata["doc"]))
    return out


class Settings:
    """Mixin: ``__post_init__`` validates the instance (its fields and ``check()``)."""

    TABLE: ClassVar[str] = ""

    def __post_init__(self) -> None:
        validate(self)
