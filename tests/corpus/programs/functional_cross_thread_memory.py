# lgp-corpus: copied from https://github.com/langchain-ai/langgraph (path docs/docs/how-tos/cross-thread-persistence-functional.ipynb, commit 23961cff61a42b52525f3b20b4094d8d2fba1744),
# MIT licence (see LICENSE.langgraph here). Code cells 6 and 8 of the notebook.
# Only lines marked `lgp-corpus: stand-in` differ from the source; the calls the notebook makes
# after the workflow is built are this program's inputs in tests/corpus/manifest.py.
from langgraph.store.memory import InMemoryStore
# lgp-corpus: stand-in (was: from langchain_openai import OpenAIEmbeddings)
from langchain_core.embeddings import DeterministicFakeEmbedding  # lgp-corpus: stand-in

in_memory_store = InMemoryStore(
    index={
        "embed": DeterministicFakeEmbedding(size=1536),  # lgp-corpus: stand-in (was: OpenAIEmbeddings(model="text-embedding-3-small"))
        "dims": 1536,
    }
)

import uuid

# lgp-corpus: stand-in (was: from langchain_anthropic import ChatAnthropic)
from langchain_core.language_models.fake_chat_models import ParrotFakeChatModel  # lgp-corpus: stand-in
from langchain_core.messages import AIMessage  # lgp-corpus: stand-in
from langchain_core.outputs import ChatGeneration, ChatResult  # lgp-corpus: stand-in
from langchain_core.runnables import RunnableConfig
from langchain_core.messages import BaseMessage
from langgraph.func import entrypoint, task
from langgraph.graph import add_messages
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.base import BaseStore


# lgp-corpus: stand-in (begin) -- a deterministic langchain_core fake chat model, no network:
# it answers with the user info its system message carries.
class StandInChatModel(ParrotFakeChatModel):
    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        info = str(messages[0].content).split("User info: ", 1)[-1]
        reply = AIMessage(content=f"Hello! What I know about you: {info or 'nothing'}")
        return ChatResult(generations=[ChatGeneration(message=reply)])


model = StandInChatModel()  # was: ChatAnthropic(model="claude-3-5-sonnet-latest")
# lgp-corpus: stand-in (end)


@task
def call_model(messages: list[BaseMessage], memory_store: BaseStore, user_id: str):
    namespace = ("memories", user_id)
    last_message = messages[-1]
    memories = memory_store.search(namespace, query=str(last_message.content))
    info = "\n".join([d.value["data"] for d in memories])
    system_msg = f"You are a helpful assistant talking to the user. User info: {info}"

    # Store new memories if the user asks the model to remember
    if "remember" in last_message.content.lower():
        memory = "User name is Bob"
        memory_store.put(namespace, str(uuid.uuid4()), {"data": memory})

    response = model.invoke([{"role": "system", "content": system_msg}] + messages)
    return response


# NOTE: we're passing the store object here when creating a workflow via entrypoint()
@entrypoint(checkpointer=InMemorySaver(), store=in_memory_store)
def workflow(
    inputs: list[BaseMessage],
    *,
    previous: list[BaseMessage],
    config: RunnableConfig,
    store: BaseStore,
):
    user_id = config["configurable"]["user_id"]
    previous = previous or []
    inputs = add_messages(previous, inputs)
    response = call_model(inputs, store, user_id).result()
    return entrypoint.final(value=response, save=add_messages(inputs, response))
