"""Templates: `lgp-lab templates` and `lgp-lab create` as subprocesses in fresh directories."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, run_cli, write
from nbclient import NotebookClient

from lgp_lab.scaffold import list_templates

NAMES = ["basic", "with_claude_code", "multi_agent", "data_pipeline", "custom"]


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a hash of its content."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run_json(root: Path, *args: str) -> dict:
    result = run_cli("run", *args, "--json", cwd=root, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_templates_lists_the_five_in_order() -> None:
    result = run_cli("templates", cwd=REPO)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "Available Templates:"
    assert [line.split()[0] for line in lines[1:6]] == NAMES
    assert lines[1] == (
        "  basic             Simple workflow with one agent                    (beginner)"
    )
    data = json.loads(run_cli("templates", "--json", cwd=REPO).stdout)
    assert [t["name"] for t in data] == NAMES and all(t["complexity"] for t in data)


@pytest.mark.parametrize("template", NAMES)
def test_every_template_runs_at_once_in_an_empty_directory(tmp_path: Path, template: str) -> None:
    created = run_cli("create", "my_flow", "--template", template, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    lines = created.stderr.splitlines()
    assert lines[:3] == [
        "[lgp] Creating workflow: my_flow",
        f"[lgp] Template: {template}",
        "[lgp] Created: workflows/my_flow.py",
    ]
    assert "[lgp] Created: workflows/config.yaml" in lines
    assert lines[-1] == "[lgp] ✅ Ready to run: lgp-lab run my_flow"
    assert (tmp_path / "workflows" / "my_flow.py").is_file()
    source = (tmp_path / "workflows" / "my_flow.py").read_text()
    assert "__WORKFLOW_NAME__" not in source and "my_flow" in source

    run = run_cli("run", "my_flow", cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "✅ Complete" in run.stderr
    state = run_json(tmp_path, "my_flow", "--thread", "again")["result"]
    if template == "basic":
        assert "offline" in state["output"] and "offline placeholders" in run.stderr
    elif template == "with_claude_code":
        assert state["coder_session_id"].startswith("mesh-") and "offline" in state["output"]
        assert (tmp_path / "repositories" / "sample_repo" / "app.py").is_file()
    elif template == "multi_agent":
        sessions = {k: v for k, v in state.items() if k.endswith("_session_id")}
        assert set(sessions) == {
            "researcher_session_id",
            "writer_session_id",
            "reviewer_session_id",
        }
        assert len(set(sessions.values())) == 3
        assert "Review:" in state["output"]
    elif template == "data_pipeline":
        assert state["summary"]["rows"] == 7 and state["summary"]["dropped"] == 1
        assert state["summary"]["columns"]["units"]["max"] == 20.0
        assert state["output"] == "my_flow.csv: 7 rows kept, 1 dropped, 4 columns"
    else:
        assert state["output"] == "received: test"


@pytest.mark.parametrize(
    ("template", "built_in"),
    [
        ("with_claude_code", "Review app.py and suggest one improvement with a test"),
        ("multi_agent", "Document what app.py does"),
    ],
)
def test_agent_templates_work_on_the_input_they_are_given(
    tmp_path: Path, template: str, built_in: str
) -> None:
    assert run_cli("create", "flow", "--template", template, cwd=tmp_path).returncode == 0

    def task_of(*args: str) -> tuple[str, str]:
        """(the task the run worked on, the input the CLI said it sent)."""
        result = run_cli("run", "flow", *args, "--json", cwd=tmp_path, timeout=120)
        assert result.returncode == 0, result.stderr
        said = re.search(r"^\[lgp\] Input: (.*?)(?: \(default for this graph|$)",
                         result.stderr, re.M)  # fmt: skip
        state = json.loads(result.stdout)["result"]
        assert state["task"] in state["output"]  # what the agents were asked (offline echo)
        return state["task"], said.group(1) if said else ""

    # No --input: the CLI says what it sends, and that is what the workflow works on.
    task, said = task_of()
    assert said == '{"input": "test"}' and task == "test"
    assert task_of("--input", "Explain what app.py returns")[0] == "Explain what app.py returns"
    assert task_of("--input", '{"task": "List the tests"}')[0] == "List the tests"
    assert task_of("--input", "{}")[0] == built_in  # no text at all: the template's own


def test_data_pipeline_takes_any_csv(tmp_path: Path) -> None:
    run_cli("create", "sales", "--template", "data_pipeline", cwd=tmp_path)
    write(tmp_path / "data" / "mine.csv", "name,score\nann,3\nbob,5\ncid,\n")
    state = run_json(tmp_path, "sales", "--input", '{"csv_path": "data/mine.csv"}')["result"]
    assert state["summary"]["rows"] == 2 and state["summary"]["columns"]["score"]["mean"] == 4.0
    missing = run_cli("run", "sales", "--input", '{"csv_path": "nope.csv"}', cwd=tmp_path)
    assert missing.returncode == 1 and "CSV not found" in missing.stderr


def test_refusals_change_nothing(tmp_path: Path) -> None:
    assert run_cli("create", "first", "--template", "custom", cwd=tmp_path).returncode == 0
    before = snapshot(tmp_path)
    cases = [  # a bad NAME or --template is a usage error (2); an existing workflow is not
        (["create", "9lives"], 2, "not a Python identifier", "e.g. wf_9lives"),
        (["create", "class"], 2, "'class' is a Python keyword", "e.g. class_ or my_class"),
        (["create", "my-flow"], 2, "not a Python identifier", "e.g. my_flow"),
        (["create", "ok_name", "--template", "nope"], 2, "known templates: basic, with_cl", ""),
        (["create", "first", "--template", "basic"], 1, "already exists", "--force"),
    ]
    for args, code, message, fix in cases:
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == code, (args, result.stderr)
        assert message in result.stderr and fix in result.stderr, (args, result.stderr)
        assert "Creating workflow" not in result.stderr or code == 1, args
        assert snapshot(tmp_path) == before, args
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cli("create", "bad-name", cwd=empty).returncode != 0
    assert list(empty.iterdir()) == []


def test_force_overwrites(tmp_path: Path) -> None:
    run_cli("create", "flow", "--template", "custom", cwd=tmp_path)
    forced = run_cli("create", "flow", "--template", "basic", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "template: basic" in (tmp_path / "workflows" / "flow.py").read_text()
    registry = (tmp_path / "workflows" / "config.yaml").read_text()
    assert registry.count("flow:") == 1


def test_create_keeps_an_existing_registry_and_its_comments(project: Path) -> None:
    before = (project / "workflows" / "config.yaml").read_text()
    result = run_cli("create", "extra", "--template", "custom", cwd=project / "workflows")
    assert result.returncode == 0 and "[lgp] Updated: workflows/config.yaml" in result.stderr
    after = (project / "workflows" / "config.yaml").read_text()
    assert after.startswith(before.rstrip("\n")) and "# Registered workflows" in after
    assert run_json(project, "basic_workflow")["result"]["output"] == "You said: test"
    assert run_json(project, "extra")["result"]["output"] == "received: test"


def test_notebook_option_writes_a_notebook_that_runs(tmp_path: Path) -> None:
    result = run_cli("create", "nb_flow", "--template", "data_pipeline", "--notebook",
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0 and "Created: notebooks/nb_flow.ipynb" in result.stderr
    nb = nbformat.read(tmp_path / "notebooks" / "nb_flow.ipynb", as_version=4)
    assert nb.cells[1].source == "%load_ext lgp_lab"
    NotebookClient(
        nb, timeout=120, kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path / "notebooks")}},
    ).execute()  # fmt: skip
    text = json.dumps([o for c in nb.cells for o in c.get("outputs", [])])
    assert "7 rows kept" in text


def test_templates_document_their_customization_points() -> None:
    for template in list_templates():
        doc = template.workflow_file.read_text().split('"""')[1]
        for point in ("State schema", "Node logic", "Adding nodes", "Switching provider"):
            assert point in doc, (template.name, point)


