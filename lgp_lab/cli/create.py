"""``lgp-lab templates`` and ``lgp-lab create``: new workflows from templates."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from lgp_lab.cli._output import Output
from lgp_lab.errors import LgpError

__all__ = ["create_command", "templates_command"]


@click.command("templates")
@click.option("--json", "json_only", is_flag=True, help="Print the templates as JSON.")
def templates_command(json_only: bool) -> None:
    """List the workflow templates."""
    from lgp_lab.scaffold import list_templates

    templates = list_templates()
    if json_only:
        data = [
            {"name": t.name, "description": t.description, "complexity": t.complexity,
             "sample_input": t.sample_input}
            for t in templates
        ]  # fmt: skip
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo("Available Templates:")
    for t in templates:
        click.echo(f"  {t.name:<17} {t.description:<49} ({t.complexity})")
    click.echo("\nCreate one with: lgp-lab create NAME --template TEMPLATE")


@click.command("create")
@click.argument("name")
@click.option(
    "--template",
    "-t",
    "template",
    default="basic",
    show_default=True,
    metavar="TEMPLATE",
    help="A template from `lgp-lab templates`.",
)
@click.option("--notebook", is_flag=True, help="Also write notebooks/NAME.ipynb.")
@click.option("--force", is_flag=True, help="Overwrite an existing workflow of that name.")
def create_command(name: str, template: str, notebook: bool, force: bool) -> None:
    """Create workflows/NAME.py from a template and register it in workflows/config.yaml."""
    from lgp_lab.scaffold import (
        TemplateArgumentError,
        check_workflow_name,
        create_workflow,
        get_template,
    )

    # What the user typed is checked first: a bad NAME or --template is a usage error (2).
    checks = (("'NAME'", check_workflow_name, name), ("'--template'", get_template, template))
    for hint, check, value in checks:
        try:
            check(value)
        except TemplateArgumentError as exc:
            raise click.BadParameter(str(exc), param_hint=hint) from None
    out = Output()
    out.status(f"Creating workflow: {name}")
    out.status(f"Template: {template}")
    try:
        result = create_workflow(name, template, notebook=notebook, force=force)
    except LgpError as exc:
        out.error(exc)
        sys.exit(1)
    for path in result.created:
        out.status(f"Created: {_rel(path, result.root)}{'/' if path.is_dir() else ''}")
    verb = "Created" if result.registry_created else "Updated"
    out.status(f"{verb}: {_rel(result.registry_file, result.root)}")
    out.status(f"✅ Ready to run: lgp-lab run {name}", style="green")


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)
