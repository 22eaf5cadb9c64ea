"""The ``lgp-lab`` CLI, run as a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO, cli_env, run_cli, write


def test_help_lists_commands() -> None:
    result = run_cli("--help", cwd=REPO)
    assert result.returncode == 0
    assert "run" in result.stdout
    alias = subprocess.run(
        [shutil.which("lgp") or "lgp", "--help"], capture_output=True, text=True, timeout=60
    )
    assert alias.returncode == 0 and "Commands:" in alias.stdout


def test_run_default_input_prints_plan_style_output(project: Path) -> None:
    result = run_cli("run", "workflows/basic_workflow.py", cwd=project)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "[lgp] Loading workflow: basic_workflow"
    assert lines[1].startswith("[lgp] Input: ")
    assert lines[1].endswith(" (default for this graph; pass --input)")
    assert lines[2].startswith("[lgp] Executing... (thread ")
    assert lines[3].startswith("[lgp]   ↳ remember (") and lines[4].startswith("[lgp]   ↳ respond")
    assert lines[5].startswith("[lgp] ✅ Complete (") and lines[5].endswith("s)")
    assert lines[6].startswith("[lgp] Trace: ")
    assert "Continue this thread with: --thread " in lines[7]
    assert result.stdout.startswith("Result: ")
    state = json.loads(result.stdout.removeprefix("Result: "))
    assert "test" in state["output"]


def test_thread_continues_across_processes(project: Path) -> None:
    first = run_cli(
        "run",
        "workflows/basic_workflow.py",
        "--input",
        '{"input": "Remember my name is Alice"}',
        "--thread",
        "t-1",
        cwd=project,
    )
    assert first.returncode == 0, first.stderr
    assert "(thread t-1)" in first.stderr
    second = run_cli(
        "run",
        "basic_workflow",
        "--input",
        "What is my name?",
        "--thread",
        "t-1",
        "--json",
        cwd=project,
    )
    assert second.returncode == 0, second.stderr
    payload = json.loads(second.stdout)
    assert payload["result"]["output"] == "Your name is Alice."
    assert payload["thread_id"] == "t-1" and payload["version"] == 1
    assert payload["checkpoint_id"] and payload["status"] == "complete"


def test_generated_thread_id_can_be_continued(project: Path) -> None:
    first = run_cli("run", "basic_workflow", "-i", "my city is Paris", cwd=project)
    thread = first.stderr.split("--thread ")[-1].strip()
    second = run_cli(
        "run", "basic_workflow", "-i", "what is my city?", "-t", thread, "--json", cwd=project
    )
    assert json.loads(second.stdout)["result"]["output"] == "Your city is Paris."


def test_runs_in_an_empty_directory(tmp_path: Path) -> None:
    shutil.copy(REPO / "workflows" / "basic_workflow.py", tmp_path / "flow.py")
    result = run_cli("run", "flow.py", "--input", "hello", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".lgp" / "checkpoints.sqlite").is_file()


def test_env_option_selects_config(project: Path) -> None:
    write(project / "config" / "hosted.yaml", "checkpoint:\n  path: hosted.sqlite\n")
    result = run_cli("run", "basic_workflow", "--env", "hosted", "--verbose", cwd=project)
    assert result.returncode == 0, result.stderr
    assert (project / "hosted.sqlite").is_file()
    assert "hosted.yaml (env hosted)" in result.stderr
    bad = run_cli("run", "basic_workflow", "--env", "staging", cwd=project)
    assert bad.returncode == 2 and "environment 'staging'" in bad.stderr
    assert "known: experiment, hosted, production" in bad.stderr


def test_errors_are_clear_and_exit_nonzero(project: Path) -> None:
    write(project / "syn.py", "x = (\n")
    syntax = run_cli("run", "syn.py", cwd=project)
    assert syntax.returncode == 1
    assert "syntax error in syn.py" in syntax.stderr and "syn.py:1" in syntax.stderr
    assert "Traceback" not in syntax.stderr

    missing = run_cli("run", "basic_workfow", cwd=project)
    assert missing.returncode == 1
    assert "did you mean 'basic_workflow'" in missing.stderr

    bad_json = run_cli("run", "basic_workflow", "--input", "{nope", cwd=project)
    assert bad_json.returncode == 2 and "--input" in bad_json.stderr


BOOM_FLOW = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START

class S(TypedDict):
    input: str

def explode(state):
    raise ValueError("kaboom")

workflow = StateGraph(S)
workflow.add_node("explode", explode)
workflow.add_edge(START, "explode")
"""


