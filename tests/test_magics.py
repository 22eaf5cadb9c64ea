"""Magics on a real IPython InteractiveShell: parsing, delegation, display, errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import write
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from lgp_lab import kernel
from lgp_lab.errors import WorkflowLoadError
from lgp_lab.runtime.result import RunResult


@pytest.fixture
def shell(project: Path) -> Iterator[InteractiveShell]:
    sh = InteractiveShell.instance()
    sh.user_ns.pop("graph", None)
    sh.run_line_magic("load_ext", "lgp_lab")
    yield sh
    sh.run_line_magic("unload_ext", "lgp_lab")


def _engine_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "lgp-engine"]


def test_load_ext_creates_nothing_heavy(shell: InteractiveShell) -> None:
    assert kernel.labs() == []
    assert _engine_threads() == []
    assert "lgp_run" in shell.magics_manager.magics["line"]
    assert "lgp_watch" in shell.magics_manager.magics["line"]


def test_run_returns_result_and_thread_continues(shell: InteractiveShell, project: Path) -> None:
    r1 = shell.run_line_magic(
        "lgp_run", """workflows/basic_workflow.py --input '{"input": "my name is Alice"}' -t t1"""
    )
    assert isinstance(r1, RunResult) and r1.thread_id == "t1"
    r2 = shell.run_line_magic("lgp_run", 'basic_workflow --input "what is my name?" --thread t1')
    assert r2["output"] == "Your name is Alice."
    lab = kernel.get_lab()
    assert lab.root == project and lab.sessions.count_checkpoints("t1") == 8


def test_run_shows_a_rich_display_once(shell: InteractiveShell) -> None:
    with capture_output() as captured:
        result = shell.run_cell("%lgp_run basic_workflow -i hello -t disp")
    assert result.success
    assert len(captured.outputs) == 1
    bundle = captured.outputs[0].data
    assert "disp" in bundle["text/html"] and "basic_workflow" in bundle["text/html"]
    assert "v1" in bundle["text/plain"] and "You said: hello" in bundle["text/plain"]
    assert "You said" not in captured.stdout  # the Out[] echo of the same result is skipped
    with capture_output() as later:
        # Cells as a kernel runs them (each one its own execution count).
        shell.run_cell("r = %lgp_run basic_workflow -q", store_history=True)
        shell.run_cell("r", store_history=True)
    assert len(later.outputs) == 1 and "complete" in later.outputs[0].data["text/plain"]


def test_long_strings_shortened_in_display_only(shell: InteractiveShell) -> None:
    text = "x" * 5000
    with capture_output() as captured:
        result = shell.run_line_magic("lgp_run", f"basic_workflow -i {text}")
    assert result["input"] == text
    plain = captured.outputs[0].data["text/plain"]
    assert "(+4700 chars, 5000 total)" in plain and text not in plain


def test_notebook_graph_variable(shell: InteractiveShell) -> None:
    shell.run_cell(
        "from typing_extensions import TypedDict\n"
        "from langgraph.graph import StateGraph, START, END\n"
        "class S(TypedDict, total=False):\n    input: str\n    n: int\n"
        "def inc(s):\n    return {'n': s.get('n', 0) + 1}\n"
        "graph = StateGraph(S)\ngraph.add_node('inc', inc)\n"
        "graph.add_edge(START, 'inc')\ngraph.add_edge('inc', END)\n"
    )
    first = shell.run_line_magic("lgp_run", "graph --thread g -q")
    second = shell.run_line_magic("lgp_run", "graph --thread g -q")
    assert first.workflow == "graph" and second["n"] == 2
    compiled = shell.run_cell("compiled = graph.compile()")
    assert compiled.success
    assert shell.run_line_magic("lgp_run", "compiled -t g -q")["n"] == 3


def test_help_prints_usage(shell: InteractiveShell) -> None:
    with capture_output() as captured:
        assert shell.run_line_magic("lgp_run", "--help") is None
    assert "%lgp_run" in captured.stdout and "--thread" in captured.stdout
    with capture_output() as captured:
        shell.run_line_magic("lgp_watch", "-h")
    assert "--stop" in captured.stdout


def test_errors_are_clean_messages(shell: InteractiveShell, project: Path) -> None:
    write(project / "broken.py", "x = 1\ny = (\n")
    with capture_output() as captured:
        result = shell.run_cell("%lgp_run broken.py")
    assert not result.success
    assert isinstance(result.error_in_exec, WorkflowLoadError)
    assert "broken.py:2" in captured.stdout and "fix:" in captured.stdout
    assert "Traceback" not in captured.stdout and "site-packages" not in captured.stdout

    with capture_output() as captured:
        result = shell.run_cell("%lgp_run basic_workflow --input '{oops'")
    assert not result.success and "--input" in str(result.error_in_exec)


def test_watch_list_and_stop(shell: InteractiveShell, project: Path) -> None:
    with capture_output() as captured:
        shell.run_line_magic("lgp_watch", "workflows/basic_workflow.py")
    assert "watching basic_workflow.py" in captured.outputs[0].data["text/plain"]
    lab = kernel.get_lab()
    assert set(lab.watches) == {"basic_workflow"}
    with capture_output() as captured:
        shell.run_line_magic("lgp_watch", "--list")
    assert "basic_workflow" in captured.outputs[0].data["text/plain"]
    shell.run_line_magic("lgp_watch", "--stop workflows/basic_workflow.py")
    assert lab.watches == {}
    with capture_output():
        result = shell.run_cell("%lgp_watch --stop nothing_watched")
    assert not result.success


def test_unload_closes_the_lab(project: Path) -> None:
    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "lgp_lab")
    sh.run_line_magic("lgp_run", "basic_workflow -q")
    lab = kernel.get_lab()
    assert _engine_threads()
    sh.run_line_magic("unload_ext", "lgp_lab")
    assert lab.closed and _engine_threads() == []
    assert "lgp_run" not in sh.magics_manager.magics["line"]


def test_help_has_no_stray_rest_markers(shell: InteractiveShell) -> None:
    with capture_output() as captured:
        shell.run_line_magic("lgp_run", "--help")
    lines = captured.stdout.splitlines()
    assert lines and "::" not in [line.strip() for line in lines]
    assert "--context" in captured.stdout and "--config" in captured.stdout


def test_context_config_and_chat_text_in_a_magic(shell: InteractiveShell, project: Path) -> None:
    write(
        project / "ctxchat.py",
        """
        from dataclasses import dataclass
        from langchain_core.runnables import RunnableConfig
        from langgraph.graph import MessagesState, StateGraph, START
        from langgraph.runtime import Runtime

        @dataclass
        class Ctx:
            persona: str

        def reply(state: MessagesState, config: RunnableConfig, runtime: Runtime[Ctx]):
            user = config["configurable"]["user_id"]
            text = f"{runtime.context.persona}->{user}: {state['messages'][-1].content}"
            return {"messages": [("ai", text)]}

        graph = StateGraph(MessagesState, context_schema=Ctx).add_node(reply)
        graph.add_edge(START, "reply")
        """,
    )
    result = shell.run_line_magic(
        "lgp_run",
        """ctxchat.py -i hello -c '{"persona": "bot"}' """
        """--config '{"configurable": {"user_id": "u7"}}' -q""",
    )
    assert result["messages"][-1].content == "bot->u7: hello"
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="--context: not valid JSON"):
        shell.run_line_magic("lgp_run", "ctxchat.py --context '{oops' -q")


def test_watch_stop_resolves_the_path_like_watch(shell: InteractiveShell, project: Path) -> None:
    """From a notebook under notebooks/, a project-relative path starts and stops a watch."""
    import os

    (project / "notebooks").mkdir()
    os.chdir(project / "notebooks")
    shell.run_line_magic("lgp_watch", "workflows/basic_workflow.py")
    with capture_output() as captured:
        shell.run_line_magic("lgp_watch", "--stop workflows/basic_workflow.py")
    assert "Stopped watching: basic_workflow" in captured.stdout
    assert kernel.get_lab().watches == {}


def test_a_result_is_rich_in_ipython_without_the_extension(project: Path) -> None:
    """``from lgp_lab import Lab`` in a notebook, no %load_ext: a RunResult still shows
    as the result view (registered by the front end, the domain's result has no repr
    of its own beyond text)."""
    import lgp_lab

    sh = InteractiveShell.instance()
    lgp_lab.__dict__.pop("Lab", None)  # as in a fresh kernel: the first access registers
    with lgp_lab.Lab(root=project) as lab:
        result = lab.run("basic_workflow", "hello", thread_id="plain")
    data, _meta = sh.display_formatter.format(result)
    assert "basic_workflow" in data["text/html"] and "plain" in data["text/html"]
    assert "You said: hello" in data["text/plain"]
