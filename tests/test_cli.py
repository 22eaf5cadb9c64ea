"""The ``lgp-lab`` CLI, run as a real subprocess."""

from __future__ import annotations

import json
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
    assert lines[1].startswith("[lgp] Executing... (thread ")
    assert lines[2].startswith("[lgp]   ↳ remember (") and lines[3].startswith("[lgp]   ↳ respond")
    assert lines[4].startswith("[lgp] ✅ Complete (") and lines[4].endswith("s)")
    assert lines[5].startswith("[lgp] Trace: ")
    assert "Continue this thread with: --thread " in lines[6]
    assert result.stdout.startswith("Result: ")
    state = json.loads(result.stdout.removeprefix("Result: "))
    assert state["input"] == "test" and state["output"] == "You said: test"


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
    assert bad.returncode == 1 and "environment 'staging'" in bad.stderr


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


def test_node_failure_names_node_and_verbose_shows_traceback(project: Path) -> None:
    write(
        project / "boom.py",
        """
        from typing_extensions import TypedDict
        from langgraph.graph import StateGraph, START

        class S(TypedDict):
            input: str

        def explode(state):
            raise ValueError("kaboom")

        workflow = StateGraph(S)
        workflow.add_node("explode", explode)
        workflow.add_edge(START, "explode")
        """,
    )
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
