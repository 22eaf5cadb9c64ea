"""The server's edge cases: disconnects, hostile input, proxies, OpenAPI, defaults.

Real uvicorn on 127.0.0.1 (a free port), driven with httpx and the official
langgraph_sdk client.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import cli_env, write

from lgp_lab import Lab
from lgp_lab.config import load_config
from lgp_lab.server.background import start_server

KEY = "edge-key-1"
AUTH = {"Authorization": f"Bearer {KEY}"}

SLOW = """
import asyncio
from pathlib import Path
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END

MARKER = Path({marker!r})

class S(TypedDict, total=False):
    input: str
    output: str

def first(state):
    return {{"output": "first" + " " * int(state.get("input") or 0)}}

async def slow(state):
    MARKER.write_text("started")
    try:
        await asyncio.sleep(120)
    except asyncio.CancelledError:
        MARKER.write_text("cancelled")
        raise
    return {{"output": "slow"}}

workflow = StateGraph(S)
workflow.add_node("first", first)
workflow.add_node("slow", slow)
workflow.add_edge(START, "first")
workflow.add_edge("first", "slow")
workflow.add_edge("slow", END)
"""

SURROGATE_OUT = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END

class S(TypedDict, total=False):
    input: str
    output: str

def odd(state):
    # bytes decoded with surrogateescape: text no UTF-8 encoder accepts
    return {"output": b"ok \\xff".decode("utf-8", "surrogateescape")}

workflow = StateGraph(S)
workflow.add_node("odd", odd)
workflow.add_edge(START, "odd")
workflow.add_edge("odd", END)
"""

ASKING = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END
from langgraph.types import interrupt

class S(TypedDict, total=False):
    input: str
    decision: str

def ask(state):
    return {"decision": interrupt({"question": "ship " + state["input"] + "?"})}

workflow = StateGraph(S)
workflow.add_node("ask", ask)
workflow.add_edge(START, "ask")
workflow.add_edge("ask", END)
"""

FAILING = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END

class S(TypedDict, total=False):
    input: str

def explode(state):
    raise ValueError("refused " + state["input"])

workflow = StateGraph(S)
workflow.add_node("explode", explode)
workflow.add_edge(START, "explode")
workflow.add_edge("explode", END)
"""


def configure(project: Path, **server: object) -> None:
    lines = ["server:", f"  api_keys: [{KEY}]"]
    lines += [f"  {k}: {v}" for k, v in server.items()]
    write(project / "config" / "experiment.yaml", "\n".join(lines) + "\n")


