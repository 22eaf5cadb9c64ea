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
import uuid
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

__all__ = ["dumps", "to_jsonable"]


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
