"""A two-node workflow that remembers what you tell it on a thread.

    lgp-lab run basic_workflow --input "Remember my name is Alice" --thread t-1
    lgp-lab run basic_workflow --input "What is my name?" --thread t-1   # -> Alice

It needs no LLM: ``remember`` extracts "my X is Y" facts and ``respond`` answers from
them. The thread's checkpoints keep ``facts`` and ``messages`` between runs.
"""

from __future__ import annotations

import operator
import re
from typing import Annotated

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict


def merge(left: dict[str, str], right: dict[str, str]) -> dict[str, str]:
    """Reducer: later facts override earlier ones."""
    return {**(left or {}), **(right or {})}


class State(TypedDict, total=False):
    input: str
    messages: Annotated[list[dict[str, str]], operator.add]
    facts: Annotated[dict[str, str], merge]
    output: str


FACT = re.compile(r"\bmy (\w+(?: \w+)?) is ([\w' -]+?)[.!]?$", re.IGNORECASE)
QUESTION = re.compile(r"\bwhat(?:'s| is) my (\w+(?: \w+)?)\??$", re.IGNORECASE)


def remember(state: State) -> State:
    """Store a "my X is Y" fact from the input."""
    text = state.get("input", "").strip()
    update: State = {"messages": [{"role": "user", "content": text}]}
    if match := FACT.search(text):
        update["facts"] = {match.group(1).lower(): match.group(2).strip()}
    return update


def respond(state: State) -> State:
    """Answer a "what is my X?" question from the thread's facts, or acknowledge."""
    text = state.get("input", "").strip()
    facts = state.get("facts", {})
    if match := QUESTION.search(text):
        key = match.group(1).lower()
        answer = f"Your {key} is {facts[key]}." if key in facts else f"I don't know your {key} yet."
    elif FACT.search(text):
        answer = "Got it, I'll remember that."
    else:
        answer = f"You said: {text}"
    return {"output": answer, "messages": [{"role": "assistant", "content": answer}]}


workflow = StateGraph(State)
workflow.add_node("remember", remember)
workflow.add_node("respond", respond)
workflow.add_edge(START, "remember")
workflow.add_edge("remember", "respond")
workflow.add_edge("respond", END)
