"""Serialization for command results and REST errors (IPA's ``encoding`` module).

``Serializable``, ``SerializableComparable`` and ``RESTJSONEncoder`` behave as in
ironic-python-agent. ``json_safe`` is what IPA lacks: it turns any value into data
``json.dumps(..., allow_nan=False)`` accepts, so one odd command result can never
make a later listing of results fail.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping, Sequence, Set
from typing import Any, ClassVar

#: Prefix of the string that stands in for a value JSON cannot encode.
NON_JSON_MARKER = "<non-JSON"

# Keys whose values are too large (or too secret) to write to logs; IPA's list.
_LARGE_KEYS = frozenset(["configdrive", "system_logs"])
# Containers nested deeper than this are cut: well below Python's recursion limit.
_MAX_DEPTH = 100


class Serializable:
    """Base class for things that can be serialized."""

    serializable_fields: ClassVar[tuple[str, ...]] = ()

    def serialize(self) -> dict[str, Any]:
        """Turn this object into a dict."""
        return {f: getattr(self, f) for f in self.serializable_fields}

    def __repr__(self) -> str:
        fields = " ".join(f"{f}={getattr(self, f, None)!r}" for f in self.serializable_fields)
        return f"<{self.__class__.__name__} {fields}>"


class SerializableComparable(Serializable):
    """A Serializable compared by its serialized form (``==`` and ``!=``).

    Not hashable: subclasses such as command results change over time.
    """

    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Serializable):
            return NotImplemented
        return self.serialize() == other.serialize()

    def __ne__(self, other: object) -> bool:
        if not isinstance(other, Serializable):
            return NotImplemented
        return self.serialize() != other.serialize()


class RESTJSONEncoder(json.JSONEncoder):
    """IPA's JSON encoder; values it cannot encode become markers instead of failing."""

    def encode(self, o: Any) -> str:
        # A trailing newline when pretty-printing makes curl output readable (IPA).
        delimiter = "\n" if self.indent is not None else ""
        return super().encode(o) + delimiter

    def default(self, o: Any) -> Any:
        if isinstance(o, Serializable):
            return json_safe(o.serialize())
        if isinstance(o, uuid.UUID):
            return str(o)
        return json_safe(o)


def _marker(value: object) -> str:
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not break a listing either
        text = f"<unrepresentable {type(value).__name__} object>"
    return f"{NON_JSON_MARKER} {type(value).__module__}.{type(value).__qualname__}: {text}>"


def _json_key(key: object) -> str:
    # The conversions json.dumps itself applies to non-string keys, made explicit so
    # that every key is a string and no key type can make encoding fail.
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int) or (isinstance(key, float) and math.isfinite(key)):
        return repr(key)
    return _marker(key)


def json_safe(value: Any) -> Any:
    """Return ``value`` as data ``json.dumps(allow_nan=False)`` always accepts.

    Mappings become dicts with string keys, sequences and sets become lists,
    ``Serializable`` objects their ``serialize()``, UUIDs strings, UTF-8 bytes text;
    anything else (including NaN, infinities, reference cycles and nesting deeper
    than 100) becomes a string starting with ``NON_JSON_MARKER`` and holding the
    value's type and repr.
    """
    return _safe(value, set())


def _safe(value: Any, path: set[int]) -> Any:
    if value is None or type(value) in (str, bool, int):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):  # IntEnum and friends: json.dumps writes the number
        return int(value)
    if isinstance(value, str):  # StrEnum and friends: a plain copy of the text
        return str.__str__(value)
    if isinstance(value, float):
        # allow_nan=False (as Starlette's JSONResponse uses) rejects NaN and infinities.
        return float(value) if math.isfinite(value) else _marker(value)
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return _marker(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if id(value) in path:  # a container that holds itself: stop rather than recurse
        return f"{NON_JSON_MARKER} cycle: {type(value).__qualname__}>"
    if len(path) >= _MAX_DEPTH:  # deeper would risk RecursionError (and json.dumps's)
        return f"{NON_JSON_MARKER} nested deeper than {_MAX_DEPTH}: {type(value).__qualname__}>"
    if isinstance(value, Serializable):
        try:
            data = value.serialize()
        except Exception:
            return _marker(value)
        return _descend(data, value, path)
    if isinstance(value, (Mapping, Sequence, Set)) and not isinstance(value, memoryview):
        return _descend(value, value, path)
    return _marker(value)


def _descend(data: Any, owner: object, path: set[int]) -> Any:
    path.add(id(owner))
    try:
        if isinstance(data, Mapping):
            return {_json_key(k): _safe(v, path) for k, v in data.items()}
        if isinstance(data, (Sequence, Set)) and not isinstance(data, (str, bytes)):
            return [_safe(v, path) for v in data]
        return _safe(data, path)
    finally:
        path.discard(id(owner))


def remove_large_keys(var: Any) -> Any:
    """Replace the values of large keys with ``'<...>'``, recursively (for logs)."""
    if isinstance(var, Mapping):
        return {
            key: (remove_large_keys(value) if key not in _LARGE_KEYS else "<...>")
            for key, value in var.items()
        }
    if isinstance(var, (list, tuple)):
        return type(var)(map(remove_large_keys, var)) if type(var) in (list, tuple) else var
    return var
