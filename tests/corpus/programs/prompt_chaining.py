# lgp-corpus: copied from https://github.com/langchain-ai/langgraph (path docs/docs/tutorials/workflows.md, commit 23961cff61a42b52525f3b20b4094d8d2fba1744),
# MIT licence (see LICENSE.langgraph here). Section "Prompt chaining" (the model block and the graph API block, without its display and usage lines).
# Only lines marked `lgp-corpus: stand-in` differ from the source; the calls the docs make after
# the graph is built are this program's inputs in tests/corpus/manifest.py.
import os
import getpass

# lgp-corpus: stand-in (was: from langchain_anthropic import ChatAnthropic)
from langchain_core.language_models.fake_chat_models import ParrotFakeChatModel  # lgp-corpus: stand-in
from langchain_core.messages import AIMessage  # lgp-corpus: stand-in
from langchain_core.outputs import ChatGeneration, ChatResult  # lgp-corpus: stand-in

def _set_env(var: str):
    if not os.environ.get(var):
        os.environ[var] = getpass.getpass(f"{var}: ")


# lgp-corpus: stand-in (begin) -- no API key is needed (was: _set_env("ANTHROPIC_API_KEY")), and a
# deterministic langchain_core fake chat model answers: a joke without a punchline first, so the
# graph takes the improve -> polish path.
class StandInChatModel(ParrotFakeChatModel):
    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        prompt = str(messages[-1].content)
        if prompt.startswith("Write a short joke about "):
            text = f"A {prompt.rsplit(' ', 1)[-1]} walked into a bar"
        elif prompt.startswith("Make this joke funnier"):
            text = prompt.split(": ", 1)[1] + " and ordered a pun-a colada"
        else:
            text = prompt.split(": ", 1)[1] + ", but the bar was a cat tree"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


llm = StandInChatModel()  # was: ChatAnthropic(model="claude-3-5-sonnet-latest")
# lgp-corpus: stand-in (end)

from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END


# Graph state
class State(TypedDict):
    topic: str
    joke: str
    improved_joke: str
    final_joke: str


# Nodes
def generate_joke(state: State):
    """First LLM call to generate initial joke"""

    msg = llm.invoke(f"Write a short joke about {state['topic']}")
    return {"joke": msg.content}


def check_punchline(state: State):
    """Gate function to check if the joke has a punchline"""

    # Simple check - does the joke contain "?" or "!"
    if "?" in state["joke"] or "!" in state["joke"]:
        return "Pass"
    return "Fail"


def improve_joke(state: State):
    """Second LLM call to improve the joke"""

    msg = llm.invoke(f"Make this joke funnier by adding wordplay: {state['joke']}")
    return {"improved_joke": msg.content}


def polish_joke(state: State):
    """Third LLM call for final polish"""

    msg = llm.invoke(f"Add a surprising twist to this joke: {state['improved_joke']}")
    return {"final_joke": msg.content}


# Build workflow
workflow = StateGraph(State)

# Add nodes
workflow.add_node("generate_joke", generate_joke)
workflow.add_node("improve_joke", improve_joke)
workflow.add_node("polish_joke", polish_joke)

# Add edges to connect nodes
workflow.add_edge(START, "generate_joke")
workflow.add_conditional_edges(
    "generate_joke", check_punchline, {"Fail": "improve_joke", "Pass": END}
)
workflow.add_edge("improve_joke", "polish_joke")
workflow.add_edge("polish_joke", END)

# Compile
chain = workflow.compile()
