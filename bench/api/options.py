"""Method options: each adapter declares a frozen dataclass; raw values are checked against it.

Values arrive as strings from ``--option METHOD.KEY=VALUE`` (or as Python values
from code) and are converted to the field's type: ``int``, ``float``, ``bool``
(true/false/1/0/yes/no), ``str``, ``Path``, or ``X | None`` of those. An unknown
key or a value that does not convert is an ``OptionError`` naming the method,
the key and the keys it knows.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Mapping

from bench.core.errors import HwrBenchError, did_you_mean


class OptionError(HwrBenchError):
    """A bad method option; ``owner`` is who the user names (the method), ``detail`` what is wrong."""

    def __init__(self, detail: str, owner: str | None = None):
        self.detail, self.owner = detail, owner
        super().__init__(detail if owner is None else f"{owner}: {detail}")

    def for_method(self, name: str) -> "OptionError":
        """The same error told under the method name the user typed (not the adapter's class)."""
        return OptionError(self.detail, f"method {name!r}")


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """The options of a method that takes none."""


_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


def _convert(value: Any, kind: Any, where: str, owner: str) -> Any:
    origin = typing.get_origin(kind)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "")):
            return None
        return _convert(value, args[0], where, owner)
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        raise OptionError(f"{where}: {value!r} is not a boolean (true or false)", owner)
    if kind in (int, float):
        try:
            if isinstance(value, bool):
                raise ValueError
            return kind(value)
        except (TypeError, ValueError):
            raise OptionError(f"{where}: {value!r} is not {'an integer' if kind is int else 'a number'}", owner) from None
    if kind is Path:
        return Path(value).expanduser()
    if kind is str:
        return str(value)
    return value


def option_fields(options_type: type) -> dict[str, Any]:
    """Field name -> resolved type of an options dataclass."""
    hints = typing.get_type_hints(options_type)
    return {f.name: hints[f.name] for f in dataclasses.fields(options_type)}


def parse_options(options_type: type, raw: Mapping[str, Any] | None, *, owner: str):
    """An ``options_type`` instance from raw values; unknown keys and bad values are refused."""
    raw = dict(raw or {})
    kinds = option_fields(options_type)
    unknown = sorted(set(raw) - set(kinds))
    if unknown:
        known = ", ".join(sorted(kinds)) or "none"
        raise OptionError(f"unknown option {unknown[0]!r}{did_you_mean(unknown[0], kinds)} (known: {known})", owner)
    values = {key: _convert(value, kinds[key], f"option {key!r}", owner) for key, value in raw.items()}
    try:
        return options_type(**values)
    except (TypeError, ValueError) as exc:
        raise OptionError(str(exc), owner) from None
