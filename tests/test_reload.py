"""Hot reload: real files, the real watcher, the CLI as a subprocess."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import cli_env, write

from lgp_lab import Lab

FLOW = """
import asyncio
import operator
from typing import Annotated
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END
{imports}

class S(TypedDict, total=False):
    input: str
    history: Annotated[list[str], operator.add]
    output: str

async def answer(state):
    await asyncio.sleep(float(state["input"]) if state["input"][:1].isdigit() else 0)
    reply = {reply}
    return {{"output": reply, "history": [reply]}}

workflow = StateGraph(S)
workflow.add_node("answer", answer)
workflow.add_edge(START, "answer")
workflow.add_edge("answer", END)
"""


def flow(reply: str, imports: str = "") -> str:
    return FLOW.format(reply=reply, imports=imports)


def wait_for(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def save(path: Path, text: str) -> None:
    """Write like an editor does: a new mtime and content."""
    path.write_text(text, encoding="utf-8")


def test_edit_reloads_and_the_thread_keeps_its_state(lab: Lab, project: Path) -> None:
    path = write(project / "flows" / "live.py", flow("'v1:' + state['input']"))
    events = []
    handle = lab.watch(str(path), on_reload=events.append)
    assert lab.run(str(path), "a", thread_id="t").state["history"] == ["v1:a"]

    save(path, flow("'v2:' + state['input']"))
    wait_for(lambda: events)
    assert events[0].ok and events[0].version == 2 and events[0].changed == (path.resolve(),)
    result = lab.run(str(path), "b", thread_id="t")
    assert result.version == 2
    assert result.state["history"] == ["v1:a", "v2:b"]  # state from before the edit
    latest = lab.sessions.history("t", limit=1)[0]
    assert latest.workflow_version == 2
    assert lab.watches == {"live": handle}
    handle.stop()
    assert handle.stopped and lab.watches == {}


def test_helper_module_edit_reloads_and_removed_names_are_gone(lab: Lab, project: Path) -> None:
    helper = write(project / "flows" / "prompts.py", "PREFIX = 'hello'\nEXTRA = 'x'\n")
    path = write(
        project / "flows" / "main.py",
        flow("prompts.PREFIX + getattr(prompts, 'EXTRA', '-gone')", "import prompts"),
    )
    events = []
    handle = lab.watch(str(path), on_reload=events.append)
    assert helper.resolve() in handle.files
    assert lab.run(str(path), "q").state["output"] == "hellox"
    save(helper, "PREFIX = 'bonjour'\n")
    wait_for(lambda: events)
    assert events[-1].ok and events[-1].changed == (helper.resolve(),)
    assert lab.run(str(path), "q").state["output"] == "bonjour-gone"


def test_broken_save_keeps_old_version_and_next_good_save_recovers(lab: Lab, project: Path) -> None:
    path = write(project / "flows" / "fragile.py", flow("'good1'"))
    events = []
    lab.watch(str(path), on_reload=events.append)
    text = flow("'good1'") + "\ndef broken(:\n    pass\n"
    line = text.splitlines().index("def broken(:") + 1
    save(path, text)
    wait_for(lambda: events)
    bad = events[-1]
    assert not bad.ok and bad.version == 1
    assert bad.error.location.file == str(path.resolve()) and bad.error.location.line == line
    assert f"fragile.py:{line}" in str(bad.error)
    result = lab.run(str(path), "x")
    assert result.version == 1 and result.state["output"] == "good1"

    for broken in ("import no_such_module_here\n", "workflow = None\n", "raise SystemError('x')\n"):
        count = len(events)
        save(path, flow("'good1'") + broken)
        wait_for(lambda count=count: len(events) > count)
        assert not events[-1].ok
    assert lab.run(str(path), "x").state["output"] == "good1"

    save(path, flow("'good2'"))
    wait_for(lambda: events[-1].ok)
    assert events[-1].version == 2
    assert lab.run(str(path), "x").state["output"] == "good2"


GATED = """
import asyncio
from pathlib import Path
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END

class S(TypedDict, total=False):
    input: str
    output: str

async def answer(state):
    gate = Path({gate!r})
    for _ in range(1000):  # waits for the test to open the gate (bounded: 10 s)
        if gate.exists():
            break
        await asyncio.sleep(0.01)
    return {{"output": {reply!r}}}

