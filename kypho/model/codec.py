"""Codecs between model values and JSON values, each with its JSON Schema.

One codec per kind of value: it encodes (rounding floats to the precision results.json
states), decodes back to the record's own types, and describes itself as JSON Schema
(draft 2020-12). Records are mapped by :class:`kypho.model.record.Record`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = [
    "Bool",
    "Codec",
    "Dict",
    "EmptyAsNone",
    "EnumOf",
    "Free",
    "Int",
    "List",
    "Named",
    "Num",
    "Obj",
    "Optional",
    "Str",
    "Tuple",
    "Vec",
]


class Codec(ABC):
    """A JSON value: ``encode`` (model -> JSON), ``decode`` (JSON -> model), ``schema``.

    An interface: every concrete codec below implements all three.
    """

    @abstractmethod
    def encode(self, value: Any) -> Any:
        """The JSON form of a model value."""

    @abstractmethod
    def decode(self, data: Any) -> Any:
        """The model value of a JSON form."""

    @abstractmethod
    def schema(self) -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of the JSON form."""


@dataclass(frozen=True)
class Num(Codec):
    """A float rounded to `ndigits` after multiplying by `scale` (e.g. 100 for percent).

    ``pre`` rounds the unscaled value first (kept where results.json always did so).
    A non-finite value is written as null (only inside :class:`Optional`).
    """

    ndigits: int | None = 2
    scale: float = 1.0
    pre: int | None = None

    def encode(self, value: Any) -> float | None:
        v = float(value)
        if not math.isfinite(v):
            return None
        if self.pre is not None:
            v = round(v, self.pre)
        v *= self.scale
        return v if self.ndigits is None else round(v, self.ndigits)

    def decode(self, data: Any) -> float:
        return float(data) / self.scale

    def schema(self) -> dict[str, Any]:
        return {"type": "number"}


class Int(Codec):
    def encode(self, value: Any) -> int:
        return int(value)

    def decode(self, data: Any) -> int:
        return int(data)

    def schema(self) -> dict[str, Any]:
        return {"type": "integer"}


class Bool(Codec):
    def encode(self, value: Any) -> bool:
        return bool(value)

    def decode(self, data: Any) -> bool:
        return bool(data)

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


class Str(Codec):
    def encode(self, value: Any) -> str:
        return str(value)

    def decode(self, data: Any) -> str:
        return str(data)

    def schema(self) -> dict[str, Any]:
        return {"type": "string"}


class Free(Codec):
    """Any JSON value, kept as is (provenance metadata from the reader)."""

    def encode(self, value: Any) -> Any:
        return value

    def decode(self, data: Any) -> Any:
        return data

    def schema(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class EnumOf(Codec):
    """A member of `enum` written as its value (``to_json`` maps the member to it)."""

    enum: type[Enum]
    parse: Callable[[Any], Any] | None = None
    to_json: Callable[[Any], Any] | None = None

    def encode(self, value: Any) -> Any:
        member = self.decode(value)
        return self.to_json(member) if self.to_json else member.value

    def decode(self, data: Any) -> Any:
        return self.parse(data) if self.parse else self.enum(data)

    def schema(self) -> dict[str, Any]:
        values = [self.to_json(m) if self.to_json else m.value for m in self.enum]  # type: ignore[var-annotated]
        return {"enum": values}


@dataclass(frozen=True)
class Optional(Codec):
    """`inner` or null (None, and a non-finite number, are written as null)."""

    inner: Codec

    def encode(self, value: Any) -> Any:
        return None if value is None else self.inner.encode(value)

    def decode(self, data: Any) -> Any:
        return None if data is None else self.inner.decode(data)

    def schema(self) -> dict[str, Any]:
        inner = self.inner.schema()
        if set(inner) == {"type"} and isinstance(inner["type"], str):
            return {"type": [inner["type"], "null"]}
        return {"anyOf": [inner, {"type": "null"}]}


@dataclass(frozen=True)
class List(Codec):
    """A sequence written as a JSON array, read back as a tuple."""

    item: Codec

    def encode(self, value: Any) -> list[Any]:
        return [self.item.encode(v) for v in value]

    def decode(self, data: Any) -> tuple[Any, ...]:
        return tuple(self.item.decode(v) for v in data)

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": self.item.schema()}


@dataclass(frozen=True)
class Tuple(Codec):
    """A fixed-length sequence (an array of exactly ``n`` items)."""

    item: Codec
    n: int

    def encode(self, value: Any) -> list[Any]:
        if len(value) != self.n:
            raise ValueError(f"expected {self.n} values, got {len(value)}")
        return [self.item.encode(v) for v in value]

    def decode(self, data: Any) -> tuple[Any, ...]:
        return tuple(self.item.decode(v) for v in data)

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": self.item.schema(), "minItems": self.n,
                "maxItems": self.n}


def Vec(ndigits: int = 2, n: int = 3) -> Tuple:  # noqa: N802 (reads as a type)
    """A point or axis: `n` floats rounded to `ndigits`."""
    return Tuple(Num(ndigits), n)


@dataclass(frozen=True)
class Dict(Codec):
    """A str-keyed mapping with values of one codec (key order kept)."""

    value: Codec

    def encode(self, value: Any) -> dict[str, Any]:
        return {str(k): self.value.encode(v) for k, v in value.items()}

    def decode(self, data: Any) -> dict[str, Any]:
        return {str(k): self.value.decode(v) for k, v in data.items()}

    def schema(self) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": self.value.schema()}


@dataclass(frozen=True)
class Obj(Codec):
    """A plain dict with fixed keys, each with its own codec (for derived objects)."""

    fields: tuple[tuple[str, Codec], ...]

    def encode(self, value: Any) -> dict[str, Any]:
        return {k: c.encode(value[k]) for k, c in self.fields}

    def decode(self, data: Any) -> dict[str, Any]:
        return {k: c.decode(data[k]) for k, c in self.fields}

    def schema(self) -> dict[str, Any]:
        return {"type": "object", "properties": {k: c.schema() for k, c in self.fields},
                "required": [k for k, _ in self.fields], "additionalProperties": False}


@dataclass(frozen=True)
class Named(Codec):
    """A fixed-length tuple written as an object with one key per position."""

    keys: tuple[str, ...]
    item: Codec

    def encode(self, value: Any) -> dict[str, Any]:
        return {k: self.item.encode(v) for k, v in zip(self.keys, value, strict=True)}

    def decode(self, data: Any) -> tuple[Any, ...]:
        return tuple(self.item.decode(data[k]) for k in self.keys)

    def schema(self) -> dict[str, Any]:
        return Obj(tuple((k, self.item) for k in self.keys)).schema()


@dataclass(frozen=True)
class EmptyAsNone(Codec):
    """`inner`, or None written as an empty object ``{}``."""

    inner: Codec

    def encode(self, value: Any) -> Any:
        return {} if value is None else self.inner.encode(value)

    def decode(self, data: Any) -> Any:
        return None if data == {} else self.inner.decode(data)

    def schema(self) -> dict[str, Any]:
        return {"anyOf": [self.inner.schema(), {"type": "object", "maxProperties": 0}]}