def test_node_failure_names_node_and_verbose_shows_traceback(project: Path) -> None:
    write(project / "boom.py", BOOM_FLOW)
    plain = run_cli("run", "boom.py", cwd=project)
    assert plain.returncode == 1
    assert "node 'explode'" in plain.stderr and "boom.py:8 in explode" in plain.stderr
    assert "Traceback" not in plain.stderr
    verbose = run_cli("run", "boom.py", "--verbose", cwd=project)
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr


def test_module_entry_point_and_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lgp_lab", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(),
    )
    assert result.returncode == 0 and "lgp-lab, version" in result.stdout


# --------------------------------------------------------------------------- issue 13

CONTEXT_FLOW = """
from dataclasses import dataclass

from langchain_core.runnables import RunnableConfig
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from typing_extensions import TypedDict


@dataclass
class Ctx:
    model: str = "default"


class S(TypedDict, total=False):
    topic: str
    seen: dict


def look(state: S, config: RunnableConfig, runtime: Runtime[Ctx]) -> S:
    print("a node's own print()")
    return {
        "seen": {
            "topic": state.get("topic"),
            "model": runtime.context.model if runtime.context else None,
            "user": config["configurable"].get("user_id"),
            "tags": config.get("tags", []),
        }
    }


workflow = StateGraph(S, context_schema=Ctx)
workflow.add_node("look", look)
workflow.add_edge(START, "look")
"""

CHAT_FLOW = """
from langgraph.graph import START, MessagesState, StateGraph


def reply(state: MessagesState):
    last = state["messages"][-1]
    return {"messages": [("ai", f"{last.type}: {last.content}")]}


workflow = StateGraph(MessagesState)
workflow.add_node("reply", reply)
workflow.add_edge(START, "reply")
"""

APPROVAL_FLOW = """
from langgraph.graph import START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict


class S(TypedDict, total=False):
    input: str
    decision: str


def ask(state: S) -> S:
    print("asking")
    return {"decision": interrupt({"question": "deploy " + state["input"] + "?"})}


workflow = StateGraph(S)
workflow.add_node("ask", ask)
workflow.add_edge(START, "ask")
"""


def test_context_and_config_reach_the_graph(project: Path) -> None:
    write(project / "ctx.py", CONTEXT_FLOW)
    write(project / "config.json", '{"configurable": {"user_id": "u1"}, "tags": ["t1"]}')
    result = run_cli(
        "run", "ctx.py", "-i", '{"topic": "cats"}', "--context", '{"model": "m1"}',
        "--config", "@config.json", "--json", cwd=project,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)["result"]["seen"]
    assert seen == {"topic": "cats", "model": "m1", "user": "u1", "tags": ["t1"]}


def test_bad_context_or_config_is_a_usage_error_naming_the_option(project: Path) -> None:
    for option, value, message in [
        ("--context", "{model: m1}", "not valid JSON"),
        ("--config", "[1, 2]", "must be a JSON object"),
        ("--config", "@missing.json", "cannot read missing.json"),
    ]:
        result = run_cli("run", "basic_workflow", option, value, cwd=project)
        assert result.returncode == 2, (option, value, result.stderr)
        assert f"'{option}'" in result.stderr and message in result.stderr
        assert "Executing" not in result.stderr and "Traceback" not in result.stderr


