"""Magics in a real Jupyter kernel: nbclient for a notebook, jupyter_client for interrupts."""

from __future__ import annotations

import queue
import sqlite3
import time
from pathlib import Path

import nbformat
import pytest
from conftest import write
from jupyter_client.manager import start_new_kernel
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

FLOW = """
import operator
from typing import Annotated
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END

class S(TypedDict, total=False):
    input: str
    log: Annotated[list[str], operator.add]

def step(state):
    return {"log": ["A:" + state["input"]]}

workflow = StateGraph(S)
workflow.add_node("step", step)
workflow.add_edge(START, "step")
workflow.add_edge("step", END)
"""


def _notebook(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.outputs:
        if "text" in out:
            parts.append(out["text"])
        for key in ("text/plain", "text/html"):
            if key in out.get("data", {}):
                parts.append(out["data"][key])
        if out.get("output_type") == "error":
            parts.extend(out["traceback"])
    return "\n".join(parts)


def test_notebook_runs_watches_and_recovers(project: Path) -> None:
    write(project / "nb_flow.py", FLOW)
    nb = _notebook(
        "%load_ext lgp_lab",
        'r = %lgp_run nb_flow.py --input "one" --thread k1',
        'r = %lgp_run nb_flow.py --input "two" --thread k1\nr["log"]',
        "%lgp_watch nb_flow.py",
        "from pathlib import Path\np = Path('nb_flow.py')\n"
        "p.write_text(p.read_text().replace('\"A:\"', '\"B:\"'))",
        'r = %lgp_run nb_flow.py --input "three" --thread k1\nprint(r.version, r["log"])',
        # A broken save: the error is reported, the previous version keeps working.
        "p.write_text(p.read_text() + '\\nthis is not python\\n')",
        "import time\nfrom lgp_lab import get_lab\nlab = get_lab()\n"
        "deadline = time.time() + 5\n"
        "while lab.watches['nb_flow'].attempts < 2 and time.time() < deadline:\n"
        "    time.sleep(0.02)\n"
        "ev = lab.watches['nb_flow'].events[-1]\nprint(ev.ok, ev.error.location)",
        'r = %lgp_run nb_flow.py --input "four" --thread k1\nprint(r.version, r["log"][-1])',
        "from typing_extensions import TypedDict\nfrom langgraph.graph import StateGraph, START\n"
        "class C(TypedDict, total=False):\n    input: str\n    n: int\n"
        "graph = StateGraph(C)\ngraph.add_node('inc', lambda s: {'n': s.get('n', 0) + 1})\n"
        "graph.add_edge(START, 'inc')",
        "%lgp_run graph --thread g1 -q\nr = %lgp_run graph --thread g1\nr['n']",
    )
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(project)}}
    )
    client.execute()
    cells = nb.cells
    assert "'A:one', 'A:two'" in _text(cells[2])
    assert "2 ['A:one', 'A:two', 'B:three']" in _text(cells[5])  # new code, old state
    broken = _text(cells[7])
    assert "False" in broken and "nb_flow.py:" in broken
    assert "2 B:four" in _text(cells[8])  # the previous version kept serving
    assert "complete" in _text(cells[10]) and "2" in _text(cells[10])
    # The watch cell was updated in place: it shows the reload and the broken save.
    watch = _text(cells[3])
    assert "reloaded v2" in watch and "keeping v2" in watch
    # %lgp_run displays its result once (no second Out[] copy of the same result).
    assert [o["output_type"] for o in cells[1].outputs] == ["display_data"]


def test_notebook_error_cell_stops_with_a_clear_message(project: Path) -> None:
    write(project / "bad_flow.py", "import nope_not_installed_mod\n")
    nb = _notebook("%load_ext lgp_lab", "%lgp_run bad_flow.py")
    client = NotebookClient(
        nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(project)}}
    )
    with pytest.raises(CellExecutionError) as err:
        client.execute()
    text = str(err.value)
    assert "WorkflowLoadError" in text and "bad_flow.py:1" in text
    assert "pip install nope_not_installed_mod" in text


