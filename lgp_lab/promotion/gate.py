"""The promotion gate: every check a workflow must pass before it goes to production.

``lgp-lab check`` and ``%lgp_check`` are thin front ends over :func:`run_gate`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lgp_lab.errors import LgpError
from lgp_lab.promotion.report import CheckResult, GateReport

if TYPE_CHECKING:
    from lgp_lab.promotion.static_checks import Where

__all__ = ["DEFAULT_TARGET_ENV", "run_gate"]

DEFAULT_TARGET_ENV = "production"
_MAX_RECORDED = 5
_ASYNC_FIX = (
    "await an async twin instead (asyncio.sleep, httpx.AsyncClient, aiofiles, an async "
    "DB driver), or move the call off the loop: await asyncio.to_thread(fn, ...)"
)
_SERDE_FIX = (
    "keep only serializable values in state (str, numbers, lists, dicts, dataclasses, "
    "pydantic models, LangChain messages); keep clients, locks and files outside the state"
)


def run_gate(
    lab: Any,
    targets: Sequence[Any] | None = None,
    *,
    env: str = DEFAULT_TARGET_ENV,
    inputs: list[Any] | None = None,
    threads: Sequence[str] | None = None,
    url: str | None = None,
    api_key: str | None = None,
    timeout: float = 60.0,
    where: Where = "notebook",
    skip_database: str | None = None,
) -> GateReport:
    """Check ``targets`` for promotion to environment ``env``.

    Args:
        lab: The Lab whose workflows and threads (the notebook's) are checked.
        targets: Workflows (files, names, graph objects); default: the project's
            declared graphs, else the workflows loaded in ``lab``.
        env: The environment promoted to: its config is checked (variables, API keys,
            database) and the parity replay is served on it.
        inputs: Inputs to run each workflow with; default: the first input of the
            workflow's most recent threads (at most 5), else the workflow's default.
        threads: Notebook thread ids to replay against the served app (parity).
        url: Replay against this running server instead of serving the app privately.
        api_key: The key ``url`` requires.
        timeout: Seconds each run, import or request may take.
        where: Where the gate runs, so each fix speaks of what is there: ``notebook``
            (a kernel, or Python) or ``cli`` (``lgp-lab check``/``deploy``).
        skip_database: Why the target's database cannot be checked from here (it is a
            cluster's, reachable only inside it): the check is reported as not run, with
            this reason, instead of probing it.

    Returns:
        The report; ``report.exit_code`` is non-zero when a check failed.
    """
    from lgp_lab.config import load_config

    report = GateReport(environment=env, workflows=[])
    target_config = None
    try:
        target_config = load_config(env, lab.root)
    except LgpError as exc:
        report.add(CheckResult("config", "fail", exc.message, exc.hint or ""))
    workflows = _load_workflows(lab, targets, report)
    report.workflows = [wf.name for wf in workflows]
    for wf in workflows:
        _check_workflow(lab, wf, inputs, timeout, report, where)
    if target_config is not None:
        from lgp_lab.promotion.static_checks import (
            check_api_keys,
            check_database,
            check_env_vars,
        )

        report.add(check_env_vars(target_config))
        report.add(check_api_keys(target_config))
        if skip_database:
            report.add(CheckResult("database", "skip", f"not run: {skip_database}"))
        else:
            report.add(check_database(target_config))
    if threads:
        _check_parity(lab, list(threads), target_config, url, api_key, timeout, report)
    return report


def _load_workflows(lab: Any, targets: Sequence[Any] | None, report: GateReport) -> list[Any]:
    chosen: list[Any] = list(targets or [])
    if not chosen:
        chosen = list(lab.project_graphs()) or list(lab.workflows.values())
    if not chosen:
        report.add(CheckResult(
            "workflows", "fail", f"no workflow to check: the project at {lab.root} declares "
            "none and none is loaded", "name one: lgp-lab check workflows/flow.py",
        ))  # fmt: skip
    loaded = []
    for target in chosen:
        try:
            loaded.append(lab.load(target))
        except LgpError as exc:
            report.add(CheckResult("load", "fail", f"{target}: {exc.message}", exc.hint or ""))
    return loaded


def _check_workflow(
    lab: Any,
    wf: Any,
    inputs: list[Any] | None,
    timeout: float,
    report: GateReport,
    where: Where,
) -> None:
    from lgp_lab.promotion.probe import aprobe_runs
    from lgp_lab.promotion.static_checks import check_clean_import, check_secrets

    report.add(check_clean_import(
        wf, root=lab.root, timeout=timeout, projects=_project_files(lab, wf), where=where,
    ))  # fmt: skip
    report.add(check_secrets(wf))
    payloads, origin = _inputs_for(lab, wf, inputs)
    files = list(wf.files) or _node_files(wf.graph)
    outcome = lab.engine.call(aprobe_runs(wf.graph, payloads, files=files, timeout=timeout))
    runs = f"{outcome.runs} run(s) of {origin}"
    if importlib.util.find_spec("blockbuster") is None:
        report.add(CheckResult(
            "blocking-io", "warn", "not checked: blockbuster is not installed",
            'pip install "lgp-lab[production]"', wf.name,
        ))  # fmt: skip
    elif outcome.blocking:
        report.add(CheckResult(
            "blocking-io", "fail", f"blocking call on the event loop: {outcome.blocking[0]}"
            + (f" (+{len(outcome.blocking) - 1} more)" if len(outcome.blocking) > 1 else ""),
            _ASYNC_FIX, wf.name,
        ))  # fmt: skip
    else:
        report.add(CheckResult(
            "blocking-io", "pass", f"no blocking call on the event loop in {runs}",
            workflow=wf.name,
        ))  # fmt: skip
    failed = [f for f in outcome.serialization if f.severity == "fail"]
    warned = [f for f in outcome.serialization if f.severity == "warn"]
    if failed:
        first = failed[0]
        report.add(CheckResult(
            "serialization", "fail", f"state channel '{first.channel}' holds a "
            f"{first.type_name}, which the production checkpointer cannot serialize"
            + (f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""),
            _SERDE_FIX, wf.name,
        ))  # fmt: skip
    elif warned:
        first = warned[0]
        report.add(CheckResult(
            "serialization", "warn", f"state channel '{first.channel}' holds {first.type_name},"
            " an unregistered class LangGraph will refuse to load in a future version",
            "use a TypedDict/pydantic model from an importable module, or allow it with "
            "JsonPlusSerializer(allowed_msgpack_modules=[...])", wf.name,
        ))  # fmt: skip
    else:
        report.add(CheckResult(
            "serialization", "pass", f"every state value round-trips through "
            f"JsonPlusSerializer in {runs}", workflow=wf.name,
        ))  # fmt: skip
    if outcome.failures:
        report.add(CheckResult(
            "runs", "warn", f"{len(outcome.failures)} of {outcome.runs} run(s) failed: "
            f"{outcome.failures[0]}", "run that input with lgp-lab run --verbose and fix the "
            "node, or check with other inputs (--input)", wf.name,
        ))  # fmt: skip


def _project_files(lab: Any, wf: Any) -> list[Any]:
    """The ``langgraph.json`` files run/serve activate before importing ``wf``: the Lab's
    project, and the one that declares ``wf``'s file when that is another project."""
    from lgp_lab.runtime.project import find_project_file, read_project

    files = [lab.project.file] if getattr(lab, "project", None) is not None else []
    if wf.source is not None:
        nearest = find_project_file(wf.source.parent)
        if nearest is not None and nearest not in files:
            try:
                declared = read_project(nearest).graphs.values()
            except LgpError:
                declared = []  # not ours to report: serve would not read it either
            if any(spec.path == wf.source.resolve() for spec in declared):
                files.append(nearest)
    return files


def _inputs_for(lab: Any, wf: Any, inputs: list[Any] | None) -> tuple[list[Any], str]:
    if inputs:
        return list(inputs), "the given input(s)"
    from lgp_lab.promotion.parity import arecorded_inputs

    async def recorded() -> list[Any]:
        saver = await lab.acheckpointer()
        found = []
        for info in await lab.sessions.athreads(wf.name, limit=_MAX_RECORDED):
            first = await arecorded_inputs(saver, info.thread_id)
            if first:
                found.append(first[0])
        return found

    found = lab.engine.call(recorded())
    if found:
        return found, "recorded thread input(s)"
    return [lab.default_input(wf)], "the default input (pass --input, or run threads first)"


def _node_files(graph: Any) -> list[Any]:
    """The files defining a notebook graph's nodes (where to look for blocking calls)."""
    from pathlib import Path

    files = set()
    for node in getattr(getattr(graph, "builder", None), "nodes", {}).values():
        runnable = getattr(node, "runnable", None)
        for fn in (getattr(runnable, "afunc", None), getattr(runnable, "func", None)):
            code = getattr(fn, "__code__", None)
            if code is not None:
                files.add(Path(code.co_filename))
    return sorted(files)


def _check_parity(
    lab: Any,
    threads: list[str],
    target_config: Any,
    url: str | None,
    api_key: str | None,
    timeout: float,
    report: GateReport,
) -> None:
    from lgp_lab.promotion.parity import ReplayTarget, check_parity, served_app

    known = [t for t in threads if lab.engine.call(lab.sessions.athread(t)) is not None]
    for thread_id in threads:
        if thread_id not in known:
            report.add(CheckResult(
                "parity", "fail", f"thread {thread_id!r} has no checkpoints in "
                f"{lab.checkpoint_path}", "pass thread ids from this project's notebook "
                "(lab.sessions.threads())",
            ))  # fmt: skip
    threads = known
    if not threads:
        return
    if url:
        for result in check_parity(lab, threads, ReplayTarget(url, api_key, timeout)):
            report.add(result)
        return
    if target_config is None:
        report.add(CheckResult("parity", "fail", "not replayed: the target config is invalid",
                               "fix the config error above"))  # fmt: skip
        return
    targets = _served_targets(lab, threads)
    try:
        with served_app(target_config, targets) as served:
            served.timeout = timeout
            for result in check_parity(lab, threads, served):
                report.add(result)
    except LgpError as exc:
        report.add(CheckResult(
            "parity", "fail", f"the app could not be served on {target_config.environment}: "
            f"{exc.message}", exc.hint or "",
        ))  # fmt: skip


def _served_targets(lab: Any, threads: list[str]) -> list[Any]:
    declared = lab.project_graphs()
    names = []
    for thread_id in threads:
        info = lab.engine.call(lab.sessions.athread(thread_id))
        if info is not None and info.workflow and info.workflow not in names:
            names.append(info.workflow)
    loaded = lab.workflows
    return [
        name if name in declared or name not in loaded else loaded[name].target for name in names
    ]