def test_templates_ship_in_the_wheel(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp_path)],
        check=True, timeout=300,
    )  # fmt: skip
    wheel = next(tmp_path.glob("lgp_lab-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in NAMES:
        assert f"lgp_lab/templates/{template}/workflow.py" in names
        assert f"lgp_lab/templates/{template}/template.yaml" in names
    assert "lgp_lab/templates/data_pipeline/workflow.csv" in names
    assert "lgp_lab/templates/_sample_repo/tests/test_app.py" in names


def test_readme_template_examples_are_true(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Templates") :]
    listing = re.search(r"\$ lgp-lab templates\n(.*?)\n\$", section, re.S).group(1)
    assert listing.splitlines() == run_cli("templates", cwd=REPO).stdout.splitlines()[:6]
    create = re.search(r"\$ lgp-lab create my_workflow --template basic\n(.*?)\n\$", section,
                       re.S).group(1)  # fmt: skip
    actual = run_cli("create", "my_workflow", "--template", "basic", cwd=tmp_path).stderr
    assert create.splitlines() == actual.splitlines()
    run = run_cli("run", "my_workflow", cwd=tmp_path)
    assert "[lgp] ✅ Complete" in section and "[lgp] ✅ Complete" in run.stderr


def test_readme_says_which_templates_need_an_extra(tmp_path: Path) -> None:
    """The README's claim is checked: the templates it lists as needing nothing beyond
    ``pip install lgp-lab`` run with the optional packages made unimportable."""
    from test_cli import without_packages

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Templates", 1)[1].split("\n## ", 1)[0]
    needs = {
        name: re.findall(r"lgp-lab\[(\w+)\]", line)
        for line in section.splitlines()
        for name in NAMES
        if line.startswith(f"| `{name}` |")
    }
    assert needs == {
        "basic": ["agents"],  # only for its Ollama provider; offline without it
        "with_claude_code": ["agents"],
        "multi_agent": ["agents"],
        "data_pipeline": [],
        "custom": [],
    }
    env = without_packages(tmp_path, "mcp", "openai", "fastapi", "uvicorn", "langfuse")
    for name in ("basic", "data_pipeline", "custom"):
        root = tmp_path / name
        root.mkdir()
        assert run_cli("create", "flow", "--template", name, cwd=root, env=env).returncode == 0
        run = run_cli("run", "flow", cwd=root, env=env, timeout=120)
        assert run.returncode == 0, (name, run.stderr)
