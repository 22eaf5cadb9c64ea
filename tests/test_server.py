"""The hosted API: real uvicorn on 127.0.0.1 (free port), driven with httpx."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import cli_env, write

from lgp_lab import Lab
from lgp_lab.errors import ConfigError
from lgp_lab.server.background import start_server

KEY = "test-key-1"
AUTH = {"Authorization": f"Bearer {KEY}"}

FAILING = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END

class S(TypedDict, total=False):
    input: str
    output: str

def explode(state):
    raise ValueError("the model refused: " + state["input"])

workflow = StateGraph(S)
workflow.add_node("explode", explode)
workflow.add_edge(START, "explode")
workflow.add_edge("explode", END)
"""


def configure(project: Path, **server: object) -> None:
    lines = ["server:", f"  api_keys: [{KEY}, second-key]"]
    lines += [f"  {k}: {v}" for k, v in server.items()]
    write(project / "config" / "experiment.yaml", "\n".join(lines) + "\n")


@pytest.fixture
def api(project: Path) -> Iterator[httpx.Client]:
    configure(project, rate_limit_per_minute=10000)
    write(project / "workflows" / "failing.py", FAILING)
    with Lab(root=project) as lab:
        handle = start_server(lab, ["basic_workflow", "workflows/failing.py"], port=0)
        assert handle.host == "127.0.0.1"  # loopback unless asked otherwise
        with httpx.Client(base_url=handle.url, timeout=30) as client:
            client.lab = lab  # type: ignore[attr-defined]
            yield client
        handle.stop()


