"""Run the optimize/evaluate workflow on Ollama and compare its cost (plan task R8.5).

    ollama serve & ollama pull llama3.2
    python examples/test_ollama_workflow.py ["task text"] [--base-url URL] [--model NAME]
        [--root DIR]

Prints the injected agents (provider:model), the result, the LLM calls from the run's
trace (tokens, cost), and the cost comparison: Ollama at $0.00 per run against the
fixed subscription's cost per invocation this month.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", nargs="?", default="Explain what a LangGraph checkpoint is.")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint (default: config)")
    parser.add_argument("--model", help="model name (default: config)")
    parser.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        help="the project to run it in (its workflows/ and .lgp/; default: this repository)",
    )
    args = parser.parse_args()
    if args.base_url:
        os.environ["OLLAMA_BASE_URL"] = args.base_url
    if args.model:
        os.environ["OLLAMA_MODEL"] = args.model

    from lgp_lab import Lab, LgpError
    from lgp_lab.agents.providers import injected_agents

    with Lab(root=args.root) as lab:
        try:
            result = lab.run("optimize_evaluate_ollama", {"task": args.task})
        except LgpError as exc:
            print(f"❌ {exc}", file=sys.stderr)
            return 1
        trace = lab.traces.get(result.trace_id)

    print("Injected agents:")
    for agent in injected_agents():
        print(f"  {agent['role']:10} {agent['provider']}")
    print(f"\nResult after {result.state['drafts']} draft(s), approved={result.state['approved']}:")
    print(f"  {result.state['writer_output'][:300]}")
    print("\nLLM calls:")
    ollama_cost = 0.0
    for span in (s for s in trace.spans if s.kind == "generation"):
        ollama_cost += span.cost or 0.0
        print(
            f"  {span.name:10} {span.model:14} {span.usage.get('input', 0):5} in "
            f"{span.usage.get('output', 0):5} out   ${span.cost or 0:.2f}"
        )
    meta = trace.metadata
    print("\nCost comparison (this run):")
    print(f"  Ollama (local)            ${ollama_cost:.2f}")
    if meta.get("cost_model") == "fixed_subscription":
        print(
            f"  Fixed subscription        ${meta['cost_per_invocation']:.4f} per invocation "
            f"(${meta['monthly_cost']:.2f}/month over {meta['workflow_invocations']} "
            "invocations so far)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