def wait_for(predicate, timeout: float = 15.0) -> bool:
    """Poll ``predicate`` until true, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def events_of(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.split("\n\n"):
        if block.strip():
            name, data = block.split("\n", 1)
            out.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return out


SERVED = ("slow", "odd", "asking", "failing")


@pytest.fixture
def served(project: Path, tmp_path: Path) -> Iterator[tuple[httpx.Client, Lab, Path]]:
    configure(project, rate_limit_per_minute=0)
    marker = tmp_path / "slow.marker"
    write(project / "workflows" / "slow.py", SLOW.format(marker=str(marker)))
    write(project / "workflows" / "odd.py", SURROGATE_OUT)
    write(project / "workflows" / "asking.py", ASKING)
    write(project / "workflows" / "failing.py", FAILING)
    with Lab(root=project) as lab:
        targets = ["basic_workflow", *(f"workflows/{n}.py" for n in SERVED)]
        handle = start_server(lab, targets, port=0)
        with httpx.Client(base_url=handle.url, headers=AUTH, timeout=30) as client:
            yield client, lab, marker
        handle.stop()


# ---------------------------------------------------------------- 7: SSE disconnects


@pytest.mark.parametrize("pad", [0, 8 * 1024 * 1024], ids=["waiting", "sending"])
def test_client_disconnect_cancels_the_streaming_run(served, pad: int) -> None:
    """The client hangs up while the run waits in a node, or while the server is stuck
    sending it a large event it stopped reading."""
    client, lab, marker = served
    with client.stream(
        "POST", "/workflows/slow/stream", json={"input": str(pad), "thread_id": "gone"}
    ) as response:
        assert response.status_code == 200
        seen = ""
        for text in response.iter_text():
            seen += text
            if "event: updates" in seen:
                break
        assert wait_for(lambda: marker.exists()), "the slow node never started"
    # The client has hung up while `slow` waits: the run must be cancelled, not left
    # running (or suspended) with nobody listening, and its trace must end.
    assert wait_for(lambda: marker.read_text() == "cancelled"), marker.read_text()
    assert wait_for(lambda: [t.status for t in lab.traces.list()][:1] == ["cancelled"])
    trace = lab.traces.list()[0]
    assert trace.thread_id == "gone" and trace.workflow == "slow"
    # Checkpoints written before the disconnect stay; the server keeps serving.
    assert client.get("/sessions/gone").json()["latest_state"]["output"].strip() == "first"
    again = client.post("/workflows/basic_workflow/stream", json={"input": "my pet is Rex"})
    assert [e for e, _ in events_of(again.text)] == ["metadata", "updates", "updates", "end"]


def test_streaming_with_langfuse_leaves_no_context_errors(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The trace's context is entered and left in one task, and a disconnected run's
    trace is closed (exported as cancelled), not left open."""
    from fakes.langfuse_server import FakeLangfuse

    configure(project, rate_limit_per_minute=0)
    marker = tmp_path / "slow.marker"
    write(project / "workflows" / "slow.py", SLOW.format(marker=str(marker)))
    with FakeLangfuse() as lf:
        monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-edges")
        monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-edges")
        monkeypatch.setenv("LANGFUSE_BASE_URL", lf.url)
        caplog.set_level(logging.WARNING)
        with Lab(root=project) as lab:
            handle = start_server(lab, ["basic_workflow", "workflows/slow.py"], port=0)
            with httpx.Client(base_url=handle.url, headers=AUTH, timeout=30) as client:
                r = client.post("/workflows/basic_workflow/stream", json={"input": "my pet is Rex"})
                assert [e for e, _ in events_of(r.text)][-1] == "end"
                done_id = events_of(r.text)[0][1]["trace_id"]
                with client.stream("POST", "/workflows/slow/stream", json={"input": "0"}) as s:
                    chunks = s.iter_text()  # (a dropped iterator closes the response)
                    head = next(chunks)
                    cut_id = events_of(head.split("\n\n")[0] + "\n\n")[0][1]["trace_id"]
                    assert wait_for(lambda: marker.exists())
                assert wait_for(lambda: marker.read_text() == "cancelled")
            handle.stop()

        def root(trace_id: str) -> dict | None:
            attributes = [s["attributes"] for s in lf.spans_of(trace_id)]
            roots = [a for a in attributes if a.get("langfuse.internal.as_root")]
            return roots[0] if roots else None

        assert wait_for(lambda: root(done_id) is not None and root(cut_id) is not None)
    assert root(done_id)["langfuse.observation.metadata.status"] == '"complete"'
    assert root(cut_id)["langfuse.observation.metadata.status"] == '"cancelled"'
    detach = [r for r in caplog.records if "detach context" in r.getMessage()]
    assert detach == [], [r.getMessage() for r in detach]


# ---------------------------------------------------------------- 8, 9, 10: hostile input


def test_sessions_paging_is_bounded(served) -> None:
    client, _, _ = served
    for offset in ("9223372036854775808", "1000000001", "-1"):
        r = client.get("/sessions", params={"offset": offset})
        assert r.status_code == 422, (offset, r.text)
        assert r.json()["status"] == 422 and "offset" in r.json()["error"]
    assert client.get("/sessions", params={"offset": 1000000000}).json()["threads"] == []
    assert client.get("/sessions", params={"limit": 101}).status_code == 422


