"""The smoke set: what a user does first, on whatever versions this environment holds.

The whole suite runs these on the locked versions; ``scripts/test.sh`` runs them again
(``-m smoke``) in a second virtualenv with the *lowest* versions ``pyproject.toml`` allows
(``uv pip install --resolution lowest-direct``) on the lowest supported Python, so a lower
bound that no longer works fails CI. They need only the ``notebook``, ``server`` and
``agents`` extras and the test tools.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import nbformat
import pytest
from conftest import cli_env
from fakes.openai_server import FakeOpenAI
from nbclient import NotebookClient
from serve_process import ServeProcess

pytestmark = pytest.mark.smoke


def test_the_public_imports_and_versions() -> None:
    from lgp_lab import Lab, load_ipython_extension  # noqa: F401
    from lgp_lab.agents import create_agent_node  # noqa: F401
    from lgp_lab.magics import LgpMagics  # noqa: F401

    # Printed with -s (and in the smoke step's log): which versions this run tested.
    names = ["langgraph", "langchain-core", "langgraph-sdk", "openai", "fastapi", "uvicorn"]
    print({name: version(name) for name in names}, file=sys.stderr)


def test_cli_runs_the_main_job(project: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lgp_lab", "run", "workflows/basic_workflow.py",
         "--input", "Remember my name is Alice", "--json"],
        cwd=project, env=cli_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["result"]["facts"] == {"name": "Alice"}


def test_serve_answers_the_official_sdk(project: Path, tmp_path: Path) -> None:
    from langgraph_sdk import get_sync_client

    server = ServeProcess(
        project, ["workflows/basic_workflow.py"], cli_env(), tmp_path / "serve.log"
    ).start()
    try:
        client = get_sync_client(url=server.url, api_key=None)
        thread = client.threads.create()
        state = client.runs.wait(
            thread["thread_id"], "basic_workflow", input={"input": "Remember my name is Ann"}
        )
        assert state["facts"] == {"name": "Ann"}
    finally:
        server.stop()


def test_a_magic_runs_in_a_kernel_of_this_environment(project: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [
        nbformat.v4.new_code_cell("import sys; print(sys.prefix)"),
        nbformat.v4.new_code_cell("%load_ext lgp_lab"),
        nbformat.v4.new_code_cell(
            "%lgp_run workflows/basic_workflow.py --input 'Remember my name is Bo' --thread k1"
        ),
    ]
    NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(project)}}).execute()
    # The kernel is this environment's Python, not whatever `python` the machine has.
    assert nb.cells[0].outputs[0]["text"].strip() == sys.prefix
    assert "Bo" in json.dumps(nb.cells[2].outputs)


def test_the_openai_client_against_the_local_stand_in() -> None:
    from lgp_lab.agents.openai_client import openai_client

    with FakeOpenAI(lambda request: "forty-two") as llm:
        client = openai_client(llm.base_url, "", timeout_s=30, connect_timeout_s=2.5)
        # Bounded: one retry and the connect timeout we asked for, on every openai major.
        assert client.max_retries == 1
        assert (client.timeout.connect, client.timeout.read) == (2.5, 30)

        async def ask() -> str:
            reply = await client.chat.completions.create(
                model="tiny", messages=[{"role": "user", "content": "answer"}]
            )
            await client.close()
            return reply.choices[0].message.content

        assert asyncio.run(ask()) == "forty-two"
    assert llm.requests[0]["auth"] == "Bearer ollama"
    assert llm.requests[0]["body"]["model"] == "tiny"
