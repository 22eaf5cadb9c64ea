"""The LangGraph Agent Server API: the routes the official clients call.

``langgraph_sdk`` (Python and JS), ``RemoteGraph``, Agent Chat UI and ``useStream`` speak
this API; serving it makes ``lgp-lab serve`` and ``%lgp_serve`` a server for them, on the
same live workflows and threads as the notebook. Routes are thin: threads live in
:mod:`lgp_lab.runtime.threads`, runs in :mod:`lgp_lab.runtime.runs`, state reads and
writes go to the workflow's own compiled graph.

Errors are JSON ``{"detail": message, "error": message, "status": N}``: the SDK reports
``detail``, the rest of this server's API uses ``error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter

from lgp_lab._version import __version__
from lgp_lab.server.agent_api._common import (
    ApiError,
    api_error_response,
    assistant_records,
    graph_for,
    resolve_assistant,
    resolve_graph_id,
    workflow_for,
)

__all__ = [
    "ApiError",
    "api_error_response",
    "assistant_records",
    "build_public_router",
    "build_routers",
    "graph_for",
    "resolve_assistant",
    "resolve_graph_id",
    "workflow_for",
]


def build_public_router(lab: Any, served: Mapping[str, Any], **options: Any) -> APIRouter:
    """``GET /ok`` and ``GET /info``: what a client probes before it authenticates;
    ``options`` go to the ``APIRouter``."""
    router = APIRouter(tags=["agent server"], **options)

    @router.get("/ok")
    async def ok() -> dict[str, Any]:
        """Liveness, as the Agent Server answers it."""
        return {"ok": True}

    @router.get("/info")
    async def info() -> dict[str, Any]:
        """Server version and feature flags (Agent Chat UI checks this first)."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            langgraph_version = version("langgraph")
        except PackageNotFoundError:  # pragma: no cover - langgraph is a dependency
            langgraph_version = None
        return {
            "version": __version__,
            "langgraph_py_version": langgraph_version,
            "flags": {"assistants": True, "crons": False, "langsmith": False},
            "host": {"kind": "lgp_lab", "environment": lab.environment},
            "graphs": sorted(served),
        }

    return router


def build_routers(lab: Any, served: Mapping[str, Any], **options: Any) -> list[APIRouter]:
    """Every authenticated Agent Server route, as routers whose routes the app takes in
    order: runs (``lgp_lab.server.agent_api.runs``, when that module is present),
    threads, store, assistants. Runs come before threads: ``/threads/{id}/runs...`` must
    not be shadowed by a thread route; the busiest routes come first because each
    request is matched against the routes in order.

    ``options`` go to each ``APIRouter`` (the app's dependencies, response class and
    overrides provider): routes built with them are complete, so the app adds them as
    they are instead of including the routers, which would build every route twice.
    """
    from lgp_lab.server.agent_api.assistants import build_assistants_router
    from lgp_lab.server.agent_api.store import build_store_router
    from lgp_lab.server.agent_api.threads import build_threads_router

    routers = []
    try:
        from lgp_lab.server.agent_api.runs import build_runs_router
    except ImportError as exc:
        if exc.name != "lgp_lab.server.agent_api.runs":
            raise  # a real import error inside runs.py must not be hidden
    else:
        routers.append(build_runs_router(lab, served, **options))
    routers.append(build_threads_router(lab, served, **options))
    routers.append(build_store_router(lab, **options))
    routers.append(build_assistants_router(lab, served, **options))
    return routers
