"""Masking database passwords in text shown to people (errors, manifests, logs)."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["redact_url"]

_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)\S*@")  # greedy: a raw "@" in a password
# user:password@ without a scheme before it (a mistyped "postgresql//user:pw@host").
_BARE_PASSWORD = re.compile(r"((?:^|[\s\"'/])[\w.%+-]+:)[^\s@/*][^\s@]*@")
_DSN_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact_url(value: Any) -> Any:
    """``value`` with the password of every database URL / libpq string in it masked
    (``postgresql://user:***@host/db``); dicts and lists are redacted item by item."""
    if isinstance(value, str):
        masked = _BARE_PASSWORD.sub(r"\1***@", _URL_PASSWORD.sub(r"\1***@", value))
        return _DSN_PASSWORD.sub(r"\1***", masked)
    if isinstance(value, dict):
        return {k: redact_url(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_url(v) for v in value]
    return value
