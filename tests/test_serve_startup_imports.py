"""``lgp-lab serve`` imports only what its configuration uses (a start-up guard).

A real ``lgp-lab serve`` start-up in a subprocess, on a temp project with its own
SQLite file: once the server is ready it answers ``GET /ok`` and ``GET /workflows``,
then the process reports ``sys.modules``. Optional integrations the configuration does
not turn on (Langfuse, PostgreSQL, agents/MCP, IPython, Kubernetes, the store's numpy)
and the other CLI commands must not be imported; an eager import added anywhere on the
serve path fails here. What the required stack imports by itself (``langgraph.graph``,
``fastapi``, ``uvicorn``: e.g. langsmith loads ``opentelemetry.sdk`` when it is
installed) is measured in the same way and not held against lgp_lab. No timing is
asserted (``bench/startup.py`` measures it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

GRAPH = """
from typing_extensions import TypedDict
from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    input: str
    output: str


def _node(name):
    def node(state: State) -> State:
        return {"output": f"{name}:{state.get('input', '')}"}

    return node


workflow = StateGraph(State)
for name in ("a", "b", "c"):
    workflow.add_node(name, _node(name))
workflow.add_edge(START, "a")
workflow.add_edge("a", "b")
workflow.add_edge("b", "c")
workflow.add_edge("c", END)
"""

# Runs the real CLI (`lgp-lab serve ...`); when the server is ready (the hook replaces
# the GC tuning that follows "Ready"), it calls the API over HTTP, prints the loaded
# modules as JSON and stops the server the way Ctrl-C does.
PROBE = """
import json, sys, urllib.request
import lgp_lab.cli.serve as serve
from lgp_lab.server.background import running_servers


def ready(watch):
    url = running_servers()[0].url
    statuses = {}
    for path in ("/ok", "/workflows"):
        with urllib.request.urlopen(url + path, timeout=30) as response:
            statuses[path] = response.status
    print("PROBE " + json.dumps({"statuses": statuses, "modules": sorted(sys.modules)}))
    sys.stdout.flush()
    raise KeyboardInterrupt


serve._tune_gc = ready
from lgp_lab.cli import main

sys.argv = ["lgp-lab", "serve", "three", "--env", "experiment", "--port", "0"]
main()
"""

# Optional integrations and other commands: none is configured or needed here.
ABSENT = (
    "langfuse",
    "opentelemetry.sdk",
    "opentelemetry.exporter",
    "psycopg",
    "psycopg_pool",
    "langgraph.checkpoint.postgres",
    "langgraph.store.postgres",
    "mcp",
    "openai",
    "anthropic",
    "IPython",
    "ipykernel",
    "ipywidgets",
    "kubernetes",
    # The store opens on its first use; its sqlite-vec import pulls numpy.
    "langgraph.store.sqlite",
    "sqlite_vec",
    "numpy",
    "lgp_lab.agents",
    "lgp_lab.deploy",
    "lgp_lab.magics",
    "lgp_lab.widgets",
    "lgp_lab.cli.check",
    "lgp_lab.cli.create",
    "lgp_lab.cli.db",
    "lgp_lab.cli.deploy",
    "lgp_lab.cli.mesh",
    "lgp_lab.cli.run",
    "lgp_lab.cli.traces",
)


def _project(root: Path) -> None:
    (root / "workflows").mkdir()
    (root / "config").mkdir()
    (root / "workflows" / "three.py").write_text(GRAPH, encoding="utf-8")
    (root / "workflows" / "config.yaml").write_text(
        "workflows:\n  three:\n    path: three.py\n", encoding="utf-8"
    )
    (root / "config" / "experiment.yaml").write_text(
        "checkpoint:\n  path: .lgp/checkpoints.sqlite\n", encoding="utf-8"
    )


def _stack_modules(env: dict[str, str], cwd: Path) -> set[str]:
    """What the required stack imports by itself, in this interpreter."""
    code = (
        "import json, sys, langgraph.graph, fastapi, uvicorn\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


def _matches(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in ABSENT)


def test_serve_imports_only_what_the_configuration_uses(tmp_path: Path) -> None:
    _project(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LGP_", "LANGFUSE_"))}
    stack = _stack_modules(env, tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE ")]
    assert result.returncode == 0 and lines, result.stdout + result.stderr
    report = json.loads(lines[-1].removeprefix("PROBE "))
    assert report["statuses"] == {"/ok": 200, "/workflows": 200}
    modules = set(report["modules"])
    # The probe ran the real serve path.
    assert {"fastapi", "uvicorn", "langgraph.graph", "lgp_lab.server.app"} <= modules
    loaded = sorted(name for name in modules - stack if _matches(name))
    assert not loaded, f"lgp-lab serve imported what its configuration does not use: {loaded}"
    # Its own SQLite file, in the temp project.
    assert (tmp_path / ".lgp" / "checkpoints.sqlite").is_file()
