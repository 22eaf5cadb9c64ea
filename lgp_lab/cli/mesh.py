"""``lgp-lab mesh``: the MCP mesh server over stdio (stdout is the protocol's)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

__all__ = ["mesh_command"]


@click.command("mesh")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default="repositories",
    show_default=True,
    help="Directory whose subdirectories are the repositories.",
)
@click.option(
    "--backend",
    default="auto",
    show_default=True,
    metavar="NAME",
    help="auto (the claude CLI when installed, else the offline echo backend), echo, claude, "
    "llm, or a backend a plugin registers (entry point group lgp_lab.mesh_backends).",
)
@click.option(
    "--claude-command",
    default="claude",
    show_default=True,
    metavar="PATH",
    help="The claude executable for --backend claude.",
)
@click.option(
    "--llm-base-url",
    metavar="URL",
    help="OpenAI-compatible endpoint for --backend llm (default Ollama).",
)
@click.option("--llm-model", metavar="NAME", help="Model for --backend llm.")
def mesh_command(
    root: Path, backend: str, claude_command: str, llm_base_url: str | None, llm_model: str | None
) -> None:
    """Serve repositories under ROOT to MCP clients over stdio (tool: mesh_execute)."""
    from lgp_lab.agents.mesh.backends import make_backend
    from lgp_lab.agents.mesh.server import serve_stdio
    from lgp_lab.agents.registry import mesh_backends

    known = ["auto", *sorted(mesh_backends())]
    if backend not in known:
        raise click.BadParameter(
            f"{backend!r} is not a mesh backend; known: {', '.join(known)}",
            param_hint="--backend",
        )

    if not root.is_dir():
        print(
            f"[lgp-mesh] ❌ mesh root {root} is not a directory; create it and put one "
            "directory per repository in it",
            file=sys.stderr,
        )
        sys.exit(2)
    chosen = make_backend(
        backend, claude_command=claude_command, llm_base_url=llm_base_url, llm_model=llm_model
    )
    serve_stdio(root, chosen)
