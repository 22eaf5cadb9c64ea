"""Make run data safe and small for dashboards: truncate long strings, redact secrets."""

from __future__ import annotations

import re
from typing import Any

from lgp_lab.jsonable import to_jsonable

__all__ = ["TRUNCATION_MARKER", "sanitize_for_dashboard"]

TRUNCATION_MARKER = "...[truncated]"
_SECRET_KEY = re.compile(r"(api[_-]?key|secret|password|passwd|token|authorization)", re.I)


def sanitize_for_dashboard(data: Any, max_length: int = 2000) -> Any:
    """A JSON-compatible copy of ``data`` fit for a tracing dashboard.

    A string longer than ``max_length`` becomes exactly ``max_length`` characters,
    ending in a ``...[truncated]`` marker; inside a mapping, ``<key>_full_length`` keeps
    the original length next to it. Values under secret-looking keys (``api_key``,
    ``token``, ``password``, …) are replaced by ``[redacted]``. Nested values are
    handled at every depth. The input is not modified.

    Example:
        >>> out = sanitize_for_dashboard({"text": "x" * 5000})
        >>> len(out["text"]), out["text_full_length"]
        (2000, 5000)
    """
    return _sanitize(to_jsonable(data), max_length)


def _sanitize(value: Any, max_length: int) -> Any:
    if isinstance(value, str):
        return _truncate(value, max_length)
    if isinstance(value, list):
        return [_sanitize(v, max_length) for v in value]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if _SECRET_KEY.search(key) and item:
                out[key] = "[redacted]"
            elif isinstance(item, str) and len(item) > max_length:
                out[key] = _truncate(item, max_length)
                out[f"{key}_full_length"] = len(item)
            else:
                out[key] = _sanitize(item, max_length)
        return out
    return value


def _truncate(text: str, max_length: int) -> str:
    if len(text) <= max_length:
        return text
    if max_length <= len(TRUNCATION_MARKER):
        return TRUNCATION_MARKER[:max_length]
    return text[: max_length - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER
