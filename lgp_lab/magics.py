"""IPython magics: ``%lgp_run``, ``%lgp_watch``, ``%lgp_serve`` and the widgets.

Magics parse their arguments and delegate to the kernel's :class:`~lgp_lab.lab.Lab`
(:func:`lgp_lab.get_lab`); they only add notebook display. ``%load_ext lgp_lab`` creates
nothing heavy: the Lab, its engine loop and the database open on first use.
"""

from __future__ import annotations

import contextlib
import shlex
import sys
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

__all__ = ["LgpMagics", "load", "unload"]


@magics_class
class LgpMagics(Magics):
    """The ``%lgp_*`` magics."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        # workflow name -> (display handle, parent header of the cell that started it)
        self._watch_displays: dict[str, tuple[Any, dict[str, Any]]] = {}
        self._dirty: set[str] = set()
        # The result %lgp_run displayed, and in which cell: its Out[] echo is skipped.
        self._shown: tuple[Any, int] | None = None

    # ------------------------------------------------------------------ %lgp_run

    @magic_arguments()
    @argument(
        "target",
        nargs="?",
        help="a workflow .py file (path.py:attr names the graph), a langgraph.json graph id, "
        "a workflows/config.yaml name, or a variable holding a graph",
    )
    @argument(
        "-i",
        "--input",
        help="input: JSON (a state object, partial is fine) or plain text (a user message "
        "on a chat graph, else the state's text key); default: one that fits the graph",
    )
    @argument("-t", "--thread", help="thread id to continue; a new one is generated if omitted")
    @argument("--resume", help="resume a thread waiting on interrupt() with this value (JSON)")
    @argument("-c", "--context", help="the run's context (context_schema / Runtime), JSON")
    @argument(
        "--config",
        help="a RunnableConfig as JSON: configurable, tags, metadata, recursion_limit",
    )
    @argument("-e", "--env", help="config environment (config/NAME.yaml)")
    @argument("-q", "--quiet", action="store_true", help="no display; only return the result")
    @argument("--json", action="store_true", help="print the result as one JSON document")
    @line_magic
    def lgp_run(self, line: str) -> Any:
        """Run a LangGraph workflow on a persistent thread and return its RunResult.

        Examples:
            r = %lgp_run workflows/basic_workflow.py --input '{"input": "hi"}' --thread t1
            r = %lgp_run agent --input "hi" --context '{"model": "m"}'   # langgraph.json
            r = %lgp_run graph --thread t2      # a graph defined in this notebook
        """
        args = self._parse(self.lgp_run, line)
        if args is None:
            return None
        if not args.target:
            raise UsageError("%lgp_run needs a TARGET: a .py file, a graph id or a graph")
        from lgp_lab.kernel import get_lab
        from lgp_lab.runtime.inputs import parse_json_or_text

        lab = get_lab(args.env)
        target, name = self._resolve_target(args.target)
        kwargs: dict[str, Any] = {
            "thread_id": args.thread,
            "name": name,
            "context": _json_option("--context", args.context),
            "config": _json_option("--config", args.config),
        }
        payload = None
        if args.resume is not None:
            if not args.thread:
                raise UsageError("--resume needs --thread ID of the interrupted thread")
            kwargs["resume"] = parse_json_or_text(args.resume)
        elif args.input is not None:
            payload = _input_value(args.input)
        else:
            payload = lab.default_input(target if name is None else lab.load(target, name=name))
        try:
            result = lab.run(target, payload, **kwargs)
        except KeyboardInterrupt:
            print("[lgp] Cancelled; the thread keeps its earlier checkpoints", file=sys.stderr)
            raise
        if args.json:
            import json

            print(json.dumps(result.to_dict(), ensure_ascii=False))
        elif not args.quiet:
            from IPython.display import display

            from lgp_lab.display import result_bundle

            display(result_bundle(result), raw=True)
        # The same cell's Out[] would show it (again, or despite --quiet): skip that once.
        self._shown = (result, self.shell.execution_count)
        return result

    # ------------------------------------------------------------------ %lgp_watch

    @magic_arguments()
    @argument("target", nargs="?", help="the workflow file or registered name to hot-reload")
    @argument("--list", action="store_true", help="list running watches")
    @argument("--stop", action="store_true", help="stop watching TARGET (every watch if none)")
    @argument("-e", "--env", help="config environment (config/NAME.yaml)")
    @line_magic
    def lgp_watch(self, line: str) -> Any:
        """Hot-reload a workflow on every save; later %lgp_run calls use the newest version.

        Reload events and broken-save errors update this cell's output in place.

        Examples::

            %lgp_watch workflows/basic_workflow.py
            %lgp_watch --list
            %lgp_watch --stop workflows/basic_workflow.py
        """
        args = self._parse(self.lgp_watch, line)
        if args is None:
            return None
        from IPython.display import display

        from lgp_lab.display import watch_bundle
        from lgp_lab.kernel import get_lab, labs

        if args.list:
            watches = [h for lab in labs() for h in lab.watches.values()]
            if not watches:
                print("[lgp] No running watches")
            for handle in watches:
                display(watch_bundle(handle), raw=True)
            return None
        if args.stop:
            stopped = []
            for lab in labs():
                targets = [args.target] if args.target else list(lab.watches)
                for target in targets:
                    # Resolved as the watch resolved it: cwd, then the project root.
                    handle = lab.watch_for(target)
                    if handle is not None:
                        handle.stop()
                        self._refresh(handle, stopped=True)
                        stopped.append(handle.workflow.name)
            if args.target and not stopped:
                raise UsageError(f"{args.target!r} is not being watched; see %lgp_watch --list")
            print(f"[lgp] Stopped watching: {', '.join(stopped) or '(nothing)'}")
            return None
        if not args.target:
            raise UsageError("%lgp_watch needs a TARGET (or --list / --stop)")

        lab = get_lab(args.env)
        handle = lab.watch(args.target)
        name = handle.workflow.name
        if name not in self._watch_displays:
            display_handle = display(watch_bundle(handle), raw=True, display_id=True)
            parent = dict(getattr(self.shell.display_pub, "parent_header", {}) or {})
            self._watch_displays[name] = (display_handle, parent)
            handle.subscribe(lambda _event, h=handle: self._on_reload(h))
        else:
            self._refresh(handle)
            print(f"[lgp] Already watching {name} (live v{handle.workflow.version})")
        return None

    # ------------------------------------------------------------------ %lgp_serve

    @magic_arguments()
    @argument("workflows", nargs="*", help="workflow files or registered names (default: all)")
    @argument("--host", help="bind address (default 127.0.0.1)")
    @argument("-p", "--port", type=int, help="TCP port (default 8000; 0 picks a free one)")
    @argument("-e", "--env", help="config environment (config/NAME.yaml)")
    @argument("-w", "--watch", action="store_true", help="hot-reload the served workflows")
    @argument("--stop", action="store_true", help="stop the server(s) started from this kernel")
    @line_magic
    def lgp_serve(self, line: str) -> Any:
        """Serve workflows over HTTP from this kernel, sharing its Lab (same threads, same code).

        Returns the server handle (``.url``, ``.stop()``); ``%lgp_serve --stop`` stops it.

        Examples::

            %lgp_serve workflows/basic_workflow.py --port 8000
            %lgp_serve --stop
        """
        args = self._parse(self.lgp_serve, line)
        if args is None:
            return None
        from lgp_lab.kernel import get_lab
        from lgp_lab.server.background import running_servers, start_server

        if args.stop:
            servers = [s for s in running_servers() if args.port in (None, s.port)]
            for server in servers:
                server.stop()
            print(f"[lgp] Stopped: {', '.join(s.url for s in servers) or '(no server running)'}")
            return None
        lab = get_lab(args.env)
        handle = start_server(
            lab, args.workflows or None, host=args.host, port=args.port, watch=args.watch
        )
        auth = "API key required" if lab.config.server.keys() else "open, no API key"
        print(
            f"[lgp] Serving {', '.join(handle.workflows)} at {handle.url} "
            f"(docs: {handle.url}/docs; {auth}); stop with %lgp_serve --stop"
        )
        return handle

    # ------------------------------------------------------------------ widgets

    @magic_arguments()
    @argument("workflow", nargs="?", help="only this workflow's threads")
    @argument("-t", "--thread", help="open this thread")
    @argument("-e", "--env", help="config environment (config/NAME.yaml)")
    @line_magic
    def lgp_sessions(self, line: str) -> Any:
        """Browse threads: checkpoint timeline, state, diffs, bytes; fork, resume, delete.

        Examples::

            %lgp_sessions
            %lgp_sessions basic_workflow
        """
        args = self._parse(self.lgp_sessions, line)
        if args is None:
            return None
        from lgp_lab.kernel import get_lab
        from lgp_lab.widgets.sessions import SessionExplorer

        return SessionExplorer(get_lab(args.env), workflow=args.workflow, thread_id=args.thread)

    @magic_arguments()
    @argument("-w", "--workflow", help="only this workflow's traces")
    @argument("-n", "--limit", type=int, default=20, help="how many recent traces")
    @argument("-e", "--env", help="config environment (config/NAME.yaml)")
    @line_magic
    def lgp_traces(self, line: str) -> Any:
        """Recent traces from the local store; a trace's spans; links to its session.

        Examples::

            %lgp_traces
            %lgp_traces --workflow basic_workflow
        """
        args = self._parse(self.lgp_traces, line)
        if args is None:
            return None
        from lgp_lab.kernel import get_lab
        from lgp_lab.widgets.sessions import TraceViewer  # with its "Open session" link

        return TraceViewer(get_lab(args.env), workflow=args.workflow, limit=args.limit)

    @magic_arguments()
    @argument("workflows", nargs="*", help="workflow files or names (default: the project's)")
    @argument(
        "--to",
        dest="target_env",
        default="production",
        help="the environment promoted to (its config is checked; default production)",
    )
    @argument("-i", "--input", action="append", help="an input to run (JSON or text; repeatable)")
    @argument("-t", "--threads", help="comma-separated thread ids to replay over HTTP (parity)")
    @argument("--url", help="replay against this running server instead")
    @argument("--api-key", help="the key --url requires")
    @argument("-e", "--env", help="config environment of this notebook's Lab (config/NAME.yaml)")
    @line_magic
    def lgp_check(self, line: str) -> Any:
        """The promotion gate in the notebook: pass/warn/fail per check, each with its fix.

        Examples::

            %lgp_check workflows/basic_workflow.py --threads t1,t2
            report = %lgp_check agent --to hosted
        """
        args = self._parse(self.lgp_check, line)
        if args is None:
            return None
        from lgp_lab.kernel import get_lab
        from lgp_lab.promotion import run_gate

        threads = [t.strip() for t in (args.threads or "").split(",") if t.strip()]
        inputs = [_input_value(text) for text in args.input] if args.input else None
        # The returned GateReport is the display (_repr_html_ / _repr_pretty_).
        return run_gate(
            get_lab(args.env), args.workflows or None, env=args.target_env, inputs=inputs,
            threads=threads, url=args.url, api_key=args.api_key,
        )  # fmt: skip

    @magic_arguments()
    @argument(
        "target",
        nargs="?",
        help="the workflow to draw: a .py file, a langgraph.json graph id, a registered "
        "name or a variable holding a graph (default: every thread of the Lab)",
    )
    @argument("-t", "--thread", help="open this thread")
    @argument("-e", "--env", help="config environment (config/NAME.yaml)")
    @line_magic
    def lgp_studio(self, line: str) -> Any:
        """The studio: the graph drawn, runs lighting it up live, threads, checkpoints,
        state, fork-and-re-run from any checkpoint, interrupts answered from a form.

        Examples::

            %lgp_studio workflows/basic_workflow.py
            %lgp_studio agent --thread t-1
        """
        args = self._parse(self.lgp_studio, line)
        if args is None:
            return None
        from lgp_lab.kernel import get_lab
        from lgp_lab.widgets.studio import Studio

        lab = get_lab(args.env)
        target = None
        if args.target:
            target, name = self._resolve_target(args.target)
            if name is not None:
                target = lab.load(target, name=name)
        return Studio(target, lab=lab, thread_id=args.thread)

    # ------------------------------------------------------------------ helpers

    def _parse(self, magic: Any, line: str) -> Any:
        parser = magic.parser
        try:
            argv = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"cannot parse arguments ({exc}); check the quotes") from None
        if "-h" in argv or "--help" in argv:
            # The docstring's reST "::" markers are for Sphinx, not for a person.
            print("\n".join(ln for ln in parser.format_help().splitlines() if ln.strip() != "::"))
            return None
        return parser.parse_args(argv)

    def _resolve_target(self, text: str) -> tuple[Any, str | None]:
        """A variable in the user namespace holding a graph, else the text itself."""
        from lgp_lab.runtime.loader import is_graph_like

        ns = self.shell.user_ns
        if text.isidentifier() and text in ns and is_graph_like(ns[text]):
            return ns[text], text
        return text, None

    def _display_result(self, result: Any) -> None:
        """IPython's display hook for a RunResult: skip the Out[] echo of the result
        %lgp_run already showed in this cell; display anything else."""
        shown = self._shown
        if shown is not None and shown[0] is result and shown[1] == self.shell.execution_count:
            self._shown = None
            return
        from IPython.display import display

        from lgp_lab.display import result_bundle

        display(result_bundle(result), raw=True)

    def _on_reload(self, handle: Any) -> None:
        """Runs on the engine loop after each reload attempt: update the watch cell."""
        self._dirty.add(handle.workflow.name)
        self._refresh(handle, use_origin_parent=True)

    def _refresh(self, handle: Any, *, stopped: bool = False, use_origin_parent: bool = False):
        from lgp_lab.display import watch_bundle

        entry = self._watch_displays.get(handle.workflow.name)
        if entry is None:
            return
        display_handle, parent = entry
        pub = self.shell.display_pub
        token = None
        if use_origin_parent and parent and hasattr(pub, "set_thread_parent"):
            # From the engine thread, send the update as the watch cell's own output.
            token = pub.set_thread_parent(parent)
        try:
            display_handle.update(watch_bundle(handle, stopped=stopped), raw=True)
        finally:
            if token is not None:
                pub.reset_thread_parent(token)
        if stopped:
            self._watch_displays.pop(handle.workflow.name, None)

    def _flush(self, *_args: Any) -> None:
        """Re-send changed watch displays under the running cell (clients that only read
        the executing cell's messages, like nbclient, see the update then)."""
        if not self._dirty:
            return
        from lgp_lab.kernel import labs

        dirty, self._dirty = self._dirty, set()
        for lab in labs():
            for name, handle in lab.watches.items():
                if name in dirty:
                    self._refresh(handle)


def load(ipython: Any) -> None:
    """Register the magics and the clean error display on ``ipython``."""
    magics = LgpMagics(ipython)
    ipython.register_magics(magics)
    ipython.events.register("pre_run_cell", magics._flush)
    ipython.events.register("post_run_cell", magics._flush)
    from lgp_lab.errors import LgpError

    ipython.set_custom_exc((LgpError,), _show_lgp_error)
    ipython.display_formatter.ipython_display_formatter.for_type_by_name(
        "lgp_lab.runtime.result", "RunResult", magics._display_result
    )
    from lgp_lab.display import register

    register(ipython)
    ipython._lgp_magics = magics


def unload(ipython: Any) -> None:
    """Undo :func:`load` and close the kernel's Labs."""
    magics = getattr(ipython, "_lgp_magics", None)
    if magics is not None:
        for event in ("pre_run_cell", "post_run_cell"):
            with contextlib.suppress(ValueError):
                ipython.events.unregister(event, magics._flush)
        for name in (
            "lgp_run",
            "lgp_watch",
            "lgp_serve",
            "lgp_sessions",
            "lgp_traces",
            "lgp_studio",
        ):
            ipython.magics_manager.magics["line"].pop(name, None)
        del ipython._lgp_magics
        # The magics' own display of results goes with them (it flushes their output);
        # display.register's view stays, as it does without the extension.
        ipython.display_formatter.ipython_display_formatter.pop(
            "lgp_lab.runtime.result.RunResult", None
        )
    ipython.set_custom_exc((), None)
    from lgp_lab.kernel import close_labs

    close_labs()


def _show_lgp_error(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset=None):
    """Show an lgp_lab error as its message (file, line, fix), not a wall of engine frames."""
    first, *rest = str(value).splitlines()
    stb = [f"\x1b[1;31m{etype.__name__}: {first}\x1b[0m", *rest]
    # IPython 9 ignores the handler's return value: show it (in a kernel, as the
    # cell's error output, so "run all" still stops here).
    shell._showtraceback(etype, value, stb)
    return stb


def _json_option(option: str, text: str | None) -> Any:
    """A JSON option (``--context``, ``--config``); ``@file.json`` reads a file."""
    import json

    if text is None:
        return None
    if text.startswith("@"):
        from pathlib import Path

        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{option}: cannot read {text[1:]}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{option}: not valid JSON ({exc.msg} at column {exc.colno}); "
            """write it as '{"key": "value"}'"""
        ) from None


def _input_value(text: str) -> Any:
    """``--input`` as ``lgp-lab run`` reads it: a JSON value (``{...}``, ``1``, ``"quoted"``;
    broken JSON that starts like an object or array is an error), ``@file``, or text."""
    from lgp_lab.runtime.inputs import parse_json_or_text

    if text.startswith("@"):
        return _json_option("--input", text)
    try:
        return parse_json_or_text(text, strict=True)
    except ValueError as exc:
        raise UsageError(f"--input: {exc}") from None
