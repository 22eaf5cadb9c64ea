"""Tracing: the R3.2 witness, the local trace store, cost fields, and Langfuse through its
real SDK against a local server that decodes the OTLP export."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_env, write
from fakes.langfuse_server import FakeLangfuse

from lgp_lab import Lab
from lgp_lab.errors import WorkflowRunError
from lgp_lab.observability import sanitize_for_dashboard

SECRET = "sk-lf-THIS-MUST-NOT-LEAK-1234"


# --------------------------------------------------------------------------- R3.2 witness


def test_sanitize_for_dashboard_r32_witness() -> None:
    data = {"text": "x" * 5000, "short": "ok", "n": 3}
    out = sanitize_for_dashboard(data, max_length=2000)
    assert len(out["text"]) == 2000
    assert "truncated" in out["text"] and out["text"].startswith("x" * 100)
    assert out["text_full_length"] == 5000
    assert out["short"] == "ok" and out["n"] == 3 and "short_full_length" not in out
    assert len(data["text"]) == 5000  # the input is not modified


def test_sanitize_nested_values_and_secrets() -> None:
    data = {
        "messages": [{"role": "user", "content": "y" * 3000}],
        "deep": {"deeper": {"blob": "z" * 2500}},
        "api_key": "sk-live-123",
        "config": {"password": "hunter2", "token": None},
        "list_of_text": ["w" * 2100],
    }
    out = sanitize_for_dashboard(data, max_length=100)
    assert len(out["messages"][0]["content"]) == 100
    assert out["messages"][0]["content_full_length"] == 3000
    assert out["deep"]["deeper"]["blob_full_length"] == 2500
    assert out["api_key"] == "[redacted]" and out["config"]["password"] == "[redacted]"
    assert len(out["list_of_text"][0]) == 100
    assert "sk-live-123" not in json.dumps(out)


# --------------------------------------------------------------------------- local store


def _metadata(lab: Lab, thread_id: str) -> list[dict]:
    db = sqlite3.connect(lab.checkpoint_path)
    rows = db.execute(
        "SELECT CAST(metadata AS TEXT) FROM checkpoints WHERE thread_id = ?", (thread_id,)
    ).fetchall()
    return [json.loads(r[0]) for r in rows]


def test_every_run_is_a_local_trace_with_spans_tags_and_cost(lab: Lab, project: Path) -> None:
    first = lab.run("basic_workflow", "my name is Ada", thread_id="obs")
    second = lab.run("basic_workflow", "what is my name?", thread_id="obs")
    traces = lab.traces.list()
    assert [t.trace_id for t in traces] == [second.trace_id, first.trace_id]
    trace = lab.traces.get(second.trace_id)
    assert trace.workflow == "basic_workflow" and trace.status == "complete"
    assert trace.thread_id == "obs" and trace.checkpoint_id == second.checkpoint_id
    assert trace.tags == ["langgraph-platform", "experiment"]
    meta = trace.metadata
    assert meta["workflow_name"] == "basic_workflow" and meta["environment"] == "experiment"
    assert meta["runtime_version"] == "0.1.0" and meta["repository"] == project.name
    assert meta["cost_model"] == "fixed_subscription" and meta["monthly_cost"] == 20.0
    assert meta["workflow_invocations"] == 2 and meta["cost_per_invocation"] == 10.0
    assert [s.name for s in trace.spans] == ["remember", "respond"]
    assert all(s.status == "ok" and s.duration_ms >= 0 for s in trace.spans)
    assert trace.spans[1].output["output"] == "Your name is Ada."
    assert trace.output["output"] == "Your name is Ada."
    # The trace id is in the run's checkpoint metadata: a session opens its traces.
    trace_ids = {m.get("trace_id") for m in _metadata(lab, "obs")}
    assert trace_ids == {first.trace_id, second.trace_id}
    assert [t.trace_id for t in lab.traces.list(thread_id="obs")] == [
        second.trace_id,
        first.trace_id,
    ]


def test_invocation_count_survives_a_new_lab(project: Path) -> None:
    with Lab(root=project) as lab:
        lab.run("basic_workflow", "a")
    with Lab(root=project) as lab:
        result = lab.run("basic_workflow", "b")
        meta = lab.traces.get(result.trace_id).metadata
    assert meta["workflow_invocations"] == 2 and meta["cost_per_invocation"] == 10.0


def test_failed_run_trace_names_the_node(lab: Lab, project: Path) -> None:
    path = write(
        project / "boom.py",
        """
        from typing_extensions import TypedDict
        from langgraph.graph import StateGraph, START

        class S(TypedDict, total=False):
            input: str

        def explode(state):
            raise ValueError("kaboom")

        workflow = StateGraph(S)
        workflow.add_node("explode", explode)
        workflow.add_edge(START, "explode")
        """,
    )
    with pytest.raises(WorkflowRunError):
        lab.run(str(path), "x", thread_id="bad")
    trace = lab.traces.list(thread_id="bad")[0]
    full = lab.traces.get(trace.trace_id)
    assert full.status == "error" and "kaboom" in full.error
    assert [(s.name, s.status) for s in full.spans] == [("explode", "error")]


def test_traces_are_sanitized_but_checkpoints_are_not(lab: Lab) -> None:
    text = "q" * 4000
    result = lab.run("basic_workflow", text, thread_id="long")
    assert lab.sessions.state("long")["input"] == text  # the checkpoint keeps it whole
    trace = lab.traces.get(result.trace_id)
    assert len(trace.input["input"]) == 2000 and trace.input["input_full_length"] == 4000
    assert len(trace.output["input"]) == 2000


def test_traces_cli(project: Path) -> None:
    from conftest import run_cli

    run_cli("run", "basic_workflow", "-i", "hello", "-t", "c1", cwd=project)
    listed = run_cli("traces", "--json", cwd=project)
    traces = json.loads(listed.stdout)
    assert listed.returncode == 0 and len(traces) == 1 and traces[0]["thread_id"] == "c1"
    table = run_cli("traces", "--workflow", "basic_workflow", cwd=project)
    assert traces[0]["trace_id"][:12] in table.stdout
    one = run_cli("traces", traces[0]["trace_id"][:12], cwd=project)
    assert "↳ remember" in one.stdout and "↳ respond" in one.stdout
    none = run_cli("traces", "--workflow", "other", cwd=project)
    assert "No traces for workflow 'other'" in none.stderr
    assert "Workflows with traces: basic_workflow" in none.stderr


def test_a_failed_trace_write_rolls_back_and_never_rides_a_checkpoint_commit(
    project: Path,
) -> None:
    warnings: list[str] = []
    with Lab(root=project) as lab:
        lab.warn = warnings.append
        lab.run("basic_workflow", "warm up", thread_id="warm")
        assert len(lab.traces.list()) == 1  # the trace tables exist
        # Inject a failure in a real SQLite file: spans of the poisoned run are refused
        # after its trace row went in, i.e. half-way through the batch.
        db = sqlite3.connect(lab.checkpoint_path)
        db.execute(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON lgp_spans "
            "WHEN NEW.input LIKE '%POISON%' BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )
        db.commit()
        db.close()
        bad = lab.run("basic_workflow", "POISON", thread_id="bad")
        lab.traces.list()  # flushes: the write fails, is retried, then dropped
        good = lab.run("basic_workflow", "fine", thread_id="good")  # a checkpoint commit
        listed = {t.trace_id for t in lab.traces.list()}
    db = sqlite3.connect(project / ".lgp" / "checkpoints.sqlite")
    traces = {r[0] for r in db.execute("SELECT trace_id FROM lgp_traces")}
    bad_spans = db.execute(
        "SELECT COUNT(*) FROM lgp_spans WHERE trace_id = ?", (bad.trace_id,)
    ).fetchone()[0]
    threads = {r[0] for r in db.execute("SELECT DISTINCT thread_id FROM checkpoints")}
    db.close()
    assert bad.trace_id not in traces and bad_spans == 0, "half a batch committed"
    assert good.trace_id in traces and good.trace_id in listed
    assert {"warm", "bad", "good"} <= threads  # checkpoints still commit
    dropped = [w for w in warnings if bad.trace_id[:12] in w]
    assert len(dropped) == 1 and "dropped" in dropped[0] and "injected failure" in dropped[0]


# --------------------------------------------------------------------------- Langfuse


def _langfuse_env(url: str) -> dict[str, str]:
    return cli_env(
        LANGFUSE_PUBLIC_KEY="pk-lf-test",
        LANGFUSE_SECRET_KEY=SECRET,
        LANGFUSE_BASE_URL=url,
    )


@pytest.mark.smoke  # also run on the lowest langfuse the range allows
def test_langfuse_receives_the_run_through_the_real_sdk(project: Path) -> None:
    long_text = "L" * 3000
    with FakeLangfuse() as lf:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "lgp_lab",
                "run",
                "basic_workflow",
                "-i",
                long_text,
                "-t",
                "lf-thread",
                "--json",
            ],
            cwd=project,
            env=_langfuse_env(lf.url),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        trace_id = result["trace_id"]
        assert f"[lgp] Trace URL: {lf.url}/trace/{trace_id}" in proc.stderr
        spans = {s["name"]: s for s in lf.spans_of(trace_id)}
    assert set(spans) == {"basic_workflow", "remember", "respond"}
    root = spans["basic_workflow"]["attributes"]
    assert root["langfuse.trace.name"] == "basic_workflow"
    assert root["langfuse.trace.tags"] == ["langgraph-platform", "experiment"]
    assert root["session.id"] == "lf-thread"
    for key in (
        "workflow_name",
        "environment",
        "runtime_version",
        "repository",
        "workflow_invocations",
        "cost_model",
        "monthly_cost",
        "cost_per_invocation",
    ):
        assert f"langfuse.trace.metadata.{key}" in root, key
    output = json.loads(root["langfuse.observation.output"])
    assert len(output["input"]) == 2000 and output["input_full_length"] == 3000
    assert output["output"].startswith("You said: LLL")
    assert spans["remember"]["parent_span_id"] == spans["basic_workflow"]["span_id"]
    assert {r["public_key"] for r in lf.requests} == {"pk-lf-test"}
    # The secret key reached no log, trace or checkpoint.
    assert SECRET not in proc.stdout + proc.stderr
    assert SECRET not in json.dumps(lf.spans)
    assert SECRET.encode() not in (project / ".lgp" / "checkpoints.sqlite").read_bytes()
    local = subprocess.run(
        [sys.executable, "-m", "lgp_lab", "traces", trace_id, "--json"],
        cwd=project,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(local.stdout)["langfuse_url"] == f"{lf.url}/trace/{trace_id}"


def test_langfuse_down_never_breaks_a_run(project: Path) -> None:
    # How much a dead Langfuse adds to a run's wall time: bench/stop_latency.py.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    proc = subprocess.run(
        [sys.executable, "-m", "lgp_lab", "run", "basic_workflow", "-i", "hi"],
        cwd=project,
        env=_langfuse_env(closed),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("not reachable") == 1 and closed in proc.stderr
    assert "Traceback" not in proc.stderr and SECRET not in proc.stderr


def test_config_can_turn_langfuse_off(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        project / "config" / "experiment.yaml", "observability:\n  langfuse:\n    enabled: false\n"
    )
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk")
    with Lab(root=project) as lab:
        assert lab.config.langfuse_settings() is None
        assert lab.run("basic_workflow", "x").trace_url is None
    write(project / "config" / "experiment.yaml", "cost:\n  cost_model: none\n")
    monkeypatch.setenv("LANGFUSE_BASE_URL", "http://127.0.0.1:9")
    with Lab(root=project) as lab:
        settings = lab.config.langfuse_settings()
        assert settings == {"public_key": "pk", "secret_key": "sk", "host": "http://127.0.0.1:9"}


def test_langfuse_flush_on_close_never_blocks_the_engine_loop(
    project: Path, monkeypatch: pytest.MonkeyPatch, loop_watchdog
) -> None:
    from fakes.blackhole import BlackHole

    warnings: list[str] = []
    with BlackHole() as hole:
        for name, value in _langfuse_env(hole.url).items():
            if name.startswith("LANGFUSE_"):
                monkeypatch.setenv(name, value)
        with Lab(root=project) as lab:
            lab.warn = warnings.append
            lab.run("basic_workflow", "hi")
            tracing = lab.engine.call(lab.atracing())
            # A hung Langfuse holds the SDK's flush for its whole timeout: the loop must
            # keep running other work meanwhile.
            lab.engine.call(tracing.aclose(1.5))
            lab.run("basic_workflow", "still served")
    assert loop_watchdog.pings > 0
    assert not loop_watchdog.violations, loop_watchdog.report()
    assert any("not reachable" in w and hole.url in w for w in warnings), warnings


def test_token_relay_joins_the_callbacks_only_while_an_exporter_wants_tokens() -> None:
    import uuid

    from langchain_core.callbacks import CallbackManager, StdOutCallbackHandler

    from lgp_lab.observability.cost import CostTracker
    from lgp_lab.observability.tokens import TokenRelay, with_token_relay
    from lgp_lab.observability.tracing import Tracing

    class Shows:
        name = "shows-tokens"

        def __init__(self) -> None:
            self.got: list[tuple[str, str]] = []

        def on_token(self, run, node, text) -> None:
            self.got.append((node, text))

    tracing = Tracing([], base_metadata={}, cost=CostTracker("per_invocation", 0.0, None))
    config = {"configurable": {"thread_id": "t"}}
    assert with_token_relay(config, tracing, object()) is config  # nobody shows tokens
    shows = Shows()
    tracing.add_exporter(shows)
    assert with_token_relay(config, tracing, None) is config  # an untraced run

    mine = StdOutCallbackHandler()
    listed = with_token_relay({**config, "callbacks": [mine]}, tracing, object())
    assert listed["callbacks"][0] is mine and isinstance(listed["callbacks"][1], TokenRelay)
    manager = CallbackManager([mine])
    managed = with_token_relay({**config, "callbacks": manager}, tracing, object())
    assert manager.handlers == [mine]  # the caller's manager is left as it was
    [relay] = [h for h in managed["callbacks"].inheritable_handlers if isinstance(h, TokenRelay)]

    # Tokens carry the node the model ran in; content blocks give their text.
    run_id = uuid.uuid4()
    relay.on_chat_model_start({}, [[]], run_id=run_id, metadata={"langgraph_node": "agent"})
    relay.on_llm_new_token("Hel", run_id=run_id)
    relay.on_llm_new_token([{"type": "text", "text": "lo"}, {"type": "tool_use"}], run_id=run_id)
    relay.on_llm_new_token("", run_id=run_id)
    relay.on_llm_end(None, run_id=run_id)
    relay.on_llm_new_token("late", run_id=run_id)  # after its end: not the model's
    assert shows.got == [("agent", "Hel"), ("agent", "lo")]