workflow = StateGraph(S)
workflow.add_node("answer", answer)
workflow.add_edge(START, "answer")
workflow.add_edge("answer", END)
"""


def test_run_in_flight_finishes_on_its_version(lab: Lab, project: Path) -> None:
    gate = project / "gate"
    path = write(project / "flows" / "slow.py", GATED.format(gate=str(gate), reply="old"))
    events = []
    lab.watch(str(path), on_reload=events.append)
    box = {}
    runner = threading.Thread(
        target=lambda: box.setdefault("r", lab.run(str(path), "x", thread_id="inflight"))
    )
    runner.start()
    # In flight: its input checkpoint is written and the node waits at the gate.
    wait_for(lambda: lab.sessions.thread("inflight") is not None)
    save(path, GATED.format(gate=str(gate), reply="new"))
    wait_for(lambda: events)
    assert events[-1].ok and not box  # reloaded while the run is still in flight
    gate.touch()
    runner.join(10)
    assert box["r"].version == 1 and box["r"].state["output"] == "old"
    assert lab.run(str(path), "x").state["output"] == "new"


def test_fifty_quick_saves_with_ten_broken(lab: Lab, project: Path) -> None:
    path = write(project / "flows" / "burst.py", flow("'s0'"))
    events = []
    handle = lab.watch(str(path), on_reload=events.append)
    for i in range(1, 51):
        text = flow(f"'s{i}'")
        if i % 5 == 0 and i != 50:
            text += "\nthis is not python\n"
        save(path, text)
        time.sleep(0.005 if i % 7 else 0.08)
    wait_for(lambda: events and events[-1].ok and lab.run(str(path), "x").state["output"] == "s50")
    assert not handle.stopped
    assert any(not e.ok for e in events)  # some broken saves were seen and survived
    versions = [e.version for e in events if e.ok]
    assert versions == sorted(versions)
    # Still alive: one more save reloads.
    count = len(events)
    save(path, flow("'after'"))
    wait_for(lambda: len(events) > count)
    assert lab.run(str(path), "x").state["output"] == "after"


def test_newly_imported_helper_is_watched_after_reload(lab: Lab, project: Path) -> None:
    path = write(project / "flows" / "grow.py", flow("'plain'"))
    helper = write(project / "flows" / "extra.py", "WORD = 'one'\n")
    events = []
    handle = lab.watch(str(path), on_reload=events.append)
    assert helper.resolve() not in handle.files
    save(path, flow("extra.WORD", "import extra"))
    wait_for(lambda: events and helper.resolve() in handle.files)
    time.sleep(0.1)  # let the watcher re-arm on the new file set
    save(helper, "WORD = 'two'\n")
    wait_for(lambda: lab.run(str(path), "x").state["output"] == "two")


def test_close_stops_watchers(project: Path) -> None:
    path = write(project / "flows" / "w.py", flow("'x'"))
    lab = Lab(root=project)
    handle = lab.watch(str(path))
    lab.close()
    assert handle.stopped


# --------------------------------------------------------------------------- CLI


class Proc:
    """A CLI subprocess whose stderr lines are collected as they arrive."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lgp_lab", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=cli_env(),
        )
        self.err: list[str] = []
        self.out: list[str] = []
        for stream, sink in ((self.proc.stderr, self.err), (self.proc.stdout, self.out)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()

    @staticmethod
    def _pump(stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line.rstrip("\n"))

    def wait_line(self, text: str, count: int = 1, timeout: float = 20) -> None:
        wait_for(lambda: sum(text in line for line in self.err) >= count, timeout)


def test_cli_watch_reruns_on_save_and_ctrl_c_exits_cleanly(project: Path) -> None:
    path = write(project / "flows" / "cli_flow.py", flow("'v1:' + state['input']"))
    proc = Proc(["run", str(path), "--watch", "--thread", "demo", "-i", "hi"], project)
    try:
        proc.wait_line("✅ Complete")
        assert "[lgp] Hot reload: ON" in proc.err
        assert any(line.startswith("[lgp] Watching: flows/cli_flow.py") for line in proc.err)
        save(path, flow("'v2:' + state['input']"))
        proc.wait_line("✅ Complete", 2)
        assert any("File changed: flows/cli_flow.py (detected in" in x for x in proc.err)
        assert "[lgp] Reloaded workflow v2" in "\n".join(proc.err)
        wait_for(lambda: '"v2:hi"' in "\n".join(proc.out))
        text = "\n".join(proc.out)
        assert '"v1:hi",\n    "v2:hi"' in text  # the rerun continued the thread

        broken = flow("'v3'") + "\nx = (\n"
        line = broken.splitlines().index("x = (") + 1
        save(path, broken)
        proc.wait_line("Keeping v2 live")
        assert any(f"cli_flow.py:{line}" in x for x in proc.err)
        save(path, flow("'v3'"))
        proc.wait_line("✅ Complete", 3)
        assert "[lgp] Reloaded workflow v3" in "\n".join(proc.err)
    finally:
        proc.proc.send_signal(signal.SIGINT)
        code = proc.proc.wait(10)  # exit time: bench/stop_latency.py
    assert code == 0
    wait_for(lambda: "[lgp] Stopped watching" in proc.err, 2)
    assert not any("Traceback" in line for line in proc.err)


@pytest.mark.parametrize("sig", [signal.SIGTERM])
def test_cli_watch_stops_on_sigterm(project: Path, sig: signal.Signals) -> None:
    proc = Proc(["run", "basic_workflow", "--watch"], project)
    proc.wait_line("✅ Complete")
    proc.proc.send_signal(sig)
    assert proc.proc.wait(5) == 0
    # The SQLite file was closed: no WAL left behind by a dangling connection.
    assert not (project / ".lgp" / "checkpoints.sqlite-wal").exists() or (
        (project / ".lgp" / "checkpoints.sqlite-wal").stat().st_size == 0
    )
