"""Workflow loading: builders, compiled graphs, and errors that point at the user's code."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write

from lgp_lab.errors import WorkflowLoadError, WorkflowNotFoundError

GRAPH = """
from typing import TypedDict
from langgraph.graph import StateGraph, START, END

class S(TypedDict, total=False):
    input: str
    output: str

def node(state):
    return {"output": "out:" + state["input"]}

g = StateGraph(S)
g.add_node("node", node)
g.add_edge(START, "node")
g.add_edge("node", END)
"""


def test_state_graph_is_compiled_with_the_lab_checkpointer(lab, project: Path) -> None:
    path = write(project / "flow.py", GRAPH + "workflow = g\n")
    wf = lab.load(str(path))
    assert wf.name == "flow" and wf.version == 1
    assert type(wf.graph.checkpointer).__name__ == "LabSqliteSaver"
    assert lab.run(wf, "x").state["output"] == "out:x"


def test_compiled_graph_is_recompiled_keeping_its_options(lab, project: Path) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    path = write(
        project / "flow.py",
        GRAPH + "workflow = g.compile(checkpointer=__import__('langgraph.checkpoint.memory', "
        "fromlist=['x']).InMemorySaver(), interrupt_before=['node'])\n",
    )
    wf = lab.load(str(path))
    assert not isinstance(wf.graph.checkpointer, InMemorySaver)
    assert wf.graph.interrupt_before_nodes == ["node"]
    first = lab.run(wf, "x", thread_id="t")
    assert "output" not in first.state  # stopped before the node
    resumed = lab.run(wf, None, thread_id="t")
    assert resumed.state["output"] == "out:x"


def test_syntax_error_points_at_file_and_line(lab, project: Path) -> None:
    path = write(project / "bad.py", "x = 1\ndef broken(:\n    pass\n")
    with pytest.raises(WorkflowLoadError) as err:
        lab.load(str(path))
    loc = err.value.location
    assert loc is not None and Path(loc.file) == path and loc.line == 2
    assert "bad.py:2" in str(err.value)


def test_import_error_names_module_and_line(lab, project: Path) -> None:
    path = write(project / "imp.py", "import os\nimport definitely_not_installed_xyz\n")
    with pytest.raises(WorkflowLoadError) as err:
        lab.load(str(path))
    assert "definitely_not_installed_xyz" in str(err.value)
    assert err.value.location is not None and err.value.location.line == 2
    assert "pip install definitely_not_installed_xyz" in str(err.value)


def test_exception_at_import_time_points_at_user_frame(lab, project: Path) -> None:
    path = write(project / "raise.py", "def f():\n    return 1 / 0\nf()\n")
    with pytest.raises(WorkflowLoadError) as err:
        lab.load(str(path))
    assert err.value.location.line == 2
    assert "ZeroDivisionError" in str(err.value)


def test_missing_workflow_suggests_the_graph_found(lab, project: Path) -> None:
    path = write(project / "nowf.py", GRAPH)
    with pytest.raises(WorkflowLoadError) as err:
        lab.load(str(path))
    assert "does not define `workflow`" in str(err.value)
    assert "rename 'g' to `workflow`" in str(err.value)


def test_workflow_of_wrong_type(lab, project: Path) -> None:
    path = write(project / "wrong.py", "workflow = 42\n")
    with pytest.raises(WorkflowLoadError, match="is a int, not a LangGraph StateGraph"):
        lab.load(str(path))


def test_compile_error_is_a_load_error(lab, project: Path) -> None:
    path = write(
        project / "nocompile.py",
        GRAPH.replace('g.add_edge(START, "node")\n', "") + "workflow = g\n",
    )
    with pytest.raises(WorkflowLoadError, match="does not compile"):
        lab.load(str(path))


def test_unknown_file_suggests_close_names(lab, project: Path) -> None:
    with pytest.raises(WorkflowNotFoundError) as err:
        lab.load("workflows/basic_workflw.py")
    assert "did you mean 'basic_workflow.py'" in str(err.value)


def test_unknown_name_lists_registered_ones(lab) -> None:
    with pytest.raises(WorkflowNotFoundError) as err:
        lab.load("basic_wrkflow")
    text = str(err.value)
    assert "known: basic_workflow" in text and "did you mean 'basic_workflow'" in text


def test_registered_name_and_path_are_the_same_workflow(lab) -> None:
    by_name = lab.load("basic_workflow")
    by_path = lab.load("workflows/basic_workflow.py")
    assert by_name is by_path and by_name.name == "basic_workflow"


def test_local_helper_modules_are_imported_fresh(lab, project: Path) -> None:
    write(project / "wf" / "helpers.py", "GREETING = 'hello'\n")
    path = write(
        project / "wf" / "flow.py",
        GRAPH.replace('"out:"', "helpers.GREETING + ':'") + "import helpers\nworkflow = g\n",
    )
    wf = lab.load(str(path))
    assert lab.run(wf, "x").state["output"] == "hello:x"
    assert (project / "wf" / "helpers.py").resolve() in wf.files
    write(project / "wf" / "helpers.py", "GREETING = 'bonjour'\n")
    assert lab.reload(wf) == 2
    assert lab.run(wf, "x").state["output"] == "bonjour:x"
