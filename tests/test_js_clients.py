"""The official JS clients against a real lgp_lab server.

- ``@langchain/langgraph-sdk`` run by node (tests/js/sdk_client.mjs): threads.create,
  runs.stream (values + updates + messages-tuple), runs.create + runs.join, joinStream
  from the first event, threads.search by graph_id, a stateless run, an interrupt
  resumed with ``command.resume``, runs.cancel, a failing node, a wrong API key.
- A React page on the SDK's ``useStream`` hook (tests/js/chat_app.jsx, bundled with
  esbuild from node_modules at test time, no CDN), served from a second origin and driven
  in headless Debian Chromium by Playwright: a streamed reply, a reload in the middle of a
  streaming run (the page rejoins it), an interrupt shown after a reload and resumed —
  with useStream's defaults and with Agent Chat UI's options (history, custom events,
  its thread list by ``threads.search``).

Every assertion was first checked against ``langgraph dev`` (langgraph-api 0.16.7): a
failure here is a difference from LangGraph's own server.

Needs node and ``npm ci --prefix tests/js`` (scripts/test.sh runs it) and, for the page,
Debian's chromium (scripts/test.sh apt-installs it); without them the tests skip.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import write

from lgp_lab import Lab
from lgp_lab.server.background import ServerHandle, start_server

JS_DIR = Path(__file__).resolve().parent / "js"
NODE = shutil.which("node")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The same flags as tests/test_jupyterlab.py: no network beyond loopback, CI friendly.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
KEY = "js-client-test-key-0123456789"

REPLY = "Hello from lgp_lab, streamed one token at a time."
STORY = "Once upon a time a graph kept streaming its story across a page reload, word by word."

# A MessagesState chat graph: a fake chat model streaming tokens (with a per-token
# latency, as a real model has, so a page can see partial replies), an interrupt, and a
# node slow enough to cancel.
CHAT_FLOW = f"""
import asyncio
import time

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import interrupt


def _replies(text):
    while True:  # a fresh message per call: a reused id would replace the earlier reply
        yield AIMessage(text)


class TokenLatencyModel(GenericFakeChatModel):
    latency: float = 0.0

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        for chunk in super()._stream(messages, stop=stop, run_manager=run_manager, **kwargs):
            yield chunk
            time.sleep(self.latency)


chat_model = TokenLatencyModel(messages=_replies({REPLY!r}), latency=0.02)
story_model = TokenLatencyModel(messages=_replies({STORY!r}), latency=0.05)


def route(state):
    text = state["messages"][-1].text.lower()
    for word in ("confirm", "story", "slow", "fail"):
        if word in text:
            return word
    return "chat"


def chat(state):
    get_stream_writer()({{"progress": "thinking"}})
    return {{"messages": [chat_model.invoke(state["messages"])]}}


def story(state):
    return {{"messages": [story_model.invoke(state["messages"])]}}


def confirm(state):
    answer = interrupt({{"question": "Ship it?"}})
    return {{"messages": [AIMessage(f"Shipped: {{answer}}")]}}


def fail(state):
    raise ValueError("the model refused: " + state["messages"][-1].text)


async def slow(state):
    await asyncio.sleep(30)  # cancelled long before
    return {{"messages": [AIMessage("too late")]}}


workflow = StateGraph(MessagesState)
for node in (chat, story, confirm, slow, fail):
    workflow.add_node(node.__name__, node)
    workflow.add_edge(node.__name__, END)
