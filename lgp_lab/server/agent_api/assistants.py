"""Assistants: one system assistant per served graph, as ``langgraph dev`` has, and
custom ones (a graph with its own config and context, versioned).

A system assistant's id is the uuid5 langgraph-api derives from the graph id, so a client
configured for ``langgraph dev`` finds the same assistant here; the graph id itself is
accepted wherever an assistant id is.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from lgp_lab.jsonable import to_jsonable
from lgp_lab.runtime.assistants import AssistantExistsError
from lgp_lab.runtime.threads import assistant_id_for, contains
from lgp_lab.server.agent_api._common import (
    ApiError,
    assistant_records,
    graph_for,
    resolve_graph_id,
)

__all__ = ["assistant_id_for", "build_assistants_router", "graph_schemas"]

_SORT_KEYS = ("assistant_id", "graph_id", "name", "created_at", "updated_at")
_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"


class AssistantSearch(BaseModel):
    """``POST /assistants/search`` (and ``/count``)."""

    model_config = ConfigDict(extra="ignore")

    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: Literal["assistant_id", "graph_id", "name", "created_at", "updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[str] | None = None


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AssistantCreate(_Body):
    """``POST /assistants``: a custom assistant of a served graph."""

    graph_id: str = Field(min_length=1, max_length=200)
    assistant_id: str | None = Field(default=None, pattern=_ID)
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] | None = None
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)


class AssistantPatch(_Body):
    """``PATCH /assistants/{id}``: a new version (``metadata`` merges)."""

    graph_id: str | None = Field(default=None, min_length=1, max_length=200)
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)


class VersionsQuery(_Body):
    """``POST /assistants/{id}/versions``."""

    metadata: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


class LatestVersion(_Body):
    """``POST /assistants/{id}/latest``."""

    version: int = Field(ge=1)


def build_assistants_router(lab: Any, served: Mapping[str, Any], **options: Any) -> APIRouter:
    """The ``/assistants`` routes over ``served`` (name -> live Workflow handle): one
    system assistant per graph, and the custom ones of the project's database;
    ``options`` go to the ``APIRouter``."""
    router = APIRouter(prefix="/assistants", tags=["assistants"], **options)
    first_seen = {name: wf.loaded_at for name, wf in served.items()}
    custom = assistant_records(lab)

    def describe() -> dict[str, str]:
        try:
            return dict(lab.project_graphs())
        except Exception:  # a broken config must not hide the served graphs
            return {}

    def system(name: str, descriptions: dict[str, str] | None = None) -> dict[str, Any]:
        workflow = served[name]
        text = (descriptions if descriptions is not None else describe()).get(name) or None
        return {
            "assistant_id": assistant_id_for(name),
            "graph_id": name,
            "config": {},
            "context": {},
            "created_at": _iso(first_seen.get(name, workflow.loaded_at)),
            "updated_at": _iso(workflow.loaded_at),
            "metadata": {"created_by": "system"},
            "version": 1,
            "name": name,
            "description": text,
        }

    async def lookup(assistant_id: str) -> dict[str, Any]:
        """A system assistant (by its id or graph id) or a custom one."""
        try:
            return system(resolve_graph_id(served, assistant_id))
        except ApiError:
            found = await custom.aget(assistant_id)
            if found is None:
                raise
            return _shown(found)

    def served_graph(graph_id: str) -> str:
        """The served graph ``graph_id`` names (a graph id or a system assistant id)."""
        try:
            return resolve_graph_id(served, graph_id)
        except ApiError:
            pass
        raise ApiError(
            404,
            f"graph {graph_id!r} is not served here",
            hint=f"served graphs: {', '.join(sorted(served)) or '(none)'}",
        )

    def owned(assistant_id: str) -> None:
        try:
            name = resolve_graph_id(served, assistant_id)
        except ApiError:
            return
        raise ApiError(
            409,
            f"assistant {assistant_id!r} is the system assistant of graph {name!r}; it "
            "cannot be changed or deleted",
            hint="create a custom assistant of the graph (POST /assistants) and change that",
        )

    async def matching(body: AssistantSearch) -> list[dict[str, Any]]:
        descriptions = describe()
        found = [system(name, descriptions) for name in served]
        found += [_shown(a) for a in await custom.alist()]
        if body.graph_id:
            found = [a for a in found if a["graph_id"] == body.graph_id]
        if body.name:
            found = [a for a in found if body.name.lower() in (a["name"] or "").lower()]
        if body.metadata:
            found = [a for a in found if contains(a["metadata"], body.metadata)]
        return found

    @router.post("")
    async def create(body: AssistantCreate) -> dict[str, Any]:
        """Create a custom assistant: a served graph with its own ``config`` and
        ``context`` (the defaults of its runs); ``if_exists``: ``raise`` (409) or
        ``do_nothing``."""
        if not _runs_apply_assistants():
            raise ApiError(
                422,
                "custom assistants are not supported by this server's runs yet",
                hint="use a graph id or its system assistant; pass config/context per run",
            )
        graph_id = served_graph(body.graph_id)
        if body.assistant_id is not None:
            owned(body.assistant_id)
        try:
            made = await custom.acreate(
                graph_id, assistant_id=body.assistant_id, config=body.config,
                context=body.context, metadata=body.metadata, name=body.name,
                description=body.description, if_exists=body.if_exists or "raise",
            )  # fmt: skip
        except AssistantExistsError as exc:
            raise ApiError(409, exc.message, hint=exc.hint) from None
        return _shown(made)

    @router.post("/search")
    async def search(response: Response, body: AssistantSearch | None = None) -> list[dict]:
        """Assistants matching ``graph_id``, ``name`` (substring) and ``metadata``."""
        body = body or AssistantSearch()
        found = await matching(body)
        key = body.sort_by or "created_at"
        found.sort(key=lambda a: (a[key] or "", a["name"] or ""), reverse=body.sort_order != "asc")
        page = found[body.offset : body.offset + body.limit]
        response.headers["X-Pagination-Total"] = str(len(found))
        if body.offset + body.limit < len(found):
            response.headers["X-Pagination-Next"] = str(body.offset + body.limit)
        if body.select:
            page = [{k: a[k] for k in body.select if k in a} for a in page]
        return to_jsonable(page)

    @router.post("/count")
    async def count(body: AssistantSearch | None = None) -> int:
        """How many assistants match the filters."""
        return len(await matching(body or AssistantSearch()))

    @router.get("/{assistant_id}")
    async def get(assistant_id: str) -> dict[str, Any]:
        """One assistant, by assistant id or graph id."""
        return to_jsonable(await lookup(assistant_id))

    @router.patch("/{assistant_id}")
    async def update(assistant_id: str, body: AssistantPatch) -> dict[str, Any]:
        """A new version of a custom assistant (the given fields replaced, ``metadata``
        merged); it becomes the current one."""
        owned(assistant_id)
        changes = body.model_dump(exclude_unset=True, exclude_none=True)
        if "graph_id" in changes:
            changes["graph_id"] = served_graph(changes["graph_id"])
        updated = await custom.aupdate(assistant_id, **changes)
        if updated is None:
            raise ApiError(404, f"assistant {assistant_id!r} not found")
        return _shown(updated)

    @router.delete("/{assistant_id}", status_code=204)
    async def delete(assistant_id: str) -> Response:
        """Delete a custom assistant and its versions (its threads stay)."""
        owned(assistant_id)
        if not await custom.adelete(assistant_id):
            raise ApiError(404, f"assistant {assistant_id!r} not found")
        return Response(status_code=204)

    @router.post("/{assistant_id}/versions")
    async def versions(assistant_id: str, body: VersionsQuery | None = None) -> list[dict]:
        """Every version, newest first (a system assistant has one)."""
        body = body or VersionsQuery()
        try:
            found = [system(resolve_graph_id(served, assistant_id))]
        except ApiError:
            found = [_shown(v) for v in await custom.aversions(assistant_id)]
            if not found:
                raise
        if body.metadata:
            found = [v for v in found if contains(v["metadata"], body.metadata)]
        page = found[body.offset : body.offset + body.limit]
        return to_jsonable([{k: v for k, v in a.items() if k != "updated_at"} for a in page])

    @router.post("/{assistant_id}/latest")
    async def latest(assistant_id: str, body: LatestVersion) -> dict[str, Any]:
        """Make one of a custom assistant's versions the current one."""
        owned(assistant_id)
        chosen = await custom.aset_latest(assistant_id, body.version)
        if chosen is None:
            raise ApiError(404, f"version {body.version} of assistant {assistant_id!r} not found")
        return _shown(chosen)

    async def graph_name(assistant_id: str) -> str:
        return served_graph((await lookup(assistant_id))["graph_id"])

    @router.get("/{assistant_id}/graph")
    async def graph(assistant_id: str, xray: str = "false") -> dict[str, Any]:
        """The graph's drawable form (nodes and edges); ``xray`` (true or a depth)
        expands subgraphs."""
        name = await graph_name(assistant_id)
        depth = _xray(xray)
        async with graph_for(served[name]) as compiled:
            drawn = await asyncio.to_thread(lambda: compiled.get_graph(xray=depth).to_json())
        return to_jsonable(drawn)

    @router.get("/{assistant_id}/schemas")
    async def schemas(assistant_id: str) -> dict[str, Any]:
        """JSON schemas of the graph's input, output, state, config and context."""
        name = await graph_name(assistant_id)
        async with graph_for(served[name]) as compiled:
            return await asyncio.to_thread(graph_schemas, compiled, name)

    @router.get("/{assistant_id}/subgraphs")
    async def subgraphs(assistant_id: str, recurse: bool = False) -> dict[str, Any]:
        """The schemas of each subgraph, by namespace."""
        return await _subgraphs(assistant_id, None, recurse)

    @router.get("/{assistant_id}/subgraphs/{namespace}")
    async def subgraphs_in(assistant_id: str, namespace: str, recurse: bool = False) -> dict:
        """The schemas of the subgraphs under ``namespace``."""
        return await _subgraphs(assistant_id, namespace, recurse)

    async def _subgraphs(assistant_id: str, namespace: str | None, recurse: bool) -> dict:
        name = await graph_name(assistant_id)
        async with graph_for(served[name]) as compiled:
            found = [
                (ns, sub)
                async for ns, sub in compiled.aget_subgraphs(namespace=namespace, recurse=recurse)
            ]
            return {
                ns: await asyncio.to_thread(graph_schemas, sub, name, with_id=False)
                for ns, sub in found
            }

    return router


