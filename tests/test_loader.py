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


def test_the_only_graph_in_a_file_is_found_by_itself(lab, project: Path) -> None:
    path = write(project / "nowf.py", GRAPH)
    assert lab.run(str(path), {"input": "a"}).state["output"] == "out:a"


@pytest.mark.parametrize("name", ["graph", "app", "workflow"])
def test_graph_found_under_the_names_langgraph_projects_use(lab, project: Path, name) -> None:
    path = write(project / f"named_{name}.py", GRAPH + f"other = g.compile()\n{name} = g\n")
    assert lab.run(str(path), {"input": "b"}).state["output"] == "out:b"


def test_several_graphs_are_listed_with_the_fix(lab, project: Path) -> None:
    path = write(project / "two.py", GRAPH + "one = g.compile()\ntwo = g.compile()\n")
    with pytest.raises(WorkflowLoadError) as err:
        lab.load(str(path))
    assert "several graphs (one, two)" in str(err.value)
    assert "two.py:one" in str(err.value)


def test_path_colon_attr_names_the_graph(lab, project: Path) -> None:
    path = write(project / "pick.py", GRAPH + "one = g.compile()\ntwo = g.compile()\n")
    wf = lab.load(f"{path}:two")
    assert wf.attr == "two" and lab.run(f"{path}:two", {"input": "c"})["output"] == "out:c"
    with pytest.raises(WorkflowLoadError, match="has no attribute 'three'") as err:
        lab.load(f"{path}:three")
    assert "pick.py:one" in str(err.value)


def test_no_graph_at_all_says_what_was_looked_for(lab, project: Path) -> None:
    path = write(project / "empty.py", "x = 1\n")
    with pytest.raises(WorkflowLoadError, match="defines no LangGraph graph"):
        lab.load(str(path))


def test_attr_of_wrong_type(lab, project: Path) -> None:
    path = write(project / "wrong.py", "workflow = 42\n")
    with pytest.raises(WorkflowLoadError, match=r"wrong\.py:workflow is a int, not a LangGraph"):
        lab.load(f"{path}:workflow")


def test_functional_api_entrypoint_runs_with_interrupt(lab, project: Path) -> None:
    path = write(
        project / "func.py",
        """
        from langgraph.func import entrypoint, task
        from langgraph.types import interrupt

        @task
        def shout(text: str) -> str:
            return text.upper()

        @entrypoint()
        def review(topic: dict) -> dict:
            draft = shout(topic["topic"]).result()
            answer = interrupt({"draft": draft})
            return {"draft": draft, "answer": answer}
        """,
    )
    first = lab.run(str(path), {"topic": "cats"}, thread_id="f1")
    assert first.status == "interrupted" and first.interrupts == [{"draft": "CATS"}]
    done = lab.run(str(path), thread_id="f1", resume="ok")
    assert done.state == {"draft": "CATS", "answer": "ok"}


def test_graph_factory_is_called_with_the_run_config(lab, project: Path) -> None:
    path = write(
        project / "factory.py",
        GRAPH.replace('"out:"', 'PREFIX["p"]')
        + "PREFIX = {'p': 'x:'}\n"
        + "def make_graph(config):\n"
        + "    PREFIX['p'] = config['configurable'].get('prefix', 'none:')\n"
        + "    return g.compile()\n",
    )
    result = lab.run(
        f"{path}:make_graph", {"input": "q"}, config={"configurable": {"prefix": "cfg:"}}
    )
    assert result["output"] == "cfg:q"


def test_a_compiled_graphs_own_checkpointer_is_replaced_with_a_note(lab, project: Path) -> None:
    notes: list[str] = []
    lab.warn = notes.append
    path = write(
        project / "own.py",
        GRAPH
        + "from langgraph.checkpoint.memory import InMemorySaver\n"
        + "graph = g.compile(checkpointer=InMemorySaver())\n",
    )
    wf = lab.load(str(path))
    assert type(wf.graph.checkpointer).__name__ == "LabSqliteSaver"
    assert len(notes) == 1 and "its own checkpointer (InMemorySaver)" in notes[0]


def test_three_graph_py_files_are_three_workflows(lab, project: Path) -> None:
    paths = [write(project / d / "graph.py", GRAPH.replace("out:", f"{d}:")) for d in "abc"]
    names = [lab.load(str(p)).name for p in paths]
    assert len(set(names)) == 3 and names[0] == "graph"
    outputs = [lab.run(n, {"input": "z"}, thread_id=f"t{n}")["output"] for n in names]
    assert outputs == ["a:z", "b:z", "c:z"]


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