workflow.add_conditional_edges(START, route, ["chat", "story", "confirm", "slow", "fail"])
"""


def _require_node() -> str:
    if NODE is None:
        pytest.skip("node is not installed (apt-get install nodejs npm)")
    if not (JS_DIR / "node_modules" / "@langchain" / "langgraph-sdk").is_dir():
        pytest.skip("the JS packages are not installed: run `npm ci --prefix tests/js`")
    return NODE


def _configure(project: Path, cors_origins: list[str] | None = None) -> None:
    lines = ["server:", f"  api_keys: [{KEY}]", "  rate_limit_per_minute: 0"]
    if cors_origins is not None:
        lines.append(f"  cors_origins: {json.dumps(cors_origins)}")
    write(project / "config" / "experiment.yaml", "\n".join(lines) + "\n")


@pytest.fixture
def chat_flow(project: Path) -> Path:
    return write(project / "chat_flow.py", CHAT_FLOW)


def _serve(lab: Lab, flow: Path) -> ServerHandle:
    return start_server(lab, [str(flow)], host="127.0.0.1", port=0)  # stops with the Lab


def human(text: str) -> dict[str, Any]:
    """The input sdk_client.mjs sends."""
    return {"messages": [{"type": "human", "content": text}]}


def _messages(values: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["type"], m["content"]) for m in values.get("messages", [])]


def _until_end(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events before a final ``end`` (langgraph-api 0.16 sends none; the JS SDK allows one)."""
    names = [e["event"] for e in events]
    assert "end" not in names[:-1], names
    return events[:-1] if names and names[-1] == "end" else events


def _tokens(events: list[dict[str, Any]]) -> list[str]:
    """The AI message chunks of the ``messages`` (messages-tuple) events, in order."""
    return [
        e["data"][0]["content"]
        for e in events
        if e["event"] == "messages" and e["data"][0]["type"] in ("AIMessageChunk", "ai")
    ]


def _assert_sdk_output(out: dict[str, Any]) -> str:
    """What sdk_client.mjs printed, as langgraph-api answers it; returns the thread id."""
    errors = {k: v["error"] for k, v in out.items() if isinstance(v, dict) and "error" in v}
    assert set(errors) == {"wrong_key"}, json.dumps(errors, indent=1)
    assert errors["wrong_key"]["status"] in (401, 403), errors["wrong_key"]

    thread = out["create"]
    thread_id = thread["thread_id"]
    assert thread["metadata"].get("origin") == "js-sdk" and thread["status"] == "idle"

    # runs.stream: the run announced (Content-Location), then every requested mode.
    stream = out["stream"]
    assert stream["created"]["thread_id"] == thread_id, stream["created"]
    events = _until_end(stream["events"])
    names = [e["event"] for e in events]
    assert names[0] == "metadata" and events[0]["data"]["run_id"] == stream["created"]["run_id"]
    assert {"values", "updates", "messages"} <= set(names), names
    assert "error" not in names, events
    tokens = _tokens(events)
    assert len(tokens) > 1, "the chat model's tokens were not streamed one by one"
    assert "".join(tokens) == REPLY
    assert all(isinstance(e["data"][1], dict) for e in events if e["event"] == "messages")
    assert any("chat" in e["data"] for e in events if e["event"] == "updates"), names
    last_values = [e["data"] for e in events if e["event"] == "values"][-1]
    assert _messages(last_values) == [("human", "hello there"), ("ai", REPLY)]

    # runs.create in the background, then runs.join: the thread's final values.
    background = out["background"]
    assert background["run"]["thread_id"] == thread_id
    assert background["run"]["status"] in ("pending", "running", "success")
    assert _messages(background["joined"])[2:] == [("human", "second turn"), ("ai", REPLY)]
    assert background["after"]["status"] == "success"

    # A resumable background run joined from its first event (Last-Event-ID: -1).
    joined = out["join_stream"]
    events = _until_end(joined["events"])
    names = [e["event"] for e in events]
    assert names[0] == "metadata" and names[-1] == "values" and "error" not in names, names
    assert "".join(_tokens(events)) == REPLY
    last_values = events[-1]["data"]
    assert _messages(last_values)[-2:] == [("human", "hello again"), ("ai", REPLY)]
    assert joined["after"]["status"] == "success"

    # Agent Chat UI lists a graph's threads by the graph_id runs stamp in their metadata.
    assert thread_id in out["search"]
    assert _messages(out["stateless"]) == [("human", "no thread"), ("ai", REPLY)]

    # An interrupt, visible in the wait result and the state, resumed by command.
    interrupted = out["interrupt"]
    assert [i["value"] for i in interrupted["first"]["__interrupt__"]] == [{"question": "Ship it?"}]
    assert interrupted["state_next"] == ["confirm"]
    assert interrupted["state_tasks"][0]["interrupts"][0]["value"] == {"question": "Ship it?"}
    assert _messages(interrupted["resumed"])[-1] == ("ai", "Shipped: approved")

    # runs.cancel(wait=True) on a running run: interrupted, the thread free again.
    cancel = out["cancel"]
    assert cancel["before"] == "running"
    assert cancel["after"]["status"] == "interrupted", cancel["after"]
    # Not busy; langgraph-api says "interrupted" (the cancelled node is still next).
    assert cancel["thread_status"] in ("idle", "interrupted"), cancel["thread_status"]
    assert _messages(cancel["next"])[-1] == ("ai", REPLY)

    # A failing node: an `error` event naming the exception, an Error from runs.wait, the
    # thread in "error" until the next run succeeds.
    failure = out["failure"]
    events = _until_end(failure["events"])
    # (langgraph-api's message is the exception's own; ours may say which node failed.)
    assert events[-1]["event"] == "error" and events[-1]["data"]["error"] == "ValueError"
    assert events[-1]["data"]["message"].endswith("the model refused: please fail"), events[-1]
    waited = failure["waited"]["message"]
    assert waited.startswith("ValueError: ") and waited.endswith("the model refused: fail again")
    assert failure["thread_status"] == "error"
    assert _messages(failure["next"])[-1] == ("ai", REPLY)

    # As langgraph-api: "interrupted" is a cancelled run only; a run that stopped at an
    # interrupt() succeeded (its thread is the one that is interrupted).
    statuses = {
        json.dumps(r["kwargs"].get("input") or r["kwargs"].get("command")): r["status"]
        for r in out["runs"]
    }
    expected = {json.dumps(human(text)): "success" for text in ("hello there", "please confirm")}
    expected[json.dumps(human("slow please"))] = "interrupted"
    expected[json.dumps({"resume": "approved"})] = "success"
    expected[json.dumps(human("please fail"))] = "error"
    assert {k: statuses.get(k) for k in expected} == expected, statuses
    assert len(out["runs"]) == 10, statuses
    final = _messages(out["state"]["values"])
    assert ("ai", "too late") not in final
    assert final[-2:] == [("human", "recovered"), ("ai", REPLY)]
    return thread_id


