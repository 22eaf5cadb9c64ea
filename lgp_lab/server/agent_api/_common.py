"""What the Agent Server routes share: the API error, and finding a request's graph,
assistant and workflow among those served.

Its own module so the route modules and the package's router builders import it
without importing each other.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import AsyncIterator, Mapping
from typing import Any

__all__ = [
    "ApiError",
    "api_error_response",
    "assistant_records",
    "graph_for",
    "resolve_assistant",
    "resolve_graph_id",
    "workflow_for",
]


class ApiError(Exception):
    """An Agent Server API error: its HTTP status and a message naming the thing."""

    def __init__(self, status: int, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.hint = hint


def api_error_response(exc: ApiError) -> Any:
    """The JSON response of an :class:`ApiError`."""
    from lgp_lab.server.responses import SafeJSONResponse

    body: dict[str, Any] = {"detail": exc.message, "error": exc.message, "status": exc.status}
    if exc.hint:
        body["hint"] = exc.hint
    return SafeJSONResponse(body, status_code=exc.status)


def resolve_graph_id(served: Mapping[str, Any], assistant_id: str) -> str:
    """The served graph an assistant id (or a graph id, as langgraph-api accepts) names.

    Raises:
        ApiError: 404 naming the id and the served graphs.
    """
    from lgp_lab.runtime.threads import assistant_id_for

    if assistant_id in served:
        return assistant_id
    for name in served:
        if assistant_id_for(name) == assistant_id:
            return name
    known = ", ".join(f"{n} ({assistant_id_for(n)})" for n in sorted(served)) or "(none)"
    raise ApiError(404, f"assistant {assistant_id!r} not found; served: {known}")


_RECORDS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def assistant_records(lab: Any) -> Any:
    """The custom assistants of ``lab``'s database (one handle per Lab)."""
    records = _RECORDS.get(lab)
    if records is None:
        from lgp_lab.runtime.assistants import AssistantRecords

        records = _RECORDS[lab] = AssistantRecords(lab.acheckpointer)
    return records


async def resolve_assistant(lab: Any, served: Mapping[str, Any], assistant_id: str) -> dict:
    """The assistant an id names: a system one (its id or its graph id) or a custom one
    (``config``/``context`` are its runs' defaults: see
    :func:`lgp_lab.runtime.assistants.merge_run_settings`); its ``graph_id`` is served.

    Raises:
        ApiError: 404 for an unknown id; 409 when its graph is not served here.
    """
    from lgp_lab.runtime.threads import assistant_id_for

    try:
        name = resolve_graph_id(served, assistant_id)
    except ApiError:
        found = await assistant_records(lab).aget(assistant_id)
        if found is None:
            raise
        if found["graph_id"] not in served:
            raise ApiError(
                409,
                f"assistant {assistant_id!r} runs graph {found['graph_id']!r}, which is not "
                "served here",
                hint=_served_hint(served),
            ) from None
        return found
    return {"assistant_id": assistant_id_for(name), "graph_id": name, "config": {}, "context": {}}


async def workflow_for(lab: Any, served: Mapping[str, Any], name: str) -> Any:
    """The Workflow named ``name``: a served one, one this Lab has loaded, or a graph the
    project declares. Never a path: a name comes from a client (thread metadata).

    Raises:
        ApiError: 404 when no workflow has that name here.
    """
    workflow = served.get(name)
    if workflow is not None:
        return workflow
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or ":" in name:
        raise ApiError(404, f"graph {name!r} not found", hint=_served_hint(served))
    if name in lab.workflows or name in lab.project_graphs():
        try:
            return await lab.aload(name)
        except Exception as exc:
            raise ApiError(
                409, f"graph {name!r} cannot be loaded: {exc}", hint=_served_hint(served)
            ) from exc
    raise ApiError(404, f"graph {name!r} not found", hint=_served_hint(served))


@contextlib.asynccontextmanager
async def graph_for(workflow: Any, config: dict[str, Any] | None = None) -> AsyncIterator[Any]:
    """The compiled graph of ``workflow`` (a factory is built for ``config``)."""
    from lgp_lab.runtime.loader import GraphFactory

    graph = workflow.graph
    if isinstance(graph, GraphFactory):
        async with graph.instance(config or {"configurable": {}}) as built:
            yield built
        return
    yield graph


def _served_hint(served: Mapping[str, Any]) -> str:
    return f"served graphs: {', '.join(sorted(served)) or '(none)'}"
