"""Optimize/evaluate with two agents on Ollama (plan task R8.5) — $0.00 per run.

    ollama serve & ollama pull llama3.2
    lgp-lab run optimize_evaluate_ollama --input '{"task": "Explain checkpoints in LangGraph"}'

The writer drafts an answer; the validator replies APPROVED or with feedback, which the
writer uses for the next draft (at most three drafts). The endpoint and model come from
``llm_providers.ollama`` in the config (``OLLAMA_BASE_URL``, ``OLLAMA_MODEL``); any
OpenAI-compatible server works.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from lgp_lab.agents import create_agent_node

MAX_DRAFTS = 3


class State(TypedDict, total=False):
    task: str
    feedback: str
    writer_output: str
    validator_output: str
    drafts: int
    approved: bool


writer = create_agent_node(
    "ollama",
    {
        "role": "writer",
        "system": "You write clear, correct, concise technical answers.",
        "prompt": "Task: {task}\n{feedback}\nWrite the answer.",
    },
)
validator = create_agent_node(
    "ollama",
    {
        "role": "validator",
        "system": "You review answers strictly. Reply APPROVED if the answer is correct and "
        "complete; otherwise reply with one short paragraph of feedback.",
        "prompt": "Evaluate this answer to the task '{task}'.\n\nAnswer:\n{writer_output}",
    },
)


async def write(state: State) -> State:
    update = await writer(state)
    return {**update, "drafts": state.get("drafts", 0) + 1}


async def validate(state: State) -> State:
    update = await validator(state)
    verdict = update["validator_output"].strip()
    approved = verdict.upper().startswith("APPROVED")
    feedback = "" if approved else f"Reviewer feedback on your last draft: {verdict}"
    return {**update, "approved": approved, "feedback": feedback}


def next_step(state: State) -> str:
    if state.get("approved") or state.get("drafts", 0) >= MAX_DRAFTS:
        return END
    return "write"


workflow = StateGraph(State)
workflow.add_node("write", write)
workflow.add_node("validate", validate)
workflow.add_edge(START, "write")
workflow.add_edge("write", "validate")
workflow.add_conditional_edges("validate", next_step, ["write", END])
