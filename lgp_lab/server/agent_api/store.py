"""The store routes: the Lab's persistent LangGraph store (long-term memory) over HTTP.

The same ``AsyncSqliteStore`` the workflows' nodes see as ``store`` / ``runtime.store``,
so an item a node wrote is read here, and the reverse.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from lgp_lab.jsonable import to_jsonable
from lgp_lab.server.agent_api._common import ApiError

__all__ = ["build_store_router"]

Key = Annotated[str, Query(min_length=1, description="The item's key")]


def _check_namespace(labels: list[str] | None) -> list[str] | None:
    for label in labels or ():
        if not label:
            raise ValueError("namespace labels cannot be empty")
        if "." in label:
            raise ValueError(f"namespace label {label!r} contains '.', which is not allowed")
    return labels


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ItemPut(_Body):
    """``PUT /store/items``."""

    namespace: list[str] = Field(min_length=1)
    key: str = Field(min_length=1)
    value: dict[str, Any]
    index: Literal[False] | list[str] | None = None
    ttl: float | None = Field(default=None, gt=0, le=52_560_000)  # minutes; 100 years

    _labels = field_validator("namespace")(_check_namespace)


class ItemDelete(_Body):
    """``DELETE /store/items``."""

    namespace: list[str] = Field(min_length=1)
    key: str = Field(min_length=1)

    _labels = field_validator("namespace")(_check_namespace)


class ItemSearch(_Body):
    """``POST /store/items/search``."""

    namespace_prefix: list[str] = Field(default_factory=list)
    filter: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    query: str | None = None
    refresh_ttl: bool | None = None

    _labels = field_validator("namespace_prefix")(_check_namespace)


class NamespaceList(_Body):
    """``POST /store/namespaces``."""

    prefix: list[str] | None = None
    suffix: list[str] | None = None
    max_depth: int | None = Field(default=None, ge=1)
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)

    _labels = field_validator("prefix", "suffix")(_check_namespace)


def build_store_router(lab: Any, **options: Any) -> APIRouter:
    """``/store/items`` and ``/store/namespaces`` on ``await lab.astore()``; ``options``
    go to the ``APIRouter``."""
    router = APIRouter(prefix="/store", tags=["store"], **options)

    @router.put("/items", status_code=204)
    async def put_item(body: ItemPut) -> Response:
        """Store ``value`` under ``namespace`` / ``key`` (``index``: fields to embed,
        ``false`` for none; ``ttl`` in minutes)."""
        store = await lab.astore()
        kwargs: dict[str, Any] = {}
        if body.index is not None:
            kwargs["index"] = body.index
        if body.ttl is not None:
            kwargs["ttl"] = body.ttl
        try:
            await store.aput(tuple(body.namespace), body.key, body.value, **kwargs)
        except (ValueError, NotImplementedError) as exc:  # InvalidNamespaceError, ttl off
            raise ApiError(422, f"cannot store item {body.key!r}: {exc}") from None
        return Response(status_code=204)

    @router.get("/items")
    async def get_item(
        key: Key,
        namespace: str = "",
        refresh_ttl: bool | None = None,
    ) -> Any:
        """The item (``namespace`` is its labels joined by '.'), or ``null``."""
        store = await lab.astore()
        labels = tuple(namespace.split(".")) if namespace else ()
        try:
            item = await store.aget(labels, key, refresh_ttl=refresh_ttl)
        except ValueError as exc:  # InvalidNamespaceError: an empty label ("a..b")
            raise ApiError(422, f"namespace {namespace!r} is not valid: {exc}") from None
        return to_jsonable(item.dict()) if item is not None else None

    @router.delete("/items", status_code=204)
    async def delete_item(body: ItemDelete) -> Response:
        """Delete one item (no error if it is absent, as the Agent Server does)."""
        store = await lab.astore()
        try:
            await store.adelete(tuple(body.namespace), body.key)
        except ValueError as exc:
            raise ApiError(422, f"cannot delete item {body.key!r}: {exc}") from None
        return Response(status_code=204)

    @router.post("/items/search")
    async def search_items(body: ItemSearch | None = None) -> dict[str, Any]:
        """Items under ``namespace_prefix`` matching ``filter`` (and ranked by ``query``
        when the store has an index)."""
        body = body or ItemSearch()
        store = await lab.astore()
        try:
            items = await store.asearch(
                tuple(body.namespace_prefix), query=body.query, filter=body.filter,
                limit=body.limit, offset=body.offset, refresh_ttl=body.refresh_ttl,
            )  # fmt: skip
        except (ValueError, TypeError) as exc:
            raise ApiError(422, f"cannot search the store: {exc}") from None
        return {"items": [to_jsonable(i.dict()) for i in items]}

    @router.post("/namespaces")
    async def list_namespaces(body: NamespaceList | None = None) -> dict[str, Any]:
        """Namespaces, filtered by ``prefix``/``suffix``, truncated to ``max_depth``."""
        body = body or NamespaceList()
        store = await lab.astore()
        try:
            found = await store.alist_namespaces(
                prefix=tuple(body.prefix) if body.prefix else None,
                suffix=tuple(body.suffix) if body.suffix else None,
                max_depth=body.max_depth, limit=body.limit, offset=body.offset,
            )  # fmt: skip
        except ValueError as exc:
            raise ApiError(422, f"cannot list namespaces: {exc}") from None
        return {"namespaces": [list(ns) for ns in found]}

    return router
