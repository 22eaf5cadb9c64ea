"""Real LangGraph programs by others run unchanged through lgp_lab, with plain LangGraph's result.

The corpus (tests/corpus/, see its README) holds doc programs and whole template projects from
langchain-ai's repositories, with only the chat models and web tools swapped for deterministic
fakes. For every program the oracle (plain LangGraph: ``ainvoke`` on an ``InMemorySaver`` and
``InMemoryStore``) and lgp_lab (``Lab``, ``lgp-lab run --json``, the HTTP API, ``%lgp_run`` in a
real kernel) make the same calls — the ones the authors' docs make — and the final states,
statuses and interrupts must be equal after normalising ids and timestamps.

The focused tests below the differential ones each pin one failure of issue 13's list.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import cli_env, run_cli

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
sys.path.insert(0, str(CORPUS_DIR))

from manifest import BY_ID, CORPUS_PROGRAMS, Call, Program  # noqa: E402
from oracle import OracleCall, normalize, run_oracle, store_items  # noqa: E402

PROGRAM_IDS = [p.id for p in CORPUS_PROGRAMS]
TEMPLATE_IDS = [p.id for p in CORPUS_PROGRAMS if p.is_project]
#: The CLI (one process per call) runs the programs where a process boundary matters: state
#: over two runs of a thread, interrupts and resumes, context/config flags, the store, the
#: ``path.py:attr`` and functional-API targets and every template. One-call programs with a
#: plain dict input are covered by Lab, HTTP and the kernel.
CLI_IDS = [
    p.id
    for p in CORPUS_PROGRAMS
    if p.is_project
    or p.stateful
    or p.store_checks
    or p.attr
    or any(c.is_resume or c.context or c.config for c in p.calls)
]


def _drop_lgp_env(mp: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("LGP_", "LANGFUSE_")):
            mp.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _no_inherited_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process Labs see no LGP_*/LANGFUSE_* settings of the developer's shell."""
    _drop_lgp_env(monkeypatch)


# ---------------------------------------------------------------------------- oracle

_ORACLE: dict[str, tuple[list[OracleCall], Any]] = {}


def oracle(program: Program) -> tuple[list[OracleCall], Any]:
    """Plain LangGraph's results for the program's calls (computed once per session)."""
    if program.id not in _ORACLE:
        _ORACLE[program.id] = run_oracle(program)
    return _ORACLE[program.id]


def oracle_store_values(program: Program) -> list[Any]:
    _, store = oracle(program)
    return [asyncio.run(store_items(store, check)) for check in program.store_checks]


def as_state(values: Any) -> Any:
    """LangGraph's ``values`` as lgp_lab reports them: a functional-API entrypoint's value
    that is not a mapping is ``{"output": value}`` (``RunResult.state`` is always a dict,
    ``result["output"]`` reads it); no value yet (interrupted before returning) is ``{}``."""
    if values is None:
        return {}
    return values if isinstance(values, dict) else {"output": values}


def expected(oc: OracleCall) -> dict[str, Any]:
    """What an lgp_lab run must report for one call."""
    return {
        "status": oc.status,
        "state": normalize(as_state(oc.values)),
        "interrupts": normalize(oc.interrupts),
    }


def observed(status: str, state: Any, interrupts: Any) -> dict[str, Any]:
    return {"status": status, "state": normalize(state), "interrupts": normalize(interrupts)}


def threads_for(program: Program, surface: str) -> dict[str, str]:
    """Unique thread ids per call label (one Lab may hold every program's threads)."""
    run = uuid.uuid4().hex[:6]
    return {c.thread: f"{program.id}-{surface}-{c.thread}-{run}" for c in program.calls}


# ---------------------------------------------------------------------------- workspaces


def copy_program(program: Program, dest: Path) -> Path:
    """Copy a program into ``dest``: a file lands beside others, a project as its folder.

    Returns the folder to run from (the project folder, or ``dest``)."""
    if program.is_project:
        target = dest / program.path.name
        shutil.copytree(program.path, target, ignore=shutil.ignore_patterns("__pycache__"))
        return target
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(program.path, dest / program.path.name)
    return dest


def target_for(program: Program) -> str:
    """How a user names the program's graph from its folder (a project's: its root)."""
    if program.is_project:
        return program.graph_id or "agent"
    name = program.path.name
    return f"{name}:{program.attr}" if program.attr else name


