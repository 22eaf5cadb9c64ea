"""``lgp-lab incidents`` (and, with releases, ``deploy``): the production side of the CLI."""

from __future__ import annotations

import sys

import click

from lgp_lab.cli._options import lab_config
from lgp_lab.cli._output import Output
from lgp_lab.errors import LgpError

__all__ = ["incidents_command"]


@click.command("incidents")
@click.option("--workflow", "-w", metavar="NAME", help="Only this workflow's incidents.")
@click.option(
    "--env", "-e", "env", metavar="NAME", help="Config environment (default: $LGP_ENV or "
    "production): whose database to read.",
)  # fmt: skip
@click.option(
    "--limit", "-n", type=click.IntRange(1, 1000), default=20, show_default=True,
    help="How many, newest first.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the incidents as one JSON document.")
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks.")
def incidents_command(
    workflow: str | None, env: str | None, limit: int, as_json: bool, verbose: bool
) -> None:
    """List anomaly incidents (INC-<year>-<nnn>): the version whose error rate spiked,
    the rate against the threshold, and what was done (rollback, alert)."""
    from lgp_lab.lab import Lab
    from lgp_lab.promotion.incidents import incident_store_for

    out = Output(verbose=verbose, json_only=as_json)
    config = lab_config(env, "production", out)

    async def listed(lab: Lab) -> list:
        store = incident_store_for(await lab.acheckpointer())
        return await store.list(workflow=workflow, limit=limit)

    try:
        with Lab(config=config, console=False) as lab:
            incidents = lab.engine.call(listed(lab))
    except LgpError as exc:
        out.error(exc)
        sys.exit(1)
    if as_json:
        out.result("Incidents", [i.to_dict() for i in incidents])
        return
    if not incidents:
        click.echo("No incidents.")
        return
    for incident in incidents:
        click.echo(f"{incident.created_at[:19].replace('T', ' ')}  {incident.summary()}")
