"""Turn workflow state into plain JSON values for display and transport.

State channels may hold LangChain messages, pydantic models, dataclasses, sets or
bytes; this never fails, falling back to ``repr`` for anything it does not know.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import json
import math
import uuid
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

__all__ = ["dumps", "json_bytes", "to_jsonable"]


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    """A JSON-compatible copy of ``value``."""
    if _depth > 50:
        return repr(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [to_jsonable(v, _depth + 1) for v in items]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | PurePath | dt.timedelta):
        return str(value)
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, _depth + 1)
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(bytes(value)).decode("ascii")
    dump = getattr(value, "model_dump", None)  # pydantic v2, LangChain messages
    if callable(dump):
        try:
            return to_jsonable(dump(), _depth + 1)
        except Exception:
            return repr(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value), _depth + 1)
    return repr(value)


def dumps(value: Any, *, indent: int | None = None) -> str:
    """``json.dumps`` of :func:`to_jsonable`, keeping non-ASCII text readable."""
    return json.dumps(to_jsonable(value), indent=indent, ensure_ascii=False)


def json_bytes(value: Any, *, compact: bool = True) -> bytes:
    """UTF-8 JSON of a JSON-compatible ``value`` that never fails: NaN/Infinity become
    ``null`` (as pydantic sends them), lone surrogates are ``\\u``-escaped.

    orjson (a LangChain dependency) encodes the common case several times faster than
    ``json``, with the same output for these values; anything it refuses (non-string
    keys, integers over 64 bits, lone surrogates) takes the ``json`` path.
    """
    if compact:
        try:
            import orjson
        except ImportError:  # pragma: no cover - langsmith depends on it
            pass
        else:
            try:
                return orjson.dumps(value)
            except TypeError:  # orjson.JSONEncodeError subclasses TypeError
                pass
    separators = (",", ":") if compact else None
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=separators)
    except ValueError:  # NaN / Infinity are not JSON
        value = _finite(value)
        text = json.dumps(value, ensure_ascii=False, separators=separators)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: escape them (still valid JSON)
        return json.dumps(value, ensure_ascii=True, separators=separators).encode("ascii")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
