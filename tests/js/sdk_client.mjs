// Drives lgp_lab's server with the official JS client, @langchain/langgraph-sdk.
//
// Usage: node sdk_client.mjs <api-url> <api-key> <assistant-id>
// Prints one JSON document on stdout: what each call returned, for
// tests/test_js_clients.py to assert on. A failing call is recorded (status and
// message) rather than aborting the script, so one missing route does not hide the
// others; the script exits 1 only when it cannot run at all.
import { Client } from "@langchain/langgraph-sdk";

const [apiUrl, apiKey, assistantId] = process.argv.slice(2);
if (!apiUrl || !assistantId) {
  console.error("usage: node sdk_client.mjs <api-url> <api-key> <assistant-id>");
  process.exit(2);
}

// No retries: a wrong answer must show up as the failure it is, not be retried away.
const client = new Client({ apiUrl, apiKey, callerOptions: { maxRetries: 0 } });
const out = {};

function describe(error) {
  return { status: error?.status ?? null, message: String(error?.message ?? error) };
}

async function step(name, fn) {
  try {
    out[name] = await fn();
  } catch (error) {
    out[name] = { error: describe(error) };
  }
}

const human = (text) => ({ messages: [{ type: "human", content: text }] });

async function collect(iterable) {
  const events = [];
  for await (const part of iterable) events.push({ event: part.event, data: part.data });
  return events;
}

// A bounded wait for a run to leave "pending" (the slow node is then running).
async function waitRunning(threadId, runId) {
  for (let i = 0; i < 200; i++) {
    const run = await client.runs.get(threadId, runId);
    if (run.status !== "pending") return run.status;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return "pending";
}

await step("wrong_key", async () => {
  const bad = new Client({ apiUrl, apiKey: "not-the-key", callerOptions: { maxRetries: 0 } });
  await bad.threads.create();
  return { accepted: true };
});

let threadId = null;
await step("create", async () => {
  const thread = await client.threads.create({ metadata: { origin: "js-sdk" } });
  threadId = thread.thread_id;
  return thread;
});

await step("stream", async () => {
  let created = null;
  const events = await collect(
    client.runs.stream(threadId, assistantId, {
      input: human("hello there"),
      streamMode: ["values", "updates", "messages-tuple"],
      onRunCreated: (meta) => {
        created = meta;
      },
    }),
  );
  return { created, events };
});

await step("background", async () => {
  const run = await client.runs.create(threadId, assistantId, { input: human("second turn") });
  const joined = await client.runs.join(threadId, run.run_id);
  const after = await client.runs.get(threadId, run.run_id);
  return { run, joined, after };
});

await step("join_stream", async () => {
  // A resumable background run, joined from its first event ("-1"), as useStream rejoins.
  const run = await client.runs.create(threadId, assistantId, {
    input: human("hello again"),
    streamMode: ["values", "messages-tuple"],
    streamResumable: true,
  });
  const events = await collect(client.runs.joinStream(threadId, run.run_id, { lastEventId: "-1" }));
  const after = await client.runs.get(threadId, run.run_id);
  return { run, events, after };
});

await step("search", async () => {
  const found = await client.threads.search({ metadata: { graph_id: assistantId }, limit: 100 });
  return found.map((t) => t.thread_id);
});

await step("stateless", async () => client.runs.wait(null, assistantId, { input: human("no thread") }));

await step("interrupt", async () => {
  const first = await client.runs.wait(threadId, assistantId, { input: human("please confirm") });
  const state = await client.threads.getState(threadId);
  const resumed = await client.runs.wait(threadId, assistantId, {
    command: { resume: "approved" },
  });
  return { first, state_next: state.next, state_tasks: state.tasks, resumed };
});

await step("cancel", async () => {
  const run = await client.runs.create(threadId, assistantId, { input: human("slow please") });
  const before = await waitRunning(threadId, run.run_id);
  await client.runs.cancel(threadId, run.run_id, true, "interrupt");
  const after = await client.runs.get(threadId, run.run_id);
  const thread = await client.threads.get(threadId);
  // The thread takes new runs once the cancelled one is gone.
  const next = await client.runs.wait(threadId, assistantId, { input: human("after cancel") });
  return { before, after, thread_status: thread.status, next };
});

await step("failure", async () => {
  // A node that raises: an `error` event on the stream, an Error from runs.wait, and the
  // thread takes the next run.
  const events = await collect(
    client.runs.stream(threadId, assistantId, { input: human("please fail"), streamMode: ["values"] }),
  );
  let waited = null;
  try {
    await client.runs.wait(threadId, assistantId, { input: human("fail again") });
  } catch (error) {
    waited = describe(error);
  }
  const thread = await client.threads.get(threadId);
  const next = await client.runs.wait(threadId, assistantId, { input: human("recovered") });
  return { events, waited, thread_status: thread.status, next };
});

await step("runs", async () => client.runs.list(threadId, { limit: 20 }));
await step("state", async () => client.threads.getState(threadId));

console.log(JSON.stringify(out));
