"""GET /metrics: Prometheus text from prometheus_client, scraped from a real uvicorn on
127.0.0.1; runs counted from every front end (HTTP, the Agent API, the notebook Lab)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import write
from prometheus_client.parser import text_string_to_metric_families

from lgp_lab import Lab
from lgp_lab.config import load_config
from lgp_lab.server.background import start_server

KEY = secrets.token_urlsafe(32)

FLOW = """
    from typing_extensions import TypedDict
    from langgraph.graph import StateGraph, START

    class State(TypedDict, total=False):
        input: str
        output: str

    def answer(state: State) -> State:
        if state.get("input") == "fail":
            raise ValueError("asked to fail")
        return {"output": state.get("input", "") + "!"}

    builder = StateGraph(State)
    builder.add_node("answer", answer)
    builder.add_edge(START, "answer")
    workflow = builder
"""


def _lab(root: Path, **metrics: object) -> Lab:
    config = load_config("experiment", root)
    config.server.api_key = KEY
    for key, value in metrics.items():
        setattr(config.metrics, key, value)
    return Lab(config=config, console=False)


@pytest.fixture
def flow(project: Path) -> Path:
    return write(project / "workflows" / "echoer.py", FLOW)


@pytest.fixture
def served(project: Path, flow: Path) -> Iterator[tuple[Lab, str]]:
    with _lab(project) as lab:
        handle = start_server(lab, [str(flow)], port=0)
        try:
            yield lab, handle.url
        finally:
            handle.stop()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_runs_by_workflow_version_status_from_every_front_end(served: tuple[Lab, str]) -> None:
    lab, url = served
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=url, headers=auth, timeout=30) as client:
        for text in ("a", "b", "fail"):
            client.post("/workflows/echoer/invoke", json={"input": {"input": text}})
        # The Agent Server API: a stateless wait run.
        made = client.post("/runs/wait", json={"assistant_id": "echoer", "input": {"input": "c"}})
        assert made.status_code == 200, made.text
        lab.run("echoer", {"input": "from the notebook"})  # same Lab, no HTTP
        client.get("/workflows/nope/invoke")  # a 405 on a known route template
        client.get("/no/such/route")
        scraped = client.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    samples = _samples(scraped.text)
    runs = "lgp_runs_total"
    assert _value(samples, runs, workflow="echoer", version="1", status="complete") == 4
    assert _value(samples, runs, workflow="echoer", version="1", status="error") == 1
    assert _value(samples, "lgp_run_duration_seconds_count", workflow="echoer", version="1") == 5
    assert _value(samples, "lgp_workflow_version", workflow="echoer") == 1
    assert _value(samples, "lgp_runs_queued") == 0
    http = "lgp_http_requests_total"
    route = "/workflows/{name}/invoke"
    assert _value(samples, http, method="POST", route=route, status="200") == 2
    assert _value(samples, http, method="POST", route=route, status="500") == 1
    assert _value(samples, http, method="GET", route="unmatched", status="404") == 1


def test_runs_are_counted_with_every_trace_exporter_off(project: Path, flow: Path) -> None:
    config = load_config("experiment", project)
    config.server.api_key = KEY
    config.observability.local = False  # no trace store, no console, no Langfuse
    with Lab(config=config, console=False) as lab:
        handle = start_server(lab, [str(flow)], port=0)
        try:
            with httpx.Client(
                base_url=handle.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
            ) as client:
                for text in ("a", "fail"):
                    client.post("/workflows/echoer/invoke", json={"input": {"input": text}})
                lab.run("echoer", {"input": "from the notebook"})
                samples = _samples(client.get("/metrics").text)
        finally:
            handle.stop()
    runs = "lgp_runs_total"
    assert _value(samples, runs, workflow="echoer", version="1", status="complete") == 2
    assert _value(samples, runs, workflow="echoer", version="1", status="error") == 1


def test_metrics_need_the_api_key_unless_public(project: Path, flow: Path) -> None:
    with _lab(project) as lab:
        handle = start_server(lab, [str(flow)], port=0)
        try:
            denied = httpx.get(f"{handle.url}/metrics", timeout=10)
        finally:
            handle.stop()
    assert denied.status_code == 401
    assert denied.json()["error"] == "Unauthorized"
    with _lab(project, public=True) as lab:
        handle = start_server(lab, [str(flow)], port=0)
        try:
            opened = httpx.get(f"{handle.url}/metrics", timeout=10)
        finally:
            handle.stop()
    assert opened.status_code == 200 and "lgp_runs_queued" in opened.text


def test_metrics_can_be_turned_off(project: Path, flow: Path) -> None:
    with _lab(project, enabled=False) as lab:
        handle = start_server(lab, [str(flow)], port=0)
        try:
            gone = httpx.get(
                f"{handle.url}/metrics", headers={"Authorization": f"Bearer {KEY}"}, timeout=10
            )
        finally:
            handle.stop()
    assert gone.status_code == 404


def test_reload_shows_the_new_live_version(served: tuple[Lab, str], flow: Path) -> None:
    lab, url = served
    write(flow, FLOW.replace('+ "!"', '+ "?"'))
    assert lab.reload("echoer") == 2
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=url, headers=auth, timeout=30) as client:
        client.post("/workflows/echoer/invoke", json={"input": {"input": "x"}})
        samples = _samples(client.get("/metrics").text)
    assert _value(samples, "lgp_workflow_version", workflow="echoer") == 2
    assert _value(samples, "lgp_runs_total", workflow="echoer", version="2", status="complete") == 1


def test_ready_probe_needs_no_key_and_reports_the_database(served: tuple[Lab, str]) -> None:
    _, url = served
    ok = httpx.get(f"{url}/ready", timeout=10)
    assert ok.status_code == 200
    assert ok.json() == {"workflows": {"echoer": 1}, "status": "ready", "database": "ok"}


def test_ready_is_503_when_the_database_does_not_answer(project: Path, flow: Path) -> None:
    import asyncio

    from lgp_lab.server.metrics import readiness

    with _lab(project) as lab:
        wf = lab.load(str(flow))
        saver = lab.engine.call(lab.acheckpointer())
        lab.engine.call(saver.conn.close())  # the database went away
        ok, body = lab.engine.call(readiness(lab, {"echoer": wf}))
        assert not ok and body["status"] == "not ready"
        assert body["error"].startswith("database: ")
    ok, body = asyncio.run(readiness(lab, {"echoer": wf}))
    assert not ok and body["error"] == "shutting down"
