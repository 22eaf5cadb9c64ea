// lgp_lab: vendored from https://github.com/langchain-ai/langgraphjs
//   path:   libs/langgraph-api/tests/utils.mts
//   commit: f8bdf16d4fe23a79e945ea5dc6f86bbf09abb77d
//   licence: MIT (see ./LICENSE)
// Every change from upstream is marked with a `// lgp_lab:` comment.
// lgp_lab: the SDK client, for `truncate` over the public API.
import { Client } from "@langchain/langgraph-sdk";

export async function gatherIterator<T>(
  i: AsyncIterable<T> | Promise<AsyncIterable<T>>
): Promise<Array<T>> {
  const out: T[] = [];
  for await (const item of await i) out.push(item);
  return out;
}

export function findLast<T, S extends T>(
  lst: Array<T>,
  predicate: (item: T) => item is S
): S | undefined {
  for (let i = lst.length - 1; i >= 0; i--) {
    if (predicate(lst[i])) return lst[i] as S;
  }
  return undefined;
}

// lgp_lab: upstream POSTs the JS server's private `/internal/truncate`; a Python
// Agent Server has no such route, so the same reset is done over the public API:
// threads (their runs and checkpoints go with them), assistants users created (the
// system ones, one per graph, stay, as upstream keeps them), store items, and crons.
// A route a server lacks (404/405/501) is skipped; any other failure is thrown, so a
// broken reset shows up as failing tests rather than as leftovers.
export async function truncate(
  apiUrl: string,
  options:
    | {
        runs?: boolean;
        threads?: boolean;
        assistants?: boolean;
        store?: boolean;
        checkpoint?: boolean;
      }
    | "all"
) {
  const flags =
    options === "all"
      ? {
          runs: true,
          threads: true,
          assistants: true,
          store: true,
          checkpoint: true,
        }
      : options;

  const client = new Client({ apiUrl });

  if (flags.threads || flags.runs || flags.checkpoint) {
    // Deleting a thread removes its runs and checkpoints: both live under threads in
    // the public API. Re-search from offset 0 until empty (bounded).
    await drain("threads", async () => {
      const page = await unsupported(() =>
        client.threads.search({ limit: PAGE })
      );
      for (const thread of page ?? []) {
        await unsupported(() => client.threads.delete(thread.thread_id));
      }
      return page?.length ?? 0;
    });
  }

  if (flags.assistants) {
    // System assistants are skipped, so page with an offset over what stays.
    const userMade: string[] = [];
    for (let offset = 0, round = 0; round < MAX_ROUNDS; round++) {
      const page =
        (await unsupported(() =>
          client.assistants.search({ limit: PAGE, offset })
        )) ?? [];
      for (const a of page) {
        if (a.metadata?.created_by !== "system") userMade.push(a.assistant_id);
      }
      if (page.length < PAGE) break;
      offset += page.length;
    }
    for (const id of userMade) {
      await unsupported(() => client.assistants.delete(id));
    }
  }

  if (flags.store) {
    await drain("store items", async () => {
      const listed = await unsupported(() =>
        client.store.listNamespaces({ limit: PAGE })
      );
      let deleted = 0;
      for (const namespace of listed?.namespaces ?? []) {
        const found = await unsupported(() =>
          client.store.searchItems(namespace, { limit: PAGE })
        );
        for (const item of found?.items ?? []) {
          await unsupported(() =>
            client.store.deleteItem(item.namespace, item.key)
          );
          deleted += 1;
        }
      }
      return deleted;
    });
  }

  if (options === "all") {
    // Crons are not used by the suite; cleared on the full reset only, if supported.
    await drain("crons", async () => {
      const page = await unsupported(() => client.crons.search({ limit: PAGE }));
      for (const cron of page ?? []) {
        await unsupported(() => client.crons.delete(cron.cron_id));
      }
      return page?.length ?? 0;
    });
  }
}

// lgp_lab: helpers of the public-API `truncate` above.
const PAGE = 100;
const MAX_ROUNDS = 50;

/** Repeat `round` (which deletes what it found) until it finds nothing; bounded. */
async function drain(what: string, round: () => Promise<number>) {
  for (let i = 0; i < MAX_ROUNDS; i++) {
    if ((await round()) === 0) return;
  }
  throw new Error(`truncate: ${what} still present after ${MAX_ROUNDS} rounds`);
}

/** `fn()`, or `undefined` when the server lacks the route / the item is gone. */
async function unsupported<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    const status = (error as { status?: number })?.status;
    const text = String((error as Error)?.message ?? error);
    if (
      status === 404 ||
      status === 405 ||
      status === 501 ||
      /HTTP (404|405|501)/.test(text)
    ) {
      return undefined;
    }
    throw error;
  }
}