@pytest.mark.parametrize("route", ["invoke", "stream"])
def test_lone_surrogates_are_refused_before_running(served, route: str) -> None:
    client, lab, _ = served
    for body in (
        b'{"input": "\\ud800", "thread_id": "sur"}',
        b'{"input": {"input": "ok", "x\\udfff": 1}, "thread_id": "sur"}',
        b'{"input": "ok", "thread_id": "sur", "context": {"k": "\\udc00"}}',
    ):
        r = client.post(
            f"/workflows/basic_workflow/{route}",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/json"
        assert "surrogate" in r.json()["error"]
    assert client.get("/sessions/sur").status_code == 404  # nothing ran, nothing written
    assert lab.sessions.count_threads() == 0


def test_a_body_nested_too_deep_is_a_clear_400(served) -> None:
    client, _, _ = served
    deep = b'{"input": {"input": "x", "d": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    r = client.post(
        "/workflows/basic_workflow/invoke",
        content=deep,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["error"].startswith("Malformed JSON body")


def test_text_a_node_makes_unencodable_is_still_returned(served) -> None:
    client, _, _ = served
    r = client.post("/workflows/odd/invoke", json={"input": "x", "thread_id": "odd"})
    assert r.status_code == 200, r.text
    assert r.json()["result"]["output"] == "ok \udcff"  # escaped as \udcff, valid JSON
    s = client.post("/workflows/odd/stream", json={"input": "x"})
    assert [e for e, _ in events_of(s.text)] == ["metadata", "updates", "end"]
    assert client.get("/sessions/odd").status_code == 200


def test_chunked_bodies_over_the_limit_get_413(project: Path) -> None:
    configure(project, rate_limit_per_minute=0, max_body_bytes=1_048_576)
    with Lab(root=project) as lab:
        handle = start_server(lab, ["basic_workflow"], port=0)
        with httpx.Client(base_url=handle.url, headers=AUTH, timeout=60) as client:

            def chunks(total: int, size: int = 65536) -> Iterator[bytes]:
                yield b'{"input": "'
                for _ in range(total // size):
                    yield b"x" * size
                yield b'"}'

            big = client.post(
                "/workflows/basic_workflow/invoke",
                content=chunks(10 * 1024 * 1024),
                headers={"Content-Type": "application/json"},
            )
            assert "content-length" not in big.request.headers  # really chunked
            assert big.status_code == 413, big.text
            assert big.json() == {"error": "Request body over 1048576 bytes", "status": 413}
            # A chunked body under the limit is read whole and runs.
            small = client.post(
                "/workflows/basic_workflow/invoke",
                content=iter([b'{"input": "my name is ', b'Alice"}']),
                headers={"Content-Type": "application/json"},
            )
            assert small.status_code == 200, small.text
            assert small.json()["result"]["facts"] == {"name": "Alice"}
        handle.stop()


# ---------------------------------------------------------------- 11: forged addresses


def test_forged_forwarded_for_does_not_dodge_the_rate_limit(project: Path) -> None:
    configure(project, rate_limit_per_minute=5)
    with Lab(root=project) as lab:
        handle = start_server(lab, ["basic_workflow"], port=0)
        with httpx.Client(base_url=handle.url, timeout=30) as client:
            codes = [
                client.get(
                    "/workflows",
                    headers={"Authorization": "Bearer wrong", "X-Forwarded-For": f"10.0.0.{i}"},
                ).status_code
                for i in range(12)
            ]
        handle.stop()
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}


def test_forwarded_for_is_trusted_from_a_configured_proxy(project: Path) -> None:
    configure(project, rate_limit_per_minute=2, forwarded_allow_ips="'127.0.0.1'")
    with Lab(root=project) as lab:
        assert lab.config.server.trusted_proxies() == ["127.0.0.1"]
        handle = start_server(lab, ["basic_workflow"], port=0)
        with httpx.Client(base_url=handle.url, timeout=30) as client:

            def hit(address: str) -> int:
                headers = {"Authorization": "Bearer wrong", "X-Forwarded-For": address}
                return client.get("/workflows", headers=headers).status_code

            # Behind a trusted proxy, each real client has its own budget.
            assert [hit("198.51.100.1") for _ in range(3)] == [401, 401, 429]
            assert hit("198.51.100.2") == 401
        handle.stop()


def test_trusted_proxies_config_forms(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_config(start=project).server.trusted_proxies() == []  # default: none
    monkeypatch.setenv("LGP_FORWARDED_ALLOW_IPS", "10.0.0.1, 10.1.0.0/16")
    assert load_config("hosted", project).server.trusted_proxies() == ["10.0.0.1", "10.1.0.0/16"]
    configure(project, forwarded_allow_ips="[192.0.2.1, '*']")
    assert load_config(start=project).server.trusted_proxies() == ["192.0.2.1", "*"]


# ---------------------------------------------------------------- 12: OpenAPI, OPTIONS


def test_openapi_declares_auth_body_rules_and_stream_errors(served) -> None:
    client, _, _ = served
    spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "Authorization: Bearer <API key>",
    }
    assert schemes["apiKey"]["type"] == "apiKey" and schemes["apiKey"]["in"] == "header"
    assert schemes["apiKey"]["name"] == "X-API-Key"
    invoke = spec["paths"]["/workflows/{name}/invoke"]["post"]
    assert {"bearer": []} in invoke["security"] and {"apiKey": []} in invoke["security"]
    assert "security" not in spec["paths"]["/health"]["get"]
    body = spec["components"]["schemas"]["InvokeRequest"]
    assert [alt["required"] for alt in body["anyOf"]] == [
        ["input"],
        ["input", "thread_id"],
        ["resume", "thread_id"],
    ]
    assert set(body["properties"]) >= {"input", "resume", "thread_id", "context", "config"}
    stream = spec["paths"]["/workflows/{name}/stream"]["post"]["responses"]
    assert {"200", "400", "401", "404", "413", "422", "429", "500"} <= set(stream)
    assert "text/event-stream" in stream["200"]["content"]
    # the unauthenticated /docs and /openapi.json still work with keys on
    assert client.get("/docs", headers={"Authorization": ""}).status_code == 200


def test_options_and_405_list_every_method_of_a_path(served) -> None:
    client, _, _ = served
    r = client.options("/sessions/some-thread")
    assert r.status_code == 204
    allowed = {m.strip() for m in r.headers["allow"].split(",")}
    assert {"GET", "DELETE", "OPTIONS"} <= allowed
    put = client.put("/sessions/some-thread", json={})
    assert put.status_code == 405 and put.json()["status"] == 405
    assert "DELETE" in put.headers["allow"] and "GET" in put.headers["allow"]
    assert client.options("/workflows/basic_workflow/invoke").headers["allow"] == "OPTIONS, POST"
    # HEAD is served wherever GET is (a load balancer's probe), with no body.
    head = client.head("/health", headers={})
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) > 0
    assert client.head("/sessions/some-thread").status_code == 404
    assert client.head("/sessions/some-thread", headers={"Authorization": ""}).status_code == 401


