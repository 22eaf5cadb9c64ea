"""__WORKFLOW_NAME__: a CSV processing workflow (template: data_pipeline).

Run it on the bundled sample (``__WORKFLOW_NAME__.csv`` beside this file) or on any CSV:
    lgp-lab run __WORKFLOW_NAME__
    lgp-lab run __WORKFLOW_NAME__ --input '{"csv_path": "data/sales.csv"}'

``load`` reads the rows, ``clean`` drops rows with missing values, ``summarize`` reports
row counts and, per numeric column, min / max / mean, and per text column the distinct
values. No LLM is involved.

Customize:
- State schema: ``State`` carries the rows between nodes; add fields for new results.
- Node logic: change ``clean``'s rule (e.g. fill defaults instead of dropping rows) or
  ``summarize``'s statistics.
- Adding nodes: e.g. a ``group_by`` node between ``clean`` and ``summarize``.
- Switching provider: add ``create_agent_node("auto", {"role": "analyst",
  "prompt": "Explain: {summary}"})`` after ``summarize`` to narrate the numbers.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

SAMPLE = Path(__file__).with_suffix(".csv")


class State(TypedDict, total=False):
    input: str
    csv_path: str
    rows: list[dict[str, str]]
    dropped: int
    summary: dict[str, Any]
    output: str


def load(state: State) -> State:
    """Read the CSV given as ``csv_path`` (default: the bundled sample)."""
    path = Path(state.get("csv_path") or SAMPLE).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"CSV not found: {path} (pass an existing csv_path)")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {"csv_path": str(path), "rows": rows}


def clean(state: State) -> State:
    """Drop rows with an empty value."""
    rows = state.get("rows", [])
    kept = [r for r in rows if all((v or "").strip() for v in r.values())]
    return {"rows": kept, "dropped": len(rows) - len(kept)}


def summarize(state: State) -> State:
    """Row counts and per-column statistics."""
    rows = state.get("rows", [])
    columns: dict[str, Any] = {}
    for name in rows[0].keys() if rows else []:
        values = [r[name] for r in rows]
        try:
            numbers = [float(v) for v in values]
        except ValueError:
            columns[name] = {"distinct": sorted(set(values))}
        else:
            columns[name] = {
                "min": min(numbers),
                "max": max(numbers),
                "mean": round(sum(numbers) / len(numbers), 3),
            }
    summary = {"rows": len(rows), "dropped": state.get("dropped", 0), "columns": columns}
    text = (
        f"{Path(state['csv_path']).name}: {len(rows)} rows kept, "
        f"{summary['dropped']} dropped, {len(columns)} columns"
    )
    return {"summary": summary, "output": text}


workflow = StateGraph(State)
workflow.add_node("load", load)
workflow.add_node("clean", clean)
workflow.add_node("summarize", summarize)
workflow.add_edge(START, "load")
workflow.add_edge("load", "clean")
workflow.add_edge("clean", "summarize")
workflow.add_edge("summarize", END)
