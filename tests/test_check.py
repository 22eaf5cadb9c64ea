"""The promotion gate (lgp_lab.promotion, ``lgp-lab check``): each check catches its
seeded fault with a fix line, and a clean workflow passes.

Real components: a real Lab on a SQLite file, a fresh interpreter for the import check,
a real uvicorn on 127.0.0.1 for the parity replay, the CLI as a subprocess, a real
IPython shell for the notebook rendering.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

import pytest
from conftest import cli_env, run_cli, write

from lgp_lab import Lab
from lgp_lab.promotion import GateReport, run_gate

pytestmark = pytest.mark.slow

GOOD_KEY = secrets.token_urlsafe(32)

CLEAN = """
    import asyncio
    from typing_extensions import TypedDict
    from langgraph.graph import StateGraph, START

    class State(TypedDict, total=False):
        input: str
        output: str

    async def shout(state: State) -> State:
        await asyncio.sleep(0)
        return {"output": state.get("input", "").upper()}

    builder = StateGraph(State)
    builder.add_node("shout", shout)
    builder.add_edge(START, "shout")
    workflow = builder
"""

PRODUCTION_SQLITE = """
    checkpoint:
      backend: sqlite
      path: ${LGP_PROD_DB:-.lgp/prod.sqlite}
    server:
      api_key: ${LGP_API_KEY}
      require_api_key: true
"""


@pytest.fixture
def clean_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with one clean async workflow and a SQLite production config."""
    root = tmp_path / "proj"
    write(root / "workflows" / "shout.py", CLEAN)
    write(root / "config" / "production.yaml", PRODUCTION_SQLITE)
    monkeypatch.chdir(root)
    monkeypatch.setenv("LGP_API_KEY", GOOD_KEY)
    monkeypatch.delenv("LGP_ENV", raising=False)
    return root


def _by_check(report: GateReport, check: str) -> list:
    found = [r for r in report.results if r.check == check]
    assert found, f"no {check!r} result in {report}"
    return found


def test_clean_workflow_passes(clean_project: Path) -> None:
    with Lab(root=clean_project, console=False) as lab:
        lab.run("workflows/shout.py", {"input": "hi"}, thread_id="nb-1")
        report = run_gate(lab, ["workflows/shout.py"], threads=["nb-1"])
    statuses = {r.check: r.status for r in report.results}
    assert report.passed, str(report)
    assert report.exit_code == 0
    for check in ("clean-import", "secrets", "blocking-io", "serialization", "config-env",
                  "api-keys", "parity"):  # fmt: skip
        assert statuses[check] == "pass", str(report)
    # The production database file does not exist yet: a warning, not a failure.
    assert statuses["database"] == "warn"
    assert "recorded thread input" in _by_check(report, "blocking-io")[0].summary


def test_blocking_call_in_async_node_fails_with_fix(clean_project: Path) -> None:
    flow = write(
        clean_project / "workflows" / "sleepy.py",
        CLEAN.replace("await asyncio.sleep(0)", "import time; time.sleep(0.01)"),
    )
    with Lab(root=clean_project, console=False) as lab:
        report = run_gate(lab, [str(flow)], inputs=[{"input": "x"}])
    [result] = _by_check(report, "blocking-io")
    assert result.status == "fail"
    assert "time.sleep" in result.summary and "sleepy.py:10 (in shout)" in result.summary
    assert "asyncio.to_thread" in result.fix
    assert report.exit_code == 1


def test_blocking_detection_is_scoped_to_the_check(clean_project: Path) -> None:
    # A sync node sleeping runs in a worker thread: not a blocking call on the loop.
    sync = CLEAN.replace("async def shout", "def shout").replace(
        "await asyncio.sleep(0)", "import time; time.sleep(0.01)"
    )
    flow = write(clean_project / "workflows" / "sync_sleep.py", sync)
    with Lab(root=clean_project, console=False) as lab:
        report = run_gate(lab, [str(flow)], inputs=[{"input": "x"}])
        assert _by_check(report, "blocking-io")[0].status == "pass", str(report)
        # After the check, the same async sleeper runs normally in the Lab (detector off).
        sleepy = write(
            clean_project / "workflows" / "sleepy.py",
            CLEAN.replace("await asyncio.sleep(0)", "import time; time.sleep(0.01)"),
        )
        run_gate(lab, [str(sleepy)], inputs=[{"input": "x"}])
        assert lab.run(str(sleepy), {"input": "ok"}).state["output"] == "OK"


