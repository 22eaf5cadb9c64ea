"""Identifiers shared by the domain and storage: plain functions of strings, no I/O.

They sit below both layers so storage can derive what the domain derives (an assistant's
id from its graph, a checkpoint's time from its id) without importing the domain.
"""

from __future__ import annotations

import datetime as dt
import uuid

__all__ = ["assistant_id_for", "checkpoint_time", "split_target"]

# langgraph-api's namespace for system assistants: the same graph gets the same id there.
_ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


def assistant_id_for(graph_id: str) -> str:
    """The stable id of the system assistant of ``graph_id`` (as langgraph-api makes it)."""
    return str(uuid.uuid5(_ASSISTANT_NAMESPACE, graph_id))


def checkpoint_time(checkpoint_id: str | None) -> dt.datetime | None:
    """The creation time encoded in a LangGraph checkpoint id (a UUIDv6), in UTC."""
    if not checkpoint_id:
        return None
    try:
        value = int(checkpoint_id.replace("-", ""), 16)
    except ValueError:
        return None
    if (value >> 76) & 0xF != 6:  # not a version-6 UUID
        return None
    ticks = ((value >> 96) << 28) | (((value >> 80) & 0xFFFF) << 12) | ((value >> 64) & 0x0FFF)
    return dt.datetime.fromtimestamp((ticks - 0x01B21DD213814000) / 1e7, tz=dt.UTC)


def split_target(target: str) -> tuple[str, str | None]:
    """``"path.py:attr"`` → ``("path.py", "attr")``; anything else → ``(target, None)``.

    A Windows drive (``C:\\x.py``) is not an attribute separator.
    """
    head, sep, attr = target.rpartition(":")
    if sep and head.endswith(".py") and attr.isidentifier():
        return head, attr
    return target, None