def test_the_official_langgraph_sdk_key_header_is_accepted(served) -> None:
    from langgraph_sdk import get_sync_client

    client, _, _ = served
    sdk = get_sync_client(url=str(client.base_url), api_key=KEY)
    assert sdk.http.client.headers["x-api-key"] == KEY  # what the SDK sends
    assert {w["name"] for w in sdk.http.get("/workflows")} == {"basic_workflow", *SERVED}
    wrong = get_sync_client(url=str(client.base_url), api_key="not-the-key")
    with pytest.raises(httpx.HTTPStatusError) as err:
        wrong.http.get("/workflows")
    assert err.value.response.status_code == 401


# ---------------------------------------------------------------- 13: experiment defaults


def test_rate_limit_is_off_by_default_in_experiment(project: Path) -> None:
    assert load_config(start=project).rate_limit_per_minute == 0  # shipped experiment.yaml
    assert load_config("hosted", project).rate_limit_per_minute == 100
    assert load_config("production", project).rate_limit_per_minute == 100
    with Lab(root=project) as lab:  # the shipped experiment config: open, no limit
        handle = start_server(lab, ["basic_workflow"], port=0)
        with httpx.Client(base_url=handle.url, timeout=30) as client:
            codes = {client.get("/workflows").status_code for _ in range(130)}
            spec = client.get("/openapi.json").json()
        handle.stop()
    assert codes == {200}
    # An open API (no key configured) declares no security requirement.
    assert "securitySchemes" not in spec.get("components", {})
    assert "security" not in spec["paths"]["/workflows"]["get"]


def test_builtin_defaults_limit_only_outside_experiment(tmp_path: Path) -> None:
    assert load_config(start=tmp_path).rate_limit_per_minute == 0
    assert load_config("hosted", tmp_path).rate_limit_per_minute == 100
    write(tmp_path / "p" / "config" / "experiment.yaml", "server:\n  rate_limit_per_minute: 7\n")
    assert load_config(start=tmp_path / "p").rate_limit_per_minute == 7


# ---------------------------------------------------------------- 14: LGP_API_KEY anywhere

FLOW = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END

class S(TypedDict, total=False):
    input: str
    output: str

def echo(state):
    return {"output": "echo " + state["input"]}