def _shown(assistant: dict[str, Any]) -> dict[str, Any]:
    """A stored assistant as the API shows it (ISO times)."""
    return {
        **assistant,
        "created_at": _iso(assistant["created_at"]),
        "updated_at": _iso(assistant["updated_at"]),
    }


def _runs_apply_assistants() -> bool:
    """Whether the runs routes apply a custom assistant's config and context."""
    try:
        from lgp_lab.server.agent_api import runs
    except ImportError:
        return False
    return bool(getattr(runs, "APPLIES_CUSTOM_ASSISTANTS", False))


def graph_schemas(graph: Any, graph_id: str, *, with_id: bool = True) -> dict[str, Any]:
    """``{graph_id, input_schema, output_schema, state_schema, config_schema,
    context_schema}`` of a compiled graph (``None`` where a schema cannot be made)."""
    out: dict[str, Any] = {"graph_id": graph_id} if with_id else {}
    out["input_schema"] = _try(graph.get_input_jsonschema)
    out["output_schema"] = _try(graph.get_output_jsonschema)
    out["state_schema"] = _try(lambda: _state_schema(graph))
    context = getattr(graph, "get_context_jsonschema", None)
    out["context_schema"] = _try(context) if callable(context) else None
    out["config_schema"] = _try(lambda: _config_schema(graph))
    return out