# ---------------------------------------------------------------------------- the oracle itself


@pytest.mark.parametrize("program_id", PROGRAM_IDS)
def test_oracle_runs_every_program(program_id: str) -> None:
    """The corpus is sound: plain LangGraph runs each program as the manifest says."""
    program = BY_ID[program_id]
    results, _ = oracle(program)
    assert [r.status == "interrupted" for r in results] == [c.interrupted for c in program.calls]
    assert oracle_store_values(program) == [normalize(c.value) for c in program.store_checks]


def test_corpus_is_big_enough_and_marked() -> None:
    """At least 12 programs by others and 2 whole template projects, each with its header."""
    assert len(CORPUS_PROGRAMS) >= 12
    assert len(TEMPLATE_IDS) >= 2
    for program in CORPUS_PROGRAMS:
        files = sorted(program.path.rglob("*.py")) if program.is_project else [program.path]
        for file in files:
            head = file.read_text(encoding="utf-8")[:600]
            assert "lgp-corpus:" in head and "licen" in head.lower(), file
            assert "commit" in head, file
        if program.is_project:
            assert (program.path / "langgraph.json").is_file()
            assert (program.path / "LICENSE").read_text().startswith("MIT License")
            assert (program.path / "src").is_dir()


# ---------------------------------------------------------------------------- Lab


def _lab_calls(lab: Any, program: Program, target: str, threads: dict[str, str]) -> list[Any]:
    out = []
    for call in program.calls:
        kwargs: dict[str, Any] = {"thread_id": threads[call.thread]}
        if call.context is not None:
            kwargs["context"] = call.context
        if call.config is not None:
            kwargs["config"] = call.config
        if call.is_resume:
            out.append(lab.run(target, resume=call.resume, **kwargs))
        else:
            out.append(lab.run(target, call.in_process_input, **kwargs))
    return out


def _assert_matches(program: Program, got: list[dict[str, Any]], where: str) -> None:
    results, _ = oracle(program)
    want = [expected(r) for r in results]
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, f"{program.id} call {i + 1} via {where}: {program.calls[i]}"


def _lab_store_values(lab: Any, program: Program) -> list[Any]:
    store = lab.store
    return [lab.engine.call(store_items(store, check)) for check in program.store_checks]


@pytest.mark.parametrize("program_id", PROGRAM_IDS)
def test_lab_equals_langgraph(
    program_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Lab.run`` with the authors' inputs, context, config and resumes = plain LangGraph."""
    from lgp_lab import Lab

    program = BY_ID[program_id]
    where = copy_program(program, tmp_path / "work")
    monkeypatch.chdir(where)
    with Lab(root=where) as lab:
        results = _lab_calls(lab, program, target_for(program), threads_for(program, "lab"))
        _assert_matches(
            program, [observed(r.status, r.state, r.interrupts) for r in results], "Lab"
        )
        assert _lab_store_values(lab, program) == oracle_store_values(program)


# ---------------------------------------------------------------------------- CLI


def _cli_call(call: Call, target: str, thread: str, cwd: Path) -> dict[str, Any]:
    args = ["run", target, "--thread", thread, "--json"]
    if call.is_resume:
        args += ["--resume", json.dumps(call.resume)]
    else:
        args += ["--input", json.dumps(call.input)]
    if call.context is not None:
        args += ["--context", json.dumps(call.context)]
    if call.config is not None:
        args += ["--config", json.dumps(call.config)]
    proc = run_cli(*args, cwd=cwd, timeout=90)
    assert proc.returncode == 0, f"lgp-lab {shlex.join(args)}\n{proc.stdout}\n{proc.stderr}"
    try:  # exactly one JSON document on stdout, whatever the nodes print
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"stdout of lgp-lab {shlex.join(args)} is not one JSON document:\n{proc.stdout}"
        )


