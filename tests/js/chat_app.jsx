// A minimal chat page on the official `useStream` hook, as an Agent Chat UI user would
// write it. tests/test_js_clients.py bundles it with esbuild and opens it in Chromium.
//
// Query string: api (the lgp_lab server URL), key (its API key), assistant (a graph
// id or assistant id), thread (set by the page once a thread exists, so a reload
// keeps the conversation), history=1 (Agent Chat UI's options: the thread's history
// instead of its state, and custom events).
import { useStream } from "@langchain/langgraph-sdk/react";
import { useEffect, useState } from "react";
import { createRoot } from "react-dom/client";

const params = new URLSearchParams(window.location.search);

// Every distinct text the last AI message showed while a run was streaming: the test
// reads it to see the reply arrive token by token, not only as the final state.
window.__partials = [];
window.__errors = [];
window.__custom = [];
const agentChatUi = params.get("history") === "1";

function text(message) {
  if (typeof message.content === "string") return message.content;
  return message.content.map((part) => (typeof part === "string" ? part : part.text ?? "")).join("");
}

function Chat() {
  const [threadId, setThreadId] = useState(params.get("thread"));
  const [draft, setDraft] = useState("");
  const stream = useStream({
    apiUrl: params.get("api"),
    apiKey: params.get("key"),
    assistantId: params.get("assistant"),
    messagesKey: "messages",
    threadId,
    // Rejoin a run still streaming when the page is reloaded (sessionStorage).
    reconnectOnMount: true,
    onThreadId: (id) => {
      setThreadId(id);
      const url = new URL(window.location.href);
      url.searchParams.set("thread", id);
      window.history.replaceState(null, "", url);
    },
    onError: (error) => window.__errors.push(String(error?.message ?? error)),
    ...(agentChatUi && {
      fetchStateHistory: true,
      onCustomEvent: (event) => window.__custom.push(event),
    }),
  });

  // The thread list, as Agent Chat UI reads it: the graph's threads by metadata.
  const [threads, setThreads] = useState([]);
  useEffect(() => {
    if (stream.isLoading) return;
    stream.client.threads
      .search({ metadata: { graph_id: params.get("assistant") }, limit: 100 })
      .then((found) => setThreads(found.map((t) => t.thread_id)))
      .catch((error) => window.__errors.push(`threads.search: ${error?.message ?? error}`));
  }, [threadId, stream.isLoading]);

  const messages = stream.messages;
  const last = messages.at(-1);
  if (stream.isLoading && last?.type === "ai") {
    const shown = text(last);
    if (shown && window.__partials.at(-1) !== shown) window.__partials.push(shown);
  }
  const interrupt = stream.interrupt;

  const send = (event) => {
    event.preventDefault();
    if (!draft.trim()) return;
    stream.submit({ messages: [{ type: "human", content: draft }] });
    setDraft("");
  };

  return (
    <main>
      <p id="status" data-loading={String(stream.isLoading)}>
        {stream.isLoading ? "streaming" : "idle"}
      </p>
      <p id="thread">{threadId ?? ""}</p>
      <ul id="threads">
        {threads.map((id) => (
          <li key={id} className="thread">
            {id}
          </li>
        ))}
      </ul>
      <ol id="messages">
        {messages.map((m, i) => (
          <li key={m.id ?? i} className="message" data-type={m.type}>
            {text(m)}
          </li>
        ))}
      </ol>
      {interrupt && interrupt.value !== undefined && (
        <div id="interrupt">
          <span id="question">{interrupt.value?.question ?? JSON.stringify(interrupt.value)}</span>
          <button
            id="approve"
            type="button"
            onClick={() => stream.submit(undefined, { command: { resume: "approved" } })}
          >
            Approve
          </button>
        </div>
      )}
      {stream.error && <p id="error">{String(stream.error?.message ?? stream.error)}</p>}
      <form onSubmit={send}>
        <input id="draft" value={draft} onChange={(e) => setDraft(e.target.value)} />
        <button id="send" type="submit">
          Send
        </button>
      </form>
    </main>
  );
}

createRoot(document.getElementById("root")).render(<Chat />);
