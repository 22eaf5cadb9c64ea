"""``lgp-lab check``: the promotion gate, from a terminal (exit 1 when a check fails)."""

from __future__ import annotations

import sys

import click

from lgp_lab.cli._options import input_option, lab_config
from lgp_lab.cli._output import Output
from lgp_lab.errors import LgpError

__all__ = ["check_command"]


@click.command("check")
@click.argument("workflows", nargs=-1)
@click.option(
    "--env", "-e", "env", default="production", show_default=True, metavar="NAME",
    help="The environment promoted to: its config is checked and the replay served on it.",
)  # fmt: skip
@click.option(
    "--from-env", "from_env", metavar="NAME",
    help="Where the notebook's threads live (default: $LGP_ENV or experiment).",
)  # fmt: skip
@click.option(
    "--input", "-i", "inputs", multiple=True, metavar="JSON",
    help="Run each workflow with this input (repeatable; default: the first input of "
    "its recent threads).",
)  # fmt: skip
@click.option(
    "--threads", "-t", metavar="IDS",
    help="Comma-separated notebook thread ids to replay against the served app (parity).",
)  # fmt: skip
@click.option("--url", metavar="URL", help="Replay against this running server instead.")
@click.option(
    "--api-key", metavar="KEY", envvar="LGP_CHECK_API_KEY", help="The key --url requires."
)
@click.option(
    "--timeout", type=click.FloatRange(min=1), default=60.0, show_default=True,
    help="Seconds each run, import or request may take.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document.")
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks.")
def check_command(
    workflows: tuple[str, ...],
    env: str,
    from_env: str | None,
    inputs: tuple[str, ...],
    threads: str | None,
    url: str | None,
    api_key: str | None,
    timeout: float,
    as_json: bool,
    verbose: bool,
) -> None:
    """Check WORKFLOWS (default: every graph the project declares) before promoting them:
    blocking calls in async nodes, state serialization, a clean import, parity with
    notebook threads over HTTP, and the target config (variables, API keys, database,
    secrets in source). Exit status 1 when a check fails."""
    from lgp_lab.lab import Lab
    from lgp_lab.promotion import run_gate

    out = Output(verbose=verbose, json_only=as_json)
    lab_config(env, "production", out)  # an unknown --env is a usage error, early
    config = lab_config(from_env, "experiment", out)
    payloads = [input_option(text, "--input") for text in inputs] or None
    thread_ids = [t.strip() for t in (threads or "").split(",") if t.strip()]
    try:
        with Lab(config=config, console=False) as lab, out.stdout_to_stderr():
            out.status(f"Checking for {env}...")
            report = run_gate(
                lab, list(workflows), env=env, inputs=payloads, threads=thread_ids,
                url=url, api_key=api_key, timeout=timeout, where="cli",
            )  # fmt: skip
    except LgpError as exc:
        out.error(exc)
        sys.exit(1)
    if as_json:
        out.result("Report", report.to_dict())
    else:
        for line in report.lines():
            click.echo(line)
    sys.exit(report.exit_code)