@pytest.mark.slow
@pytest.mark.parametrize("program_id", CLI_IDS)
def test_cli_equals_langgraph(
    program_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``lgp-lab run TARGET --input --context --config --thread --json``, call after call (one
    process each, so thread state and the store persist across processes) = plain LangGraph."""
    from lgp_lab import Lab

    program = BY_ID[program_id]
    where = copy_program(program, tmp_path / "work")
    monkeypatch.chdir(where)
    threads = threads_for(program, "cli")
    target = target_for(program)
    docs = [_cli_call(c, target, threads[c.thread], where) for c in program.calls]
    for doc, call in zip(docs, program.calls, strict=True):
        assert doc["thread_id"] == threads[call.thread]
    _assert_matches(
        program, [observed(d["status"], d["result"], d["interrupts"]) for d in docs], "CLI"
    )
    with Lab(root=where) as lab:  # what the CLI processes stored, seen from a new process
        assert _lab_store_values(lab, program) == oracle_store_values(program)


@pytest.mark.slow
@pytest.mark.parametrize("program_id", TEMPLATE_IDS)
def test_cli_runs_langgraph_json_targets(program_id: str, tmp_path: Path) -> None:
    """In a template project: ``lgp-lab run langgraph.json``, ``run ./langgraph.json`` and, from
    outside, ``run path/to/langgraph.json`` all run the project's graph like ``run agent``."""
    program = BY_ID[program_id]
    first = program.calls[0]
    want = expected(oracle(program)[0][0])
    for i, (target, inside) in enumerate(
        (("langgraph.json", True), ("./langgraph.json", True), ("langgraph.json", False))
    ):
        # A fresh copy each time: a store-using template must start from an empty store.
        outside = tmp_path / f"v{i}"
        where = copy_program(program, outside / "work")
        if not inside:
            target = str(where / "langgraph.json")
        cwd = where if inside else outside
        doc = _cli_call(first, target, f"json-{uuid.uuid4().hex[:8]}", cwd)
        assert observed(doc["status"], doc["result"], doc["interrupts"]) == want, target


# ---------------------------------------------------------------------------- HTTP


def _sse_events(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        events.append((name, json.loads("\n".join(data)) if data else None))
    return events


class _Served:
    """One Lab with a real uvicorn on 127.0.0.1 and an httpx client."""

    def __init__(self, root: Path, targets: list[str] | None) -> None:
        from lgp_lab import Lab
        from lgp_lab.server.background import start_server

        self.lab = Lab(root=root)
        try:
            self.handle = start_server(self.lab, targets, host="127.0.0.1", port=0)
        except BaseException:
            self.lab.close()
            raise
        self.client = httpx.Client(base_url=self.handle.url, timeout=60)

    def close(self) -> None:
        self.client.close()
        self.handle.stop()
        self.lab.close()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One server for every doc program (served by file), one per template project (served
    with no targets: every graph of its langgraph.json, as ``lgp-lab serve`` does)."""
    root = tmp_path_factory.mktemp("served")
    programs = root / "programs"
    started: dict[str, Any] = {}
    old_cwd = os.getcwd()
    mp = pytest.MonkeyPatch()
    _drop_lgp_env(mp)
    try:
        files = [p for p in CORPUS_PROGRAMS if not p.is_project]
        for p in files:
            copy_program(p, programs)
        os.chdir(programs)
        shared = None
        try:
            shared = _Served(programs, [p.path.name if not p.attr else f"{p.path.name}:{p.attr}"
                                        for p in files])  # fmt: skip
        except Exception as exc:  # reported per program below
            shared = exc
        for p in files:
            started[p.id] = shared
        for p in CORPUS_PROGRAMS:
            if p.is_project:
                where = copy_program(p, root / p.id)
                os.chdir(where)
                try:
                    started[p.id] = _Served(where, None)
                except Exception as exc:
                    started[p.id] = exc
        yield started
    finally:
        os.chdir(old_cwd)
        for served in {id(s): s for s in started.values()}.values():
            if isinstance(served, _Served):
                served.close()
        mp.undo()


def _wipe_store(lab: Any, program: Program) -> None:
    """Delete what the invoked pass stored under the program's checked namespaces."""
    store = lab.store

    async def wipe() -> None:
        for check in program.store_checks:
            for item in await store.asearch(check.namespace, limit=1000):
                await store.adelete(item.namespace, item.key)

    lab.engine.call(wipe())


def _served_name(program: Program, served: _Served) -> str:
    if program.is_project:
        return program.graph_id or "agent"
    names = served.handle.workflows
    stem = program.path.stem
    assert stem in names, f"{program.path.name} is not served as {stem!r}: {names}"
    return stem


def _body(call: Call, thread: str) -> dict[str, Any]:
    body: dict[str, Any] = {"thread_id": thread}
    if call.is_resume:
        body["resume"] = call.resume
    else:
        body["input"] = call.input
    if call.context is not None:
        body["context"] = call.context
    if call.config is not None:
        body["config"] = call.config
    return body


@pytest.mark.parametrize("program_id", PROGRAM_IDS)
def test_http_equals_langgraph(program_id: str, servers: dict[str, Any]) -> None:
    """``POST /workflows/{name}/invoke`` and ``/stream`` with the authors' calls = plain
    LangGraph; ``GET /sessions/{thread}`` shows the thread's status and pending interrupts."""
    program = BY_ID[program_id]
    served = servers[program.id]
    if isinstance(served, Exception):
        pytest.fail(f"serving {program.id} failed: {served!r}")
    name = _served_name(program, served)
    api = served.client

    invoked, streamed = threads_for(program, "invoke"), threads_for(program, "stream")
    got_invoke, got_stream = [], []
    for i, call in enumerate(program.calls):
        r = api.post(f"/workflows/{name}/invoke", json=_body(call, invoked[call.thread]))
        assert r.status_code == 200, f"call {i + 1}: {r.status_code} {r.text}"
        doc = r.json()
        got_invoke.append(observed(doc["status"], doc["result"], doc["interrupts"]))

        session = api.get(f"/sessions/{invoked[call.thread]}")
        assert session.status_code == 200, session.text
        info = session.json()
        want = expected(oracle(program)[0][i])
        assert info["status"] == ("interrupted" if call.interrupted else "idle"), info
        pending = [i["value"] if isinstance(i, dict) and "value" in i else i
                   for i in info["interrupts"]]  # fmt: skip
        assert normalize(pending) == want["interrupts"], info
        assert normalize(info["latest_state"]) == want["state"]
    if program.store_checks:
        assert _lab_store_values(served.lab, program) == oracle_store_values(program)
        # The streamed pass must start from the same (empty) store as the oracle did.
        _wipe_store(served.lab, program)
    for i, call in enumerate(program.calls):
        r = api.post(f"/workflows/{name}/stream", json=_body(call, streamed[call.thread]))
        assert r.status_code == 200, f"call {i + 1}: {r.status_code} {r.text}"
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _sse_events(r.text)
        kinds = [e for e, _ in events]
        assert kinds[0] == "metadata" and kinds[-1] == "end", kinds
        assert "updates" in kinds, kinds  # every call runs at least one node or task
        end = events[-1][1]
        got_stream.append(observed(end["status"], end["result"], end["interrupts"]))
    _assert_matches(program, got_invoke, "HTTP invoke")
    _assert_matches(program, got_stream, "HTTP stream")
    assert _lab_store_values(served.lab, program) == oracle_store_values(program)


# ---------------------------------------------------------------------------- kernel


class _Kernel:
    """One real IPython kernel (jupyter_client) with ``%load_ext lgp_lab`` done."""

    def __init__(self, cwd: Path) -> None:
        from jupyter_client.manager import start_new_kernel

        env = {k: v for k, v in cli_env().items() if k != "PYTHONUNBUFFERED"}
        self.km, self.kc = start_new_kernel(kernel_name="python3", cwd=str(cwd), env=env)
        self.execute("%load_ext lgp_lab\nimport json\nfrom lgp_lab.jsonable import to_jsonable")

    def execute(self, code: str, timeout: float = 90) -> str:
        """Run a cell; return its stdout, or raise with the kernel's traceback."""
        out: list[str] = []
        errors: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            kind, content = msg["header"]["msg_type"], msg["content"]
            if kind == "stream" and content.get("name") == "stdout":
                out.append(content["text"])
            elif kind == "error":
                errors.append("\n".join(content.get("traceback", [])) or content.get("evalue", ""))

        reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=hook)
        if reply["content"]["status"] != "ok" or errors:
            raise AssertionError(f"kernel cell failed:\n{code}\n{''.join(errors)}")
        return "".join(out)

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[_Kernel, Path]]:
    """ONE kernel for the whole corpus, its cwd a folder holding every program and project."""
    root = tmp_path_factory.mktemp("kernel")
    for p in CORPUS_PROGRAMS:
        copy_program(p, root / "projects" if p.is_project else root)
    k = _Kernel(root)
    try:
        yield k, root
    finally:
        with contextlib.suppress(Exception):
            k.close()