# --- the JS SDK under node ----------------------------------------------------------------


def test_js_sdk_threads_stream_join_interrupt_cancel(project: Path, chat_flow: Path) -> None:
    node = _require_node()
    _configure(project)
    with Lab(root=project) as lab:
        handle = _serve(lab, chat_flow)
        graph = handle.workflows[0]
        proc = subprocess.run(
            [node, str(JS_DIR / "sdk_client.mjs"), handle.url, KEY, graph],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=90,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        thread_id = _assert_sdk_output(out)

        # The JS client's thread is the Lab's thread: it continues in-process.
        result = lab.run(graph, "in process", thread_id=thread_id)
        contents = [m.content for m in result.state["messages"]]
        assert contents[:2] == ["hello there", REPLY] and contents[-2:] == ["in process", REPLY]


# --- useStream in Chromium ----------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def page_server(tmp_path: Path) -> Iterator[str]:
    """The bundled page (esbuild, from node_modules) on its own loopback origin."""
    node = _require_node()
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed: run scripts/test.sh (it apt-installs chromium)")
    out = tmp_path / "page"
    build = subprocess.run(
        [node, str(JS_DIR / "build.mjs"), str(out)],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert build.returncode == 0, build.stderr
    handler = functools.partial(_QuietHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _drive_chat_page(
    page_url: str, api_url: str, assistant: str, shots: Path, *, agent_chat_ui: bool
) -> str:
    """Chat through the useStream page in Chromium; returns the page's thread id.

    ``agent_chat_ui``: with Agent Chat UI's useStream options (the thread's history, not
    only its state; custom events).
    """
    from playwright.sync_api import expect, sync_playwright

    query = {"api": api_url, "key": KEY, "assistant": assistant}
    if agent_chat_ui:
        query["history"] = "1"
    console: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        requests: list[str] = []
        page.on("request", lambda r: requests.append(f"{r.method} {r.url}"))
        page.set_default_timeout(20_000)
        ai = page.locator("li.message[data-type=ai]")
        human = page.locator("li.message[data-type=human]")

        def say(text: str) -> None:
            page.fill("#draft", text)
            page.click("#send")

        def saw_partial(text: str) -> str:
            return f"window.__partials.some(p => p !== {text!r} && {text!r}.startsWith(p))"

        expect.set_options(timeout=20_000)  # a shared CI machine; the default is 5 s
        try:
            page.goto(f"{page_url}/index.html?{urlencode(query)}")
            # 1. A reply streamed token by token into the page.
            say("hello there")
            expect(ai.last).to_have_text(REPLY)
            expect(page.locator("#status")).to_have_text("idle")
            assert page.evaluate(saw_partial(REPLY)), page.evaluate("window.__partials")
            thread_id = page.locator("#thread").inner_text()
            assert thread_id and f"thread={thread_id}" in page.url
            if agent_chat_ui:
                assert {"progress": "thinking"} in page.evaluate("window.__custom")

            # 2. Reload while a reply is streaming: the page shows the thread's history
            #    and rejoins the run (it went on server-side), ending on the whole reply.
            say("tell me a story")
            page.wait_for_function(saw_partial(STORY))
            page.reload()
            expect(ai.last).to_have_text(STORY)
            expect(page.locator("#status")).to_have_text("idle")
            expect(human).to_have_text(["hello there", "tell me a story"])
            expect(ai).to_have_text([REPLY, STORY])
            assert page.locator("#thread").inner_text() == thread_id
            expect(page.locator("li.thread", has_text=thread_id)).to_have_count(1)
            rejoined = [r for r in requests if re.match(r"GET .*/runs/[^/]+/stream", r)]
            assert rejoined, "the reloaded page did not rejoin the run's stream"

            # 3. An interrupt: still pending after a reload, resumed from the page.
            say("please confirm")
            expect(page.locator("#question")).to_have_text("Ship it?")
            page.reload()
            expect(page.locator("#question")).to_have_text("Ship it?")
            page.click("#approve")
            expect(ai.last).to_have_text("Shipped: approved")
            expect(page.locator("#interrupt")).to_have_count(0)
            expect(page.locator("#status")).to_have_text("idle")
            assert not page.evaluate("window.__errors")

            # 4. A failing node: useStream reports the error; the next message is answered.
            #    (Read from onError: with reconnectOnMount, useStream itself may rejoin the
            #    failed run and clear `error` again — langgraph dev alike.)
            say("please fail")
            page.wait_for_function(
                "window.__errors.some(e => e.includes('the model refused: please fail'))"
            )
            expect(page.locator("#status")).to_have_text("idle")
            say("hello once more")
            expect(ai.last).to_have_text(REPLY)
        except Exception:
            page.screenshot(path=str(shots / "failure.png"))
            print("\n".join(console))
            raise
        finally:
            expect.set_options(timeout=5_000)
            browser.close()
    return thread_id


@pytest.mark.parametrize("agent_chat_ui", [False, True], ids=["state", "agent-chat-ui"])
def test_use_stream_page_streams_survives_reload_and_resumes_interrupt(
    project: Path, chat_flow: Path, page_server: str, tmp_path: Path, agent_chat_ui: bool
) -> None:
    _configure(project, cors_origins=[page_server])
    with Lab(root=project) as lab:
        handle = _serve(lab, chat_flow)
        graph = handle.workflows[0]
        thread_id = _drive_chat_page(
            page_server, handle.url, graph, tmp_path, agent_chat_ui=agent_chat_ui
        )

        # What the page did is the thread's state on the server.
        from langgraph_sdk import get_sync_client

        client = get_sync_client(url=handle.url, api_key=KEY)
        values = client.threads.get_state(thread_id)["values"]
        assert _messages(values) == [
            ("human", "hello there"),
            ("ai", REPLY),
            ("human", "tell me a story"),
            ("ai", STORY),
            ("human", "please confirm"),
            ("ai", "Shipped: approved"),
            ("human", "please fail"),
            ("human", "hello once more"),
            ("ai", REPLY),
        ]