def _checkpoints(project: Path, thread_id: str) -> int:
    """Checkpoints of ``thread_id`` in the project's SQLite file, read by another connection."""
    path = project / ".lgp" / "checkpoints.sqlite"
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(
            "SELECT COUNT(*) FROM checkpoints WHERE thread_id = ?", (thread_id,)
        ).fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0
    finally:
        db.close()


def _wait_for(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)


def _execute(kc, code: str, timeout: float = 30) -> tuple[dict, list[dict]]:
    msg_id = kc.execute(code)
    outputs = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
        outputs.append(msg)
    return _reply(kc, msg_id, timeout), outputs


def _reply(kc, msg_id: str, timeout: float) -> dict:
    """The shell reply to ``msg_id``; others are skipped (jupyter_client 8 / ipykernel 7
    can leave a late ``kernel_info_reply`` from start-up on the shell channel)."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        msg = kc.get_shell_msg(timeout=left)
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg["content"]
    raise TimeoutError(f"no reply to {msg_id} within {timeout} s")


def test_kernel_interrupt_cancels_a_run_promptly(project: Path) -> None:
    write(
        project / "slow_flow.py",
        FLOW.replace(
            "def step(state):\n",
            "async def step(state):\n    import asyncio\n"
            "    await asyncio.sleep(float(state['input']))\n",
        ),
    )
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(project))
    try:
        reply, _ = _execute(
            kc, '%load_ext lgp_lab\nr = %lgp_run slow_flow.py -i \'{"input": "0"}\' -t s -q'
        )
        assert reply["status"] == "ok", reply
        before = _checkpoints(project, "s")
        # stop_on_error=False: the kernel must not abort the next cell, sent right after.
        msg_id = kc.execute(
            '%lgp_run slow_flow.py -i \'{"input": "30"}\' -t s -q', stop_on_error=False
        )
        # The run has started once its input checkpoint is in the file (bounded wait).
        _wait_for(lambda: _checkpoints(project, "s") > before, timeout=30)
        km.interrupt_kernel()
        # Promptly: well before the node's 30 s sleep ends (figures: bench/stop_latency.py).
        reply = _reply(kc, msg_id, timeout=10)
        assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
        assert msg_id
        reply, outputs = _execute(
            kc,
            "from lgp_lab import get_lab\nlab = get_lab()\n"
            "first = lab.sessions.history('s', limit=50)[-1].checkpoint_id\n"
            "print(lab.sessions.state('s', first))\n"
            "r = %lgp_run slow_flow.py -i '{\"input\": \"0\"}' -t s -q\nprint(r['log'])",
        )
        assert reply["status"] == "ok", reply
        text = "".join(m["content"].get("text", "") for m in outputs)
        assert "'A:0', 'A:0'" in text  # the earlier checkpoints survived; the thread goes on
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_lgp_serve_shares_the_kernel_lab(project: Path) -> None:
    import socket

    import httpx

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(project))
    try:
        reply, outputs = _execute(
            kc, "%load_ext lgp_lab\nh = %lgp_serve basic_workflow --port 0\nprint('PORT', h.port)"
        )
        assert reply["status"] == "ok", reply
        text = "".join(m["content"].get("text", "") for m in outputs)
        assert "[lgp] Serving basic_workflow at http://127.0.0.1:" in text
        port = int(text.split("PORT")[1].split()[0])
        url = f"http://127.0.0.1:{port}"
        r = httpx.post(
            f"{url}/workflows/basic_workflow/invoke",
            json={"input": "Remember my name is Nora", "thread_id": "shared"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        reply, outputs = _execute(
            kc, 'r = %lgp_run basic_workflow -i "What is my name?" -t shared -q\nprint(r["output"])'
        )
        assert "Your name is Nora." in "".join(m["content"].get("text", "") for m in outputs)
        _execute(kc, '%lgp_run basic_workflow -i "my city is Oslo" -t shared -q')
        state = httpx.get(f"{url}/sessions/shared", timeout=30).json()["latest_state"]
        assert state["facts"] == {"name": "Nora", "city": "Oslo"}  # notebook run seen over HTTP
        reply, outputs = _execute(kc, "%lgp_serve --stop")
        assert "Stopped: " + url in "".join(m["content"].get("text", "") for m in outputs)
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # the port is free again
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