_MARK = "LGP-CORPUS-RESULT:"


@pytest.mark.slow
@pytest.mark.parametrize("program_id", PROGRAM_IDS)
def test_kernel_equals_langgraph(program_id: str, kernel: tuple[_Kernel, Path]) -> None:
    """``%lgp_run TARGET --input --context --config --thread`` in a real kernel = LangGraph."""
    k, _ = kernel
    program = BY_ID[program_id]
    if program.is_project:
        target = f"projects/{program.path.name}/langgraph.json"
    else:
        target = target_for(program)
    threads = threads_for(program, "kernel")
    got = []
    for call in program.calls:
        args = [target, "--thread", threads[call.thread], "-q"]
        if call.is_resume:
            args += ["--resume", json.dumps(call.resume)]
        else:
            args += ["--input", json.dumps(call.input)]
        if call.context is not None:
            args += ["--context", json.dumps(call.context)]
        if call.config is not None:
            args += ["--config", json.dumps(call.config)]
        text = k.execute(
            f"r = %lgp_run {shlex.join(args)}\n"
            f"print({_MARK!r} + json.dumps({{'status': r.status, 'state': to_jsonable(r.state),"
            f" 'interrupts': to_jsonable(r.interrupts)}}))"
        )
        line = next(x for x in text.splitlines() if x.startswith(_MARK))
        doc = json.loads(line[len(_MARK) :])
        got.append(observed(doc["status"], doc["state"], doc["interrupts"]))
    _assert_matches(program, got, "%lgp_run")
    if program.store_checks:  # what the runs stored, read from the kernel's own Lab
        checks = [
            {"namespace": list(c.namespace), "key": c.key, "field": c.field}
            for c in program.store_checks
        ]
        text = k.execute(
            "import sys\n"
            f"sys.path.insert(0, {str(CORPUS_DIR)!r})\n"
            "from manifest import StoreCheck\n"
            "from oracle import store_items\n"
            "from lgp_lab import get_lab\n"
            "_lab = get_lab()\n"
            f"_got = [_lab.engine.call(store_items(_lab.store, StoreCheck(tuple(c['namespace']),"
            f" c['key'], field=c['field']))) for c in {checks!r}]\n"
            f"print({_MARK!r} + json.dumps(_got))"
        )
        line = next(x for x in text.splitlines() if x.startswith(_MARK))
        assert json.loads(line[len(_MARK) :]) == oracle_store_values(program)