def _state_schema(graph: Any) -> dict[str, Any] | None:
    """Every state channel with the type its updates take, as langgraph-api builds it."""
    from pydantic import TypeAdapter, create_model

    fields: dict[str, Any] = {}
    channels = getattr(graph, "stream_channels_list", None) or []
    for key in channels:
        if key.startswith("__"):
            continue
        kind = getattr(graph.channels.get(key), "UpdateType", Any)
        try:
            TypeAdapter(kind).json_schema()
        except Exception:
            kind = Any
        fields[key] = (kind, None)
    if not fields:
        return None
    model = create_model(graph.get_name("State"), **fields)
    return model.model_json_schema()


def _config_schema(graph: Any) -> dict[str, Any] | None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # config_schema is deprecated for context_schema
        schema = graph.get_config_jsonschema()
    properties = schema.get("properties") or {}
    if not properties or (set(properties) == {"configurable"} and not _has_fields(schema)):
        return None
    return schema


def _has_fields(schema: dict[str, Any]) -> bool:
    return any(d.get("properties") for d in (schema.get("$defs") or {}).values())


def _try(make: Any) -> Any:
    try:
        return to_jsonable(make())
    except Exception:
        return None


def _xray(value: str) -> bool | int:
    text = value.strip().lower()
    if text in ("true", "yes"):
        return True
    if text in ("false", "no", "", "0"):
        return False
    if text.isdigit():
        return int(text)
    raise ApiError(
        422, f"xray must be true, false or a depth (an integer), got {value!r}", hint="xray=true"
    )


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat()