def test_non_serializable_state_fails_with_channel_and_type(clean_project: Path) -> None:
    flow = write(
        clean_project / "workflows" / "locky.py",
        """
        import threading
        from typing import Any
        from typing_extensions import TypedDict
        from langgraph.graph import StateGraph, START

        class State(TypedDict, total=False):
            input: str
            client: Any

        def connect(state: State) -> State:
            return {"client": threading.Lock()}

        builder = StateGraph(State)
        builder.add_node("connect", connect)
        builder.add_edge(START, "connect")
        workflow = builder
        """,
    )
    with Lab(root=clean_project, console=False) as lab:
        report = run_gate(lab, [str(flow)], inputs=[{"input": "x"}])
    [result] = _by_check(report, "serialization")
    assert result.status == "fail"
    assert "'client'" in result.summary and "_thread.lock" in result.summary
    assert "serializable values in state" in result.fix
    # The probe never wrote into the project's threads.
    with Lab(root=clean_project, console=False) as lab:
        assert lab.sessions.threads() == []


def test_import_that_works_only_in_the_kernel_fails(
    clean_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A helper importable only because the "kernel" put its folder on sys.path.
    helpers = write(tmp_path / "elsewhere" / "kernel_helpers.py", "SUFFIX = '!'\n")
    monkeypatch.syspath_prepend(str(helpers.parent))
    flow = write(
        clean_project / "workflows" / "uses_helper.py",
        CLEAN.replace("import asyncio", "import asyncio\n    from kernel_helpers import SUFFIX"),
    )
    with Lab(root=clean_project, console=False) as lab:
        lab.load(str(flow))  # loads here, in this process
        report = run_gate(lab, [str(flow)], inputs=[{"input": "x"}])
    [result] = _by_check(report, "clean-import")
    assert result.status == "fail"
    assert "No module named 'kernel_helpers'" in result.summary
    assert "kernel_helpers" in result.fix and "beside the workflow" in result.fix


def test_parity_mismatch_names_the_difference(clean_project: Path) -> None:
    flow = clean_project / "workflows" / "shout.py"
    with Lab(root=clean_project, console=False) as lab:
        lab.run(str(flow), {"input": "hi"}, thread_id="nb-2")
        # The file changed after the notebook ran the thread: production runs other code.
        write(flow, CLEAN.replace(".upper()", ".lower()"))
        report = run_gate(lab, [str(flow)], threads=["nb-2"])
    [result] = _by_check(report, "parity")
    assert result.status == "fail", str(report)
    assert "state.output" in result.summary and '"HI"' in result.summary
    assert '"hi"' in result.summary
    assert result.fix


def test_parity_unknown_thread_fails(clean_project: Path) -> None:
    with Lab(root=clean_project, console=False) as lab:
        report = run_gate(lab, ["workflows/shout.py"], threads=["no-such-thread"])
    [result] = _by_check(report, "parity")
    assert result.status == "fail" and "no-such-thread" in result.summary


def test_missing_env_var_and_short_key_fail(
    clean_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        clean_project / "config" / "production.yaml",
        PRODUCTION_SQLITE + "    observability:\n      repository: ${LGP_REPO_NAME}\n",
    )
    monkeypatch.setenv("LGP_API_KEY", "short-key")
    with Lab(root=clean_project, console=False) as lab:
        report = run_gate(lab, ["workflows/shout.py"], inputs=[{"input": "x"}])
    [env] = _by_check(report, "config-env")
    assert env.status == "fail" and "LGP_REPO_NAME" in env.summary
    assert "LGP_REPO_NAME=..." in env.fix
    [keys] = _by_check(report, "api-keys")
    assert keys.status == "fail" and "shorter than 32" in keys.summary
    assert "secrets.token_urlsafe(32)" in keys.fix


def test_secret_literal_in_source_fails(clean_project: Path) -> None:
    fake = "sk-" + "A1b2C3d4" * 5
    flow = write(
        clean_project / "workflows" / "leaky.py",
        CLEAN + f'\n    OPENAI_API_KEY = "{fake}"\n',
    )
    with Lab(root=clean_project, console=False) as lab:
        report = run_gate(lab, [str(flow)], inputs=[{"input": "x"}])
    [result] = _by_check(report, "secrets")
    assert result.status == "fail"
    assert "leaky.py:" in result.summary and "OpenAI API key" in result.summary
    assert fake not in result.summary  # masked
    assert "os.environ" in result.fix


def test_database_migrated_passes(clean_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = clean_project / ".lgp" / "prod.sqlite"
    monkeypatch.setenv("LGP_PROD_DB", str(db))
    with Lab(env="production", root=clean_project, console=False) as lab:
        lab.run("workflows/shout.py", {"input": "x"})  # creates and migrates the file
    with Lab(root=clean_project, console=False) as lab:
        report = run_gate(lab, ["workflows/shout.py"], inputs=[{"input": "x"}])
    [result] = _by_check(report, "database")
    assert result.status == "pass", str(report)


def test_cli_exit_codes_and_json(clean_project: Path) -> None:
    env = cli_env(LGP_API_KEY=GOOD_KEY)
    ok = run_cli("check", "workflows/shout.py", "--input", '{"input": "a"}', cwd=clean_project,
                 env=env, timeout=180)  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "✅ blocking-io" in ok.stdout and "ready for production" in ok.stdout
    write(
        clean_project / "workflows" / "sleepy.py",
        CLEAN.replace("await asyncio.sleep(0)", "import time; time.sleep(0.01)"),
    )
    bad = run_cli("check", "workflows/sleepy.py", "--json", "--input", '{"input": "a"}',
                  cwd=clean_project, env=env, timeout=180)  # fmt: skip
    assert bad.returncode == 1, bad.stdout + bad.stderr
    doc = json.loads(bad.stdout)
    assert doc["status"] == "fail"
    blocking = next(c for c in doc["checks"] if c["check"] == "blocking-io")
    assert blocking["status"] == "fail" and blocking["fix"]


def test_report_renders_in_ipython(clean_project: Path) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.run_cell(
            "from lgp_lab import Lab\n"
            "from lgp_lab.promotion import run_gate\n"
            f"_lab = Lab(root={str(clean_project)!r}, console=False)\n"
            "report = run_gate(_lab, ['workflows/shout.py'], inputs=[{'input': 'x'}])\n"
            "_lab.close()\n",
            store_history=False,
        ).raise_error()
        report = shell.user_ns["report"]
        data, _ = shell.display_formatter.format(report)
    finally:
        InteractiveShell.clear_instance()
    html = data["text/html"]
    assert "<table>" in html and "blocking-io" in html and "ready for production" in html
    assert "✅" in data["text/plain"]


def test_unknown_target_env_is_a_failed_check(clean_project: Path) -> None:
    with Lab(root=clean_project, console=False) as lab:
        report = run_gate(lab, ["workflows/shout.py"], env="staging", inputs=[{"input": "x"}])
    [result] = _by_check(report, "config")
    assert result.status == "fail" and "staging" in result.summary
    assert sys.modules.get("blockbuster") is not None  # the detector really ran


def test_postgres_database_reachable_then_migrated(
    clean_project: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        clean_project / "config" / "production.yaml",
        PRODUCTION_SQLITE.replace("backend: sqlite", "backend: postgres\n      url: ${DB_URL}"),
    )
    monkeypatch.setenv("DB_URL", postgres_url)
    with Lab(root=clean_project, console=False) as lab:
        fresh = run_gate(lab, ["workflows/shout.py"], inputs=[{"input": "x"}])
    [result] = _by_check(fresh, "database")
    assert result.status == "warn" and "no LangGraph tables yet" in result.summary
    with Lab(env="production", root=clean_project, console=False) as lab:
        lab.run("workflows/shout.py", {"input": "x"})  # migrates the database
    with Lab(root=clean_project, console=False) as lab:
        migrated = run_gate(lab, ["workflows/shout.py"], inputs=[{"input": "x"}])
    [result] = _by_check(migrated, "database")
    assert result.status == "pass", str(migrated)
    monkeypatch.setenv("DB_URL", postgres_url.rsplit("/", 1)[0] + "/no_such_db")
    with Lab(root=clean_project, console=False) as lab:
        missing = run_gate(lab, ["workflows/shout.py"], inputs=[{"input": "x"}])
    [result] = _by_check(missing, "database")
    assert result.status == "fail" and "not reachable" in result.summary
    assert "no_such_db" in result.summary


def test_parity_on_a_postgres_target_replays_on_a_private_database(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The shipped production config (PostgreSQL at DATABASE_URL, unreachable here): the
    # replay never touches it.
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:pw@127.0.0.1:9/nowhere")
    monkeypatch.setenv("LGP_API_KEY", GOOD_KEY)
    with Lab(root=project, console=False) as lab:
        lab.run("basic_workflow", {"input": "my name is Ada"}, thread_id="nb-pg")
        lab.run("basic_workflow", {"input": "what is my name?"}, thread_id="nb-pg")
        report = run_gate(lab, ["basic_workflow"], threads=["nb-pg"])
    [parity] = _by_check(report, "parity")
    assert parity.status == "pass", str(report)
    assert "2 input(s) replayed" in parity.summary
    [database] = _by_check(report, "database")
    assert (
        database.status == "fail" and "postgresql://app:***@127.0.0.1:9/nowhere" in database.summary
    )
    assert ":pw@" not in database.summary  # never the password


def test_imports_and_prints_in_async_nodes_are_not_blocking_calls(clean_project: Path) -> None:
    # A module imported lazily inside the node (its import does file I/O and sleeps once)
    # and a print: neither is the per-run blocking I/O the check is for.
    write(clean_project / "workflows" / "slow_import.py", "import time\ntime.sleep(0.01)\n")
    flow = write(
        clean_project / "workflows" / "lazy.py",
        CLEAN.replace(
            "await asyncio.sleep(0)", "import slow_import  # noqa: F401\n        print('hi')"
        ),
    )
    with Lab(root=clean_project, console=False) as lab:
        report = run_gate(lab, [str(flow)], inputs=[{"input": "x"}])
    [result] = _by_check(report, "blocking-io")
    assert result.status == "pass", str(report)


def test_parity_against_a_running_server_by_url(clean_project: Path) -> None:
    from lgp_lab.config import load_config
    from lgp_lab.server.background import start_server

    served_config = load_config("experiment", clean_project)
    served_config.server.api_key = GOOD_KEY
    with Lab(config=served_config, console=False) as server_lab:
        handle = start_server(server_lab, ["workflows/shout.py"], port=0)
        try:
            with Lab(root=clean_project, console=False) as lab:
                lab.run("workflows/shout.py", {"input": "hey"}, thread_id="nb-url")
                ok = run_gate(lab, ["workflows/shout.py"], threads=["nb-url"], url=handle.url,
                              api_key=GOOD_KEY)  # fmt: skip
                denied = run_gate(lab, ["workflows/shout.py"], threads=["nb-url"],
                                  url=handle.url, api_key="wrong")  # fmt: skip
        finally:
            handle.stop()
    assert _by_check(ok, "parity")[0].status == "pass", str(ok)
    [result] = _by_check(denied, "parity")
    assert result.status == "fail" and "HTTP 401" in result.summary
    assert "--api-key" in result.fix


# A src-layout LangGraph project as langchain-ai/data-enrichment lays it out: the graph
# imports a sibling module through its package, which only works once the project is
# installed (`langgraph dev`) or its "dependencies" are on sys.path (run/serve).
SRC_LAYOUT_GRAPH = """
    from typing_extensions import TypedDict
    from langgraph.graph import StateGraph, START

    from enrichment_agent import prompts


    class State(TypedDict, total=False):
        topic: str
        output: str


    async def enrich(state: State) -> State:
        return {"output": prompts.PREFIX + state.get("topic", "")}


    builder = StateGraph(State)
    builder.add_node("enrich", enrich)
    builder.add_edge(START, "enrich")
    graph = builder.compile()
"""


def _src_layout_project(root: Path) -> Path:
    write(
        root / "langgraph.json",
        '{"dependencies": ["."], "graphs": {"agent": "./src/enrichment_agent/graph.py:graph"}}',
    )
    write(root / "pyproject.toml", '[project]\nname = "enrichment-agent"\nversion = "0.0.1"\n')
    write(root / "src" / "enrichment_agent" / "__init__.py", "")
    write(root / "src" / "enrichment_agent" / "prompts.py", 'PREFIX = "enriched: "\n')
    write(root / "src" / "enrichment_agent" / "graph.py", SRC_LAYOUT_GRAPH)
    return root


def _check_json(result) -> dict[str, dict]:
    assert result.stdout.strip(), result.stderr
    doc = json.loads(result.stdout)
    return {c["check"]: c for c in doc["checks"]}


def test_clean_import_of_a_src_layout_project_imports_it_as_run_does(tmp_path: Path) -> None:
    root = _src_layout_project(tmp_path / "data-enrichment")
    env = cli_env(LGP_API_KEY=GOOD_KEY)
    ran = run_cli("run", "agent", "--input", '{"topic": "x"}', "--json", cwd=root, env=env)
    assert ran.returncode == 0, ran.stderr  # the baseline: run imports it
    checked = run_cli("check", "--json", "--input", '{"topic": "x"}', cwd=root, env=env,
                      timeout=180)  # fmt: skip
    clean = _check_json(checked)["clean-import"]
    assert clean["status"] == "pass", clean
    assert clean["workflow"] == "agent" and "graph.py imports in a fresh" in clean["summary"]


def test_clean_import_hint_from_the_cli_does_not_speak_of_a_notebook(tmp_path: Path) -> None:
    root = _src_layout_project(tmp_path / "proj")
    # `python -m lgp_lab` puts its working directory on sys.path, so the CLI process
    # imports a helper from there; a fresh interpreter (and the deployment) does not.
    scratch = root / "scratch"
    write(scratch / "scratch_helpers.py", "SUFFIX = '!'\n")
    graph = root / "src" / "enrichment_agent" / "graph.py"
    write(graph, SRC_LAYOUT_GRAPH.replace(
        "from enrichment_agent import prompts",
        "from enrichment_agent import prompts\n    from scratch_helpers import SUFFIX",
    ))  # fmt: skip
    checked = run_cli("check", "--json", "--input", '{"topic": "x"}', cwd=scratch,
                      env=cli_env(LGP_API_KEY=GOOD_KEY), timeout=180)  # fmt: skip
    clean = _check_json(checked)["clean-import"]
    assert clean["status"] == "fail", clean
    assert "No module named 'scratch_helpers'" in clean["summary"]
    fix = clean["fix"]
    assert "scratch_helpers" in fix and "beside the workflow" in fix
    assert "notebook" not in fix and "kernel" not in fix, fix
    assert "working directory" in fix and "langgraph.json" in fix


def test_experiment_is_open_by_design_and_production_still_needs_its_key(
    tmp_path: Path,
) -> None:
    # A project with no config/ directory: the built-in environments apply.
    root = tmp_path / "proj"
    write(root / "workflows" / "shout.py", CLEAN)
    env = cli_env()  # no LGP_API_KEY
    experiment = run_cli("check", "workflows/shout.py", "--env", "experiment", "--json",
                         "--input", '{"input": "a"}', cwd=root, env=env, timeout=180)  # fmt: skip
    checks = _check_json(experiment)
    assert checks["config-env"]["status"] == "pass", checks["config-env"]
    keys = checks["api-keys"]
    assert keys["status"] == "pass", keys
    assert "open by design" in keys["summary"] and "127.0.0.1" in keys["summary"]
    assert experiment.returncode == 0, experiment.stdout
    production = run_cli("check", "workflows/shout.py", "--env", "production", "--json",
                         "--input", '{"input": "a"}', cwd=root, env=env, timeout=180)  # fmt: skip
    checks = _check_json(production)
    assert production.returncode == 1
    assert checks["config-env"]["status"] == "fail"
    assert "LGP_API_KEY" in checks["config-env"]["summary"]
    assert checks["api-keys"]["status"] == "fail"
    assert "the API would be open" in checks["api-keys"]["summary"]
