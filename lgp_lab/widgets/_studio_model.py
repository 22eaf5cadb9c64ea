"""What the studio shows and does, as coroutines over the Lab's APIs (run them on its
engine loop): the graph, thread pages, checkpoint pages, one checkpoint's state, and
the actions — run, fork from a checkpoint with edited state, resume, delete.

Everything returned is plain JSON (it goes straight into widget traits). No database
access of its own: ``lab.sessions`` pages threads and checkpoints in SQL, runs go
through ``lab.runs`` like the HTTP API's, and state edits use LangGraph's own
``update_state`` on the thread's workflow, as ``POST /threads/{id}/state`` does.
"""

from __future__ import annotations

from typing import Any

from lgp_lab.errors import WorkflowInputError, WorkflowNotFoundError
from lgp_lab.jsonable import to_jsonable
from lgp_lab.runtime.sessions import channel_bytes
from lgp_lab.widgets._studio_graph import describe_graph
from lgp_lab.widgets._studio_json import Limits, preview

__all__ = ["StudioData"]

STATE_LIMITS = Limits()


class StudioData:
    """The studio's reads and actions on one Lab.

    Args:
        lab: The Lab.
        page_size: Threads and checkpoints per page.
    """

    def __init__(self, lab: Any, *, page_size: int = 20) -> None:
        self.lab = lab
        self.page_size = page_size

    # ------------------------------------------------------------------ graph

    async def agraph(self, workflow: Any) -> dict[str, Any]:
        """The workflow's drawable shape at its live version."""
        graph, version = workflow.live
        graph = await _sample(graph)
        return describe_graph(graph, name=workflow.name, version=version)

    async def aschemas(self, workflow: Any) -> dict[str, Any]:
        """JSON schemas of the input and context (``None`` where LangGraph cannot make
        one), and the input a run uses when the form is left empty."""
        graph = await _sample(workflow.graph)
        return {
            "input": _schema(graph, "get_input_jsonschema"),
            "context": _schema(graph, "get_context_jsonschema")
            if getattr(graph, "context_schema", None) is not None
            else None,
            "default_input": to_jsonable(await self.lab.adefault_input(workflow)),
        }

    # ------------------------------------------------------------------ threads

    async def athreads(self, workflow: str | None, offset: int = 0) -> dict[str, Any]:
        """One page of threads (most recently updated first) and the total."""
        sessions = self.lab.sessions
        threads = await sessions.athreads(workflow, limit=self.page_size, offset=offset)
        return {
            "items": [t.to_dict() for t in threads],
            "total": await sessions.acount_threads(workflow),
            "offset": offset,
            "page_size": self.page_size,
            "workflow": workflow,
        }

    async def athread(self, thread_id: str, before: str | None = None) -> dict[str, Any]:
        """A thread's summary (status, pending interrupts) and one page of its checkpoint
        timeline, newest first, older than ``before``.

        Raises:
            WorkflowNotFoundError: The thread has no checkpoints.
        """
        sessions = self.lab.sessions
        info = await sessions.athread(thread_id)
        if info is None:
            raise WorkflowNotFoundError(
                f"thread {thread_id!r} not found", hint="pick a thread from the list"
            )
        page = await sessions.ahistory(thread_id, limit=self.page_size + 1, before=before)
        more = len(page) > self.page_size
        page = page[: self.page_size]
        return {
            "info": info.to_dict(),
            "checkpoints": [c.to_dict() for c in page],
            "before": before,
            "has_more": more,
            "total": info.checkpoints,
            "next": await self._anext_nodes(thread_id, info.workflow),
        }

    async def _anext_nodes(self, thread_id: str, workflow: str | None) -> list[str]:
        """The nodes the thread runs next: a thread stopped at a breakpoint
        (``interrupt_before``/``after``) waits on these with no interrupt value."""
        loaded = self.lab.workflows.get(workflow) if workflow else None
        if loaded is None:
            return []  # its workflow is not loaded here: nothing is imported to find out
        try:
            graph = await _sample(loaded.graph)
            config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
            return list((await graph.aget_state(config)).next)
        except Exception:  # a display detail: a graph that cannot read it shows none
            return []

    async def acheckpoint(
        self, thread_id: str, checkpoint_id: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(full state as JSON, the view)`` of one checkpoint: its state previewed within
        :data:`STATE_LIMITS`, the per-channel diff against its parent and bytes per
        channel. The full state stays with the caller for "show more"."""
        sessions = self.lab.sessions
        raw = await sessions.astate(thread_id, checkpoint_id)
        state = to_jsonable(raw)
        diff = await sessions.adiff(thread_id, checkpoint_id) if checkpoint_id else []
        view = {
            "thread_id": thread_id,
            "checkpoint_id": checkpoint_id,
            "state": preview(state, STATE_LIMITS),
            "diff": [
                {"channel": d.channel, "change": d.change, "summary": d.summary}
                for d in diff
                if d.change != "unchanged"
            ],
            "bytes": channel_bytes(raw),
        }
        return state, view

    # ------------------------------------------------------------------ actions

    async def arun(
        self,
        workflow: Any,
        *,
        input: Any = None,
        thread_id: str | None = None,
        context: Any = None,
        config: dict[str, Any] | None = None,
        command: dict[str, Any] | None = None,
        checkpoint_id: str | None = None,
    ) -> dict[str, Any]:
        """Start a run in the background through ``lab.runs`` (queued behind a run in
        flight on the thread); returns ``{"run_id", "thread_id", "status"}`` at once.
        Its progress arrives as live events."""
        from lgp_lab.runtime.runner import new_thread_id
        from lgp_lab.runtime.threads import assistant_id_for

        run = await self.lab.runs.acreate(
            thread_id=thread_id or new_thread_id(),
            assistant_id=assistant_id_for(workflow.name),
            graph_id=workflow,
            input=input,
            command=command,
            context=context,
            config=config,
            checkpoint_id=checkpoint_id,
            multitask_strategy="enqueue",
            if_not_exists="create",
            on_disconnect="continue",
        )
        return {"run_id": run.run_id, "thread_id": run.thread_id, "status": run.status}

    async def afork(
        self,
        thread_id: str,
        checkpoint_id: str,
        values: Any = None,
        *,
        as_node: str | None = None,
        new_thread: bool = False,
        run: bool = True,
        workflow: Any = None,
    ) -> dict[str, Any]:
        """Branch from ``checkpoint_id``: write ``values`` there with LangGraph's
        ``update_state`` (a new checkpoint whose parent is that one; the thread's later
        history stays as a sibling branch) and, with ``run``, continue from it.

        Args:
            thread_id: The thread.
            checkpoint_id: The checkpoint to branch from.
            values: The state edit (channels and values, applied through reducers), or
                ``None`` to re-run from the checkpoint as it is.
            as_node: The node the edit is written as (LangGraph picks one when ``None``).
            new_thread: Copy the checkpoint into a new thread first and branch there.
            run: Start a run from the new checkpoint.
            workflow: The Workflow to use (default: the one that wrote the thread).

        Returns:
            ``{"thread_id", "checkpoint_id", "run": {...} | None}``.

        Raises:
            WorkflowInputError: The edit does not fit the graph (unknown channel or
                node, a value a reducer refuses).
        """
        workflow = workflow or await self.workflow_of(thread_id)
        if new_thread:
            thread_id = await self.lab.sessions.afork(thread_id, checkpoint_id)
            checkpoint_id = (await self.lab.sessions.ahistory(thread_id, limit=1))[0].checkpoint_id
        if values is not None:
            checkpoint_id = await self._aupdate_state(
                workflow, thread_id, checkpoint_id, values, as_node
            )
        started = None
        if run:
            started = await self.arun(workflow, thread_id=thread_id, checkpoint_id=checkpoint_id)
        return {"thread_id": thread_id, "checkpoint_id": checkpoint_id, "run": started}

    async def aresume(self, thread_id: str, value: Any, *, workflow: Any = None) -> dict:
        """Answer the thread's pending interrupt with ``value`` in a background run.

        Raises:
            WorkflowInputError: ``value`` is ``None`` or the thread waits on nothing.
        """
        if value is None:
            raise WorkflowInputError(
                "resume needs a value: None means 'no answer' to LangGraph",
                hint='answer with a value, e.g. "yes" or {"approved": true}',
            )
        info = await self.lab.sessions.athread(thread_id)
        if info is None or info.status != "interrupted":
            raise WorkflowInputError(
                f"thread {thread_id!r} is not waiting on an interrupt "
                f"(status {info.status if info else 'unknown'!r}); there is nothing to resume",
                hint="resume a thread whose status is 'interrupted'",
            )
        workflow = workflow or await self.workflow_of(thread_id)
        return await self.arun(workflow, thread_id=thread_id, command={"resume": value})

    async def adelete(self, thread_id: str) -> None:
        """Delete the thread with its checkpoints (its runs are cancelled first)."""
        await self.lab.sessions.adelete(thread_id)

    async def workflow_of(self, thread_id: str) -> Any:
        """The Workflow that wrote ``thread_id`` (loaded by name if need be).

        Raises:
            WorkflowNotFoundError: The thread names no workflow this Lab can load.
        """
        info = await self.lab.sessions.athread(thread_id)
        name = info.workflow if info else None
        if not name:
            raise WorkflowNotFoundError(
                f"thread {thread_id!r} does not record which workflow wrote it",
                hint="open the studio on that workflow: lgp_lab.studio(workflow)",
            )
        loaded = self.lab.workflows.get(name)
        return loaded if loaded is not None else await self.lab.aload(name)

    async def _aupdate_state(
        self, workflow: Any, thread_id: str, checkpoint_id: str, values: Any, as_node: str | None
    ) -> str:
        from langgraph.errors import InvalidUpdateError

        config = {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": "",
                "checkpoint_id": checkpoint_id,
            },
            # The same checkpoint metadata a run writes: the thread keeps naming its workflow.
            "metadata": {
                "workflow": workflow.name,
                "workflow_version": workflow.version,
                "environment": self.lab.environment,
                "source_checkpoint": checkpoint_id,
            },
        }
        graph = await _sample(workflow.graph)
        try:
            saved = await graph.aupdate_state(config, values, as_node=as_node)
        except (InvalidUpdateError, ValueError, KeyError, TypeError) as exc:
            raise WorkflowInputError(
                f"state edit does not fit workflow {workflow.name!r}: {exc}",
                hint="give values of the state's channels; name the node with as_node "
                "when LangGraph cannot tell which one wrote the edit",
            ) from None
        return saved["configurable"]["checkpoint_id"]


async def _sample(graph: Any) -> Any:
    from lgp_lab.runtime.loader import GraphFactory

    return await graph.asample() if isinstance(graph, GraphFactory) else graph


def _schema(graph: Any, method: str) -> Any:
    try:
        return to_jsonable(getattr(graph, method)())
    except Exception:  # not every state type has a JSON schema; the form falls back to JSON
        return None
