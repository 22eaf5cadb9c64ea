"""State previews for the studio: JSON cut to a size a page draws at once, with markers
the front end turns into "show more" buttons that ask for the rest of one subtree.

A marker is ``{"__lgp_more__": {...}}`` standing for what was left out:

- a long string: ``{"kind": "string", "head": "...", "length": N, "path": [...]}``
- a long list's tail or a large object's other keys: ``{"kind": "items"|"keys",
  "count": N, "path": [...]}`` as the list's last item or under the object key
  ``__lgp_more__``
- a subtree past the depth limit: ``{"kind": "depth", "size": N, "path": [...]}``

``path`` is the list of keys and indexes from the root; :func:`subtree` finds it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["MORE", "Limits", "preview", "subtree"]

MORE = "__lgp_more__"


@dataclass(frozen=True)
class Limits:
    """How much of a value one preview shows."""

    max_string: int = 300
    max_items: int = 50
    max_depth: int = 6

    def grown(self, factor: int = 20) -> Limits:
        """Larger limits, for the subtree a "show more" asked for."""
        return Limits(
            self.max_string * factor, self.max_items * factor, self.max_depth + 4
        )  # fmt: skip


def preview(value: Any, limits: Limits = Limits(), path: list[Any] | None = None) -> Any:
    """A copy of the JSON value ``value`` within ``limits``, with markers for the cuts.

    Args:
        value: A JSON value (see :func:`lgp_lab.jsonable.to_jsonable`).
        limits: The string length, item count and depth shown.
        path: Where ``value`` sits in the whole state (markers carry absolute paths).
    """
    return _preview(value, limits, list(path or []), 0)


def subtree(value: Any, path: list[Any]) -> Any:
    """The part of ``value`` at ``path`` (keys and list indexes).

    Raises:
        KeyError: The path does not lead anywhere in ``value``.
    """
    node = value
    for step in path:
        in_dict = isinstance(node, dict) and isinstance(step, str) and step in node
        in_list = isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
        if in_dict or in_list:
            node = node[step]
        else:
            raise KeyError(f"no {step!r} at {path!r} in this state")
    return node


def _preview(value: Any, limits: Limits, path: list[Any], depth: int) -> Any:
    if isinstance(value, str):
        if len(value) <= limits.max_string:
            return value
        head = value[: limits.max_string]
        return {MORE: {"kind": "string", "head": head, "length": len(value), "path": path}}
    if isinstance(value, dict | list) and value and depth >= limits.max_depth:
        return {MORE: {"kind": "depth", "size": len(value), "path": path}}
    if isinstance(value, list):
        shown = [
            _preview(item, limits, [*path, i], depth + 1)
            for i, item in enumerate(value[: limits.max_items])
        ]
        if len(value) > limits.max_items:
            left = len(value) - limits.max_items
            shown.append({MORE: {"kind": "items", "count": left, "path": path}})
        return shown
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for i, (key, item) in enumerate(value.items()):
            if i == limits.max_items:
                left = len(value) - limits.max_items
                out[MORE] = {"kind": "keys", "count": left, "path": path}
                break
            out[key] = _preview(item, limits, [*path, key], depth + 1)
        return out
    return value