def test_plain_text_input_is_a_user_message_on_a_chat_graph(project: Path) -> None:
    write(project / "chat.py", CHAT_FLOW)
    result = run_cli("run", "chat.py", "--input", "hi there", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    messages = json.loads(result.stdout)["result"]["messages"]
    assert [m["content"] for m in messages] == ["hi there", "human: hi there"]


def test_default_input_fits_the_graph_and_is_said(project: Path) -> None:
    write(project / "ctx.py", CONTEXT_FLOW)
    result = run_cli("run", "ctx.py", "-t", "d1", "--json", cwd=project)  # a new thread
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stderr.splitlines() if x.startswith("[lgp] Input: "))
    used = json.loads(line.removeprefix("[lgp] Input: ").split(" (default")[0])
    assert used == {"topic": "test"}
    assert line.endswith("(default for this graph; pass --input)")
    assert json.loads(result.stdout)["result"]["seen"]["topic"] == "test"
    again = run_cli("run", "ctx.py", "-t", "d1", cwd=project)  # an existing thread continues
    assert again.returncode == 0, again.stderr
    assert "[lgp] Input: none (thread d1 continues from its last checkpoint" in again.stderr


def test_json_stdout_is_one_document_even_with_prints_and_interrupts(project: Path) -> None:
    write(project / "ctx.py", CONTEXT_FLOW)
    done = run_cli("run", "ctx.py", "-i", '{"topic": "x"}', "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "complete"  # the whole stdout parses
    assert "a node's own print()" in done.stderr

    write(project / "approval.py", APPROVAL_FLOW)
    waiting = run_cli("run", "approval.py", "-i", "v2", "-t", "h1", "--json", cwd=project)
    assert waiting.returncode == 0, waiting.stderr
    doc = json.loads(waiting.stdout)
    assert doc["status"] == "interrupted" and doc["thread_id"] == "h1"
    assert doc["interrupts"] == [{"question": "deploy v2?"}]
    assert "asking" in waiting.stderr and "asking" not in waiting.stdout
    resumed = run_cli("run", "approval.py", "-t", "h1", "--resume", "yes", "--json", cwd=project)
    assert json.loads(resumed.stdout)["result"]["decision"] == "yes"


def test_json_errors_are_one_error_document(project: Path) -> None:
    write(project / "boom.py", BOOM_FLOW)
    failed = run_cli("run", "boom.py", "--json", cwd=project)
    assert failed.returncode == 1
    doc = json.loads(failed.stdout)
    assert doc["status"] == "error" and "node 'explode'" in doc["error"]
    assert doc["type"] == "WorkflowRunError" and "boom.py:8" in doc["location"]
    missing = run_cli("run", "basic_workfow", "--json", cwd=project)
    assert missing.returncode == 1
    doc = json.loads(missing.stdout)
    assert doc["status"] == "error" and "basic_workflow" in (doc["error"] + (doc["hint"] or ""))


def test_rejected_input_never_prints_executing(project: Path) -> None:
    result = run_cli("run", "basic_workflow", "-i", '{"nope": 1}', cwd=project)
    assert result.returncode == 1
    assert "'nope'" in result.stderr and "Executing" not in result.stderr


def test_display_name_of_targets() -> None:
    from lgp_lab.cli.run import _display_name

    assert _display_name("workflows/flow.py") == "flow"
    assert _display_name("./src/agent/graph.py:graph") == "graph.py:graph"
    assert _display_name("agent") == "agent"
    assert _display_name("langgraph.json") == "langgraph.json"


# --------------------------------------------------------------------------- issue 14


def test_unknown_env_outside_a_project_is_an_error_naming_the_known_ones(tmp_path: Path) -> None:
    shutil.copy(REPO / "workflows" / "basic_workflow.py", tmp_path / "flow.py")
    result = run_cli("run", "flow.py", "--env", "nosuch", cwd=tmp_path)
    assert result.returncode == 2
    assert "environment 'nosuch'" in result.stderr
    assert "experiment, hosted, production" in result.stderr
    assert not (tmp_path / ".lgp").exists()
    hosted = run_cli("run", "flow.py", "--env", "hosted", "-i", "hi", cwd=tmp_path)
    assert hosted.returncode == 0, hosted.stderr  # a built-in environment works anywhere


def test_usage_errors_exit_2(project: Path) -> None:
    cases = [
        ("run",),  # missing WORKFLOW
        ("run", "basic_workflow", "--nope"),
        ("run", "basic_workflow", "--input", "{nope"),
        ("run", "basic_workflow", "--resume", "yes"),  # needs --thread
        ("run", "basic_workflow", "-t", "x", "--resume", "yes", "--input", "hi"),
        ("traces", "--env", "nosuch"),
        ("traces", "abc"),
        ("create", "class"),
        ("create", "ok_name", "--template", "nope"),
        ("serve", "--env", "nosuch"),
    ]
    for args in cases:
        result = run_cli(*args, cwd=project)
        assert result.returncode == 2, (args, result.returncode, result.stderr)
        assert "Traceback" not in result.stderr, args


BLOCKER = """
import os
import sys

_BLOCKED = {n for n in os.environ.get("LGP_TEST_BLOCK_IMPORTS", "").split(",") if n}


class _Block:
    # Behaves as if these packages were never installed.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _Block())
"""


def without_packages(tmp_path: Path, *packages: str) -> dict[str, str]:
    """A CLI environment in which ``packages`` cannot be imported (a sitecustomize)."""
    shim = tmp_path / "shim"
    write(shim / "sitecustomize.py", BLOCKER)
    env = cli_env(LGP_TEST_BLOCK_IMPORTS=",".join(packages))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(shim), env.get("PYTHONPATH")) if p)
    return env


