"""Parity replay: a notebook thread's inputs, replayed against the served app over HTTP,
must end in the same state as the thread did.

Without a URL the gate serves the workflows itself the way production would: a private
Lab on the target environment's config (a temporary SQLite file, a generated API key),
behind a real uvicorn on 127.0.0.1, so the replay goes through the same HTTP API,
serialization and loading as a deployment.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import tempfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lgp_lab.promotion.report import CheckResult

__all__ = ["ReplayTarget", "arecorded_inputs", "check_parity", "normalize_state", "served_app"]

_VOLATILE_KEYS = {"id", "run_id", "trace_id", "checkpoint_id"}


@dataclass
class ReplayTarget:
    """Where to replay: a base URL and the API key to send (``None``: open API)."""

    url: str
    api_key: str | None = None
    timeout: float = 60.0


async def arecorded_inputs(saver: Any, thread_id: str) -> list[Any]:
    """The inputs the runs of ``thread_id`` were given, oldest first.

    LangGraph writes each run's input as an ``input`` checkpoint whose ``__start__``
    channel holds it; a run resumed with ``Command(resume=...)`` writes none.
    """
    config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    found = []
    async for item in saver.alist(config):
        meta = item.metadata or {}
        values = item.checkpoint.get("channel_values", {})
        if meta.get("source") == "input" and "__start__" in values:
            found.append((meta.get("step", 0), values["__start__"]))
    return [value for _step, value in sorted(found, key=lambda pair: pair[0])]


def normalize_state(value: Any) -> Any:
    """JSON data with the values that differ run to run by design (message and run ids)
    dropped, so two runs of the same program compare equal."""
    from lgp_lab.jsonable import to_jsonable

    def strip(item: Any) -> Any:
        if isinstance(item, dict):
            return {k: strip(v) for k, v in item.items() if k not in _VOLATILE_KEYS}
        if isinstance(item, list):
            return [strip(v) for v in item]
        return item

    return strip(json.loads(json.dumps(to_jsonable(value), default=str)))


def check_parity(lab: Any, thread_ids: list[str], target: ReplayTarget) -> list[CheckResult]:
    """Replay each thread's inputs on a new thread at ``target`` and compare final states."""
    results = []
    for thread_id in thread_ids:
        results.append(_check_thread(lab, thread_id, target))
    return results


def _check_thread(lab: Any, thread_id: str, target: ReplayTarget) -> CheckResult:
    info = lab.engine.call(lab.sessions.athread(thread_id))
    if info is None:
        return CheckResult(
            "parity", "fail", f"thread {thread_id!r} has no checkpoints in {lab.checkpoint_path}",
            "pass thread ids from this project's notebook (lab.sessions.threads())",
        )  # fmt: skip
    workflow = info.workflow or "?"
    saver = lab.engine.call(lab.acheckpointer())
    inputs = lab.engine.call(arecorded_inputs(saver, thread_id))
    if not inputs:
        return CheckResult(
            "parity", "warn", f"thread {thread_id!r} has no recorded input to replay",
            "pick a thread started with an input", workflow,
        )  # fmt: skip
    expected = normalize_state(lab.engine.call(lab.sessions.astate(thread_id)))
    replay_thread = f"parity-{uuid.uuid4().hex[:10]}"
    got: Any = None
    for index, payload in enumerate(inputs, 1):
        status, body = _post(
            target, f"/workflows/{workflow}/invoke", {"input": _jsonable(payload),
                                                      "thread_id": replay_thread},
        )  # fmt: skip
        if status != 200:
            error = body.get("error") if isinstance(body, dict) else body
            return CheckResult(
                "parity", "fail", f"thread {thread_id!r}: input {index}/{len(inputs)} "
                f"failed on the served app (HTTP {status}: {error})",
                _http_fix(status, target), workflow,
            )  # fmt: skip
        got = body.get("result") if isinstance(body, dict) else None
    actual = normalize_state(got)
    if actual == expected:
        return CheckResult(
            "parity", "pass", f"thread {thread_id!r}: {len(inputs)} input(s) replayed over "
            "HTTP reach the same final state", workflow=workflow,
        )  # fmt: skip
    return CheckResult(
        "parity", "fail", f"thread {thread_id!r}: the served app ends in a different state "
        f"({_first_difference(expected, actual)})",
        "the notebook thread ran other code or data than the files being deployed: "
        "re-run the thread on the current files, or find what the kernel had "
        "(a variable, an env var, an edited module) that the files do not", workflow,
    )  # fmt: skip


def _http_fix(status: int, target: ReplayTarget) -> str:
    if status == 0:
        return f"start the server at {target.url}, or pass the right --url"
    if status in (401, 403):
        return "pass the server's API key with --api-key (or LGP_CHECK_API_KEY)"
    if status == 404:
        return "serve this workflow there (lgp-lab serve WORKFLOW), or check --url"
    return (
        "run the same input with `lgp-lab run` in the target environment and fix what "
        "differs from the notebook"
    )


def _first_difference(expected: Any, actual: Any, path: str = "state") -> str:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual), key=str):
            if key not in actual:
                return f"{path}.{key} missing on the served app"
            if key not in expected:
                return f"{path}.{key} only on the served app"
            if expected[key] != actual[key]:
                return _first_difference(expected[key], actual[key], f"{path}.{key}")
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (a, b) in enumerate(zip(expected, actual, strict=True)):
            if a != b:
                return _first_difference(a, b, f"{path}[{index}]")
    return f"{path}: notebook {_short(expected)} vs served {_short(actual)}"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _jsonable(value: Any) -> Any:
    from lgp_lab.jsonable import to_jsonable

    return to_jsonable(value)


def _post(target: ReplayTarget, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if target.api_key:
        headers["Authorization"] = f"Bearer {target.api_key}"
    request = urllib.request.Request(
        target.url.rstrip("/") + path, data=json.dumps(body).encode(), headers=headers,
        method="POST",
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=target.timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode(errors="replace")
    except (urllib.error.URLError, OSError) as exc:
        return 0, {"error": f"cannot reach {target.url}: {exc}"}


@contextlib.contextmanager
def served_app(config: Any, targets: list[Any]) -> Iterator[ReplayTarget]:
    """Serve ``targets`` from a private Lab on ``config`` (a copy pointed at a temporary
    SQLite file, with a generated API key) on a free loopback port."""
    from lgp_lab.lab import Lab
    from lgp_lab.server.background import start_server

    private = config.model_copy(deep=True)  # keeps root, source and missing_env
    key = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="lgp-parity-") as tmp:
        from lgp_lab.config import CheckpointConfig

        # Never the target's own database: a fresh file (the serializer is the same).
        private.checkpoint = CheckpointConfig(path=str(Path(tmp) / "parity.sqlite"))
        private.server.api_key, private.server.api_keys = key, []
        private.server.rate_limit_per_minute = 0
        private.observability.langfuse.enabled = False
        private.observability.console = False
        with Lab(config=private, console=False) as lab:
            handle = start_server(lab, targets, host="127.0.0.1", port=0)
            try:
                yield ReplayTarget(handle.url, key)
            finally:
                handle.stop()