workflow = StateGraph(S)
workflow.add_node("echo", echo)
workflow.add_edge(START, "echo")
workflow.add_edge("echo", END)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_outside_a_project_reads_lgp_api_key(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    write(empty / "flow.py", FLOW)
    port = _free_port()
    command = [sys.executable, "-m", "lgp_lab", "serve", "flow.py", "--env", "hosted"]
    refused = subprocess.run(
        [*command, "--port", str(port)],
        cwd=empty,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1 and "export LGP_API_KEY" in refused.stderr
    proc = subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=empty,
        env=cli_env(LGP_API_KEY="outside-secret-42"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return httpx.get(f"{url}/health", timeout=2).status_code == 200
            except httpx.TransportError:
                return proc.poll() is not None

        assert wait_for(up, 30) and proc.poll() is None
        assert httpx.post(f"{url}/workflows/flow/invoke", json={"input": "a"}).status_code == 401
        r = httpx.post(
            f"{url}/workflows/flow/invoke",
            headers={"Authorization": "Bearer outside-secret-42"},
            json={"input": "hi"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["result"]["output"] == "echo hi"
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "outside-secret-42" not in err
    assert not (empty / "config").exists()


# ---------------------------------------------------------------- issue 13: sessions status


def test_session_shows_status_and_pending_interrupts(served) -> None:
    client, _, _ = served
    r = client.post("/workflows/asking/invoke", json={"input": "v2", "thread_id": "ask"})
    assert r.json()["status"] == "interrupted"
    session = client.get("/sessions/ask").json()
    assert session["status"] == "interrupted"
    [pending] = session["interrupts"]
    assert pending["value"] == {"question": "ship v2?"} and pending["node"] == "ask"
    assert len(pending["id"]) >= 8
    listed = client.get("/sessions").json()["threads"]
    assert [(t["thread_id"], t["status"]) for t in listed] == [("ask", "interrupted")]

    done = client.post("/workflows/asking/invoke", json={"resume": "yes", "thread_id": "ask"})
    assert done.json()["result"]["decision"] == "yes"
    session = client.get("/sessions/ask").json()
    assert session["status"] == "idle" and session["interrupts"] == []

    failed = client.post("/workflows/failing/invoke", json={"input": "it", "thread_id": "bad"})
    assert failed.status_code == 500
    session = client.get("/sessions/bad").json()
    assert session["status"] == "error" and session["interrupts"] == []
    ok = client.post("/workflows/basic_workflow/invoke", json={"input": "hi", "thread_id": "ok"})
    assert ok.status_code == 200
    assert client.get("/sessions/ok").json()["status"] == "idle"
    statuses = {t["thread_id"]: t["status"] for t in client.get("/sessions").json()["threads"]}
    assert statuses == {"ask": "idle", "bad": "error", "ok": "idle"}


def test_invalid_context_or_config_is_a_422_naming_the_field(served) -> None:
    client, _, _ = served
    cases = [
        ({"input": "x", "context": [1, 2]}, "context"),
        ({"input": "x", "config": {"recursion_limit": "lots"}}, "recursion_limit"),
        ({"input": "x", "config": {"tagz": ["a"]}}, "tagz"),
        ({"input": "x", "config": {"configurable": {"thread_id": "t"}}}, "thread_id"),
        ({"input": "x", "config": "fast"}, "config"),
        ({"resume": "y"}, "thread_id"),
        ({"resume": None, "thread_id": "t"}, "resume needs a value"),
        ({"input": "x", "resume": "y", "thread_id": "t"}, "either input or resume"),
        ({}, "input is required"),
    ]
    for body, named in cases:
        for route in ("invoke", "stream"):
            r = client.post(f"/workflows/basic_workflow/{route}", json=body)
            assert r.status_code == 422, (body, r.text)
            assert named in r.json()["error"], (body, r.json())
    assert client.get("/sessions").json()["total"] == 0


def test_start_server_without_the_server_extra_names_the_install(
    lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """%lgp_serve and start_server() say `pip install "lgp-lab[server]"`, not a traceback."""
    import sys

    from lgp_lab.extras import MissingExtraError
    from lgp_lab.server.background import start_server

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if it were not installed
    with pytest.raises(MissingExtraError, match=r'pip install "lgp-lab\[server\]"'):
        start_server(lab, ["basic_workflow"], port=0)