# ---------------------------------------------------------------------------- issue 13's list
# Each test pins one failure seen before this issue (they fail on commit f21918b).


def graph_object(program: Program) -> Any:
    """The program's graph object, imported fresh (as a notebook cell would define it)."""
    from oracle import _importable, graph_of, load_program_module

    with _importable(program):
        return graph_of(program, load_program_module(program))


def _lab_for(program: Program, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from lgp_lab import Lab

    where = copy_program(program, tmp_path / "work")
    monkeypatch.chdir(where)
    return Lab(root=where), where


def test_graph_named_graph_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """1. A file whose graph is called ``graph`` (every template) runs; with a child graph
    beside it (``subgraph``), the parent ``graph`` is the one run."""
    lab, _ = _lab_for(BY_ID["subgraph_shared_keys"], tmp_path, monkeypatch)
    with lab:
        assert lab.run("subgraph_shared_keys.py", {"foo": "foo"}).state == {"foo": "hi! foobar"}


def test_path_attr_target_and_ambiguity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """1. ``path.py:attr`` picks a graph; a module with several graph-like objects and none
    named workflow/graph/app is refused with every candidate named."""
    from lgp_lab.errors import LgpError

    lab, _ = _lab_for(BY_ID["subgraph_nested"], tmp_path, monkeypatch)
    with lab:
        r = lab.run("subgraph_nested.py:parent_graph", {"my_key": "Bob"})
        assert r.state == {"my_key": "hi Bob, how are you today? bye!"}
        with pytest.raises(LgpError) as err:
            lab.load("subgraph_nested.py")
        message = str(err.value)
        for name in ("parent_graph", "child_graph", "grandchild_graph"):
            assert name in message, message


def test_only_graph_in_module_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """1/8. ``agent = create_react_agent(...)`` and ``@entrypoint def accumulate``: the only
    graph-like object of the module is run, whatever its name."""
    lab, where = _lab_for(BY_ID["react_agent_memory"], tmp_path, monkeypatch)
    copy_program(BY_ID["functional_accumulate"], where)
    with lab:
        r = lab.run("react_agent_memory.py", {"messages": [{"role": "user", "content": "sf?"}]})
        assert r.status == "complete" and r.state["messages"][-1].content.startswith("It's")
        assert lab.run("functional_accumulate.py", 5, thread_id="acc").state == {"output": 0}


@pytest.mark.slow
def test_langgraph_json_id_src_layout_and_serve(tmp_path: Path) -> None:
    """2. In the react-agent template: ``lgp-lab run agent`` imports ``react_agent`` from src/
    (not pip-installed), and ``serve`` with no argument serves the langgraph.json graphs."""
    from lgp_lab import Lab
    from lgp_lab.server.background import start_server

    program = BY_ID["react_agent_template"]
    where = copy_program(program, tmp_path / "work")
    proc = run_cli("run", "agent", "--input", "hi", "--json", cwd=where)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["workflow"] == "agent" and doc["status"] == "complete"
    assert doc["result"]["messages"][0]["content"] == "hi"
    assert "pip install react_agent" not in proc.stderr

    old = os.getcwd()
    os.chdir(where)
    try:
        with Lab(root=where) as lab:
            assert set(lab.project_graphs()) == {"agent"}
            handle = start_server(lab, None, host="127.0.0.1", port=0)
            try:
                health = httpx.get(f"{handle.url}/health", timeout=30).json()
                assert health["workflows"] == ["agent"]
            finally:
                handle.stop()
    finally:
        os.chdir(old)


CHAT_INPUTS = [
    {"messages": [{"role": "user", "content": "hi"}]},
    {"messages": [{"type": "human", "content": "hi"}]},
    {"messages": [("user", "hi")]},
    {"messages": [["user", "hi"]]},
    {"messages": ["hi"]},
    {"messages": "hi"},
]


@pytest.mark.parametrize("program_id", ["chatbot", "runtime_model_choice", "react_agent_memory"])
@pytest.mark.parametrize("chat_input", CHAT_INPUTS, ids=lambda v: type(v["messages"]).__name__
                         + ":" + (repr(v["messages"][0])[:12] if isinstance(v["messages"], list)
                                  else "str"))  # fmt: skip
def test_chat_inputs_as_langgraph_takes_them(
    program_id: str, chat_input: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """3. Chat input as dicts (role/type), tuples, lists, strings: what ``add_messages``
    accepts, lgp_lab accepts, with the same final state. (The graph object is the target, as
    in a notebook, so only the input handling is under test.)"""
    from langgraph.checkpoint.memory import InMemorySaver

    program = BY_ID[program_id]
    graph = graph_object(program).copy(update={"checkpointer": InMemorySaver()})
    config = {"configurable": {"thread_id": "o"}}
    kwargs = (
        {"context": {"model_provider": "openai"}} if program_id == "runtime_model_choice" else {}
    )
    asyncio.run(graph.ainvoke(chat_input, config, **kwargs))
    want = normalize(graph.get_state(config).values)

    lab, _ = _lab_for(program, tmp_path, monkeypatch)
    with lab:
        r = lab.run(graph_object(program), chat_input, **kwargs)
        assert normalize(r.state) == want


@pytest.mark.parametrize("program_id", ["chatbot", "react_agent_template"])
def test_plain_text_input_is_a_user_message(
    program_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """3/11. ``--input hi`` (plain text) on a graph with a ``messages`` channel is a user
    message: the same state as LangGraph given ``{"messages": [("user", "hi")]}``."""
    program = BY_ID[program_id]
    where = copy_program(program, tmp_path / "work")
    target = target_for(program)
    proc = run_cli("run", target, "--input", "hi", "--json", cwd=where)
    assert proc.returncode == 0, proc.stderr
    messages = json.loads(proc.stdout)["result"]["messages"]
    assert normalize(messages[0]) == {"type": "human", "content": "hi"}
    assert normalize(messages[-1])["type"] == "ai"


@pytest.mark.parametrize(
    ("program_id", "partial"),
    [
        ("map_reduce", {"topic": "animals"}),
        ("new_langgraph_project", {}),
        ("approve_or_reject", {}),
        ("prompt_chaining", {"topic": "cats"}),
    ],
)
def test_partial_inputs(
    program_id: str, partial: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """4. Partial inputs (the normal way to invoke LangGraph) are not refused."""
    program = BY_ID[program_id]
    lab, _ = _lab_for(program, tmp_path, monkeypatch)
    with lab:
        r = lab.run(graph_object(program), partial)
        assert r.status in ("complete", "interrupted")
        if program_id == "map_reduce":
            assert len(r.state["jokes"]) == 3 and r.state["best_selected_joke"] == "penguins"
        if program_id == "new_langgraph_project":
            assert r.state == {"changeme": "output from call_model. Configured with None"}


def test_context_reaches_runtime_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """5. ``context`` reaches ``runtime.context`` (TypedDict and dataclass schemas), from Lab
    and from the CLI; a dataclass schema with defaults works with ``{}``."""
    lab, where = _lab_for(BY_ID["runtime_context"], tmp_path, monkeypatch)
    copy_program(BY_ID["runtime_model_choice"], where)
    with lab:
        assert lab.run("runtime_context.py", {}, context={"my_runtime_value": "b"}).state == {
            "my_state_value": 2
        }
        r = lab.run("runtime_model_choice.py", "hi", context={})
        assert r.state["messages"][-1].content == "anthropic answers 'hi' (system: none)"
    proc = run_cli(
        "run", "runtime_context.py", "--input", "{}", "--context",
        '{"my_runtime_value": "a"}', "--json", cwd=where,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["result"] == {"my_state_value": 1}


def test_configurable_values_reach_nodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """6. ``config={"configurable": {...}}`` reaches prompts and tools (user_name, user_id)."""
    lab, _ = _lab_for(BY_ID["react_agent_dynamic_prompt"], tmp_path, monkeypatch)
    with lab:
        r = lab.run(
            "react_agent_dynamic_prompt.py",
            {"messages": [{"role": "user", "content": "what is the weather in sf"}]},
            config={"configurable": {"user_name": "Ada"}},
        )
        assert r.state["messages"][-1].content.endswith("Address the user as Ada.)")


@pytest.mark.slow
def test_store_persists_across_processes(tmp_path: Path) -> None:
    """7. ``get_store()`` in a tool writes to the project's SQLite store: a second process
    (a new Lab) reads the item; the functional API's ``store`` parameter sees it across
    threads."""
    from lgp_lab import Lab

    program = BY_ID["react_agent_store_tool"]
    where = copy_program(program, tmp_path / "work")
    proc = run_cli(
        "run", "react_agent_store_tool.py", "--input", "My name is Grace Hopper",
        "--config", '{"configurable": {"user_id": "u-7"}}', "--json", cwd=where,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with Lab(root=where) as lab:
        item = lab.engine.call(lab.store.aget(("users",), "u-7"))
        assert item is not None and item.value == {"name": "Grace Hopper"}


def test_functional_api_with_interrupt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """8. An ``@entrypoint`` graph with ``@task``s runs, stops at ``interrupt`` and resumes."""
    lab, _ = _lab_for(BY_ID["functional_hitl"], tmp_path, monkeypatch)
    with lab:
        first = lab.run("functional_hitl.py", "foo", thread_id="f1")
        assert first.status == "interrupted"
        assert normalize(first.interrupts) == ["Please provide feedback: foo bar"]
        done = lab.run("functional_hitl.py", resume="baz", thread_id="f1")
        assert done.status == "complete"
        assert done.state == {"output": "foo bar baz qux"}


def test_three_graph_py_files_do_not_shadow_each_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """9. Three ``graph.py`` files served together were all ``graph`` and only the last was
    reachable. Now the clash names both paths, and either serving is refused or every file
    is served under its own name, each running its own graph."""
    from lgp_lab import Lab
    from lgp_lab.errors import LgpError
    from lgp_lab.server.background import start_server

    root = tmp_path / "three"
    sources = {"a": "chatbot", "b": "map_reduce", "c": "pydantic_state"}
    for folder, program_id in sources.items():
        (root / folder).mkdir(parents=True)
        shutil.copy2(BY_ID[program_id].path, root / folder / "graph.py")
    monkeypatch.chdir(root)
    with Lab(root=root) as lab:
        try:
            handle = start_server(lab, [f"{f}/graph.py" for f in sources], port=0)
        except LgpError as exc:
            message = str(exc).replace(os.sep, "/")
            assert "a/graph.py" in message and "b/graph.py" in message, message
            return
        try:
            names = handle.workflows
            assert len(set(names)) == 3, names
            said = capsys.readouterr().err.replace(os.sep, "/")
            assert "a/graph.py" in said and "b/graph.py" in said, said
            inputs = [{"messages": "hi"}, {"topic": "animals"}, {"a": "hello"}]
            keys = [{"messages"}, {"topic", "subjects", "jokes", "best_selected_joke"}, {"a"}]
            for name, body, want in zip(names, inputs, keys, strict=True):
                r = httpx.post(f"{handle.url}/workflows/{name}/invoke", json={"input": body})
                assert r.status_code == 200, r.text
                assert set(r.json()["result"]) == want, name
        finally:
            handle.stop()


@pytest.mark.slow
def test_json_stdout_is_one_document(tmp_path: Path) -> None:
    """10. ``--json``: node ``print()`` goes to stderr; an interrupted run is ONE document with
    ``status: interrupted`` and its interrupts."""
    program = BY_ID["approve_or_reject"]
    where = copy_program(program, tmp_path / "work")
    first = run_cli("run", "approve_or_reject.py", "--input", "{}", "--thread", "j1", "--json",
                    cwd=where)  # fmt: skip
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert doc["status"] == "interrupted"
    assert doc["interrupts"] == [
        {"question": "Do you approve the following output?",
         "llm_output": "This is the generated output."}
    ]  # fmt: skip
    second = run_cli("run", "approve_or_reject.py", "--resume", '"approve"', "--thread", "j1",
                     "--json", cwd=where)  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["result"]["decision"] == "approved"
    assert "Approved path taken" in second.stderr and "Approved" not in second.stdout


@pytest.mark.parametrize("program_id", ["chatbot", "map_reduce", "new_langgraph_project",
                                        "react_agent_template", "pydantic_state"])  # fmt: skip
def test_default_input_fits_the_graph(
    program_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """11. With no input on a new thread, lgp_lab picks an input that fits the graph (not
    ``{"input": "test"}``), and the run completes."""
    program = BY_ID[program_id]
    lab, _ = _lab_for(program, tmp_path, monkeypatch)
    with lab:
        r = lab.run(target_for(program))
        assert r.status == "complete"
        assert "input" not in r.state


@pytest.mark.slow
def test_langgraph_json_env_file_without_overriding_the_shell(tmp_path: Path) -> None:
    """2. langgraph.json's ``"env": ".env"`` is loaded (the react-agent template reads MODEL
    from the environment in its Context), and a variable set in the real environment wins."""
    program = BY_ID["react_agent_template"]
    where = copy_program(program, tmp_path / "work")
    (where / ".env").write_text("MODEL=fake/from-dotenv\n", encoding="utf-8")
    args = ("run", "agent", "--input", "hi", "--json")
    proc = run_cli(*args, cwd=where)
    assert proc.returncode == 0, proc.stderr
    last = json.loads(proc.stdout)["result"]["messages"][-1]["content"]
    assert last.startswith("[fake/from-dotenv] "), last
    proc = run_cli(*args, cwd=where, env=cli_env(MODEL="fake/from-shell"))
    assert proc.returncode == 0, proc.stderr
    last = json.loads(proc.stdout)["result"]["messages"][-1]["content"]
    assert last.startswith("[fake/from-shell] "), last


def test_bad_inputs_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """3. The docs' own invalid input (``{"a": 123}`` on the pydantic state) is a clear
    WorkflowInputError naming the key, not a traceback; an unknown top-level key is named
    (LangGraph would drop it silently) only when the state has no such channel."""
    from lgp_lab.errors import WorkflowInputError

    lab, where = _lab_for(BY_ID["pydantic_state"], tmp_path, monkeypatch)
    copy_program(BY_ID["map_reduce"], where)
    with lab:
        with pytest.raises(WorkflowInputError) as err:
            lab.run("pydantic_state.py", {"a": 123})
        message = str(err.value)
        assert "123" in message and "string" in message, message
        # The key exists, its type is wrong: the fix must not suggest an `input` key that
        # this state does not have.
        assert '{"input"' not in message, message
        with pytest.raises(WorkflowInputError) as err:
            lab.run("map_reduce.py", {"topik": "animals"})
        assert "topik" in str(err.value)
        # `subject` is no key of OverallState, `jokes` is: a partial input with a real key runs.
        r = lab.run("map_reduce.py", {"topic": "animals", "jokes": ["Knock knock."]})
        assert r.state["jokes"][0] == "Knock knock." and len(r.state["jokes"]) == 4
