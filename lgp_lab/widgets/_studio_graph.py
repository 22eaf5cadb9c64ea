"""A workflow's shape for the studio: nodes, edges, subgraphs and interrupt points as
plain data (from LangGraph's ``get_graph``), and the same picture as inline SVG for
places without a widget front end (``nbconvert --execute``, GitHub's notebook view).
"""

from __future__ import annotations

import html
from collections import defaultdict
from typing import Any

__all__ = ["describe_graph", "graph_svg"]

START, END = "__start__", "__end__"


def describe_graph(graph: Any, *, name: str, version: int) -> dict[str, Any]:
    """The graph's nodes and edges, flat and with subgraphs expanded (``xray``).

    Args:
        graph: A compiled LangGraph graph (anything with ``get_graph``).
        name: The workflow's name.
        version: The live version (the studio redraws when it changes).

    Returns:
        ``{"name", "version", "flat": {"nodes", "edges"}, "xray": {...} | None,
        "interrupt_before", "interrupt_after", "error"}``; a graph LangGraph cannot
        draw gives empty shapes and the reason in ``error``.
    """
    before = _names(getattr(graph, "interrupt_before_nodes", None))
    after = _names(getattr(graph, "interrupt_after_nodes", None))
    out: dict[str, Any] = {
        "name": name,
        "version": version,
        "interrupt_before": before,
        "interrupt_after": after,
        "flat": {"nodes": [], "edges": []},
        "xray": None,
        "error": None,
    }
    try:
        out["flat"] = _shape(graph.get_graph(), before, after)
    except Exception as exc:  # a graph LangGraph cannot draw still runs
        out["error"] = f"get_graph() failed: {type(exc).__name__}: {exc}"
        return out
    try:
        xray = _shape(graph.get_graph(xray=True), before, after)
    except Exception:
        xray = None
    if xray is not None and any(n["parent"] for n in xray["nodes"]):
        out["xray"] = xray
    return out


def _names(value: Any) -> list[str]:
    if value is None or value == "*":
        return ["*"] if value == "*" else []
    return [str(v) for v in value]


def _shape(drawable: Any, before: list[str], after: list[str]) -> dict[str, Any]:
    nodes = []
    for node_id, node in drawable.nodes.items():
        meta = dict(node.metadata or {})
        mark = meta.pop("__interrupt", None)
        parent, _, _leaf = node_id.rpartition(":")
        top = node_id.split(":", 1)[0]
        nodes.append(
            {
                "id": node_id,
                "name": node.name,
                "parent": parent or None,
                "kind": "start" if node_id == START else "end" if node_id == END else "node",
                "subgraph": type(node.data).__name__ in ("CompiledStateGraph", "Pregel"),
                "interrupt_before": mark in ("before", "before_after")
                or top in before
                or ("*" in before and node_id not in (START, END)),
                "interrupt_after": mark in ("after", "before_after")
                or top in after
                or ("*" in after and node_id not in (START, END)),
            }
        )
    edges = [
        {
            "source": e.source,
            "target": e.target,
            "conditional": bool(e.conditional),
            "label": None if e.data is None else str(e.data),
        }
        for e in drawable.edges
    ]
    return {"nodes": nodes, "edges": edges}


# ---------------------------------------------------------------------- static SVG

_W, _H, _GAP_X, _GAP_Y, _PAD = 140, 34, 30, 46, 16


def graph_svg(shape: dict[str, Any], *, title: str = "") -> str:
    """The nodes and edges of ``shape`` (from :func:`describe_graph`) as an SVG string,
    laid out in layers from ``__start__`` (longest path; cycles cut where they close)."""
    nodes = shape["nodes"]
    ids = [n["id"] for n in nodes]
    layer = _layers(ids, shape["edges"])
    rows: dict[int, list[str]] = defaultdict(list)
    for node_id in ids:
        rows[layer[node_id]].append(node_id)
    width = max((len(r) for r in rows.values()), default=1) * (_W + _GAP_X) - _GAP_X + 2 * _PAD
    height = (max(rows, default=0) + 1) * (_H + _GAP_Y) - _GAP_Y + 2 * _PAD
    pos: dict[str, tuple[float, float]] = {}
    for index, row in rows.items():
        row_width = len(row) * (_W + _GAP_X) - _GAP_X
        x0 = (width - row_width) / 2
        for i, node_id in enumerate(row):
            pos[node_id] = (x0 + i * (_W + _GAP_X), _PAD + index * (_H + _GAP_Y))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lgp-studio-static" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        'font-family="sans-serif" font-size="12">',
        f"<title>{html.escape(title)}</title>" if title else "",
        '<defs><marker id="lgp-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0L10,5L0,10z" fill="#57606a"/></marker></defs>',
    ]
    for edge in shape["edges"]:
        if edge["source"] not in pos or edge["target"] not in pos:
            continue
        (sx, sy), (tx, ty) = pos[edge["source"]], pos[edge["target"]]
        x1, y1, x2, y2 = sx + _W / 2, sy + _H, tx + _W / 2, ty
        if ty <= sy:  # a loop back up: leave from the side
            x1, y1, x2, y2 = sx + _W, sy + _H / 2, tx + _W, ty + _H / 2
        dash = ' stroke-dasharray="5,4"' if edge["conditional"] else ""
        parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#57606a"'
            f'{dash} marker-end="url(#lgp-arrow)"/>'
        )
    for node in nodes:
        x, y = pos[node["id"]]
        special = node["kind"] != "node"
        fill = "#eef1f4" if special else "#ddf4ff"
        stroke = "#bf8700" if node["interrupt_before"] or node["interrupt_after"] else "#0969da"
        rx = _H / 2 if special else 6
        label = html.escape(node["name"])
        mark = ""
        if node["interrupt_before"] or node["interrupt_after"]:
            mark = "⏸ "
        parts.append(
            f'<g class="lgp-node" data-node="{html.escape(node["id"])}">'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{_W}" height="{_H}" rx="{rx:.0f}" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
            f'<text x="{x + _W / 2:.1f}" y="{y + _H / 2 + 4:.1f}" text-anchor="middle">'
            f"{mark}{label}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _layers(ids: list[str], edges: list[dict[str, Any]]) -> dict[str, int]:
    """Longest-path layer of each node from ``__start__``; back edges (cycles) are
    skipped, found by a depth-first walk in declaration order."""
    out: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        out[edge["source"]].append(edge["target"])
    forward: dict[str, list[str]] = defaultdict(list)
    state: dict[str, int] = {}  # 1 on the walk's stack, 2 done
    order: list[str] = []
    roots = [START] if START in ids else []
    roots += [i for i in ids if i != START]
    for root in roots:
        if root in state:
            continue
        stack = [(root, iter(out[root]))]
        state[root] = 1
        while stack:  # iterative: deep graphs must not hit the recursion limit
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                order.append(node)
                stack.pop()
            elif state.get(child) == 1:
                continue  # closes a cycle: not a layering edge
            else:
                forward[node].append(child)
                if child not in state:
                    state[child] = 1
                    stack.append((child, iter(out[child])))
    layer = dict.fromkeys(ids, 0)
    for node in reversed(order):  # reverse post-order is topological for forward edges
        for child in forward[node]:
            if child in layer:
                layer[child] = max(layer[child], layer[node] + 1)
    if END in layer and len(layer) > 1:
        layer[END] = max(v for k, v in layer.items() if k != END) + 1
    return layer