def test_serve_without_the_server_extra_names_the_install(tmp_path: Path) -> None:
    shutil.copy(REPO / "workflows" / "basic_workflow.py", tmp_path / "flow.py")
    env = without_packages(tmp_path, "uvicorn", "fastapi")
    result = run_cli(
        "serve", "flow.py", "--env", "experiment", "--port", "0", cwd=tmp_path, env=env
    )
    assert result.returncode == 1
    assert 'pip install "lgp-lab[server]"' in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_cli_freezes_the_heap_before_interpreter_teardown(tmp_path: Path) -> None:
    # Interpreter teardown re-collects every LangGraph object (0.3 s per command); the
    # CLI freezes the heap once its resources are closed. bench/cli_exit.py times it.
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0))\n"
        "sys.argv = ['lgp-lab', 'run', 'flow.py', '-i', 'hi']\n"
        "from lgp_lab.cli import main\n"
        "main()\n"
    )
    shutil.copy(REPO / "workflows" / "basic_workflow.py", tmp_path / "flow.py")
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
        timeout=60, env=cli_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("frozen True")


def test_traces_in_an_empty_directory_creates_nothing(tmp_path: Path) -> None:
    result = run_cli("traces", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "No traces yet" in result.stderr
    assert json.loads(run_cli("traces", "--json", cwd=tmp_path).stdout) == []
    assert list(tmp_path.iterdir()) == []


def test_traces_name_the_known_workflows_and_the_prefix_length(project: Path) -> None:
    assert run_cli("run", "basic_workflow", "-i", "hi", cwd=project).returncode == 0
    nosuch = run_cli("traces", "--workflow", "nosuch", cwd=project)
    assert nosuch.returncode == 0
    assert "No traces for workflow 'nosuch'" in nosuch.stderr
    assert "Workflows with traces: basic_workflow" in nosuch.stderr
    short = run_cli("traces", "abc", cwd=project)
    assert short.returncode == 2
    assert "at least its first 8 characters" in short.stderr
    trace_id = json.loads(run_cli("traces", "--json", cwd=project).stdout)[0]["trace_id"]
    shown = run_cli("traces", trace_id[:8], cwd=project)
    assert shown.returncode == 0 and trace_id in shown.stdout


def test_traces_label_the_subscription_share_as_an_allocation(project: Path) -> None:
    for _ in range(2):
        assert run_cli("run", "basic_workflow", "-i", "hi", cwd=project).returncode == 0
    table = run_cli("traces", cwd=project)
    assert table.returncode == 0, table.stderr
    assert "$/run" not in table.stdout
    assert "$20/mo ÷ 2" in table.stdout and "$20/mo ÷ 1" in table.stdout
    assert "an allocation, not a per-run price" in table.stdout
    trace_id = json.loads(run_cli("traces", "--json", cwd=project).stdout)[0]["trace_id"]
    one = run_cli("traces", trace_id, cwd=project)
    assert "cost: $10.0000 = $20/month ÷ 2 runs this month" in one.stdout
    assert "not a per-run price" in one.stdout


def test_traces_table_is_readable_at_80_columns(project: Path) -> None:
    # a thread id as `lgp-lab run` makes them, and one as the SDK makes them (a UUID)
    uuid_thread = "3f0c2a9e-8d1b-4c55-9a7e-2b6f1d0e4c11"
    assert run_cli("run", "basic_workflow", "-i", "hi", cwd=project).returncode == 0
    run = run_cli("run", "basic_workflow", "-i", "hi", "-t", uuid_thread, cwd=project)
    assert run.returncode == 0, run.stderr
    traces = json.loads(run_cli("traces", "--json", cwd=project).stdout)
    short_thread = next(t["thread_id"] for t in traces if t["thread_id"] != uuid_thread)
    narrow = run_cli("traces", cwd=project, env=cli_env(COLUMNS="80"))
    assert narrow.returncode == 0, narrow.stderr
    table = [line for line in narrow.stdout.splitlines() if line[:1] in "┏┃┡│└"]
    assert max(len(line) for line in table) <= 80, narrow.stdout
    rows = [line for line in table if "basic_workflow v1" in line]  # one line per run
    assert len(rows) == 2, narrow.stdout
    assert any(short_thread in row and "$20/mo ÷ 1" in row for row in rows), narrow.stdout
    assert any(uuid_thread[:12] in row for row in rows), narrow.stdout  # only it may fold
    assert "hidden at 80 columns: ms, started (UTC)" in narrow.stdout
    wide = run_cli("traces", cwd=project, env=cli_env(COLUMNS="160"))
    assert "started (UTC)" in wide.stdout and uuid_thread in wide.stdout
    assert "hidden" not in wide.stdout


def test_langgraph_targets_pass_through_the_cli(tmp_path: Path) -> None:
    write(tmp_path / "src" / "agent" / "graph.py", CHAT_FLOW + "graph = workflow.compile()\n")
    write(
        tmp_path / "langgraph.json",
        '{"graphs": {"agent": "./src/agent/graph.py:graph"}, "dependencies": ["."]}',
    )
    for target, shown in [
        ("agent", "agent"),
        ("langgraph.json", "langgraph.json"),
        ("src/agent/graph.py:graph", "graph.py:graph"),
    ]:
        result = run_cli("run", target, "-i", "hi", "--json", cwd=tmp_path)
        assert result.returncode == 0, (target, result.stderr)
        assert f"[lgp] Loading workflow: {shown}\n" in result.stderr
        messages = json.loads(result.stdout)["result"]["messages"]
        assert messages[-1]["content"] == "human: hi"


def test_an_invalid_config_file_is_an_error_not_a_traceback(project: Path) -> None:
    write(project / "config" / "experiment.yaml", "checkpoint:\n  nope: 1\n")
    for args in [("run", "basic_workflow"), ("traces",), ("run", "basic_workflow", "--json")]:
        result = run_cli(*args, cwd=project)
        assert result.returncode == 1, (args, result.stderr)
        assert "checkpoint.nope" in result.stderr and "Traceback" not in result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "error" and doc["type"] == "ConfigError"


def test_ctrl_c_stops_serve_even_when_started_with_sigint_ignored(project: Path) -> None:
    """A server started in the background of a non-interactive shell (CI, a process
    manager) inherits SIGINT ignored; Ctrl-C must still stop it cleanly, as it stops
    uvicorn under ``langgraph dev``."""
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "lgp_lab", "serve", "--env", "experiment", "--port", str(port)],
        cwd=project,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ok", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
