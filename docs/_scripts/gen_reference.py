"""Reference pages generated from the code at build time (mkdocs-gen-files runs this).

- ``reference/magics.md``: every ``%lgp_*`` magic with its options, read from the
  argparse parser IPython's ``magic_arguments`` attaches to each magic (``.parser``).
- ``reference/configuration.md``: every key of ``config/<env>.yaml`` from the pydantic
  models (``lgp_lab.config.LabConfig``): type, default, bounds and the section's
  description.
- ``reference/http-api.md``: every operation of the served API from FastAPI's OpenAPI
  document, grouped by tag. The app is built as the tests build it, on a Lab over a
  temporary copy of the repository's ``workflows/``, so nothing is written into the repo.

The CLI reference (``reference/cli.md``) needs no script: mkdocs-click renders it from the
click group. The functions below are also imported by tests/test_docs_site.py.
"""

from __future__ import annotations

import argparse
import inspect
import re
import shutil
import tempfile
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

REPO = Path(__file__).resolve().parents[2]
HTTP_METHODS = ("get", "post", "put", "patch", "delete", "options", "head")


def _md(text: str) -> str:
    """A docstring as Markdown: reST ``literals`` become `code`, indentation goes."""
    return re.sub(r"``(.+?)``", r"`\1`", inspect.cleandoc(text or ""), flags=re.S).strip()


def _cell(text: str) -> str:
    """Text for one table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


# ----------------------------------------------------------------------------- magics


def magic_parsers() -> dict[str, argparse.ArgumentParser]:
    """``{magic name: its argparse parser}`` in the order IPython registers them."""
    from lgp_lab.magics import LgpMagics

    return {name: getattr(LgpMagics, name).parser for name in LgpMagics.magics["line"]}


def _summary(description: str | None) -> str:
    # The docstring without its "Examples" part: those lines are not run by the docs
    # tests, while every example in the guides is.
    text = _md(description or "")
    return re.split(r"\n\s*Examples?:{1,2}\s*\n", text)[0].strip()


def render_magics() -> str:
    lines = [
        "# Magics",
        "",
        "Generated from the magics' own argument parsers (`lgp_lab.magics.LgpMagics`). "
        "`%load_ext lgp_lab` registers them; each accepts `--help`. The "
        "[notebook guide](../guides/notebook.md) shows them at work.",
        "",
    ]
    for name, parser in magic_parsers().items():
        usage = parser.format_usage().replace("::", "").strip()
        usage = re.sub(r"\s+", " ", usage).replace("usage: ", "")
        lines += [f"## `%{name}`", "", _summary(parser.description), "", "```text", usage, "```"]
        lines += ["", "| argument | default | what |", "|---|---|---|"]
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if action.option_strings:
                names = ", ".join(f"`{o}`" for o in action.option_strings)
                if action.nargs != 0:
                    names += f" `{action.dest.upper()}`"
            else:
                names = f"`{action.dest}`" + (" ..." if action.nargs in ("*", "+") else "")
            default = action.default
            shown = "" if default in (None, False, argparse.SUPPRESS) else f"`{default}`"
            lines.append(f"| {names} | {shown} | {_cell(action.help or '')} |")
        lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- config


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f'"{a}"' if isinstance(a, str) else str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in args)
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in args)}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(section)"
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`" if value not in ([], {}, "") else f"`{value!r}`"


def _bounds(field: FieldInfo) -> str:
    signs = {
        annotated_types.Ge: ("≥", "ge"),
        annotated_types.Gt: (">", "gt"),
        annotated_types.Le: ("≤", "le"),
        annotated_types.Lt: ("<", "lt"),
    }
    parts = []
    for meta in field.metadata:
        for kind, (sign, attr) in signs.items():
            if isinstance(meta, kind):
                parts.append(f"{sign} {getattr(meta, attr)}")
    return ", ".join(parts)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def config_sections() -> Iterator[tuple[str, type[BaseModel]]]:
    """``(dotted prefix, model)`` for every section of ``LabConfig``, depth first;
    ``mcp.servers.<name>`` stands for the mapping of MCP servers."""
    from lgp_lab.config import LabConfig

    def walk(prefix: str, model: type[BaseModel]) -> Iterator[tuple[str, type[BaseModel]]]:
        yield prefix, model
        for name, field in model.model_fields.items():
            sub = _model_of(field.annotation)
            if sub is not None:
                yield from walk(f"{prefix}{name}.", sub)
            elif typing.get_origin(field.annotation) is dict:
                value = _model_of(typing.get_args(field.annotation)[-1])
                if value is not None:
                    yield from walk(f"{prefix}{name}.<name>.", value)

    yield from walk("", LabConfig)


def config_keys() -> list[str]:
    """Every leaf key of the configuration, dotted (``checkpoint.path``, ...)."""
    keys = []
    for prefix, model in config_sections():
        for name, field in model.model_fields.items():
            if _model_of(field.annotation) is None and not _is_model_map(field):
                keys.append(f"{prefix}{name}")
    return keys


def _is_model_map(field: FieldInfo) -> bool:
    args = typing.get_args(field.annotation)
    return typing.get_origin(field.annotation) is dict and _model_of(args[-1]) is not None


def render_configuration() -> str:
    lines = [
        "# Configuration keys",
        "",
        "Generated from the configuration models (`lgp_lab.config.LabConfig`, pydantic). "
        "Each environment's file is `config/<env>.yaml`; every key is optional. "
        "`${VAR}` and `${VAR:-default}` are expanded from the environment first; an "
        "unknown key or a wrong type is an error naming the file and the key. The "
        "[configuration guide](../guides/configuration.md) explains the environments "
        "and shows each section in use.",
        "",
    ]
    for prefix, model in config_sections():
        title = prefix.rstrip(".") or "top level"
        lines += [f"## `{title}`" if prefix else "## Top level", ""]
        doc = _md(model.__doc__ or "")
        if doc:
            lines += [doc, ""]
        lines += ["| key | type | default | bounds |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            if _model_of(field.annotation) is not None or _is_model_map(field):
                kind = "section" if _model_of(field.annotation) else "map of sections"
                lines.append(f"| `{prefix}{name}` | {kind} | | |")
                continue
            if not prefix and name == "environment":
                lines.append(f"| `{name}` | str | the file's name | |")
                continue
            lines.append(
                f"| `{prefix}{name}` | {_type_name(field.annotation)} | {_default(field)} "
                f"| {_bounds(field)} |"
            )
            if field.description:
                lines[-1] = lines[-1][:-1] + f" {_cell(field.description)} |"
        lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- HTTP API


def openapi_spec() -> dict[str, Any]:
    """The served app's OpenAPI document, built on a temporary copy of the project."""
    from lgp_lab import Lab
    from lgp_lab.server.app import create_app

    with tempfile.TemporaryDirectory(prefix="lgp-docs-") as tmp:
        root = Path(tmp)
        shutil.copytree(REPO / "workflows", root / "workflows")
        with Lab(root=root) as lab:
            return create_app(lab, [lab.load("basic_workflow")]).openapi()


