"""Codecs between model records and JSON values, each with its JSON Schema.

One codec per kind of value: it encodes (rounding floats to the precision results.json
states), decodes back to the record's own types, and describes itself as JSON Schema
(draft 2020-12). :class:`Record` maps a frozen dataclass onto a JSON object from a list
of entries, so the layout, the precision and the schema of every key are written once.

Encoding a record first quantises it (encode, decode) and computes derived keys from the
quantised record, so a document read back and written again is byte-identical.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = [
    "Bool",
    "Codec",
    "Derived",
    "Dict",
    "EmptyAsNone",
    "EnumOf",
    "Field",
    "Flatten",
    "Free",
    "Group",
    "Int",
    "List",
    "Named",
    "Num",
    "Obj",
    "Optional",
    "Record",
    "Str",
    "Tuple",
    "Vec",
]


class Codec:
    """A JSON value: ``encode`` (model -> JSON), ``decode`` (JSON -> model), ``schema``."""

    def encode(self, value: Any) -> Any:
        raise NotImplementedError

    def decode(self, data: Any) -> Any:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError


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
class Field:
    """JSON key `key` holds the record's attribute `attr` (default: the same name)."""

    key: str
    codec: Codec
    attr: str | None = None
    description: str | None = None

    @property
    def name(self) -> str:
        return self.attr or self.key


@dataclass(frozen=True)
class Group:
    """A nested JSON object whose keys are attributes of the same record."""

    key: str
    fields: Sequence[Field]


@dataclass(frozen=True)
class Flatten:
    """A sub-record (attribute `attr`) whose keys sit in the parent's JSON object."""

    attr: str
    record: Record


@dataclass(frozen=True)
class Derived:
    """A key computed from the (quantised) record on writing and ignored on reading."""

    key: str
    codec: Codec
    compute: Callable[[Any], Any]
    description: str | None = None


Entry = Field | Group | Flatten | Derived


class Record(Codec):
    """A frozen dataclass as a JSON object; every key is always present.

    Parameters
    ----------
    cls : type
        The record's class; decoding calls it with the attributes, so its own
        validation runs on every document read.
    entries : sequence of Field, Group, Flatten or Derived
        The JSON keys in the order written.
    description : str, optional
        Shown in the JSON Schema.
    """

    def __init__(self, cls: type, entries: Sequence[Entry], description: str | None = None):
        self.cls = cls
        self.entries = tuple(entries)
        self.description = description or (cls.__doc__ or "").strip().split("\n")[0]

    def _stored(self, value: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for e in self.entries:
            if isinstance(e, Field):
                out[e.key] = e.codec.encode(getattr(value, e.name))
            elif isinstance(e, Group):
                out[e.key] = {f.key: f.codec.encode(getattr(value, f.name)) for f in e.fields}
            elif isinstance(e, Flatten):
                out.update(e.record._stored(getattr(value, e.attr)))
        return out

    def attributes(self, data: dict[str, Any]) -> dict[str, Any]:
        """The constructor arguments held in a JSON object."""
        kw: dict[str, Any] = {}
        for e in self.entries:
            if isinstance(e, Field):
                kw[e.name] = e.codec.decode(data[e.key])
            elif isinstance(e, Group):
                kw.update({f.name: f.codec.decode(data[e.key][f.key]) for f in e.fields})
            elif isinstance(e, Flatten):
                kw[e.attr] = e.record.decode(data)
        return kw

    def decode(self, data: Any, **extra: Any) -> Any:
        return self.cls(**self.attributes(data), **extra)

    def encode(self, value: Any, **extra: Any) -> dict[str, Any]:
        stored = self._stored(value)
        if not any(isinstance(e, Derived) for e in self._all_entries()):
            return stored
        # Derived keys come from the record as written, so reading the document back
        # and writing it again gives the same bytes.
        quantised = self.decode(stored, **extra)
        return self._with_derived(stored, quantised)

    def _all_entries(self) -> list[Entry]:
        out: list[Entry] = []
        for e in self.entries:
            out.extend(e.record._all_entries() if isinstance(e, Flatten) else [e])
        return out

    def _with_derived(self, stored: dict[str, Any], q: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for e in self._all_entries():
            if isinstance(e, Derived):
                out[e.key] = e.codec.encode(e.compute(q))
            elif isinstance(e, Field | Group):
                out[e.key] = stored[e.key]
        return out

    def schema(self) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for e in self._all_entries():
            if isinstance(e, Field | Derived):
                s = dict(e.codec.schema())
                if e.description:
                    s["description"] = e.description
                if isinstance(e, Derived):
                    s["description"] = (e.description or "") + " (derived; ignored on reading)"
                    s["description"] = s["description"].strip()
                props[e.key] = s
            elif isinstance(e, Group):
                props[e.key] = {
                    "type": "object",
                    "properties": {f.key: f.codec.schema() for f in e.fields},
                    "required": [f.key for f in e.fields],
                    "additionalProperties": False,
                }
        out: dict[str, Any] = {"type": "object"}
        if self.description:
            out["description"] = self.description
        out.update({"properties": props, "required": list(props),
                    "additionalProperties": False})
        return out


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
