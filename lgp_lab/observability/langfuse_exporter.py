"""Langfuse export through the official SDK (OpenTelemetry underneath).

Each run is one Langfuse trace (a root observation named after the workflow) with a child
span per node. Spans leave in the SDK's background thread; a slow or unreachable
Langfuse never stalls a run: flushing is bounded, export errors are swallowed and
reported once, naming the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from lgp_lab.errors import LgpError
from lgp_lab.observability.model import RunTrace, SpanRecord
from lgp_lab.observability.sanitize import sanitize_for_dashboard

__all__ = ["LangfuseTracer"]

# Loggers whose export errors we catch (to warn once) instead of letting them print.
_EXPORT_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.sdk.trace.export",
    "opentelemetry.sdk._shared_internal",
    "langfuse",
)


class LangfuseTracer:
    """Sends runs to Langfuse.

    Args:
        public_key: Langfuse public key.
        secret_key: Langfuse secret key (never logged or exported).
        host: Langfuse base URL, e.g. ``https://cloud.langfuse.com``.
        environment: Our environment name (Langfuse's ``environment`` field).
        max_length: Truncation limit for exported strings.
        flush_timeout: Upper bound, in seconds, for flushing on close.
        warn: Called once with a message when export fails.
    """

    name = "langfuse"

    def __init__(
        self,
        *,
        public_key: str,
        secret_key: str,
        host: str,
        environment: str,
        max_length: int = 2000,
        flush_timeout: float = 2.0,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        try:
            from langfuse import Langfuse
        except ImportError:
            raise LgpError(
                "Langfuse export is configured but the langfuse package is not installed",
                hint="pip install 'lgp-lab[observability]' (or pip install langfuse), "
                "or set observability.langfuse.enabled: false",
            ) from None
        self.host = host
        self._max_length = max_length
        self._flush_timeout = flush_timeout
        self._warn = warn
        self._warned = False
        self._capture = _ExportErrors(self._on_export_error)
        self._capture.install()
        self._client = Langfuse(
            public_key=public_key,
            secret_key=secret_key,
            base_url=host,
            # Bounds each export attempt, so shutdown cannot hang on a dead host.
            timeout=max(1, int(flush_timeout)),
            environment=_langfuse_environment(environment),
            flush_interval=1.0,
        )

    # ------------------------------------------------------------------ tracer hooks

    def on_run_start(self, run: RunTrace) -> None:
        """Open the trace's root observation and its trace-level attributes."""
        from langfuse import propagate_attributes

        clean = self._clean
        root_cm = self._client.start_as_current_observation(
            trace_context={"trace_id": run.trace_id},
            name=run.workflow,
            as_type="chain",
            input=clean(run.input),
            metadata=clean(run.metadata),
            version=f"v{run.workflow_version}",
        )
        root = root_cm.__enter__()
        attrs_cm = propagate_attributes(
            session_id=_ascii(run.thread_id),
            tags=run.tags,
            trace_name=_ascii(run.workflow),
            version=f"v{run.workflow_version}",
            metadata={k: _ascii(str(v)) for k, v in run.metadata.items()},
        )
        attrs_cm.__enter__()
        run.extra["langfuse"] = {
            "root_cm": root_cm,
            "root": root,
            "attrs_cm": attrs_cm,
            "spans": {},
        }
        run.langfuse_url = f"{self.host}/trace/{run.trace_id}"

    def on_node_start(self, run: RunTrace, span: SpanRecord) -> None:
        """Open a child observation for the node."""
        state = run.extra.get("langfuse")
        if state is None:
            return
        state["spans"][span.span_id] = state["root"].start_observation(
            name=span.name, as_type="span", input=self._clean(span.input)
        )

    def on_node_end(self, run: RunTrace, span: SpanRecord) -> None:
        """Close the node's observation with its output or error."""
        state = run.extra.get("langfuse")
        obs = state["spans"].pop(span.span_id, None) if state else None
        if obs is None:
            return
        if span.error:
            obs.update(output=self._clean(span.output), level="ERROR", status_message=span.error)
        else:
            obs.update(output=self._clean(span.output))
        obs.end()

    def on_child(self, run: RunTrace, span: SpanRecord) -> None:
        """An LLM call becomes a Langfuse generation (model, tokens, cost); a tool, a span."""
        state = run.extra.get("langfuse")
        if state is None:
            return
        if span.kind == "generation":
            obs = state["root"].start_observation(
                name=span.name,
                as_type="generation",
                input=self._clean(span.input),
                output=self._clean(span.output),
                model=span.model,
                usage_details=span.usage or None,
                cost_details={"total": span.cost} if span.cost is not None else None,
                level="ERROR" if span.error else None,
                status_message=span.error,
            )
        else:
            obs = state["root"].start_observation(
                name=span.name,
                as_type="tool",
                input=self._clean(span.input),
                output=self._clean(span.output),
                level="ERROR" if span.error else None,
                status_message=span.error,
            )
        obs.end()

    def on_run_end(self, run: RunTrace) -> None:
        """Close the root observation with the outcome; export continues in the background."""
        state = run.extra.pop("langfuse", None)
        if state is None:
            return
        for obs in state["spans"].values():  # nodes cut short by a failure or cancel
            obs.end()
        root = state["root"]
        meta = {
            **run.metadata,
            "status": run.status,
            "checkpoint_id": run.checkpoint_id,
            "duration_ms": run.duration_ms,
        }
        if run.error:
            root.update(
                output=self._clean(run.output),
                metadata=self._clean(meta),
                level="ERROR",
                status_message=run.error,
            )
        else:
            root.update(output=self._clean(run.output), metadata=self._clean(meta))
        state["attrs_cm"].__exit__(None, None, None)
        state["root_cm"].__exit__(None, None, None)

    async def aclose(self, timeout: float) -> None:
        """Flush what is buffered, waiting at most ``timeout`` seconds, off the event loop.

        The SDK's ``flush()`` blocks until the export finishes (up to its own timeout per
        attempt): it runs in a daemon thread while the loop keeps serving other runs.
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def _finished() -> None:
            if not done.done():
                done.set_result(None)

        self._start_flush(lambda: loop.call_soon_threadsafe(_finished))
        try:
            await asyncio.wait_for(asyncio.shield(done), timeout)
        except TimeoutError:
            self._on_export_error("flush timed out")

    def flush(self, timeout: float | None = None) -> bool:
        """Flush in a helper thread, bounded; True if everything left in time."""
        done = threading.Event()
        self._start_flush(done.set)
        finished = done.wait(self._flush_timeout if timeout is None else timeout)
        if not finished:
            self._on_export_error("flush timed out")
        return finished and not self._warned

    # ------------------------------------------------------------------ private

    def _start_flush(self, on_done: Callable[[], object]) -> None:
        # A daemon thread, not the loop's default executor: a dead host can hold the
        # flush for the SDK's whole timeout, and executor threads are joined at exit.
        def _flush() -> None:
            try:
                self._client.flush()
            except Exception:
                self._on_export_error("flush failed")
            finally:
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    on_done()

        threading.Thread(target=_flush, name="lgp-langfuse-flush", daemon=True).start()

    def _clean(self, value: Any) -> Any:
        return sanitize_for_dashboard(value, self._max_length)

    def _on_export_error(self, _detail: str) -> None:
        if self._warned:
            return
        self._warned = True
        if self._warn is not None:
            self._warn(
                f"Langfuse at {self.host} is not reachable; traces are not exported "
                "(runs are unaffected; the local trace store still has them)"
            )


class _ExportErrors(logging.Handler):
    """Turns the SDK's export error logs into one callback, and keeps them off stderr."""

    def __init__(self, callback: Callable[[str], None]) -> None:
        super().__init__(level=logging.WARNING)
        self._callback = callback

    def install(self) -> None:
        for name in _EXPORT_LOGGERS:
            logger = logging.getLogger(name)
            if not any(isinstance(h, _ExportErrors) for h in logger.handlers):
                logger.addHandler(self)
            logger.propagate = False

    def emit(self, record: logging.LogRecord) -> None:
        self._callback(record.getMessage())


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode()[:200]


def _langfuse_environment(name: str) -> str:
    # Langfuse accepts lowercase letters, digits, '-' and '_', not starting with "langfuse".
    cleaned = re.sub(r"[^a-z0-9_-]", "-", name.lower())[:40] or "default"
    return f"env-{cleaned}" if cleaned.startswith("langfuse") else cleaned