def test_plan_contract(api: httpx.Client) -> None:
    health = api.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "healthy"
    assert set(health.json()["workflows"]) == {"basic_workflow", "failing"}

    r = api.post(
        "/workflows/basic_workflow/invoke",
        headers=AUTH,
        json={"input": "Remember my name is Alice", "thread_id": "session-001"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "complete" and body["thread_id"] == "session-001"
    assert body["result"]["facts"] == {"name": "Alice"} and body["duration_ms"] > 0
    r = api.post(
        "/workflows/basic_workflow/invoke",
        headers=AUTH,
        json={"input": {"input": "What is my name?"}, "thread_id": "session-001"},
    )
    assert r.json()["result"]["output"] == "Your name is Alice."

    session = api.get("/sessions/session-001", headers=AUTH).json()
    assert session["thread_id"] == "session-001" and session["checkpoints"] == 8
    assert session["workflow"] == "basic_workflow" and session["workflow_version"] == 1
    assert session["latest_state"]["output"] == "Your name is Alice."
    assert session["created_at"].endswith("Z") and session["updated_at"] >= session["created_at"]

    fresh = api.post("/workflows/basic_workflow/invoke", headers=AUTH, json={"input": "hi"})
    assert len(fresh.json()["thread_id"]) >= 8
    listed = api.get("/workflows", headers=AUTH).json()
    assert {"name": "basic_workflow", "version": 1}.items() <= listed[0].items()
    threads = api.get("/sessions", headers=AUTH, params={"workflow": "basic_workflow"}).json()
    assert threads["total"] == 2


def test_auth(api: httpx.Client) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
        r = api.get("/workflows", headers=headers)
        assert r.status_code == 401
        assert r.json() == {"error": "Unauthorized", "status": 401}
        assert r.headers["www-authenticate"] == "Bearer"
    assert api.get("/workflows", headers={"Authorization": "Bearer second-key"}).status_code == 200
    assert api.get("/workflows", headers={"X-API-Key": KEY}).status_code == 200
    assert api.get("/sessions/x", headers={}).status_code == 401


def test_not_found_and_validation_errors(api: httpx.Client) -> None:
    r = api.post("/workflows/nope/invoke", headers=AUTH, json={"input": "x"})
    assert r.status_code == 404
    assert r.json()["error"] == "workflow 'nope' not found; served: basic_workflow, failing"
    r = api.get("/sessions/unknown-thread", headers=AUTH)
    assert r.status_code == 404 and "unknown-thread" in r.json()["error"]
    assert api.get("/sessions/unknown-thread/checkpoints", headers=AUTH).status_code == 404

    bad_json = api.post(
        "/workflows/basic_workflow/invoke",
        headers={**AUTH, "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert bad_json.status_code == 400 and bad_json.json()["error"] == "Malformed JSON body"
    for body in ({"input": 42}, {"thread_id": "t"}, {"input": "x", "extra": 1}):
        r = api.post("/workflows/basic_workflow/invoke", headers=AUTH, json=body)
        assert r.status_code == 422, body
        assert r.json()["status"] == 422 and r.json()["detail"]
    traversal = api.post("/workflows/..%2Fetc/invoke", headers=AUTH, json={"input": "x"})
    assert traversal.status_code in (404, 422)
    bad_thread = api.post(
        "/workflows/basic_workflow/invoke", headers=AUTH, json={"input": "x", "thread_id": "../x"}
    )
    assert bad_thread.status_code == 422
    unknown_key = api.post(
        "/workflows/basic_workflow/invoke", headers=AUTH, json={"input": {"nope": 1}}
    )
    assert unknown_key.status_code == 422 and "'nope'" in unknown_key.json()["error"]


def test_workflow_failure_is_a_clean_500(api: httpx.Client) -> None:
    r = api.post("/workflows/failing/invoke", headers=AUTH, json={"input": "no", "thread_id": "f"})
    assert r.status_code == 500
    body = r.json()
    assert body["status"] == 500 and body["detail"] == {"node": "explode"}
    assert "node 'explode'" in body["error"] and "the model refused: no" in body["error"]
    assert "Traceback" not in r.text and "/" not in body["error"]  # no paths, no internals
    assert api.get("/sessions/f", headers=AUTH).status_code == 200  # input checkpoint kept


def test_streaming_sends_node_updates(api: httpx.Client) -> None:
    events = []
    with api.stream(
        "POST",
        "/workflows/basic_workflow/stream",
        headers=AUTH,
        json={"input": "my pet is Rex", "thread_id": "s1"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for block in response.read().decode().split("\n\n"):
            if block.strip():
                name, data = block.split("\n", 1)
                events.append((name.removeprefix("event: "), json.loads(data[6:])))
    assert [e for e, _ in events] == ["metadata", "updates", "updates", "end"]
    assert list(events[1][1]) == ["remember"] and list(events[2][1]) == ["respond"]
    assert events[-1][1]["result"]["facts"] == {"pet": "Rex"}
    failing = api.post("/workflows/failing/stream", headers=AUTH, json={"input": "x"})
    assert "event: error" in failing.text and '"node": "explode"' in failing.text


def test_checkpoint_paging(api: httpx.Client) -> None:
    for text in ("a", "b", "c"):
        api.post(
            "/workflows/basic_workflow/invoke", headers=AUTH, json={"input": text, "thread_id": "p"}
        )
    ids, before = [], None
    for _ in range(10):  # bounded
        params = {"limit": 5, **({"before": before} if before else {})}
        page = api.get("/sessions/p/checkpoints", headers=AUTH, params=params).json()
        ids += [c["checkpoint_id"] for c in page["checkpoints"]]
        before = page["next_before"]
        if before is None:
            break
    assert len(ids) == len(set(ids)) == 12 and ids == sorted(ids, reverse=True)
    assert api.get("/sessions/p/checkpoints?limit=0", headers=AUTH).status_code == 422
    assert api.get("/sessions/p/checkpoints?limit=101", headers=AUTH).status_code == 422
    assert api.delete("/sessions/p", headers=AUTH).status_code == 204
    assert api.get("/sessions/p", headers=AUTH).status_code == 404


def test_rate_limit_and_body_limit(project: Path) -> None:
    configure(project, rate_limit_per_minute=5, max_body_bytes=2000)
    with Lab(root=project) as lab:
        handle = start_server(lab, ["basic_workflow"], port=0)
        with httpx.Client(base_url=handle.url) as client:
            codes = [client.get("/workflows", headers=AUTH).status_code for _ in range(7)]
            assert codes == [200] * 5 + [429] * 2
            limited = client.get("/workflows", headers=AUTH)
            assert limited.json() == {"error": "Too many requests", "status": 429}
            assert int(limited.headers["retry-after"]) >= 1
            # Another key has its own budget; /health is never limited.
            assert client.get("/workflows", headers={"X-API-Key": "second-key"}).status_code == 200
            assert client.get("/health").status_code == 200
            big = client.post(
                "/workflows/basic_workflow/invoke",
                headers={"X-API-Key": "second-key"},
                json={"input": "x" * 5000},
            )
            assert big.status_code == 413 and big.json()["status"] == 413
        handle.stop()


def test_hosted_refuses_to_start_without_a_key(project: Path) -> None:
    with Lab(env="hosted", root=project) as lab, pytest.raises(ConfigError) as err:
        start_server(lab, ["basic_workflow"], port=0)
    assert "LGP_API_KEY" in str(err.value) and "export LGP_API_KEY" in str(err.value)


def test_serve_watch_has_no_failed_requests_during_reloads(project: Path) -> None:
    configure(project, rate_limit_per_minute=0)
    flow = project / "workflows" / "hot.py"
    template = FAILING.replace(
        'raise ValueError("the model refused: " + state["input"])', 'return {"output": "V"}'
    )
    flow.write_text(template.replace('"V"', '"v0"'))
    with Lab(root=project) as lab:
        handle = start_server(lab, [str(flow)], port=0, watch=True)
        failures, outputs, done = [], set(), threading.Event()

        def hammer() -> None:
            with httpx.Client(base_url=handle.url, headers=AUTH, timeout=30) as client:
                while not done.is_set():
                    r = client.post("/workflows/hot/invoke", json={"input": "x"})
                    if r.status_code != 200:
                        failures.append(r.text)
                    else:
                        outputs.add(r.json()["result"]["output"])

        workers = [threading.Thread(target=hammer) for _ in range(4)]
        for w in workers:
            w.start()
        for i in range(1, 16):
            text = template.replace('"V"', f'"v{i}"')
            flow.write_text(text + ("\nbroken(:\n" if i % 4 == 0 else ""))
            time.sleep(0.08)
        flow.write_text(template.replace('"V"', '"final"'))
        deadline = time.monotonic() + 10
        while "final" not in outputs and time.monotonic() < deadline:
            time.sleep(0.05)
        done.set()
        for w in workers:
            w.join(30)
        handle.stop()
    assert failures == []
    assert "final" in outputs and len(outputs) > 2


def test_cli_serve_graceful_shutdown_and_no_key_in_logs(project: Path) -> None:
    env = cli_env(LGP_API_KEY="super-secret-value-123")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lgp_lab",
            "serve",
            "basic_workflow",
            "--port",
            str(port),
            "--env",
            "hosted",
            "--verbose",
        ],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        r = httpx.post(
            f"{url}/workflows/basic_workflow/invoke",
            headers={"Authorization": "Bearer super-secret-value-123"},
            json={"input": "hi", "thread_id": "cli"},
        )
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "[lgp] Environment: hosted" in err and f"Server: {url}" in err
    assert "✅ Ready" in err and "[lgp] Stopped" in err
    assert "POST /workflows/basic_workflow/invoke" in out + err  # access log with --verbose
    assert "super-secret-value-123" not in out + err
    with socket.socket() as s:  # the port is free again
        s.bind(("127.0.0.1", port))


def test_cli_serve_without_key_in_hosted_exits_nonzero(project: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lgp_lab", "serve", "--port", "0"],
        cwd=project,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "requires an API key" in proc.stderr and "export LGP_API_KEY" in proc.stderr


def test_schemathesis_finds_no_server_errors(project: Path, tmp_path: Path) -> None:
    """Property-based requests from the OpenAPI schema: no 5xx (basic_workflow never fails)."""
    st = Path(sys.executable).with_name("st")
    if not st.exists():
        pytest.skip("schemathesis is not installed (pip install -e '.[dev]')")
    configure(project, rate_limit_per_minute=0)
    with Lab(root=project) as lab:
        handle = start_server(lab, ["basic_workflow"], port=0)
        try:
            proc = subprocess.run(
                [
                    str(st),
                    "run",
                    f"{handle.url}/openapi.json",
                    "--checks",
                    "not_a_server_error",
                    "--max-examples",
                    "25",
                    "--seed",
                    "1",
                    "-H",
                    f"Authorization: Bearer {KEY}",
                    "--report-dir",
                    str(tmp_path),
                ],
                capture_output=True,
                text=True,
                timeout=240,
                env=cli_env(),
                cwd=tmp_path,
            )
        finally:
            handle.stop()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