def operations(spec: dict[str, Any]) -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
    """``{tag: [(METHOD, path, operation), ...]}`` in the document's order."""
    grouped: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                tag = (op.get("tags") or ["other"])[0]
                grouped.setdefault(tag, []).append((method.upper(), path, op))
    return grouped


TAG_INTRO = {
    "service": "No API key needed.",
    "workflows": "lgp_lab's own routes: run a served workflow by name.",
    "sessions": "lgp_lab's own routes: threads and their checkpoints.",
    "agent server": "Probed first by the LangGraph SDK and Agent Chat UI; no API key needed.",
    "assistants": "The LangGraph Agent Server API: one system assistant per served graph, "
    "plus custom assistants.",
    "threads": "The LangGraph Agent Server API: threads, their state and history.",
    "runs": "The LangGraph Agent Server API: background, waited, streamed and stateless runs.",
    "store": "The LangGraph Agent Server API: the persistent store every workflow gets.",
}


def render_http_api() -> str:
    spec = openapi_spec()
    lines = [
        "# HTTP API",
        "",
        f"Generated from the OpenAPI document of `{spec['info']['title']}` "
        f"{spec['info']['version']} (`lgp_lab.server.app.create_app`). A running server "
        "serves the same document at `/openapi.json` and Swagger UI at `/docs`. "
        "Besides these, every app answers `GET /ready` (readiness) and `GET /metrics` "
        "(Prometheus), described in [Going to production](../guides/production.md). The "
        "[serving guide](../guides/serving.md) covers keys, errors and limits.",
        "",
    ]
    for tag, ops in operations(spec).items():
        lines += [f"## {tag.title()}", ""]
        if tag in TAG_INTRO:
            lines += [TAG_INTRO[tag], ""]
        lines += ["| method | path | summary |", "|---|---|---|"]
        for method, path, op in ops:
            what = op.get("summary", "")
            detail = _md(op.get("description", "")).split("\n\n")[0]
            if detail:
                what = f"**{what}**: {detail}"
            lines.append(f"| `{method}` | `{path}` | {_cell(what)} |")
        lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- mkdocs


def main() -> None:
    import mkdocs_gen_files

    pages = {
        "reference/magics.md": render_magics,
        "reference/configuration.md": render_configuration,
        "reference/http-api.md": render_http_api,
    }
    for path, render in pages.items():
        with mkdocs_gen_files.open(path, "w") as page:
            page.write(render())
        mkdocs_gen_files.set_edit_path(path, "_scripts/gen_reference.py")


if __name__ in ("__main__", "<run_path>"):
    main()
