"""A frozen dataclass as a JSON object: the layout, precision and schema of its keys.

:class:`Record` maps a record onto a JSON object from a list of entries, so the layout,
the precision and the schema of every key are written once. Encoding a record first
quantises it (encode, then decode) and computes derived keys from the quantised record,
so a document read back and written again is byte-identical.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kypho.model.codec import Codec

__all__ = ["Derived", "Field", "Flatten", "Group", "Record"]


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
